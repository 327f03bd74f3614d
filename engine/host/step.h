// Step: one atomic step of one command on one session (private to engine/host).
//
// A step works on a copy of the session's image: inputs are decided by the machine one after
// another, accepted ones become records, host events and state mutations are added, and
// Commit() appends all of it as ONE journal batch. Only after Commit() succeeds may the caller
// publish image() and run side effects. A rejected input adds nothing (the inputs the step had
// already accepted stay in it). Owned by one thread; the caller holds the session's lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/host/session_image.h"
#include "engine/machine/machine.h"
#include "journal/journal.h"
#include "schema/records.h"

namespace burrow::host {

class Step {
 public:
  // `now_us` stamps every record of the step (wall time is for people, never for logic).
  Step(const SessionImage& image, int64_t now_us);
  Step(SessionImage&& image, int64_t now_us);

  enum class Verdict { kAccepted, kRejected, kInternal };
  struct Staged {
    Verdict verdict = Verdict::kAccepted;
    std::string reason;  // kRejected: the machine's message; kInternal: the violation
    std::vector<machine::Effect> effects;  // kAccepted only
  };

  // Decides `input` against the working state; on acceptance records it and updates the state.
  Staged Stage(const machine::Input& input);

  // Records a host event (inbox append, delivery, task start/end) and folds it into the image.
  void AddEvent(schema::Payload event);

  void Put(std::string key, std::string value);
  void Delete(std::string key);

  // The working image: the pre-state plus everything staged so far.
  const SessionImage& image() const { return image_; }
  SessionImage& mutable_image() { return image_; }
  bool empty() const { return batch_.empty(); }
  // After a successful Commit with records: the sequence of the first one (else 0).
  uint64_t first_seq() const { return first_seq_; }
  size_t record_count() const { return batch_.records.size(); }

  // Appends everything as one atomic batch and fixes image().last_seq. An empty step appends
  // nothing and succeeds. Errors: Unavailable (nothing was applied: discard the step).
  Status Commit(journal::Journal& journal);
  // Commits every step in `steps` (each of a different session) as ONE journal batch: one
  // append, one fsync. Afterwards each step is as if it had been committed alone (first_seq,
  // image().last_seq). Errors: Unavailable (nothing was applied: discard them all).
  static Status CommitTogether(journal::Journal& journal, std::vector<Step>& steps);

 private:
  void AddRecord(schema::Payload payload);
  // After its records were appended from `first` on.
  void Committed(uint64_t first, size_t records);

  SessionImage image_;
  int64_t now_us_;
  journal::Batch batch_;
  uint64_t first_seq_ = 0;
};

}  // namespace burrow::host
