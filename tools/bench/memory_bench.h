// `burrow bench memory`: resident memory per idle session.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace burrow::bench {

// This process's resident set size in bytes (/proc/self/statm, resident pages × page size).
// Errors: Unavailable (no /proc).
Result<uint64_t> ResidentBytes();

struct MemoryFigures {
  uint64_t sessions = 0;
  uint64_t rss_before = 0;       // host started over an empty journal, nothing registered
  uint64_t rss_after = 0;        // every session registered and idle
  double bytes_per_session = 0;  // (rss_after - rss_before) / sessions
  double seconds = 0;            // registering them
  // The same sessions after a clean shutdown and a restart (Journal::Open, then
  // recovery::Recover from their snapshots), RSS read after the open and after the recovery:
  // the memtables are empty then, so this is the sessions' steady state (plus RocksDB's block
  // cache, at most 8 MiB, filled by recovery's reads).
  uint64_t rss_before_recover = 0;
  uint64_t rss_after_recover = 0;
  double bytes_per_session_recovered = 0;
};

// Opens a journal in `dir` (Durability::kNone: registration speed is not measured here), starts
// a host over it with default options, then registers `sessions` sessions (SessionId(i)) through
// host::Host::Register from `threads` threads and leaves them idle. RSS is read after
// malloc_trim(0) at both ends, so freed heap the allocator kept does not count. What is counted
// is everything the process holds for the sessions: the host's registry and per-session state,
// and the journal's memtables holding their registration records (two per session; RocksDB
// flushes a memtable at 32 MiB, so this part is bounded, not per-session forever).
// Then shuts the host down cleanly, closes the journal, reopens it and recovers (see above).
// Errors: Unavailable (I/O), Internal (a command failed), DataLoss (recovery refused).
Result<MemoryFigures> MeasureIdleSessions(const std::string& dir, uint64_t sessions, int threads);

}  // namespace burrow::bench
