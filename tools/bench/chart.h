// Charts for `burrow bench` sweeps, drawn by gnuplot (Debian package gnuplot-nox) from the
// sweep's CSV.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace burrow::bench {

// `text` as a gnuplot single-quoted string literal (a single quote is written twice).
std::string GnuplotQuote(std::string_view text);

// The columns of a commit sweep's CSV, in order (the header RenderCsv writes first).
inline constexpr const char* kSweepColumns[] = {"sessions",
                                                "burrow_per_s",
                                                "burrow_p50_us",
                                                "burrow_p99_us",
                                                "naive_rocksdb_per_s",
                                                "naive_rocksdb_p50_us",
                                                "naive_rocksdb_p99_us",
                                                "naive_rocksdb_1_per_s",
                                                "raw_batched_rocksdb_per_s",
                                                "sqlite_per_s",
                                                "fdatasync_per_s",
                                                "burrow_async_per_s",
                                                "burrow_async_p50_us",
                                                "burrow_async_p99_us"};

// A gnuplot script that reads the commit sweep CSV at `csv_path` (columns kSweepColumns) and
// writes a 1280x560 PNG to `png_path`: on the left durable transitions/s against sessions (log
// scales) for Burrow (blocking commands and Host::Submit), naive RocksDB at the same concurrency
// and the one-writer baselines; on the right Burrow's p50 and p99 command latency, both ways.
// `subtitle` names the machine and the run.
std::string CommitSweepScript(std::string_view csv_path, std::string_view png_path,
                              std::string_view subtitle);

// Where gnuplot is on $PATH. Errors: NotFound, telling the user to install it.
Result<std::string> FindGnuplot();

// Runs `gnuplot` on `script` (written to a temporary file). Errors: Unavailable (gnuplot failed
// or could not run; its stderr is passed through).
Status RunGnuplot(const std::string& gnuplot, const std::string& script);

}  // namespace burrow::bench
