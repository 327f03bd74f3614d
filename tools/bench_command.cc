// `burrow bench`: Burrow's speed, measured side by side with its baselines in the same run.
//
// House rule: benchmarks, not timed tests. Every figure is the median over --runs runs, the runs
// of all workloads are interleaved (tools/bench/harness.h), and Burrow is reported as a ratio
// to a baseline measured in the same invocation, never as a lone absolute time.
#include <fmt/format.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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
#include "tools/bench/host_driver.h"
#include "tools/bench/memory_bench.h"
#include "tools/bench/recovery_bench.h"
#include "tools/bench/stats.h"
#include "tools/bench/table.h"
#include "tools/bench/workloads.h"
#include "tools/commands.h"

namespace burrow::tools {
namespace {

using bench::Case;
using bench::CaseResult;
using nlohmann::json;

// Issue 3's targets for the journal's group commit, with 256 producers.
constexpr int kTargetProducers = 256;
constexpr double kTargetVsOneSyncPerRecord = 20.0;
constexpr double kTargetVsRawBatched = 0.5;

struct BenchFlags {
  std::vector<int> producers;
  double seconds = 3;
  int runs = 3;
  bool json = false;
  std::string dir;
};

// `count_flag` names the option that fills flags.producers (`bench commit` calls them sessions).
void AddCommonOptions(CLI::App* cmd, BenchFlags& flags,
                      const std::string& count_flag = "--producers",
                      const std::string& count_help =
                          "Concurrent producer threads, as a comma-separated list: each workload "
                          "runs once at each count") {
  cmd->add_option(count_flag, flags.producers, count_help)
      ->delimiter(',')
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--seconds", flags.seconds, "Length of each run, in seconds (fractions allowed)")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  cmd->add_option("--runs", flags.runs,
                  "Runs of each workload (interleaved); every figure is the median over them")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--json", flags.json,
                "After the table, print one line of JSON with every figure, each run's included");
  cmd->add_option("--dir", flags.dir,
                  "Directory (created if missing) in which each run gets a fresh subdirectory, "
                  "deleted after the run. Put it on the disk to measure, not on a tmpfs "
                  "(default: $TMPDIR, else /tmp)");
}

// The command line that reproduces a report, for docs/BENCHMARKS.md.
std::string CommandLine(std::string_view name, const BenchFlags& flags) {
  std::string line = fmt::format("burrow bench {} --producers {} --seconds {} --runs {}", name,
                                 fmt::join(flags.producers, ","), flags.seconds, flags.runs);
  if (!flags.dir.empty()) line += " --dir " + flags.dir;
  if (flags.json) line += " --json";
  return line;
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  return "unknown";
}

json MachineJson() {
  return {{"cpus", std::thread::hardware_concurrency()}, {"cpu_model", CpuModel()}};
}

// Where the runs' directories go: --dir, else $TMPDIR, else /tmp. Warns about a tmpfs, where
// fsync costs nothing and every durable figure would be meaningless.
Result<std::string> ParentDir(const BenchFlags& flags) {
  std::string dir = flags.dir;
  if (dir.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    dir = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return UnavailableError(fmt::format("create {}: {}", dir, error.message()));
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
    std::cerr << fmt::format("warning: {} is a tmpfs: fsync is free there, use --dir on a disk\n",
                             dir);
  }
  return dir;
}

// Runs `cases` as the flags say, showing each run's figures on stderr as it ends.
Result<std::vector<CaseResult>> RunAll(const std::vector<Case>& cases, const BenchFlags& flags) {
  BURROW_ASSIGN_OR_RETURN(std::string parent, ParentDir(flags));
  bench::RunOptions options;
  options.duration = std::chrono::duration<double>(flags.seconds);
  options.parent_dir = parent;
  const size_t total = cases.size() * static_cast<size_t>(flags.runs);
  size_t done = 0;
  auto show = [&](const Case& c, int run, const bench::RunFigures& figures) {
    std::cerr << fmt::format(
        "[{}/{}] run {}: {}, {} producer{}: {} records/s, p50 {} µs, "
        "p99 {} µs\n",
        ++done, total, run, c.spec.name, c.producers, c.producers == 1 ? "" : "s",
        bench::FormatCount(figures.records_per_s), bench::FormatMicros(figures.p50_us),
        bench::FormatMicros(figures.p99_us));
  };
  return bench::RunCases(cases, options, flags.runs, show);
}

const CaseResult* Find(const std::vector<CaseResult>& results, std::string_view mode,
                       int producers) {
  for (const CaseResult& result : results) {
    if (result.mode == mode && result.producers == producers) return &result;
  }
  return nullptr;
}

