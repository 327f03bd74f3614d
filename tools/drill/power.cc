// powerloss and torn-tail: an embedded host on a fault-injecting FileSystem (fault_fs.h) under a
// seeded workload; the power is cut at a random point (between commands, or inside a WAL sync
// so that a batch is written but not synced), the FileSystem drops what was never synced — or,
// for torn-tail, keeps a random part of the unsynced WAL tail and garbles it — and the journal is
// reopened on a fresh FileSystem, recovered and checked.
#include <fmt/format.h>

#include <chrono>
#include <random>

#include "tools/drill/checks.h"
#include "tools/drill/fault_fs.h"
#include "tools/drill/scenarios.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace burrow::drill {
namespace {

// Snapshots every 50 records of a session exercise snapshot recovery under the cut; checkpoints
// (which truncate the journal) are off so that every acknowledged record stays checkable.
host::HostOptions DrillHostOptions(const Options& options) {
  host::HostOptions h;
  h.logger = options.logger;
  h.snapshot_every_records = 50;
  h.checkpoint_every_records = 0;
  h.respawn_initial = std::chrono::milliseconds(20);
  return h;
}

// One power-on: the FileSystem, its Env and the host, destroyed in reverse order.
struct Boot {
  std::shared_ptr<FaultFileSystem> fs = std::make_shared<FaultFileSystem>();
  std::unique_ptr<rocksdb::Env> env = FaultFileSystem::MakeEnv(fs);
  std::unique_ptr<InProcessHost> host;
};

void RunPowerCuts(const Options& options, ScenarioReport& report, bool tear) {
  const std::string dir = options.data_dir + "/journal";
  std::mt19937_64 rng(MixSeed(options.seed, tear ? 31 : 41));
  Workload workload(MixSeed(options.seed, tear ? 32 : 42), tear ? "t" : "p");
  Ledger ledger;
  const journal::Durability durability = tear ? journal::Durability::kSync : options.durability;
  const bool lossy = durability == journal::Durability::kNone;
  uint64_t lost = 0;
  auto violation = [&](uint64_t round, std::string what) {
    report.violations.push_back(Violation{round, std::move(what)});
  };

  for (uint64_t round = 0; round <= options.rounds; ++round) {
    Boot boot;
    journal::Options journal_options;
    journal_options.env = boot.env.get();
    journal_options.durability = durability;
    journal_options.logger = options.logger;
    auto opened = InProcessHost::Open(dir, journal_options, DrillHostOptions(options));
    if (!opened.ok()) {
      violation(round, "the start was refused after the power cut: " + opened.status().ToString());
      break;
    }
    boot.host = std::move(opened).value();
    if (round > 0) {
      ++report.restarts;
      report.recovery_ms.push_back(boot.host->open_time().count() / 1000.0);
    }
    CheckOptions check;
    check.lost = lossy ? &lost : nullptr;
    uint64_t records = 0;
    for (std::string& v : CheckAll(*boot.host, dir, ledger, check, &records)) {
      violation(round, std::move(v));
    }
    report.records = records;
    if (round == options.rounds) break;

    const uint64_t commands = 10 + rng() % 150;
    // Inside a WAL sync (a batch written, not synced: the torn-tail material), or between two
    // commands. Without syncs (durability none) only the latter can happen.
    const bool in_sync = tear || (!lossy && rng() % 2 == 0);
    const uint64_t cut_after = rng() % (commands + 1);
    if (in_sync) boot.fs->ArmPowerCutAtWalSync(1 + static_cast<int>(rng() % commands));
    for (uint64_t i = 0; i < commands; ++i) {
      if (!in_sync && i == cut_after) break;
      nlohmann::json request = workload.Next();
      std::optional<nlohmann::json> response = boot.host->Call(request);
      if (!response) {
        ledger.RecordUnknown(request);
        break;
      }
      const bool ok = response && response->value("ok", false);
      if (!ok && boot.fs->powered_off()) {
        ledger.RecordUnknown(request);  // the power went off under it: outcome unknown
        break;
      }
      workload.Observe(request, *response);
      ledger.Record(request, *response);  // ok means its sync completed before the cut
      if (boot.fs->powered_off()) break;
    }
    if (boot.fs->powered_off()) ++report.figures["cuts_inside_a_sync"];
    boot.fs->CutPower();
    boot.host.reset();  // everything it still tries to write fails: the machine is off
    DropReport dropped = boot.fs->DropUnsyncedData(tear ? &rng : nullptr);
    report.figures["unsynced_bytes_dropped"] += dropped.bytes_dropped;
    report.figures["files_deleted_never_dir_synced"] += dropped.files_deleted;
    if (tear) {
      report.figures["torn_bytes_kept_garbled"] += dropped.bytes_torn;
      if (dropped.bytes_torn > 0) ++report.figures["rounds_with_a_torn_tail"];
    }
    report.rounds = round + 1;
    if (options.progress) options.progress(round + 1, options.rounds);
  }
  report.acknowledged = ledger.acknowledged();
  if (lossy) {
    report.figures["lost_acknowledged"] = lost;
    report.notes.push_back(fmt::format(
        "durability none: {} acknowledged effects (records, sessions, posts) did not survive the "
        "power cuts. This is what `none` means; it is not a violation.",
        lost));
  }
}

}  // namespace

void RunPowerloss(const Options& options, ScenarioReport& report) {
  RunPowerCuts(options, report, /*tear=*/false);
}

void RunTornTail(const Options& options, ScenarioReport& report) {
  RunPowerCuts(options, report, /*tear=*/true);
}

}  // namespace burrow::drill
