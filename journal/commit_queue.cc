#include "journal/commit_queue.h"

#include <vector>

namespace burrow::journal {

struct CommitQueue::Writer {
  explicit Writer(const Batch* b) : batch(b) {
    for (const RecordIn& r : b->records) bytes += r.stream.size() + r.payload.size();
    for (const StatePut& p : b->state_puts) bytes += p.key.size() + p.value.size();
    for (const std::string& k : b->state_deletes) bytes += k.size();
  }

  const Batch* batch;
  size_t bytes = 0;
  // Set by the leader that wrote this writer's group, under mu_.
  bool done = false;
  Status status;
  uint64_t first_seq = 0;
  std::condition_variable cv;
};

CommitQueue::CommitQueue(uint64_t last_seq, GroupLimits limits, WriteGroupFn write_group)
    : limits_(limits), write_group_(std::move(write_group)), last_seq_(last_seq) {}

Result<uint64_t> CommitQueue::Commit(const Batch& batch) {
  Writer self(&batch);
  std::unique_lock lock(mu_);
  writers_.push_back(&self);
  while (!self.done && &self != writers_.front()) self.cv.wait(lock);
  if (self.done) {
    if (!self.status.ok()) return self.status;
    return self.first_seq;
  }

  // Leader: take the front of the queue, up to the limits, in order. Sequences are assigned
  // from LastSequence()+1; no other group can be in flight (only the front writes).
  const uint64_t first_seq = LastSequence() + 1;
  std::vector<Writer*> group;
  std::vector<const Batch*> batches;
  size_t records = 0;
  size_t bytes = 0;
  for (Writer* w : writers_) {
    const size_t n = w->batch->records.size();
    if (!group.empty() &&
        (records + n > limits_.max_records || bytes + w->bytes > limits_.max_bytes)) {
      break;
    }
    // A batch without records reports the newest sequence before it.
    w->first_seq = first_seq + records - (n == 0 ? 1 : 0);
    records += n;
    bytes += w->bytes;
    group.push_back(w);
    batches.push_back(w->batch);
  }

  // Write without the lock, so that the next group can queue up meanwhile.
  lock.unlock();
  const Status status = write_group_(std::span<const Batch* const>(batches), first_seq);
  lock.lock();

  groups_written_.fetch_add(1, std::memory_order_relaxed);
  if (status.ok() && records > 0) {
    last_seq_.store(first_seq + records - 1, std::memory_order_release);
    if (sequence_waiters_ > 0) published_cv_.notify_all();
  }
  // Notifying under the lock: a follower's Writer (and its cv) lives on its stack and may be
  // gone as soon as it can observe done == true.
  for (Writer* w : group) {
    writers_.pop_front();
    if (w == &self) continue;
    w->status = status;
    w->done = true;
    w->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();

  if (!status.ok()) return status;
  return self.first_seq;
}

size_t CommitQueue::QueuedForTesting() {
  std::lock_guard lock(mu_);
  return writers_.size();
}

uint64_t CommitQueue::WaitForSequenceAbove(uint64_t after,
                                           std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  ++sequence_waiters_;
  published_cv_.wait_until(lock, deadline, [&] { return LastSequence() > after; });
  --sequence_waiters_;
  return LastSequence();
}

}  // namespace burrow::journal