// numerator / denominator of the median records/s; 0 when either is missing.
double Ratio(const CaseResult* numerator, const CaseResult* denominator) {
  if (numerator == nullptr || denominator == nullptr) return 0;
  if (denominator->median.records_per_s <= 0) return 0;
  return numerator->median.records_per_s / denominator->median.records_per_s;
}

// The fastest run's records/s over the slowest's: how far the machine drifted under the runs.
double Spread(const CaseResult& result) {
  double fastest = 0;
  double slowest = 0;
  for (const bench::RunFigures& run : result.runs) {
    fastest = std::max(fastest, run.records_per_s);
    slowest = slowest == 0 ? run.records_per_s : std::min(slowest, run.records_per_s);
  }
  return slowest > 0 ? fastest / slowest : 0;
}

json RatioJson(double ratio) { return ratio > 0 ? json(ratio) : json(nullptr); }

json FiguresJson(const bench::RunFigures& figures) {
  return {{"records_per_s", figures.records_per_s},
          {"p50_us", figures.p50_us},
          {"p99_us", figures.p99_us},
          {"ops", figures.ops},
          {"records", figures.records},
          {"seconds", figures.seconds}};
}

json ResultJson(const CaseResult& result) {
  json out = {{"mode", result.mode},
              {"producers", result.producers},
              {"records_per_s", result.median.records_per_s},
              {"p50_us", result.median.p50_us},
              {"p99_us", result.median.p99_us},
              {"spread", RatioJson(Spread(result))},
              {"runs", json::array()}};
  for (const bench::RunFigures& run : result.runs) out["runs"].push_back(FiguresJson(run));
  return out;
}

std::vector<std::string> FiguresRow(const CaseResult& result) {
  return {result.mode,
          std::to_string(result.producers),
          bench::FormatCount(result.median.records_per_s),
          bench::FormatRatio(Spread(result)),
          bench::FormatMicros(result.median.p50_us),
          bench::FormatMicros(result.median.p99_us)};
}

void PrintHeader(const std::string& command, const BenchFlags& flags) {
  std::cout << fmt::format(
      "{}\n{} CPUs ({}); median of {} run{} of {} s each; latency is per operation (one write);\n"
      "spread: fastest run's records/s over the slowest's (well above 1.5×: the machine drifted, "
      "rerun)\n\n",
      command, std::thread::hardware_concurrency(), CpuModel(), flags.runs,
      flags.runs == 1 ? "" : "s", flags.seconds);
}

void ReportError(const Status& status, int& exit_code) {
  std::cerr << "burrow bench: " << status << "\n";
  exit_code = 1;
}

void AddBaselinesCommand(CLI::App& bench, int& exit_code) {
  auto* cmd = bench.add_subcommand(
      "baselines",
      "Run only the four durable baselines Burrow is compared with, at each producer count.");
  cmd->footer(
      "The baselines (every write is fsynced; records are a 16-byte key and a 200-byte value):\n"
      "  fdatasync            append 256-byte records to a file per producer, fdatasync after each "
      "(the device floor)\n"
      "  naive_rocksdb        one synced Put per record, all producers on one DB\n"
      "  raw_batched_rocksdb  one synced WriteBatch of 128 records per write (records/s counts "
      "records)\n"
      "  sqlite               WAL, synchronous=FULL, one INSERT transaction per record, a "
      "connection per producer\n"
      "The table shows each figure's median over the runs, and records/s as a ratio to fdatasync "
      "at the same producer count.\nExits 1 if a workload fails.\n\n"
      "Examples:\n"
      "  burrow bench baselines\n"
      "  burrow bench baselines --producers 1 --seconds 2 --runs 5 --json\n");
  auto flags = std::make_shared<BenchFlags>();
  flags->producers = {1, 16};
  AddCommonOptions(cmd, *flags);
  cmd->callback([flags, &exit_code] {
    const std::vector<bench::WorkloadSpec> baselines = {
        bench::FdatasyncFloor(), bench::NaiveRocksDb(), bench::RawBatchedRocksDb(),
        bench::SqliteWal()};
    std::vector<Case> cases;
    for (int producers : flags->producers) {
      for (const bench::WorkloadSpec& spec : baselines) cases.push_back({spec, producers});
    }
    const std::string command = CommandLine("baselines", *flags);
    Result<std::vector<CaseResult>> results = RunAll(cases, *flags);
    if (!results.ok()) return ReportError(results.status(), exit_code);

    std::vector<std::vector<std::string>> rows = {
        {"mode", "producers", "records/s", "spread", "p50 µs", "p99 µs", "× fdatasync"}};
    json out = {{"bench", "baselines"},      {"command", command},  {"machine", MachineJson()},
                {"seconds", flags->seconds}, {"runs", flags->runs}, {"results", json::array()}};
    for (const CaseResult& result : *results) {
      const double vs_floor = Ratio(&result, Find(*results, "fdatasync", result.producers));
      rows.push_back(FiguresRow(result));
      rows.back().push_back(bench::FormatRatio(vs_floor));
      out["results"].push_back(ResultJson(result));
      out["results"].back()["vs_fdatasync"] = RatioJson(vs_floor);
    }
    PrintHeader(command, *flags);
    std::cout << bench::RenderTable(rows);
    if (flags->json) std::cout << out.dump() << "\n";
    exit_code = 0;
  });
}

