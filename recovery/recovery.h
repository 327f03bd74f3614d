// Recovery (SPEC §6): front door of recovery/.
//
// On start, before any command is accepted: open → verify → rebuild → finish interrupted
// unregisters → respawn drains → journal a recovery marker → report.
//
// Damage policy. There is one, because a durable host has only one honest answer:
//   * A torn tail — the last batch a crash left half-written in RocksDB's write-ahead log — is
//     discarded by RocksDB when the journal opens (point-in-time WAL recovery). Nothing
//     acknowledged is in it: an acknowledged batch was fsynced whole before Append returned.
//   * Any other damage — a record whose checksum fails, a sequence gap, a record the machine
//     refuses on replay, a state digest that differs, a snapshot without the records it needs —
//     stops the start with a report naming the sequence, the key and what is wrong. Burrow never
//     starts on a state it cannot prove; the operator restores or investigates (`burrow journal
//     verify` names every problem).
//   * A damaged newest snapshot is not damage to the history: recovery falls back to the older
//     snapshot and a longer replay, and says so in the report.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/host/host.h"
#include "journal/journal.h"

namespace burrow::recovery {

// Every live session rebuilt from snapshots and records (removed sessions are left out).
struct Rebuilt {
  std::map<std::string, host::RecoveredSession> sessions;
  uint64_t first_seq = 0;  // the journal's range that was read
  uint64_t last_seq = 0;
  uint64_t records_scanned = 0;   // checksum-verified
  uint64_t records_replayed = 0;  // folded into an authority (not covered by a snapshot)
  uint64_t snapshots_loaded = 0;
  std::vector<journal::Damage> snapshots_damaged;  // fallen back from
  // Streams that have stored snapshots but no live session after the rebuild: their unregister
  // committed and the deletion of their snapshots did not (Recover deletes them).
  std::vector<std::string> stale_snapshot_streams;
};

// Rebuilds every session as it was right after record `up_to` (default: the newest). Reads
// only: safe on a reader-mode journal. A snapshot covering more than `up_to` is not used.
// Runs on up to four threads while it lasts (the caller's loads the snapshots, one scans the
// records, one or two replay them, split by session); result and errors are those of a
// sequential replay (the error names the earliest bad record).
// Errors: DataLoss (as in the damage policy above, naming the sequence), Unavailable,
//         NotFound (`up_to` is below what the journal still holds).
Result<Rebuilt> Rebuild(const journal::Journal& journal,
                        std::optional<uint64_t> up_to = std::nullopt);

struct Report {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t records_scanned = 0;
  uint64_t records_replayed = 0;
  uint64_t sessions_rebuilt = 0;
  uint64_t snapshots_loaded = 0;
  std::vector<journal::Damage> snapshots_damaged;
  uint64_t stale_snapshots_deleted = 0;  // of sessions whose unregister a crash interrupted
  host::StartReport start;
  std::chrono::microseconds duration{0};

  // One line for logs and people.
  std::string Summary() const;
};

struct Recovered {
  std::unique_ptr<host::Host> host;
  Report report;
};

// The whole start sequence on a writer journal (which must outlive the host). The returned host
// is started and ready for commands. Errors: DataLoss (the start is refused; the message is the
// report), Unavailable.
Result<Recovered> Recover(journal::Journal& journal, host::HostOptions options);

}  // namespace burrow::recovery
