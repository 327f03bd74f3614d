// `burrow bench recovery` (issue 5) and `burrow bench memory` (issue 9): restart and replay
// speed, and resident bytes per idle session.
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/host_driver.h"
#include "tools/bench/memory_bench.h"
#include "tools/bench/recovery_bench.h"
#include "tools/bench/stats.h"
#include "tools/bench/table.h"
#include "tools/bench_report.h"
#include "tools/commands.h"

namespace burrow::tools {
namespace {

using nlohmann::json;

// ---- bench recovery (issue 5) -----------------------------------------------------------------

constexpr double kTargetReplayVsScan = 0.5;
constexpr double kTargetRestartSeconds = 2.0;

struct RecoveryFlags {
  uint64_t sessions = 100'000;
  std::vector<uint64_t> records = {1'000'000, 10'000'000};
  uint64_t replay_records = 1'000'000;
  int runs = 3;
  int threads = 2;
  bool json = false;
  std::string dir;
};

// A directory for the whole benchmark, deleted with everything in it when this goes away.
class BenchDir {
 public:
  static Result<std::unique_ptr<BenchDir>> Create(const std::string& parent) {
    std::string path = (std::filesystem::path(parent) / "burrow-bench-recovery-XXXXXX").string();
    if (mkdtemp(path.data()) == nullptr) {
      return UnavailableError(fmt::format("mkdtemp {}: {}", path, std::strerror(errno)));
    }
    return std::unique_ptr<BenchDir>(new BenchDir(std::move(path)));
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  explicit BenchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

double MedianOf(const auto& runs, auto field) {
  std::vector<double> values;
  for (const auto& run : runs) values.push_back(static_cast<double>(run.*field));
  return bench::Median(std::move(values));
}

std::string Seconds(double s) {
  return s < 10 ? fmt::format("{:.3f}", s) : fmt::format("{:.1f}", s);
}

struct RestartCase {
  uint64_t records = 0;
  bench::History history;
  std::vector<bench::RestartFigures> crash;  // restart of what the crash left
  std::vector<bench::RestartFigures> clean;  // restart after the first restart's clean shutdown
};

}  // namespace

void AddBenchRecoveryCommand(CLI::App& bench, int& exit_code) {
  auto* cmd = bench.add_subcommand(
      "recovery",
      "Measure recovery: records replayed per second next to a raw RocksDB scan, and restart "
      "time with snapshots for each history size.");
  cmd->footer(fmt::format(
      "What it does (every journal is built through the real engine: host::Host commands, the\n"
      "journal opened with durability none while generating, snapshots and checkpoints as the "
      "host takes them):\n"
      "  replay    a journal of --replay-records records for --sessions sessions, built with "
      "snapshots and\n"
      "            checkpoints disabled; recovery::Rebuild replays all of it (checksums, decode, "
      "machine re-run,\n"
      "            digest check) next to a plain RocksDB iteration over the same records column "
      "family.\n"
      "  restart   for each --records size, a history for --sessions sessions with the host's "
      "default snapshots\n"
      "            (every 1,000 records of a session, a checkpoint every 100,000 records), left "
      "as a kill -9\n"
      "            leaves it (no shutdown, WAL not flushed). Each run restarts a fresh copy: "
      "Journal::Open +\n"
      "            recovery::Recover until the host is ready ('crash'), then shuts down cleanly "
      "and restarts\n"
      "            again ('clean').\n"
      "Generation runs in a child process before anything is measured; the journals are cached "
      "by the OS\n"
      "when measured (warm). Every figure is the median over --runs runs.\n"
      "Targets (issue 5): replay >= {}x the raw scan rate; restart <= {} s with 100,000 "
      "sessions, about the\nsame for every history size. A benchmark, not a test: exits 0 "
      "whether or not the targets are met,\n1 if something fails.\n\n"
      "Examples:\n"
      "  burrow bench recovery\n"
      "  burrow bench recovery --sessions 100000 --records 1000000,10000000 --runs 3 --json\n"
      "  burrow bench recovery --sessions 10000 --records 100000,1000000 --replay-records "
      "200000 --runs 1\n",
      kTargetReplayVsScan, kTargetRestartSeconds));
  auto flags = std::make_shared<RecoveryFlags>();
  cmd->add_option("--sessions", flags->sessions, "Sessions in every history")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--records", flags->records,
                  "History sizes for the restart measurement, in records, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(uint64_t{2}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  cmd->add_option("--replay-records", flags->replay_records,
                  "Records of the snapshot-free journal that the replay rate is measured on")
      ->check(CLI::Range(uint64_t{2}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  cmd->add_option("--runs", flags->runs, "Measured runs; every figure is the median over them")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Threads generating the histories")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "After the table, print one line of JSON with every figure");
  cmd->add_option("--dir", flags->dir,
                  "Directory (created if missing) for the journals, deleted afterwards. Put it on "
                  "the disk to measure (default: $TMPDIR, else /tmp)");
  cmd->callback([flags, &exit_code] {
    const RecoveryFlags& f = *flags;
    for (uint64_t records : f.records) {
      if (records < 2 * f.sessions) {
        return ReportError(
            InvalidArgumentError(fmt::format("--records {} cannot hold --sessions {}: registering "
                                             "a session writes 2 records",
                                             records, f.sessions)),
            exit_code);
      }
    }
    if (f.replay_records < 2 * f.sessions) {
      return ReportError(InvalidArgumentError(fmt::format(
                             "--replay-records {} cannot hold --sessions {}: registering a "
                             "session writes 2 records",
                             f.replay_records, f.sessions)),
                         exit_code);
    }
    BenchFlags dir_flags;
    dir_flags.dir = f.dir;
    Result<std::string> parent = ParentDir(dir_flags);
    if (!parent.ok()) return ReportError(parent.status(), exit_code);
    Result<std::unique_ptr<BenchDir>> dir = BenchDir::Create(*parent);
    if (!dir.ok()) return ReportError(dir.status(), exit_code);
    const BenchDir& scratch = **dir;

    // Every history first, each in a child process, before this process opens any journal.
    bench::HistoryOptions replay_options;
    replay_options.sessions = f.sessions;
    replay_options.records = f.replay_records;
    replay_options.threads = f.threads;
    replay_options.snapshot_every_records = 0;
    replay_options.checkpoint_every_records = 0;
    std::cerr << fmt::format(
        "generating the replay journal: {} sessions, {} records, no "
        "snapshots...\n",
        f.sessions, f.replay_records);
    Result<bench::History> replay_history =
        bench::GenerateHistory(scratch.Sub("replay"), replay_options, /*crash=*/false);
    if (!replay_history.ok()) return ReportError(replay_history.status(), exit_code);
    std::cerr << fmt::format("  {} records in {:.1f} s\n", replay_history->last_seq,
                             replay_history->seconds);
    std::vector<RestartCase> restarts;
    for (uint64_t records : f.records) {
      bench::HistoryOptions options;
      options.sessions = f.sessions;
      options.records = records;
      options.threads = f.threads;
      std::cerr << fmt::format(
          "generating a history: {} sessions, {} records, default "
          "snapshots, left as after kill -9...\n",
          f.sessions, records);
      Result<bench::History> history = bench::GenerateHistory(
          scratch.Sub(fmt::format("history-{}", records)), options, /*crash=*/true);
      if (!history.ok()) return ReportError(history.status(), exit_code);
      std::cerr << fmt::format("  {} records in {:.1f} s; the journal holds {}..{}\n",
                               history->last_seq, history->seconds, history->first_seq,
                               history->last_seq);
      restarts.push_back({records, *history, {}, {}});
    }

    std::vector<bench::ReplayFigures> rebuilds;
    std::vector<bench::ReplayFigures> scans;
    for (int run = 1; run <= f.runs; ++run) {
      // Alternate which goes first, so neither always finds the other's cache.
      for (int k = 0; k < 2; ++k) {
        const bool rebuild = (k == 0) == (run % 2 == 1);
        Result<bench::ReplayFigures> figures = rebuild ? bench::TimeRebuild(scratch.Sub("replay"))
                                                       : bench::TimeRawScan(scratch.Sub("replay"));
        if (!figures.ok()) return ReportError(figures.status(), exit_code);
        std::cerr << fmt::format("run {}: {}: {} records in {} s = {} records/s\n", run,
                                 rebuild ? "recovery replay" : "raw RocksDB scan", figures->records,
                                 Seconds(figures->seconds),
                                 bench::FormatCount(figures->records_per_s));
        (rebuild ? rebuilds : scans).push_back(*figures);
      }
      for (RestartCase& c : restarts) {
        const std::string copy = scratch.Sub(fmt::format("run-{}", c.records));
        Status copied = bench::CopyTree(scratch.Sub(fmt::format("history-{}", c.records)), copy);
        if (!copied.ok()) return ReportError(copied, exit_code);
        for (int k = 0; k < 2; ++k) {
          Result<bench::RestartFigures> figures = bench::TimeRestart(copy);
          if (!figures.ok()) return ReportError(figures.status(), exit_code);
          std::cerr << fmt::format(
              "run {}: restart ({}) of {} records of history: {} s (open {} s, recover {} s; {} "
              "sessions, {} snapshots, {} records replayed)\n",
              run, k == 0 ? "crash" : "clean", c.records, Seconds(figures->total_s),
              Seconds(figures->open_s), Seconds(figures->recover_s), figures->sessions,
              figures->snapshots_loaded, figures->records_replayed);
          (k == 0 ? c.crash : c.clean).push_back(*figures);
        }
        std::error_code ignored;
        std::filesystem::remove_all(copy, ignored);
      }
    }

    const std::string command = fmt::format(
        "burrow bench recovery --sessions {} --records {} --replay-records {} --runs {} "
        "--threads {}{}{}",
        f.sessions, fmt::join(f.records, ","), f.replay_records, f.runs, f.threads,
        f.dir.empty() ? "" : " --dir " + f.dir, f.json ? " --json" : "");
    std::cout << fmt::format(
        "{}\n{} CPUs ({}); median of {} run{}; journals warm in the OS "
        "cache\n\n",
        command, std::thread::hardware_concurrency(), CpuModel(), f.runs, f.runs == 1 ? "" : "s");
    const double rebuild_rate = MedianOf(rebuilds, &bench::ReplayFigures::records_per_s);
    const double scan_rate = MedianOf(scans, &bench::ReplayFigures::records_per_s);
    const double replay_ratio = scan_rate > 0 ? rebuild_rate / scan_rate : 0;
    std::cout << bench::RenderTable({
        {"replay of a journal without snapshots", "records", "seconds", "records/s", "× scan"},
        {"recovery::Rebuild",
         bench::FormatCount(MedianOf(rebuilds, &bench::ReplayFigures::records)),
         Seconds(MedianOf(rebuilds, &bench::ReplayFigures::seconds)),
         bench::FormatCount(rebuild_rate), bench::FormatRatio(replay_ratio)},
        {"raw RocksDB scan", bench::FormatCount(MedianOf(scans, &bench::ReplayFigures::records)),
         Seconds(MedianOf(scans, &bench::ReplayFigures::seconds)), bench::FormatCount(scan_rate),
         bench::FormatRatio(1.0)},
    });
    std::vector<std::vector<std::string>> rows = {{"restart", "history records", "journal holds",
                                                   "sessions", "records replayed", "open s",
                                                   "recover s", "total s"}};
    json out = {{"bench", "recovery"},
                {"command", command},
                {"machine", MachineJson()},
                {"runs", f.runs},
                {"sessions", f.sessions},
                {"replay",
                 {{"records", MedianOf(rebuilds, &bench::ReplayFigures::records)},
                  {"rebuild_per_s", rebuild_rate},
                  {"raw_scan_per_s", scan_rate},
                  {"ratio", RatioJson(replay_ratio)},
                  {"generation_seconds", replay_history->seconds}}},
                {"restarts", json::array()}};
    double worst_crash = 0;
    std::vector<double> crash_medians;
    for (const RestartCase& c : restarts) {
      for (int k = 0; k < 2; ++k) {
        const auto& runs = k == 0 ? c.crash : c.clean;
        const double total = MedianOf(runs, &bench::RestartFigures::total_s);
        if (k == 0) {
          worst_crash = std::max(worst_crash, total);
          crash_medians.push_back(total);
        }
        rows.push_back(
            {k == 0 ? "after kill -9" : "after clean shutdown",
             bench::FormatCount(static_cast<double>(c.history.last_seq)),
             fmt::format("{}..{}", c.history.first_seq, c.history.last_seq),
             bench::FormatCount(MedianOf(runs, &bench::RestartFigures::sessions)),
             bench::FormatCount(MedianOf(runs, &bench::RestartFigures::records_replayed)),
             Seconds(MedianOf(runs, &bench::RestartFigures::open_s)),
             Seconds(MedianOf(runs, &bench::RestartFigures::recover_s)), Seconds(total)});
        out["restarts"].push_back(
            {{"kind", k == 0 ? "crash" : "clean"},
             {"history_records", c.history.last_seq},
             {"journal_first_seq", c.history.first_seq},
             {"generation_seconds", c.history.seconds},
             {"sessions", MedianOf(runs, &bench::RestartFigures::sessions)},
             {"records_replayed", MedianOf(runs, &bench::RestartFigures::records_replayed)},
             {"open_s", MedianOf(runs, &bench::RestartFigures::open_s)},
             {"recover_s", MedianOf(runs, &bench::RestartFigures::recover_s)},
             {"total_s", total}});
      }
    }
    std::cout << "\n" << bench::RenderTable(rows);
    const double growth = crash_medians.size() >= 2 && crash_medians.front() > 0
                              ? crash_medians.back() / crash_medians.front()
                              : 0;
    std::cout << fmt::format(
        "\nTargets (issue 5):\n  replay vs raw scan: {} (target >= {}×): {}\n"
        "  slowest restart: {} s (target <= {} s with 100,000 sessions): {}\n"
        "  restart, largest history over smallest: {} (should be about 1×)\n",
        bench::FormatRatio(replay_ratio), kTargetReplayVsScan,
        replay_ratio >= kTargetReplayVsScan ? "met" : "NOT met", Seconds(worst_crash),
        kTargetRestartSeconds, worst_crash <= kTargetRestartSeconds ? "met" : "NOT met",
        bench::FormatRatio(growth));
    out["restart_growth"] = RatioJson(growth);
    if (f.json) std::cout << out.dump() << "\n";
    exit_code = 0;
  });
}

// ---- bench memory (issue 9) -------------------------------------------------------------------

namespace {

constexpr double kTargetBytesPerSession = 1024;

}  // namespace

void AddBenchMemoryCommand(CLI::App& bench, int& exit_code) {
  auto* cmd = bench.add_subcommand("memory", "Measure resident memory per idle session.");
  cmd->footer(fmt::format(
      "Starts a host over a fresh journal (durability none: speed is not measured here), reads "
      "the process's\nresident set size (/proc/self/statm, after malloc_trim), registers "
      "--sessions sessions through\nhost::Host::Register (UUID-shaped ids of 36 bytes) and reads "
      "it again. bytes/session = the difference\nover the sessions. Counted: everything the "
      "process holds for them: the host's registry and per-session\nstate, and the journal's "
      "memtables with their registration records (2 per session; flushed by RocksDB\nat 32 MiB, "
      "so bounded). Then it shuts the host down cleanly, reopens the journal and recovers: the "
      "same\ndifference around recovery (memtables empty, RocksDB's block cache of at most 8 MiB "
      "filled by\nrecovery's reads) is the sessions' steady state. The target is judged on the "
      "first figure.\nOne measurement per invocation: run it several times for a median.\n"
      "Target (issue 9): <= {} bytes per idle session. A benchmark, not a test: exits 0 whether "
      "or not the\ntarget is met, 1 if something fails.\n\n"
      "Examples:\n"
      "  burrow bench memory --sessions 100000\n"
      "  burrow bench memory --sessions 10000 --json\n",
      kTargetBytesPerSession));
  struct Flags {
    uint64_t sessions = 100'000;
    int threads = 2;
    bool json = false;
    std::string dir;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--sessions", flags->sessions, "Sessions to register")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--threads", flags->threads, "Threads registering them")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "After the report, print one line of JSON");
  cmd->add_option("--dir", flags->dir,
                  "Directory (created if missing) for the journal, deleted afterwards (default: "
                  "$TMPDIR, else /tmp)");
  cmd->callback([flags, &exit_code] {
    BenchFlags dir_flags;
    dir_flags.dir = flags->dir;
    Result<std::string> parent = ParentDir(dir_flags);
    if (!parent.ok()) return ReportError(parent.status(), exit_code);
    Result<std::unique_ptr<BenchDir>> dir = BenchDir::Create(*parent);
    if (!dir.ok()) return ReportError(dir.status(), exit_code);
    Result<bench::MemoryFigures> figures =
        bench::MeasureIdleSessions((*dir)->Sub("journal"), flags->sessions, flags->threads);
    if (!figures.ok()) return ReportError(figures.status(), exit_code);
    const std::string command = fmt::format(
        "burrow bench memory --sessions {} --threads {}{}{}", flags->sessions, flags->threads,
        flags->dir.empty() ? "" : " --dir " + flags->dir, flags->json ? " --json" : "");
    const bool met = figures->bytes_per_session <= kTargetBytesPerSession;
    std::cout << fmt::format(
        "{}\n{} CPUs ({})\n\n"
        "resident before: {} bytes\nresident after {} idle sessions: {} bytes\n"
        "per idle session: {} bytes (target <= {}: {})\nregistering took {:.2f} s\n\n"
        "after a clean shutdown and a restart (recovered from snapshots, memtables empty):\n"
        "resident after opening the journal: {} bytes\nresident after recovery: {} bytes\n"
        "per idle session: {} bytes\n",
        command, std::thread::hardware_concurrency(), CpuModel(),
        bench::FormatCount(static_cast<double>(figures->rss_before)),
        bench::FormatCount(static_cast<double>(figures->sessions)),
        bench::FormatCount(static_cast<double>(figures->rss_after)),
        bench::FormatCount(figures->bytes_per_session), kTargetBytesPerSession,
        met ? "met" : "NOT met", figures->seconds,
        bench::FormatCount(static_cast<double>(figures->rss_before_recover)),
        bench::FormatCount(static_cast<double>(figures->rss_after_recover)),
        bench::FormatCount(figures->bytes_per_session_recovered));
    if (flags->json) {
      json out = {{"bench", "memory"},
                  {"command", command},
                  {"machine", MachineJson()},
                  {"sessions", figures->sessions},
                  {"rss_before_bytes", figures->rss_before},
                  {"rss_after_bytes", figures->rss_after},
                  {"bytes_per_session", figures->bytes_per_session},
                  {"rss_before_recover_bytes", figures->rss_before_recover},
                  {"rss_after_recover_bytes", figures->rss_after_recover},
                  {"bytes_per_session_recovered", figures->bytes_per_session_recovered},
                  {"target_bytes_per_session", kTargetBytesPerSession},
                  {"met", met}};
      std::cout << out.dump() << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace burrow::tools
