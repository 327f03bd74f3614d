// The options `burrow eval` and `burrow serve` share: how the host they embed runs.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/host/host.h"
#include "journal/journal.h"

namespace burrow::tools {

struct HostFlags {
  uint64_t drain_idle_timeout_ms = 300'000;
  std::string durability = "sync";  // "sync" or "none"
  bool enable_test_hooks = false;
  std::string log_level;  // each command sets its own default
};

// Registers --drain-idle-timeout-ms, --durability, --enable-test-hooks (described by
// `test_hooks_help`: the hooks are spelled as each surface spells its commands) and --log-level.
void AddHostOptions(CLI::App* cmd, HostFlags& flags, std::string_view test_hooks_help);

journal::Durability DurabilityOf(const HostFlags& flags);
host::HostOptions HostOptionsOf(const HostFlags& flags, std::shared_ptr<spdlog::logger> logger);

}  // namespace burrow::tools
