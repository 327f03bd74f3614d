#include "journal/commit_queue.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace burrow::journal {
namespace {

// A caller's sleep is a futex on its own word, not a condition variable, for two reasons: a
// woken follower must not retake a shared lock (see the header), and the waker must be allowed
// to wake a word whose owner may already have returned. Once a follower can observe its final
// state it may return and its Writer (on its stack) is gone; FUTEX_WAKE_PRIVATE only uses the
// address as a key and never touches the memory, so waking it afterwards is harmless (at worst
// a spurious wake-up of a later Writer at the same address, which re-checks its word and sleeps
// again). A std::condition_variable or std::atomic::notify_one on a destroyed object would be
// undefined behaviour.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
              std::atomic<uint32_t>::is_always_lock_free);

uint32_t* FutexWord(std::atomic<uint32_t>& word) { return reinterpret_cast<uint32_t*>(&word); }

void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  // Returns at once if the word no longer holds `expected`; spurious returns are possible, so
  // callers re-check in a loop.
  syscall(SYS_futex, FutexWord(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, FutexWord(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

struct CommitQueue::Writer {
  enum : uint32_t { kWaiting, kLead, kDone };

  explicit Writer(const Batch* b) : batch(b) {
    for (const RecordIn& r : b->records) bytes += r.stream.size() + r.payload.size();
    for (const StatePut& p : b->state_puts) bytes += p.key.size() + p.value.size();
    for (const std::string& k : b->state_deletes) bytes += k.size();
  }

  const Batch* batch;
  size_t bytes = 0;
  uint64_t first_seq = 0;  // set when the writer joins a group
  Status status;           // set by its group's leader before `state` becomes kDone
  // kWaiting until the caller is appointed leader (kLead) or its group's result is in (kDone).
  std::atomic<uint32_t> state{kWaiting};
};

CommitQueue::CommitQueue(uint64_t last_seq, GroupLimits limits, WriteGroupFn write_group)
    : limits_(limits), write_group_(std::move(write_group)), last_seq_(last_seq) {}

Result<uint64_t> CommitQueue::Commit(const Batch& batch) {
  Writer self(&batch);
  {
    std::lock_guard lock(mu_);
    pending_.push_back(&self);
    // Nobody leads only when nobody is queued (a finishing leader appoints the oldest queued
    // caller), so `self` is the oldest and leads its own group at once.
    if (!leading_) {
      leading_ = true;
      self.state.store(Writer::kLead, std::memory_order_relaxed);
    }
  }
  uint32_t state = self.state.load(std::memory_order_acquire);
  while (state == Writer::kWaiting) {
    FutexWait(self.state, Writer::kWaiting);
    state = self.state.load(std::memory_order_acquire);
  }
  if (state == Writer::kLead) Lead(self);
  if (!self.status.ok()) return self.status;
  return self.first_seq;
}

void CommitQueue::Lead(Writer& self) {
  // The leader is always the oldest queued caller, so it is in its own group.
  std::vector<Writer*> group;
  std::vector<const Batch*> batches;
  uint64_t first_seq = 0;
  size_t records = 0;
  {
    std::lock_guard lock(mu_);
    // No other group is in flight (there is one leader), so LastSequence() is final here.
    first_seq = LastSequence() + 1;
    size_t bytes = 0;
    for (Writer* w : pending_) {
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
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(group.size()));
    in_flight_ = group.size();
  }

  // Write without the lock, so that the next group can queue up meanwhile.
  const Status status = write_group_(std::span<const Batch* const>(batches), first_seq);
  groups_written_.fetch_add(1, std::memory_order_relaxed);
  if (status.ok() && records > 0) Publish(first_seq + records - 1);

  Writer* next = nullptr;
  {
    std::lock_guard lock(mu_);
    in_flight_ = 0;
    if (pending_.empty()) {
      leading_ = false;
    } else {
      next = pending_.front();  // stays queued, and so alive, until it leads
    }
  }
  // The next write first: its fsync then overlaps with the wake-ups below.
  if (next != nullptr) {
    next->state.store(Writer::kLead, std::memory_order_release);
    FutexWake(next->state);
  }
  for (Writer* w : group) {
    if (w == &self) continue;
    w->status = status;
    w->state.store(Writer::kDone, std::memory_order_release);
    FutexWake(w->state);  // `w` may be gone already: see FutexWake
  }
  self.status = status;
}

void CommitQueue::Publish(uint64_t last_seq) {
  // seq_cst on both sides (here: store, then load the waiter count; in WaitForSequenceAbove:
  // count, then load the sequence) means a waiter either sees the new sequence or is seen.
  last_seq_.store(last_seq, std::memory_order_seq_cst);
  if (sequence_waiters_.load(std::memory_order_seq_cst) == 0) return;
  // Taking the lock orders the notify after a waiter that was seen has started to sleep.
  { std::lock_guard lock(published_mu_); }
  published_cv_.notify_all();
}

size_t CommitQueue::QueuedForTesting() {
  std::lock_guard lock(mu_);
  return pending_.size() + in_flight_;
}

uint64_t CommitQueue::WaitForSequenceAbove(uint64_t after,
                                           std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(published_mu_);
  sequence_waiters_.fetch_add(1, std::memory_order_seq_cst);
  published_cv_.wait_until(lock, deadline,
                           [&] { return last_seq_.load(std::memory_order_seq_cst) > after; });
  sequence_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return LastSequence();
}

}  // namespace burrow::journal
