#include "tools/bench/chart.h"

#include <fmt/format.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

extern char** environ;

namespace burrow::bench {

std::string GnuplotQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string CommitSweepScript(std::string_view csv_path, std::string_view png_path,
                              std::string_view subtitle) {
  // Columns (1-based): 1 sessions, 2 burrow/s, 3 p50, 4 p99, 5 naive/s, 6-7 naive p50/p99,
  // 8 naive 1 writer/s, 9 raw batched/s, 10 sqlite/s, 11 fdatasync/s, 12 burrow_async/s,
  // 13-14 its p50/p99.
  return fmt::format(
      R"(set terminal pngcairo size 1280,560 font 'DejaVu Sans,10' noenhanced
set output {png}
set datafile separator ','
set key autotitle columnhead
set multiplot layout 1,2 title {title}
set logscale xy
set xrange [0.7:1500]
set grid
set xlabel 'concurrent sessions (one command in flight each)'
set ylabel 'durable transitions (records) per second'
set key top left
set yrange [*:2e6]
set format y '%.0s%c'
plot {csv} using 1:2 with linespoints lw 2 pt 7 lc rgb '#9400d3' title 'burrow (full engine, a thread per session)', \
     {csv} using 1:12 with linespoints lw 2 pt 13 lc rgb '#009e73' title 'burrow_async (Host::Submit, one driving thread)', \
     {csv} using 1:5 with linespoints lw 1 pt 5 title 'naive RocksDB (synced put each, same concurrency)', \
     {csv} using 1:9 with lines lw 1 dt 2 title 'raw batched RocksDB (128/sync, 1 writer)', \
     {csv} using 1:8 with lines lw 1 dt 3 title 'naive RocksDB (1 writer)', \
     {csv} using 1:10 with lines lw 1 dt 4 title 'SQLite WAL FULL (1 writer)', \
     {csv} using 1:11 with lines lw 1 dt 5 title 'fdatasync of 256 B (1 writer)'
set ylabel 'command latency (µs)'
set format y '%g'
set yrange [*:*]
set key bottom right
plot {csv} using 1:3 with linespoints lw 2 pt 7 lc rgb '#9400d3' title 'burrow p50', \
     {csv} using 1:4 with linespoints lw 2 pt 9 dt 2 lc rgb '#9400d3' title 'burrow p99', \
     {csv} using 1:13 with linespoints lw 2 pt 13 lc rgb '#009e73' title 'burrow_async p50', \
     {csv} using 1:14 with linespoints lw 2 pt 11 dt 2 lc rgb '#009e73' title 'burrow_async p99'
unset multiplot
)",
      fmt::arg("png", GnuplotQuote(png_path)), fmt::arg("csv", GnuplotQuote(csv_path)),
      fmt::arg("title",
               GnuplotQuote(fmt::format("burrow bench commit: scaling sweep ({})", subtitle))));
}

Result<std::string> FindGnuplot() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = std::string(dir) + "/gnuplot";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return NotFoundError(
      "gnuplot is not installed (it draws the chart): install it, e.g. on Debian "
      "`sudo apt-get install gnuplot-nox`, or leave out --png");
}

Status RunGnuplot(const std::string& gnuplot, const std::string& script) {
  std::string script_path =
      (std::filesystem::temp_directory_path() / "burrow-chart-XXXXXX").string();
  const int fd = mkstemp(script_path.data());
  if (fd < 0) return UnavailableError(fmt::format("mkstemp: {}", std::strerror(errno)));
  close(fd);
  {
    std::ofstream out(script_path);
    out << script;
    if (!out) return UnavailableError("cannot write " + script_path);
  }
  char* argv[] = {const_cast<char*>("gnuplot"), script_path.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, gnuplot.c_str(), nullptr, nullptr, argv, environ);
  Status result;
  if (spawned != 0) {
    result = UnavailableError(fmt::format("cannot run {}: {}", gnuplot, std::strerror(spawned)));
  } else {
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      result =
          UnavailableError(fmt::format("gnuplot failed (status {}) on {}", wstatus, script_path));
    }
  }
  if (result.ok()) std::filesystem::remove(script_path);
  return result;
}

}  // namespace burrow::bench
