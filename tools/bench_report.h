// What every `burrow bench` subcommand reports with (private to tools/): the common flags, running
// the cases with progress on stderr, ratios to the baselines, the table, JSON and target lines.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tools/bench/harness.h"

namespace burrow::tools {

struct BenchFlags {
  std::vector<int> producers;
  double seconds = 3;
  int runs = 3;
  bool json = false;
  std::string dir;
};

// Adds --producers (or `count_flag`), --seconds, --runs, --json and --dir to `cmd`.
// `count_flag` names the option that fills flags.producers (`bench commit` calls them sessions).
void AddCommonOptions(CLI::App* cmd, BenchFlags& flags,
                      const std::string& count_flag = "--producers",
                      const std::string& count_help =
                          "Concurrent producer threads, as a comma-separated list: each workload "
                          "runs once at each count");
// The command line that reproduces a report, for docs/BENCHMARKS.md.
std::string CommandLine(std::string_view name, const BenchFlags& flags);
std::string CpuModel();
nlohmann::json MachineJson();
// Where the runs' directories go: --dir, else $TMPDIR, else /tmp. Warns about a tmpfs, where
// fsync costs nothing and every durable figure would be meaningless.
Result<std::string> ParentDir(const BenchFlags& flags);
// Runs `cases` as the flags say, showing each run's figures on stderr as it ends.
Result<std::vector<bench::CaseResult>> RunAll(const std::vector<bench::Case>& cases,
                                              const BenchFlags& flags);
const bench::CaseResult* Find(const std::vector<bench::CaseResult>& results, std::string_view mode,
                              int producers);
// numerator / denominator of the median records/s; 0 when either is missing.
double Ratio(const bench::CaseResult* numerator, const bench::CaseResult* denominator);
// The fastest run's records/s over the slowest's: how far the machine drifted under the runs.
double Spread(const bench::CaseResult& result);
nlohmann::json RatioJson(double ratio);
nlohmann::json FiguresJson(const bench::RunFigures& figures);
nlohmann::json ResultJson(const bench::CaseResult& result);
// mode, producers, records/s, spread, p50, p99: the first columns of every report's table.
std::vector<std::string> FiguresRow(const bench::CaseResult& result);
void PrintHeader(const std::string& command, const BenchFlags& flags);
void ReportError(const Status& status, int& exit_code);

// One target of an issue, checked against a ratio measured in the same invocation.
struct TargetCheck {
  std::string name;         // JSON key
  std::string description;  // for people
  double ratio = 0;         // 0: not measured
  double required = 0;
};

}  // namespace burrow::tools
