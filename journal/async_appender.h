// Journal::AppendAsync's queue and completion thread (private to journal/).
//
// A caller that keeps many appends in flight from few threads (an event loop, a pipelining
// client) queues each batch with a callback and goes on. One completion thread takes everything
// queued (up to GroupLimits), commits it through the journal's commit queue as ONE writer
// (CommitQueue::CommitAll: one write, one fsync, shared with concurrent Append callers) and then
// calls the callbacks in queue order. While it commits, the next batches queue up, so a full
// queue of in-flight appends costs one group write and no thread hand-off per batch: the
// hand-offs that bound blocking Append with a thread per producer (commit_queue.h) are gone.
//
// Order: batches are sequenced in the order Enqueue accepted them (one thread takes them, in
// order), and their callbacks run in that order.
// Thread-safety: Enqueue and Stop are safe for concurrent use, including from a callback.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "base/status.h"
#include "journal/commit_queue.h"
#include "journal/journal.h"

namespace burrow::journal {

class AsyncAppender {
 public:
  // Commits the batches in order as one atomic group and returns their first record's sequence
  // (CommitQueue::CommitAll).
  using CommitAllFn = std::function<Result<uint64_t>(std::span<const Batch* const>)>;

  AsyncAppender(GroupLimits limits, CommitAllFn commit_all);
  AsyncAppender(const AsyncAppender&) = delete;
  AsyncAppender& operator=(const AsyncAppender&) = delete;
  ~AsyncAppender() { Stop(); }

  // Queues `batch`; `done` is later called exactly once, on the completion thread, with the
  // batch's first sequence (for a batch without records, the newest sequence before it) or the
  // group's error. The thread starts with the first batch.
  // Errors (and then `done` is never called): Unavailable (Stop has begun).
  Status Enqueue(Batch batch, Journal::AppendCallback done);

  // Refuses new batches, commits what is queued and calls its callbacks (a callback's Enqueue is
  // refused), then joins the thread. Idempotent; not from a callback.
  void Stop();

 private:
  struct Item {
    Batch batch;
    Journal::AppendCallback done;
  };
  void Run();
  // Moves the oldest queued items, up to the limits (always at least one), into `taken`.
  void TakeGroup(std::vector<Item>& taken);

  const GroupLimits limits_;
  const CommitAllFn commit_all_;

  std::mutex mu_;
  std::condition_variable queued_cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::thread thread_;      // started by the first Enqueue, under mu_
};

}  // namespace burrow::journal
