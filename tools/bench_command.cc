// `burrow bench`: Burrow's speed, measured side by side with its baselines in the same run.
//
// House rule: benchmarks, not timed tests. Every figure is the median over --runs runs, the runs
// of all workloads are interleaved (tools/bench/harness.h), and Burrow is reported as a ratio
// to a baseline measured in the same invocation, never as a lone absolute time.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/bench/chart.h"
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

// Issue 3's targets for the journal's group commit, with 256 producers.
constexpr int kTargetProducers = 256;
constexpr double kTargetVsOneSyncPerRecord = 20.0;
constexpr double kTargetVsRawBatched = 0.5;

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
  AddBenchRecoveryCommand(*bench, exit_code);
  AddBenchCommitCommand(*bench, exit_code);
  AddBenchMemoryCommand(*bench, exit_code);
  AddChartCommand(*bench, exit_code);
}

}  // namespace burrow::tools
