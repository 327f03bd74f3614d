// `burrow drill`: crash-recovery drills users run on their own machines (tools/drill/drill.h,
// docs/DRILLS.md). Exit status: 0 when every scenario passed, 1 on any violation, 2 on bad usage.
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "tools/commands.h"
#include "tools/drill/drill.h"

namespace burrow::tools {
namespace {

struct DrillFlags {
  std::string scenario = "all";
  uint64_t rounds = 20;
  std::optional<uint64_t> seed;
  std::string data_dir;
  bool keep = false;
  bool json = false;
  std::string durability = "sync";
  std::string log_level = "off";
};

// One line on stderr redrawn in place; only when stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), on_(isatty(2) != 0) {}
  ~ProgressBar() {
    if (on_ && drawn_) std::fprintf(stderr, "\r\033[K");
  }
  void Update(uint64_t done, uint64_t total) {
    if (!on_ || total == 0) return;
    const int width = 30;
    const int filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r\033[K%-10s [%s%s] %llu/%llu", label_.c_str(),
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
    std::fflush(stderr);
    drawn_ = true;
  }

 private:
  std::string label_;
  bool on_;
  bool drawn_ = false;
};

int RunDrill(const DrillFlags& flags) {
  std::vector<drill::Scenario> scenarios;
  if (flags.scenario == "all") {
    scenarios = drill::AllScenarios();
  } else if (auto one = drill::ParseScenario(flags.scenario)) {
    scenarios = {*one};
  } else {
    fmt::print(stderr,
               "burrow drill: unknown scenario '{}' (kill9, powerloss, torn-tail, io-errors, "
               "corruption, all)\n",
               flags.scenario);
    return 2;
  }
  const uint64_t seed = flags.seed.value_or(
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) %
      1'000'000'000);

  namespace fs = std::filesystem;
  std::error_code ec;
  std::string root = flags.data_dir;
  const bool own_root = root.empty();
  if (own_root) {
    std::string pattern = (fs::temp_directory_path(ec) / "burrow-drill-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      fmt::print(stderr, "burrow drill: cannot create a temporary directory: {}\n",
                 std::strerror(errno));
      return 2;
    }
    root = pattern;
  } else if (fs::exists(root, ec) && !fs::is_empty(root, ec)) {
    fmt::print(stderr, "burrow drill: --data {} is not empty; give a new or empty directory\n",
               root);
    return 2;
  }

