// Group commit for Journal::Append (private to journal/).
//
// Concurrent Commit callers queue their batch and sleep. One caller at a time is the leader: it
// takes the queued batches (up to GroupLimits), gives their records contiguous sequences and,
// without the lock, hands the whole group to WriteGroupFn, which performs ONE write (and, in
// kSync mode, one fsync). Meanwhile the next group accumulates, so the fsync cost is shared by
// everyone who arrived during it (leveldb's DBImpl::Write writers_ deque, RocksDB's
// WriteThread).
//
// Thread hand-offs are what limits throughput here: with hundreds of producers on two cores the
// CPU spent on sleeping, waking and context switches is the ceiling (MEASUREMENTS.md; on this
// machine class ~2 µs per same-core wake-and-switch, ~15 µs to wake an idle vCPU). So:
// - a caller that finds nobody leading leads at once, on its own thread (no background thread);
// - callers sleep on one futex word per "generation" (the callers queued while one group is
//   written). A group's followers are woken by ONE FUTEX_WAKE once their results are in place.
//   Waking each follower with a syscall of its own let every woken follower preempt the leader
//   at the syscall's exit: one extra context switch per record (`perf record -e
//   sched:sched_switch`);
// - when a group's write ends, its leader FIRST hands leadership to the next generation (one
//   wake-up: the first of its callers to look leads, with its own batch in the group it
//   writes), so the next write starts while the finished group is being woken;
// - a woken follower never retakes the queue's lock: its result is already in its Writer.
//
// Sequences: a failed group consumes none; the next group starts from the same sequence.
// Thread-safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"

namespace burrow::journal {

struct GroupLimits {
  // A group stops growing before it would exceed either bound; the oldest queued batch is always
  // taken, however large.
  size_t max_records = 1000;
  size_t max_bytes = size_t{4} << 20;  // streams, payloads, state keys and values
};

// The bytes of `batch` that GroupLimits::max_bytes counts.
size_t BatchBytes(const Batch& batch);

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

  // Commits `batches` (which must stay valid until this returns) in order, all in one group (one
  // write: together they succeed or fail), and returns the sequence of their first record: the
  // records take it and the sequences after it, in order (with no records, the sequence after
  // the newest). For a caller that gathered many batches itself (Journal::AppendAsync's
  // completion thread). Blocks like Commit; errors as Commit.
  Result<uint64_t> CommitAll(std::span<const Batch* const> batches);

  // The newest committed sequence; records up to it are visible to readers.
  uint64_t LastSequence() const { return last_seq_.load(std::memory_order_acquire); }

  // Blocks until LastSequence() > after or `deadline` passes; returns LastSequence().
  uint64_t WaitForSequenceAbove(uint64_t after, std::chrono::steady_clock::time_point deadline);

  // Introspection for tests: how many groups were written (successfully or not), and how many
  // callers are queued (including those whose group is being written).
  uint64_t GroupsWritten() const { return groups_written_.load(std::memory_order_relaxed); }
  size_t QueuedForTesting();

 private:
  struct Writer;

  // Queues `self`, waits for its group and returns its status.
  Status Run(Writer& self);

  // Writes groups as the leader until one held `self`'s own batch, then hands leadership on
  // (or, with nobody queued, gives it up).
  void Lead(Writer& self);
  // Blocks until `self`'s result is in or it must lead.
  void Sleep(Writer& self);

  // Callers of generation g sleep on wake_words_[g % kWakeWords]. Two generations are live at
  // a time (the group being written and the one queueing); a word shared with an older
  // generation costs at most a spurious wake-up, which a caller sleeps through.
  static constexpr size_t kWakeWords = 4;
  // Publishes a written group's sequences to WaitForSequenceAbove callers.
  void Publish(uint64_t last_seq);

  const GroupLimits limits_;
  const WriteGroupFn write_group_;

  std::mutex mu_;                 // guards the four members below; held only to move pointers
  std::vector<Writer*> pending_;  // queued callers, oldest first, not yet in a group
  bool leading_ = false;          // a leader exists (writing, or appointed and waking up)
  size_t in_flight_ = 0;          // callers in the group being written
  uint64_t open_generation_ = 0;  // the generation callers queueing now belong to

  std::atomic<uint32_t> wake_words_[kWakeWords] = {};
  // Leadership offered by a finishing leader to generation g: g + 1 in slot g % kWakeWords (0:
  // no offer). Taken (compare-exchanged to 0) by exactly one caller of generation g, which
  // then leads; always taken before the next group forms.
  std::atomic<uint64_t> lead_offered_[kWakeWords] = {};

  std::atomic<uint64_t> last_seq_;  // written only by the leader
  std::atomic<uint64_t> groups_written_{0};

  // WaitForSequenceAbove's sleepers, kept off mu_ so that publishing costs the leader nothing
  // when nobody follows (the common case).
  std::mutex published_mu_;
  std::condition_variable published_cv_;
  std::atomic<int> sequence_waiters_{0};
};

}  // namespace burrow::journal
