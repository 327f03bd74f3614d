#include "tools/bench_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tools/bench/table.h"

namespace burrow::tools {

using bench::Case;
using bench::CaseResult;
using nlohmann::json;

void AddCommonOptions(CLI::App* cmd, BenchFlags& flags, const std::string& count_flag,
                      const std::string& count_help) {
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

}  // namespace burrow::tools
