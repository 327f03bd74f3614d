// Group commit for Journal::Append (private to journal/).
//
// Concurrent Commit callers enqueue their batch and sleep. The caller at the front of the queue
// is the leader: it takes the queued batches (up to GroupLimits), gives their records contiguous
// sequences, releases the lock and hands the whole group to WriteGroupFn, which performs ONE
// write (and, in kSync mode, one fsync). It then wakes each follower of the group with its
// result and wakes the next queued caller, who leads the next group. This is leveldb's
// DBImpl::Write writers_ deque: while one group is being written, the next one accumulates, so
// the fsync cost is shared by everyone who arrived during it.
//
// Thread hand-offs are kept to what the design cannot avoid (MEASUREMENTS.md: a cross-core wake
// costs ~85 µs): a leader writes on its own thread, a follower is woken once with its final
// result, and no background thread exists. A caller that finds the queue empty leads at once.
//
// Sequences: a failed group consumes none; the next group starts from the same sequence.
// Thread-safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "base/status.h"
#include "journal/journal.h"

namespace burrow::journal {

struct GroupLimits {
  // A group stops growing before it would exceed either bound; the leader's own batch is always
  // taken, however large.
  size_t max_records = 1000;
  size_t max_bytes = size_t{4} << 20;  // streams, payloads, state keys and values
};

class CommitQueue {
 public:
  // Writes one group: the batches in order, whose records take the sequences first_seq,
  // first_seq+1, ... in order. Called by one leader at a time, without the queue's lock held.
  // A non-ok result is returned to every caller of the group.
  using WriteGroupFn =
      std::function<Status(std::span<const Batch* const> group, uint64_t first_seq)>;

  // `last_seq` is the newest sequence already stored.
  CommitQueue(uint64_t last_seq, GroupLimits limits, WriteGroupFn write_group);
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Commits `batch` (which must stay valid until this returns) as part of some group and returns
  // the sequence of its first record, or for a batch without records the newest sequence
  // before it. Blocks until the group's write has finished. Errors: whatever WriteGroupFn
  // returned for the group.
  Result<uint64_t> Commit(const Batch& batch);

  // The newest committed sequence; records up to it are visible to readers.
  uint64_t LastSequence() const { return last_seq_.load(std::memory_order_acquire); }

  // Blocks until LastSequence() > after or `deadline` passes; returns LastSequence().
  uint64_t WaitForSequenceAbove(uint64_t after, std::chrono::steady_clock::time_point deadline);

  // Introspection for tests: how many groups were written (successfully or not), and how many
  // callers are queued (including the leader whose group is being written).
  uint64_t GroupsWritten() const { return groups_written_.load(std::memory_order_relaxed); }
  size_t QueuedForTesting();

 private:
  struct Writer;

  const GroupLimits limits_;
  const WriteGroupFn write_group_;

  std::mutex mu_;
  std::deque<Writer*> writers_;           // guarded by mu_; front() is the current leader
  std::condition_variable published_cv_;  // LastSequence() grew; waited on under mu_
  int sequence_waiters_ = 0;              // guarded by mu_; skip notifying when nobody waits
  std::atomic<uint64_t> last_seq_;        // written only by a leader, under mu_
  std::atomic<uint64_t> groups_written_{0};
};

}  // namespace burrow::journal
