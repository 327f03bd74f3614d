// corruption: builds a journal with an embedded host under a seeded workload, records the truth
// (every session as the host showed it), then flips bytes in one journal file at rest — an SST
// after a clean shutdown, or the WAL / an SST / the MANIFEST of a crash image (a copy of the
// directory taken while the host ran, everything synced). Then it starts a host on the damaged
// directory. Acceptable outcomes: the start is refused with a report; or it starts and a full
// verify (every record, every state value, every snapshot, a replay) reports the damage; or it
// starts with exactly the truth (the flipped bytes were not needed). A start that shows a state
// other than the truth while verify finds nothing wrong is a violation: a silently wrong state.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "recovery/recovery.h"
#include "tools/drill/checks.h"
#include "tools/drill/scenarios.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace burrow::drill {
namespace {

namespace fs = std::filesystem;

// The session views that must survive: authorities and message counts (task incarnations move
// on at every start, so they are not part of the truth).
std::map<std::string, nlohmann::json> Truth(const Observed& observed) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& [id, view] : observed.sessions) {
    out[id] = {{"state", view.state},
               {"delivered", view.delivered_ids},
               {"inbox_pending", view.inbox_pending}};
  }
  return out;
}

}  // namespace

void RunCorruption(const Options& options, ScenarioReport& report) {
  std::mt19937_64 rng(MixSeed(options.seed, 61));
  auto violation = [&](uint64_t round, std::string what) {
    report.violations.push_back(Violation{round, std::move(what)});
  };
  host::HostOptions host_options;
  host_options.logger = options.logger;
  host_options.snapshot_every_records = 25;
  host_options.checkpoint_every_records = 0;
  journal::Options journal_options;
  journal_options.logger = options.logger;
  std::set<std::string> refusal_shown;  // one example refusal per kind of file, for the summary

  for (uint64_t round = 0; round < options.rounds; ++round) {
    const std::string round_dir = fmt::format("{}/round-{}", options.data_dir, round);
    const std::string live_dir = round_dir + "/live";
    const std::string image_dir = round_dir + "/image";
    std::error_code ec;
    fs::remove_all(round_dir, ec);
    fs::create_directories(round_dir, ec);
    const size_t violations_before = report.violations.size();

    // Build a journal and take the truth.
    Workload workload(MixSeed(options.seed, 1000 + round), fmt::format("c{}", round));
    const bool crash_image = rng() % 2 == 0;
    std::map<std::string, nlohmann::json> truth;
    {
      auto opened = InProcessHost::Open(live_dir, journal_options, host_options);
      if (!opened.ok()) {
        violation(round, "cannot build the journal: " + opened.status().ToString());
        break;
      }
      auto& host = **opened;
      for (uint64_t n = 30 + rng() % 120; n > 0; --n) {
        nlohmann::json request = workload.Next();
        nlohmann::json response = *host.Call(request);
        workload.Observe(request, response);
        if (response.value("ok", false)) ++report.acknowledged;
      }
      Result<Observed> observed = Observe(host, std::chrono::seconds(10));
      if (!observed.ok()) {
        violation(round, "cannot observe the host: " + observed.status().ToString());
        break;
      }
      truth = Truth(*observed);
      report.records += host.journal().LastSequence();  // summed over the rounds' journals
      // A crash image: the directory as a crash would leave it (every acknowledged batch synced;
      // nothing is written while the copy runs, the drains having delivered everything).
      if (crash_image) fs::copy(live_dir, image_dir, fs::copy_options::recursive, ec);
    }  // a clean shutdown: memtables flushed to SSTs
    const std::string dir = crash_image ? image_dir : live_dir;
    if (ec) {
      violation(round, "cannot copy the crash image: " + ec.message());
      break;
    }

    // Damage one file: the WAL (crash images only: a clean shutdown leaves it empty), an SST or
    // the MANIFEST.
    std::vector<std::string> wals, ssts, manifests;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_regular_file() || entry.file_size() == 0) continue;
      if (name.ends_with(".log") && name != "LOG") wals.push_back(entry.path());
      if (name.ends_with(".sst")) ssts.push_back(entry.path());
      if (name.starts_with("MANIFEST-")) manifests.push_back(entry.path());
    }
    std::vector<std::string>* pool = &ssts;
    const uint64_t pick = rng() % 10;
    if (pick < 5 && !wals.empty()) pool = &wals;
    if (pick >= 8 && !manifests.empty()) pool = &manifests;
    if (pool->empty()) pool = !ssts.empty() ? &ssts : !wals.empty() ? &wals : &manifests;
    if (pool->empty()) {
      violation(round, "no journal file to damage in " + dir);
      continue;
    }
    std::sort(pool->begin(), pool->end());
    const std::string victim = (*pool)[rng() % pool->size()];
    const std::string kind = pool == &wals ? "wal" : pool == &ssts ? "sst" : "manifest";
    const uint64_t size = fs::file_size(victim, ec);
    const int flips = 1 + static_cast<int>(rng() % 4);
    int fd = ::open(victim.c_str(), O_RDWR);
    for (int i = 0; i < flips && fd >= 0; ++i) {
      const off_t at = static_cast<off_t>(rng() % size);
      unsigned char byte = 0;
      if (::pread(fd, &byte, 1, at) != 1) break;
      byte ^= static_cast<unsigned char>(1u << (rng() % 8));
      (void)!::pwrite(fd, &byte, 1, at);
    }
    if (fd >= 0) ::close(fd);
    ++report.figures["damaged_" + kind];

    // Start on the damaged directory.
    if (auto started = InProcessHost::Open(dir, journal_options, host_options); !started.ok()) {
      ++report.figures["outcome_start_refused"];
      if (refusal_shown.insert(kind).second) {
        report.notes.push_back(
            fmt::format("a refused start ({} damaged): {}", kind, started.status().ToString()));
      }
      ++report.restarts;
    } else {
      ++report.restarts;
      report.recovery_ms.push_back((*started)->open_time().count() / 1000.0);
      Result<Observed> after = Observe(**started, std::chrono::seconds(10));
      const Status verified = VerifyJournal(dir);
      const bool intact = after.ok() && Truth(*after) == truth;
      if (!verified.ok()) {
        ++report.figures["outcome_started_verify_caught"];
      } else if (intact) {
        ++report.figures["outcome_started_state_intact"];
      } else if ((*started)->journal().DiscardedWalTail()) {
        // The damage hit the WAL's last record: indistinguishable from a write torn by a crash,
        // so RocksDB discards it and the open reports it (journal.h, DiscardedWalTail). The last
        // acknowledged batch is lost, loudly; counted and explained, not hidden.
        ++report.figures["outcome_started_last_wal_record_discarded_and_reported"];
      } else {
        violation(round,
                  fmt::format("{} bytes flipped in {} ({}): the host started with a state other "
                              "than the truth and verify finds nothing wrong",
                              flips, fs::path(victim).filename().string(),
                              crash_image ? "crash image" : "after a clean shutdown"));
      }
    }
    if (report.violations.size() == violations_before) fs::remove_all(round_dir, ec);
    if (report.figures.count("outcome_started_last_wal_record_discarded_and_reported") &&
        refusal_shown.insert("tail-note").second) {
      report.notes.push_back(
          "damage inside the WAL's last record looks exactly like a write torn by a crash: the "
          "start discards that record and reports it (the last acknowledged batch is lost); "
          "damage anywhere before it refuses the start");
    }
    report.rounds = round + 1;
    if (options.progress) options.progress(round + 1, options.rounds);
  }
}

}  // namespace burrow::drill
