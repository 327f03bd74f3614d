// Driving Burrow's real engine (host::Host) from benchmarks: session ids, the transition loop
// one session runs, and building a journal with a given history (for `bench recovery`).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/host/host.h"

namespace burrow::bench {

// The id of bench session `index`: UUID-shaped (36 bytes), as real callers' ids usually are, so
// that memory and record sizes are not flattered by ids short enough for std::string's inline
// buffer.
std::string SessionId(uint64_t index);

// Turns a host error into a Status (Unavailable for journal failures, Internal otherwise: a
// benchmark's commands are all valid, so any rejection is a bug).
Status FromHostError(const host::Error& error, std::string_view command);

// One registered session's transition loop: StartRun("run") then FinishRun("run", committed),
// alternately. Each Next() is one host command deciding one accepted transition, i.e. one
// journal record made durable (as durable as the journal was opened) before it returns.
// Used by one thread at a time.
class SessionDriver {
 public:
  SessionDriver(host::Host* host, std::string session)
      : host_(host), session_(std::move(session)) {}
  // Errors: the host's, as FromHostError maps them.
  Status Next();

 private:
  host::Host* const host_;
  const std::string session_;
  bool running_ = false;
};

struct HistoryOptions {
  uint64_t sessions = 0;  // registered first (two records each: Initialize, RegisterSession)
  uint64_t records = 0;   // then transitions until the journal's newest sequence reaches this
  int threads = 2;        // generating threads, each driving its own slice of the sessions
  // Passed to the host (0 disables): snapshots and checkpoints as the host takes them.
  uint64_t snapshot_every_records = 1'000;
  uint64_t checkpoint_every_records = 100'000;
};

struct History {
  uint64_t last_seq = 0;   // the journal's newest sequence when generation stopped
  uint64_t first_seq = 0;  // its oldest still stored (checkpoints truncate below it)
  double seconds = 0;
};

// Builds a history in `dir` (which must not hold a journal yet) in a forked child process, so
// that the caller's process never ran a host or RocksDB over it: opens a journal with
// Durability::kNone (generation only: the measured runs reopen it with kSync), runs a host over
// it with `options`' snapshot settings, registers the sessions and drives transitions
// round-robin until `options.records` records exist. Then, when `crash` is false, the child
// shuts the host and journal down cleanly (which takes a checkpoint when checkpoints are
// enabled); when true, it _exit()s at once, without shutdown, flush or checkpoint: what a
// kill -9 leaves (every write reached the OS). The figures come back through a pipe.
// Call it only while this process has no other threads: RocksDB's background threads do not
// survive a fork, so run every generation before the process opens any journal.
// Errors: InvalidArgument (no sessions, or fewer records than registration writes),
//         Unavailable (I/O, or the child failed).
Result<History> GenerateHistory(const std::string& dir, const HistoryOptions& options, bool crash);

}  // namespace burrow::bench