struct TargetCheck {
  std::string name;         // JSON key
  std::string description;  // for people
  double ratio = 0;         // 0: not measured
  double required = 0;
};

void AddJournalCommand(CLI::App& bench, int& exit_code) {
  auto* cmd = bench.add_subcommand(
      "journal",
      "Measure the journal's group commit side by side with RocksDB, and check issue 3's targets.");
  cmd->footer(fmt::format(
      "Workloads (every write is fsynced; each record carries a 200-byte payload):\n"
      "  journal              Burrow's journal, Durability::kSync: one Append of a one-record "
      "batch per operation,\n"
      "                       stream s<producer>, at each producer count, one thread per producer\n"
      "  journal_async        the same records through Journal::AppendAsync: each producer starts "
      "its next append\n"
      "                       from the previous one's completion, all driven from one thread (an "
      "event loop's shape)\n"
      "  naive_rocksdb        one synced Put per record (16-byte key), at each producer count\n"
      "  raw_batched_rocksdb  one synced WriteBatch of 128 records per write, 1 producer\n"
      "The table shows each figure's median over the runs and records/s as ratios to naive_rocksdb "
      "at the same\nproducer count and to raw_batched_rocksdb.\n"
      "Targets, with {0} producers: the journal reaches >= {1}x the one-sync-per-record rate "
      "(naive RocksDB with 1 producer)\nand >= {2}x the raw batched rate; the report says whether "
      "each is met, for each way of producing\n(it needs {0} and 1 in --producers).\nA benchmark, "
      "not a test: exits 0 whether "
      "or not the targets are met, 1 if a workload fails.\n\n"
      "Examples:\n"
      "  burrow bench journal\n"
      "  burrow bench journal --producers 1,16,256 --seconds 3 --runs 3 --json\n"
      "  burrow bench journal --producers 16 --seconds 1 --runs 1 --dir /var/tmp/bench\n",
      kTargetProducers, kTargetVsOneSyncPerRecord, kTargetVsRawBatched));
  auto flags = std::make_shared<BenchFlags>();
  flags->producers = {1, 16, 256};
  AddCommonOptions(cmd, *flags);
  cmd->callback([flags, &exit_code] {
    const bench::WorkloadSpec journal = bench::BurrowJournal();
    const bench::WorkloadSpec journal_async = bench::BurrowJournalAsync();
    const bench::WorkloadSpec naive = bench::NaiveRocksDb();
    const bench::WorkloadSpec batched = bench::RawBatchedRocksDb();
    std::vector<Case> cases;
    for (int producers : flags->producers) {
      cases.push_back({journal, producers});
      cases.push_back({journal_async, producers});
      cases.push_back({naive, producers});
    }
    cases.push_back({batched, 1});
    const std::string command = CommandLine("journal", *flags);
    Result<std::vector<CaseResult>> results = RunAll(cases, *flags);
    if (!results.ok()) return ReportError(results.status(), exit_code);

    const CaseResult* batched_result = Find(*results, batched.name, 1);
    std::vector<std::vector<std::string>> rows = {
        {"mode", "producers", "records/s", "spread", "p50 µs", "p99 µs", "× naive", "× batched"}};
    json out = {{"bench", "journal"},        {"command", command},  {"machine", MachineJson()},
                {"seconds", flags->seconds}, {"runs", flags->runs}, {"results", json::array()}};
    for (const CaseResult& result : *results) {
      const double vs_naive = Ratio(&result, Find(*results, naive.name, result.producers));
      const double vs_batched = Ratio(&result, batched_result);
      rows.push_back(FiguresRow(result));
      rows.back().push_back(bench::FormatRatio(vs_naive));
      rows.back().push_back(bench::FormatRatio(vs_batched));
      out["results"].push_back(ResultJson(result));
      out["results"].back()["vs_naive_rocksdb"] = RatioJson(vs_naive);
      out["results"].back()["vs_raw_batched_rocksdb"] = RatioJson(vs_batched);
    }

    std::vector<TargetCheck> targets;
    for (const bench::WorkloadSpec* spec : {&journal, &journal_async}) {
      const CaseResult* at_target = Find(*results, spec->name, kTargetProducers);
      targets.push_back(
          {fmt::format("{}_256_vs_one_sync_per_record", spec->name),
           fmt::format("{}, {} producers, vs one sync per record (naive_rocksdb, 1 producer)",
                       spec->name, kTargetProducers),
           Ratio(at_target, Find(*results, naive.name, 1)), kTargetVsOneSyncPerRecord});
      targets.push_back(
          {fmt::format("{}_256_vs_raw_batched", spec->name),
           fmt::format("{}, {} producers, vs raw_batched_rocksdb", spec->name, kTargetProducers),
           Ratio(at_target, batched_result), kTargetVsRawBatched});
    }
    std::string verdicts = "\nTargets (issue 3):\n";
    out["targets"] = json::array();
    for (const TargetCheck& target : targets) {
      const bool measured = target.ratio > 0;
      const bool met = target.ratio >= target.required;
      verdicts += fmt::format(
          "  {}: {} (target >= {}×): {}\n", target.description, bench::FormatRatio(target.ratio),
          target.required,
          !measured ? fmt::format("not measured (--producers needs 1 and {})", kTargetProducers)
                    : (met ? "met" : "NOT met"));
      out["targets"].push_back({{"name", target.name},
                                {"ratio", RatioJson(target.ratio)},
                                {"required", target.required},
                                {"met", measured ? json(met) : json(nullptr)}});
    }

    PrintHeader(command, *flags);
    std::cout << bench::RenderTable(rows) << verdicts;
    if (flags->json) std::cout << out.dump() << "\n";
    exit_code = 0;
  });
}

