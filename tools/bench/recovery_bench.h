// `burrow bench recovery`: how fast recovery replays records, next to a raw RocksDB scan of the
// same records, and how long a restart takes with snapshots, for histories of different sizes.
// Each function measures once; the command repeats and takes medians.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace burrow::bench {

// Recovery's replay alone: recovery::Rebuild over the journal in `dir` (opened as a writer,
// which is not timed), from its first record. Meaningful on a journal without snapshots, where
// every record is checksum-verified, decoded and folded (machine re-run, digest compared).
struct ReplayFigures {
  uint64_t records = 0;  // records replayed (folded into an authority)
  uint64_t scanned = 0;  // records read
  double seconds = 0;
  double records_per_s = 0;
};
Result<ReplayFigures> TimeRebuild(const std::string& dir);

// The baseline: a plain RocksDB iteration over the journal's `records` column family in `dir`
// (read-only open, not timed), touching every key and value; no checksum, no decoding.
Result<ReplayFigures> TimeRawScan(const std::string& dir);

// A restart: journal::Journal::Open (writer, kSync; RocksDB replays its WAL here after a crash)
// then recovery::Recover with default host options, until the host is started and ready.
struct RestartFigures {
  double open_s = 0;     // Journal::Open
  double recover_s = 0;  // Recover: rebuild, host creation and start, the recovery marker
  double total_s = 0;
  uint64_t sessions = 0;
  uint64_t snapshots_loaded = 0;
  uint64_t records_replayed = 0;
  uint64_t records_scanned = 0;
};
// Restarts the journal in `dir` (modifying it: the recovery marker, and the host's clean
// shutdown afterwards, which is not timed).
Result<RestartFigures> TimeRestart(const std::string& dir);

// Copies the directory tree `from` to `to` (which must not exist).
Status CopyTree(const std::string& from, const std::string& to);

}  // namespace burrow::bench
