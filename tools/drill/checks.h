// The drills' checkers (private to tools/drill). Each takes what the host shows (Observed, read
// over the eval protocol), what the journal holds (opened read-only, a separate RocksDB
// secondary instance, so it is an independent reading of the files) and the ledger, and appends
// one line per violation. They are plain functions over data so that tests can plant violations.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace burrow::drill {

struct LiveSession {
  nlohmann::json state;  // inspect's "state"
  bool task_running = false;
  uint64_t incarnation = 0;
  uint64_t inbox_pending = 0;
  uint64_t delivered = 0;
  std::vector<std::string> delivered_ids;  // the delivered stream, in order
  friend bool operator==(const LiveSession&, const LiveSession&) = default;
};

struct Observed {
  std::map<std::string, LiveSession> sessions;
  friend bool operator==(const Observed&, const Observed&) = default;
};

// Reads every session through `target`, first letting each running drain deliver what its
// inbox holds (await_delivered, up to `quiesce` per session), so that nothing moves while the
// checkers compare. Errors: Unavailable (the host did not answer or answered an error).
Result<Observed> Observe(Target& target, std::chrono::milliseconds quiesce);

// The journal is a gap-free sequence of decodable records from FirstSequence to LastSequence.
void CheckGapFree(const journal::Journal& journal, std::vector<std::string>& out);

// Each live authority (state, delivered and pending counts, task incarnation) equals what
// recovery::Rebuild makes of the journal's records, and the two name the same sessions.
void CheckReplay(const journal::Journal& journal, const Observed& live,
                 std::vector<std::string>& out);

// Every drain whose authority says Running has a running task.
void CheckDrains(const Observed& live, std::vector<std::string>& out);

// Sessions acknowledged as registered exist, unregistered ones do not; unknown outcomes are
// resolved from what the host shows. With `lost` given, an acknowledged register or unregister
// that did not survive is counted there instead of reported.
void CheckPresence(Ledger& ledger, const Observed& live, std::vector<std::string>& out,
                   uint64_t* lost = nullptr);

// Every acknowledged command has its record in its session's stream, in order (workload.h has
// the mapping). Matched expectations are consumed, so the next check starts where this one
// stopped. With `lost` given, a missing record is counted there (and forgotten) instead of
// reported: the powerloss scenario's durability none mode.
void CheckAcknowledged(const journal::Journal& journal, Ledger& ledger,
                       std::vector<std::string>& out, uint64_t* lost = nullptr);

// Among acknowledged posts none is lost (each is in its session's inbox index, and delivered
// once the inbox is empty) and none is delivered twice; nothing is delivered that was not
// posted to the session's current life; a running drain leaves nothing pending. Posts of
// unknown outcome are resolved from the journal. With `lost` given, a lost acknowledged post is
// counted there instead of reported.
void CheckDelivery(const journal::Journal& journal, Ledger& ledger, const Observed& live,
                   std::vector<std::string>& out, uint64_t* lost = nullptr);

// io-errors: a command answered Unavailable applied nothing. `before` and `after` are what the
// host showed before the command and after it (the disk still failing); the sequences are the
// journal's newest before and after. Reports any difference: authorities, tasks started or
// stopped (running, incarnation), inbox and delivered counts, sessions, sequences consumed.
void CheckNothingApplied(const std::string& command, const Observed& before, const Observed& after,
                         uint64_t seq_before, uint64_t seq_after, std::vector<std::string>& out);

// corruption: a full read of the journal in `dir` through a read-only instance — every record
// (gap-free, decodable), every state value, every snapshot, and a replay. Errors: DataLoss naming
// what is damaged, Unavailable, NotFound (no journal).
Status VerifyJournal(const std::string& dir);

struct CheckOptions {
  std::chrono::milliseconds quiesce{10'000};
  uint64_t* lost = nullptr;  // see CheckAcknowledged
};

// Observe, open the journal in `data_dir` read-only, and run every check above. Observes again
// after opening the journal and retries when the host moved in between. Returns the violations;
// `records` gets the journal's LastSequence.
std::vector<std::string> CheckAll(Target& target, const std::string& data_dir, Ledger& ledger,
                                  const CheckOptions& options, uint64_t* records = nullptr);

}  // namespace burrow::drill