// ---- bench commit (issue 9) -------------------------------------------------------------------

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

void AddCommitCommand(CLI::App& bench, int& exit_code) {
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
  cmd->add_flag("--no-baselines", flags->no_baselines,
                "Run only burrow (to profile the engine, e.g. under perf); no ratios, no targets");
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

void AddChartCommand(CLI::App& bench, int& exit_code) {
  auto* cmd = bench.add_subcommand(
      "chart", "Draw a CSV that `bench commit --csv` wrote as a PNG chart (gnuplot), again.");
  cmd->footer(
      "Needs gnuplot (Debian: gnuplot-nox); exits 1 with a message when it is missing.\n\n"
      "Examples:\n"
      "  burrow bench chart --csv docs/bench/commit_sweep.csv --png docs/bench/commit_sweep.png\n");
  auto csv = std::make_shared<std::string>();
  auto png = std::make_shared<std::string>();
  auto subtitle = std::make_shared<std::string>("2 CPUs");
  cmd->add_option("--csv", *csv, "The sweep CSV")->required()->check(CLI::ExistingFile);
  cmd->add_option("--png", *png, "The PNG to write")->required();
  cmd->add_option("--subtitle", *subtitle, "What the title says about the run")
      ->capture_default_str();
  cmd->callback([csv, png, subtitle, &exit_code] {
    Result<std::string> gnuplot = bench::FindGnuplot();
    if (!gnuplot.ok()) return ReportError(gnuplot.status(), exit_code);
    Status drawn = bench::RunGnuplot(*gnuplot, bench::CommitSweepScript(*csv, *png, *subtitle));
    if (!drawn.ok()) return ReportError(drawn, exit_code);
    std::cout << "wrote " << *png << "\n";
    exit_code = 0;
  });
}

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

void AddRecoveryCommand(CLI::App& bench, int& exit_code) {
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

constexpr double kTargetBytesPerSession = 1024;

void AddMemoryCommand(CLI::App& bench, int& exit_code) {
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

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand(
      "bench", "Benchmarks, each side by side with its baselines in the same run.");
  bench->footer(
      "Every figure is the median over --runs runs, the runs of all workloads are interleaved, "
      "and Burrow is\nreported as a ratio to a baseline measured in the same invocation. Progress "
      "goes to stderr.\n\n"
      "Examples:\n"
      "  burrow bench baselines --producers 1,16 --seconds 3 --runs 3\n"
      "  burrow bench journal --producers 1,16,256 --seconds 3 --runs 3 --json\n");
  bench->require_subcommand(1);
  AddBaselinesCommand(*bench, exit_code);
  AddJournalCommand(*bench, exit_code);
  AddBenchRpcCommand(*bench, exit_code);
  AddRecoveryCommand(*bench, exit_code);
  AddCommitCommand(*bench, exit_code);
  AddMemoryCommand(*bench, exit_code);
  AddChartCommand(*bench, exit_code);
}

}  // namespace burrow::tools
