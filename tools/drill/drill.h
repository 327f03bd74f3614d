// `burrow drill`: crash-recovery drills (front door of tools/drill; docs/DRILLS.md).
//
// Each scenario drives a real host with a seeded random workload, breaks it the way machines
// break (SIGKILL, power cut, torn write, I/O errors, damaged files), recovers, and checks the
// promise: nothing acknowledged is lost, nothing is applied twice, the state equals the replay of
// the journal, running drains come back. A violation names the scenario, seed and round; the
// same seed replays the same workload and fault schedule (kill9's exact interleaving with the
// child also depends on timing; see docs/DRILLS.md).
//
// Thread-safety: RunScenario is meant for one caller at a time per data directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "journal/journal.h"

namespace spdlog {
class logger;
}

namespace burrow::drill {

enum class Scenario : uint8_t { kKill9, kPowerloss, kTornTail, kIoErrors, kCorruption };
std::string_view Name(Scenario scenario);
std::optional<Scenario> ParseScenario(std::string_view name);
const std::vector<Scenario>& AllScenarios();

struct Violation {
  uint64_t round = 0;
  std::string what;
};

struct Options {
  uint64_t rounds = 20;
  uint64_t seed = 1;
  // A directory the scenario owns (created if missing); its contents are the scenario's.
  std::string data_dir;
  // kill9: the `burrow` binary to run as the child host (`<binary> eval --data DIR`).
  std::string burrow_binary = "/proc/self/exe";
  // powerloss: kSync checks that nothing acknowledged is lost; kNone reports how much is.
  journal::Durability durability = journal::Durability::kSync;
  // Called after each round (for a progress bar); may be empty.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Named logger for the hosts' own messages; null = dropped.
  std::shared_ptr<spdlog::logger> logger;
};

struct ScenarioReport {
  std::string scenario;
  uint64_t seed = 0;
  uint64_t rounds = 0;              // rounds run
  uint64_t acknowledged = 0;        // commands acknowledged (ok: true) by the host
  uint64_t records = 0;             // journal records at the end (the last round's journal)
  uint64_t restarts = 0;            // recoveries performed
  std::vector<double> recovery_ms;  // one per restart
  std::vector<Violation> violations;
  // Scenario-specific figures, e.g. "lost_acknowledged" (powerloss --durability none),
  // "refused_start", "caught_by_verify", "unavailable_commands".
  std::map<std::string, uint64_t> figures;
  std::vector<std::string> notes;  // honest remarks for the summary
  double elapsed_s = 0;
};

// Runs `scenario` for options.rounds rounds. Never throws; problems of the drill itself (cannot
// create the directory, cannot start the child) are reported as violations of round 0.
ScenarioReport RunScenario(Scenario scenario, const Options& options);

// A few lines for people: rounds, commands acknowledged, records, restarts, recovery times
// (median, max), figures, and each violation with its seed and round.
std::string HumanSummary(const ScenarioReport& report);
// {"scenario", "seed", "rounds", "acknowledged", "records", "restarts", "recovery_ms_median",
//  "recovery_ms_max", "violations": [{"round", "what"}], "figures": {...}, "elapsed_s"}.
nlohmann::json ToJson(const ScenarioReport& report);

}  // namespace burrow::drill