  std::shared_ptr<spdlog::logger> logger;
  if (flags.log_level != "off") {
    logger = std::make_shared<spdlog::logger>(
        "burrow", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger->set_level(spdlog::level::from_str(flags.log_level));
  }

  if (!flags.json) fmt::print("burrow drill: seed {}, data {}\n", seed, root);
  std::fflush(stdout);
  bool failed = false;
  nlohmann::json all = {{"scenario", "all"},
                        {"seed", seed},
                        {"rounds", 0},
                        {"acknowledged", 0},
                        {"violations", nlohmann::json::array()},
                        {"scenarios", nlohmann::json::array()}};
  for (drill::Scenario scenario : scenarios) {
    drill::Options options;
    options.rounds = flags.rounds;
    options.seed = seed;
    options.data_dir = root + "/" + std::string(drill::Name(scenario));
    options.durability =
        flags.durability == "none" ? journal::Durability::kNone : journal::Durability::kSync;
    options.logger = logger;
    drill::ScenarioReport report;
    {
      ProgressBar bar{std::string(drill::Name(scenario))};
      options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
      report = drill::RunScenario(scenario, options);
    }  // the bar is erased before the summary is printed
    failed = failed || !report.violations.empty();
    nlohmann::json line = drill::ToJson(report);
    if (flags.json) {
      if (scenarios.size() > 1) fmt::print("{}\n", line.dump());
    } else {
      fmt::print("{}", drill::HumanSummary(report));
    }
    std::fflush(stdout);
    all["rounds"] = all["rounds"].get<uint64_t>() + report.rounds;
    all["acknowledged"] = all["acknowledged"].get<uint64_t>() + report.acknowledged;
    for (const auto& v : line["violations"]) {
      nlohmann::json tagged = v;
      tagged["scenario"] = report.scenario;
      all["violations"].push_back(tagged);
    }
    all["scenarios"].push_back(report.scenario);
    if (scenarios.size() == 1) all = line;
  }
  if (flags.json) fmt::print("{}\n", all.dump());

  if (failed || flags.keep || !own_root) {
    if (!flags.json) {
      fmt::print("{} kept in {}\n", failed ? "data (with the violations)" : "data", root);
    }
  } else {
    fs::remove_all(root, ec);
  }
  if (!flags.json) fmt::print("{}\n", failed ? "FAILED: violations found" : "passed");
  return failed ? 1 : 0;
}

}  // namespace

void AddDrillCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "drill",
      "Crash-recovery drills on this machine's disk: a host under a seeded random workload is "
      "killed (SIGKILL), loses power, has its WAL torn, gets I/O errors or has its files "
      "damaged, and is checked after every recovery: nothing acknowledged is lost, nothing is "
      "applied twice, every authority equals the replay of its records, every Running drain "
      "has a task. Exits 0 when every scenario passes, 1 on any violation (each printed with "
      "its seed and round; the same --seed replays it), 2 on bad usage. See docs/DRILLS.md.");
  cmd->footer(
      "Scenarios:\n"
      "  kill9       a `burrow eval` child killed with SIGKILL at random moments, restarted\n"
      "  powerloss   a power cut drops everything not fsynced (--durability none: reports the\n"
      "              acknowledged records it loses, by design)\n"
      "  torn-tail   a power cut inside a WAL sync leaves a torn, garbled WAL tail\n"
      "  io-errors   EIO/ENOSPC on WAL writes and syncs: Unavailable, nothing applied, reads\n"
      "              keep working, the host carries on when the errors stop\n"
      "  corruption  bytes flipped in SSTs, WAL or MANIFEST: the start is refused, or verify\n"
      "              catches it; never a silently wrong state (damage inside the WAL's last\n"
      "              record looks like a torn write: discarded, reported, counted)\n"
      "\n"
      "Examples:\n"
      "  burrow drill --scenario kill9 --rounds 50\n"
      "  burrow drill --scenario all --rounds 200 --seed 42\n"
      "  burrow drill --scenario powerloss --durability none --rounds 20 --json\n"
      "  burrow drill --scenario torn-tail --seed 7 --data /tmp/drill --keep");
  auto flags = std::make_shared<DrillFlags>();
  cmd->add_option("--scenario", flags->scenario,
                  "kill9, powerloss, torn-tail, io-errors, corruption, or all")
      ->capture_default_str();
  cmd->add_option("--rounds", flags->rounds, "Rounds per scenario (kills, power cuts, faults)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed,
                  "Seed of the workload and the fault schedule (default: from the clock; printed)");
  cmd->add_option("--data", flags->data_dir,
                  "Directory for the drills' journals (must be new or empty; kept). Default: a "
                  "fresh temporary directory, removed unless --keep or a violation");
  cmd->add_flag("--keep", flags->keep, "Keep the data directory after a passing run");
  cmd->add_flag("--json", flags->json,
                "Machine-readable output: the last line is one JSON object {\"scenario\", "
                "\"rounds\", \"acknowledged\", \"violations\", ...}");
  cmd->add_option("--durability", flags->durability,
                  "Journal durability for powerloss: sync (nothing acknowledged may be lost) or "
                  "none (the loss is measured and reported, not a violation)")
      ->check(CLI::IsMember({"sync", "none"}))
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "Log level of the hosts' messages on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  cmd->callback([flags, &exit_code] { exit_code = RunDrill(*flags); });
}

}  // namespace burrow::tools
