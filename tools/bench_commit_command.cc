// `burrow bench commit` (issue 9): durable transitions per second through the full engine, side
// by side with what users would write instead.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/chart.h"
#include "tools/bench/csv.h"
#include "tools/bench/harness.h"
#include "tools/bench/table.h"
#include "tools/bench/workloads.h"
#include "tools/bench_report.h"
#include "tools/commands.h"

namespace burrow::tools {
namespace {

using bench::Case;
using bench::CaseResult;
using nlohmann::json;

constexpr int kCommitTargetSessions = 256;
constexpr double kTargetVsNaive = 20.0;
constexpr double kTargetVsSqlite = 20.0;
constexpr double kTargetVsBatched = 0.5;

struct CommitFlags {
  BenchFlags common;  // common.producers holds --sessions
  std::string csv;
  std::string png;
  bool no_baselines = false;  // burrow only: for profiling the engine
};

std::string CommitCommandLine(const CommitFlags& flags) {
  const BenchFlags& c = flags.common;
  std::string line = fmt::format("burrow bench commit --sessions {} --seconds {} --runs {}",
                                 fmt::join(c.producers, ","), c.seconds, c.runs);
  if (!c.dir.empty()) line += " --dir " + c.dir;
  if (!flags.csv.empty()) line += " --csv " + flags.csv;
  if (!flags.png.empty()) line += " --png " + flags.png;
  if (flags.no_baselines) line += " --no-baselines";
  if (c.json) line += " --json";
  return line;
}

double PerS(const CaseResult* result) { return result ? result->median.records_per_s : 0; }

}  // namespace

void AddBenchCommitCommand(CLI::App& bench, int& exit_code) {
  auto* cmd = bench.add_subcommand(
      "commit",
      "Durable transitions per second through the full engine, side by side with what users "
      "would write instead.");
  cmd->footer(fmt::format(
      "Workloads (every operation is durable before it returns):\n"
      "  burrow               the full engine: host::Host over a journal with durability sync and "
      "default\n"
      "                       options; one thread per session, each running StartRun / FinishRun "
      "alternately,\n"
      "                       one command = one transition (decide -> journal -> publish -> "
      "effects) = one\n"
      "                       record; sessions share fsyncs through the journal's group commit. "
      "At each --sessions.\n"
      "  burrow_async         the same sessions and commands through Host::Submit: each "
      "session submits its next\n"
      "                       command from the previous one's completion, all driven from one "
      "thread; the host\n"
      "                       appends each group of submitted steps as one batch. At each "
      "--sessions.\n"
      "  naive_rocksdb        one synced Put per record (16-byte key, 200-byte value), at each "
      "--sessions\n"
      "                       (RocksDB groups concurrent writers itself) and with 1 writer\n"
      "  raw_batched_rocksdb  one synced WriteBatch of 128 records per write, 1 writer (the "
      "practical ceiling)\n"
      "  sqlite               WAL, synchronous=FULL, one INSERT transaction per record, 1 writer "
      "(more writers\n"
      "                       only queue on SQLite's lock: see `burrow bench baselines`)\n"
      "  fdatasync            append 256 bytes to a file, fdatasync, 1 writer (the device "
      "floor)\n"
      "Each figure is the median over --runs interleaved runs; latency is per command (per "
      "write for the\nbaselines). Targets, with {} sessions: burrow >= {}x naive RocksDB "
      "(1 writer), >= {}x SQLite, >= {}x raw\nbatched RocksDB; the report checks burrow and "
      "burrow_async. --json prints one final line with\nburrow_per_s, naive_rocksdb_per_s, "
      "raw_batched_rocksdb_per_s, sqlite_per_s, fdatasync_per_s, p50_us,\np99_us (for {} "
      "sessions if measured, else the largest --sessions), burrow_async_per_s,\n"
      "burrow_async_p50_us, burrow_async_p99_us and every case. --csv writes one row per "
      "--sessions value; --png draws\n"
      "it with gnuplot (Debian: gnuplot-nox). A benchmark, not a test: exits 0 whether or not "
      "the targets\nare met, 1 if a workload fails or gnuplot is missing.\n\n"
      "Examples:\n"
      "  burrow bench commit --sessions 256 --seconds 3 --json\n"
      "  burrow bench commit --sessions 1,16,256 --seconds 2 --runs 5\n"
      "  burrow bench commit --sessions 1,4,16,64,256,1024 --csv docs/bench/commit_sweep.csv "
      "--png docs/bench/commit_sweep.png\n",
      kCommitTargetSessions, kTargetVsNaive, kTargetVsSqlite, kTargetVsBatched,
      kCommitTargetSessions));
  auto flags = std::make_shared<CommitFlags>();
  flags->common.producers = {kCommitTargetSessions};
  AddCommonOptions(
      cmd, flags->common, "--sessions",
      "Concurrent sessions, comma-separated: each count is a case (burrow: a thread per "
      "session; burrow_async: one command in flight per session, one driving thread)");
  cmd->add_option("--csv", flags->csv,
                  "Also write one CSV row per --sessions value to this file (a sweep)");
  cmd->add_option("--png", flags->png,
                  "Also draw the sweep as a PNG chart with gnuplot (needs --csv)");
  cmd->add_flag(
      "--no-baselines", flags->no_baselines,
      "Run only burrow and burrow_async (to profile the engine, e.g. under perf); no ratios, "
      "no targets");
  cmd->callback([flags, &exit_code] {
    const BenchFlags& common = flags->common;
    if (!flags->png.empty() && flags->csv.empty()) {
      return ReportError(InvalidArgumentError("--png draws the CSV: give --csv too"), exit_code);
    }
    std::string gnuplot;
    if (!flags->png.empty()) {
      Result<std::string> found = bench::FindGnuplot();  // before minutes of measuring
      if (!found.ok()) return ReportError(found.status(), exit_code);
      gnuplot = *found;
    }
    const bench::WorkloadSpec burrow = bench::BurrowHost();
    const bench::WorkloadSpec burrow_async = bench::BurrowHostAsync();
    const bench::WorkloadSpec naive = bench::NaiveRocksDb();
    const bench::WorkloadSpec batched = bench::RawBatchedRocksDb();
    const bench::WorkloadSpec sqlite = bench::SqliteWal();
    const bench::WorkloadSpec floor = bench::FdatasyncFloor();
    if (flags->no_baselines && !flags->csv.empty()) {
      return ReportError(InvalidArgumentError("--csv needs the baselines: drop --no-baselines"),
                         exit_code);
    }
    std::vector<Case> cases;
    bool naive_one = false;
    for (int sessions : common.producers) {
      cases.push_back({burrow, sessions});
      cases.push_back({burrow_async, sessions});
      if (flags->no_baselines) continue;
      cases.push_back({naive, sessions});
      naive_one = naive_one || sessions == 1;
    }
    if (!flags->no_baselines) {
      if (!naive_one) cases.push_back({naive, 1});
      cases.push_back({batched, 1});
      cases.push_back({sqlite, 1});
      cases.push_back({floor, 1});
    }
    const std::string command = CommitCommandLine(*flags);
    Result<std::vector<CaseResult>> results = RunAll(cases, common);
    if (!results.ok()) return ReportError(results.status(), exit_code);

    const CaseResult* naive1 = Find(*results, naive.name, 1);
    const CaseResult* batched1 = Find(*results, batched.name, 1);
    const CaseResult* sqlite1 = Find(*results, sqlite.name, 1);
    const CaseResult* floor1 = Find(*results, floor.name, 1);
    std::vector<std::vector<std::string>> rows = {{"mode", "sessions", "records/s", "spread",
                                                   "p50 µs", "p99 µs", "× naive (same)",
                                                   "× naive 1", "× sqlite 1", "× batched"}};
    json out = {{"bench", "commit"},
                {"command", command},
                {"machine", MachineJson()},
                {"seconds", common.seconds},
                {"runs", common.runs},
                {"threading",
                 "burrow: one thread per session; burrow_async: Host::Submit, one driving thread"},
                {"results", json::array()}};
    std::vector<std::vector<std::string>> csv = {
        std::vector<std::string>(std::begin(bench::kSweepColumns), std::end(bench::kSweepColumns))};
    for (const CaseResult& result : *results) {
      const double vs_same = Ratio(&result, Find(*results, naive.name, result.producers));
      rows.push_back(FiguresRow(result));
      rows.back().push_back(bench::FormatRatio(vs_same));
      rows.back().push_back(bench::FormatRatio(Ratio(&result, naive1)));
      rows.back().push_back(bench::FormatRatio(Ratio(&result, sqlite1)));
      rows.back().push_back(bench::FormatRatio(Ratio(&result, batched1)));
      out["results"].push_back(ResultJson(result));
      if (result.mode != burrow.name) continue;
      const CaseResult* same = Find(*results, naive.name, result.producers);
      const CaseResult* async = Find(*results, burrow_async.name, result.producers);
      csv.push_back(
          {std::to_string(result.producers), fmt::format("{:.0f}", result.median.records_per_s),
           fmt::format("{:.1f}", result.median.p50_us), fmt::format("{:.1f}", result.median.p99_us),
           fmt::format("{:.0f}", PerS(same)), fmt::format("{:.1f}", same ? same->median.p50_us : 0),
           fmt::format("{:.1f}", same ? same->median.p99_us : 0),
           fmt::format("{:.0f}", PerS(naive1)), fmt::format("{:.0f}", PerS(batched1)),
           fmt::format("{:.0f}", PerS(sqlite1)), fmt::format("{:.0f}", PerS(floor1)),
           fmt::format("{:.0f}", PerS(async)),
           fmt::format("{:.1f}", async ? async->median.p50_us : 0),
           fmt::format("{:.1f}", async ? async->median.p99_us : 0)});
    }

    // The headline: kCommitTargetSessions if measured, else the largest count.
    int headline_sessions = *std::max_element(common.producers.begin(), common.producers.end());
    if (std::find(common.producers.begin(), common.producers.end(), kCommitTargetSessions) !=
        common.producers.end()) {
      headline_sessions = kCommitTargetSessions;
    }
    const CaseResult* headline = Find(*results, burrow.name, headline_sessions);
    const CaseResult* headline_naive = Find(*results, naive.name, headline_sessions);
    out["sessions"] = headline_sessions;
    out["burrow_per_s"] = PerS(headline);
    out["p50_us"] = headline->median.p50_us;
    out["p99_us"] = headline->median.p99_us;
    out["naive_rocksdb_per_s"] = PerS(naive1);
    out["naive_rocksdb_same_sessions_per_s"] = PerS(headline_naive);
    out["raw_batched_rocksdb_per_s"] = PerS(batched1);
    out["sqlite_per_s"] = PerS(sqlite1);
    out["fdatasync_per_s"] = PerS(floor1);
    const CaseResult* headline_async = Find(*results, burrow_async.name, headline_sessions);
    out["burrow_async_per_s"] = PerS(headline_async);
    out["burrow_async_p50_us"] = headline_async->median.p50_us;
    out["burrow_async_p99_us"] = headline_async->median.p99_us;
    std::vector<TargetCheck> targets;  // none without the baselines (--no-baselines)
    for (const CaseResult* result : {headline, headline_async}) {
      if (flags->no_baselines) break;
      const std::string& mode = result->mode;
      targets.push_back({fmt::format("{}_vs_naive_rocksdb", mode),
                         fmt::format("{} vs naive RocksDB (1 writer)", mode), Ratio(result, naive1),
                         kTargetVsNaive});
      targets.push_back({fmt::format("{}_vs_sqlite", mode),
                         fmt::format("{} vs SQLite (1 writer)", mode), Ratio(result, sqlite1),
                         kTargetVsSqlite});
      targets.push_back({fmt::format("{}_vs_raw_batched_rocksdb", mode),
                         fmt::format("{} vs raw batched RocksDB", mode), Ratio(result, batched1),
                         kTargetVsBatched});
    }
    std::string verdicts =
        targets.empty()
            ? std::string()
            : fmt::format("\nTargets (issue 9), with {} sessions{}:\n", headline_sessions,
                          headline_sessions == kCommitTargetSessions
                              ? ""
                              : fmt::format(" (the targets are for {})", kCommitTargetSessions));
    out["targets"] = json::array();
    for (const TargetCheck& target : targets) {
      const bool met = target.ratio >= target.required;
      verdicts +=
          fmt::format("  {}: {} (target >= {}×): {}\n", target.description,
                      bench::FormatRatio(target.ratio), target.required, met ? "met" : "NOT met");
      out["targets"].push_back({{"name", target.name},
                                {"ratio", RatioJson(target.ratio)},
                                {"required", target.required},
                                {"met", met}});
    }

    PrintHeader(command, common);
    std::cout << bench::RenderTable(rows) << verdicts;
    if (!flags->csv.empty()) {
      std::ofstream file(flags->csv);
      file << bench::RenderCsv(csv);
      if (!file) return ReportError(UnavailableError("cannot write " + flags->csv), exit_code);
      std::cout << "wrote " << flags->csv << "\n";
    }
    if (!flags->png.empty()) {
      const std::string subtitle =
          fmt::format("{} CPUs, {}, median of {} runs of {} s", std::thread::hardware_concurrency(),
                      CpuModel(), common.runs, common.seconds);
      Status drawn =
          bench::RunGnuplot(gnuplot, bench::CommitSweepScript(flags->csv, flags->png, subtitle));
      if (!drawn.ok()) return ReportError(drawn, exit_code);
      std::cout << "wrote " << flags->png << "\n";
    }
    if (common.json) std::cout << out.dump() << "\n";
    exit_code = 0;
  });
}

}  // namespace burrow::tools
