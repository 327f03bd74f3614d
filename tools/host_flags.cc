#include "tools/host_flags.h"

#include <chrono>
#include <utility>

namespace burrow::tools {
namespace {

// Bound on --drain-idle-timeout-ms, as for timeouts in the eval protocol (~31 years).
constexpr uint64_t kMaxIdleTimeoutMs = 1'000'000'000'000;

}  // namespace

void AddHostOptions(CLI::App* cmd, HostFlags& flags, std::string_view test_hooks_help) {
  cmd->add_option("--drain-idle-timeout-ms", flags.drain_idle_timeout_ms,
                  "How long Timed and AttachedSession drains wait on an empty inbox before "
                  "ending (PersistentHost drains never idle out)")
      ->check(CLI::Range(uint64_t{1}, kMaxIdleTimeoutMs))
      ->capture_default_str();
  cmd->add_option("--durability", flags.durability,
                  "sync: every batch is fsynced before a command is acknowledged; none: "
                  "tests and benchmarks only, a power cut loses acknowledged commands")
      ->check(CLI::IsMember({"sync", "none"}))
      ->capture_default_str();
  cmd->add_flag("--enable-test-hooks", flags.enable_test_hooks, std::string(test_hooks_help));
  cmd->add_option("--log-level", flags.log_level, "Log level of the messages on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
}

journal::Durability DurabilityOf(const HostFlags& flags) {
  return flags.durability == "none" ? journal::Durability::kNone : journal::Durability::kSync;
}

host::HostOptions HostOptionsOf(const HostFlags& flags, std::shared_ptr<spdlog::logger> logger) {
  host::HostOptions options;
  options.drain_idle_timeout = std::chrono::milliseconds(flags.drain_idle_timeout_ms);
  options.enable_test_hooks = flags.enable_test_hooks;
  options.logger = std::move(logger);
  return options;
}

}  // namespace burrow::tools
