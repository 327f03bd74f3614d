// SessionImage: everything durable about one session, and the fold that rebuilds it from the
// journal. The live host and replay (recovery, `burrow journal state`, drills) share this one
// fold, so "state after recovery equals the state the journal's records produce" holds by
// construction.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/machine/types.h"
#include "schema/records.h"

namespace burrow::host {

struct SessionImage {
  std::string session_id;
  machine::State state;
  uint64_t last_seq = 0;         // global sequence of the last record folded in
  uint64_t session_seq = 0;      // per-session sequence of that record (1 = its Initialize)
  uint64_t incarnation = 0;      // newest drain task incarnation started (0 = none yet)
  uint64_t inbox_count = 0;      // messages appended to the inbox
  uint64_t delivered_count = 0;  // messages delivered (always the inbox's first N, in order)
  bool removed = false;          // an UnregisterSession record removed the session

  friend bool operator==(const SessionImage&, const SessionImage&) = default;
};

// Applies `record` (a record of image.session_id, or the first record of a new session when
// the image is fresh) exactly as the live host did when it wrote it. For a transition record it
// re-runs the machine and checks that the same declaration accepted the input with the same
// effects, that invariants hold and that the resulting state's digest equals the recorded one.
// Errors: DataLoss (per-session sequence gap, wrong session, a transition the machine rejects or
// names differently, digest mismatch, invariant broken, cursor out of order), each naming the
// record's global sequence.
//
// `session_checked`: the caller has already established that `record` names image.session_id
// (recovery finds the session by the record's stream and checks that the record names that
// stream), so Fold does not compare the ids again: on 100,000 sessions that comparison is a cache
// miss per record on the image's id.
enum class SessionCheck : bool { kCompareIds, kAlreadyChecked };
Status Fold(SessionImage& image, const schema::RecordEnvelope& record,
            SessionCheck session_check = SessionCheck::kCompareIds);

// A cache hint for replay, which folds records of ~100,000 sessions in no useful order: starts
// loading the heap bytes of the state's strings (the ids longer than a std::string holds
// inline), which folding the next record of this session copies and digests. Reads the image,
// so prefetch the image itself some time before.
void PrefetchStateStrings(const SessionImage& image);

// Builds the image a snapshot describes (and checks its invariants: DataLoss otherwise).
Result<SessionImage> ImageFromSnapshot(const schema::AuthoritySnapshot& snapshot);
schema::AuthoritySnapshot SnapshotOf(const SessionImage& image);

}  // namespace burrow::host
