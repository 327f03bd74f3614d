// kill9: a real `burrow eval` child under a seeded workload, killed with SIGKILL at a random
// moment (after a random number of acknowledged commands, possibly with a request in flight),
// restarted on the same data, round after round. Every restart is checked (checks.h).
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "tools/drill/checks.h"
#include "tools/drill/scenarios.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace burrow::drill {

void RunKill9(const Options& options, ScenarioReport& report) {
  const std::string data = options.data_dir + "/journal";
  const std::string child_log = options.data_dir + "/child-stderr.log";
  std::mt19937_64 rng(MixSeed(options.seed, 1));
  Workload workload(MixSeed(options.seed, 2), "k");
  Ledger ledger;
  auto violation = [&](uint64_t round, std::string what) {
    report.violations.push_back(Violation{round, std::move(what)});
  };

  for (uint64_t round = 0; round <= options.rounds; ++round) {
    const auto started = std::chrono::steady_clock::now();
    auto child = ChildHost::Start(options.burrow_binary, data, child_log);
    if (!child.ok()) {
      violation(round, "cannot start the child: " + child.status().ToString());
      return;
    }
    // The first answer comes after the journal is opened and recovered.
    std::optional<nlohmann::json> first = (*child)->Call({{"cmd", "sessions"}});
    if (!first) {
      violation(round,
                fmt::format("the child did not start on the data a kill left (see {})", child_log));
      return;
    }
    if (round > 0) {
      ++report.restarts;
      report.recovery_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
    }
    uint64_t records = 0;
    const size_t violations_before = report.violations.size();
    for (std::string& v : CheckAll(**child, data, ledger, CheckOptions{}, &records)) {
      violation(round, std::move(v));
    }
    report.records = records;
    if (report.violations.size() != violations_before) {
      (*child)->Kill();  // leave the data exactly as the check saw it (no shutdown checkpoint)
      break;
    }
    if (round == options.rounds) {
      int status = (*child)->Stop();
      if (status != 0) violation(round, fmt::format("the child exited with {} at EOF", status));
      break;
    }

    const uint64_t commands = 10 + rng() % 150;
    const uint64_t kill_after = rng() % (commands + 1);
    const bool in_flight = rng() % 2 == 0;
    bool alive = true;
    for (uint64_t i = 0; i < kill_after && alive; ++i) {
      nlohmann::json request = workload.Next();
      std::optional<nlohmann::json> response = (*child)->Call(request);
      if (!response) {
        violation(round, fmt::format("the child stopped answering at {}", request.dump()));
        ledger.RecordUnknown(request);
        alive = false;
        break;
      }
      workload.Observe(request, *response);
      ledger.Record(request, *response);
    }
    if (alive && in_flight) {
      nlohmann::json request = workload.Next();
      (*child)->Send(request);
      ledger.RecordUnknown(request);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    }
    if (!(*child)->Kill() && alive) violation(round, "the child died before the SIGKILL");
    report.rounds = round + 1;
    if (options.progress) options.progress(round + 1, options.rounds);
  }
  report.acknowledged = ledger.acknowledged();
  if (ledger.unverifiable() > 0) {
    report.figures["acknowledged_truncated_before_checked"] = ledger.unverifiable();
  }
}

}  // namespace burrow::drill
