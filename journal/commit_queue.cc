#include "journal/commit_queue.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <limits>

namespace burrow::journal {
namespace {

// Sleeps are futexes, not condition variables: a woken follower must not retake a shared lock
// (see the header), and a follower sleeps on its generation's word in the queue, which outlives
// every Writer, so the leader may wake it after the follower has already returned.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
              std::atomic<uint32_t>::is_always_lock_free);

uint32_t* FutexWord(std::atomic<uint32_t>& word) { return reinterpret_cast<uint32_t*>(&word); }

void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  // Returns at once if the word no longer holds `expected`; spurious returns are possible, so
  // callers re-check in a loop.
  syscall(SYS_futex, FutexWord(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, FutexWord(word), FUTEX_WAKE_PRIVATE, std::numeric_limits<int>::max(), nullptr,
          nullptr, 0);
}

}  // namespace

struct CommitQueue::Writer {
  enum : uint32_t {
    kWaiting,   // queued, or in a group being written
    kLead,      // lead now; the caller's own batch is still queued (it is the oldest)
    kDone,      // the result is in `status` / `first_seq`
    kDoneLead,  // the result is in, and leadership was handed to this caller: lead, then return
  };

  explicit Writer(const Batch* b) : batch(b) {
    for (const RecordIn& r : b->records) bytes += r.stream.size() + r.payload.size();
    for (const StatePut& p : b->state_puts) bytes += p.key.size() + p.value.size();
    for (const std::string& k : b->state_deletes) bytes += k.size();
  }

  const Batch* batch;
  size_t bytes = 0;
  uint64_t first_seq = 0;  // set when the writer joins a group
  Status status;           // set by its group's leader before `state` leaves kWaiting
  std::atomic<uint32_t> state{kWaiting};
  // The generation whose wake-up word the caller sleeps on. Written under mu_ (by the caller when
  // it queues, by a leader when a group left it behind), read by the sleeping caller.
  std::atomic<uint64_t> generation{0};
};

CommitQueue::CommitQueue(uint64_t last_seq, GroupLimits limits, WriteGroupFn write_group)
    : limits_(limits), write_group_(std::move(write_group)), last_seq_(last_seq) {}

Result<uint64_t> CommitQueue::Commit(const Batch& batch) {
  Writer self(&batch);
  {
    std::lock_guard lock(mu_);
    pending_.push_back(&self);
    self.generation.store(open_generation_, std::memory_order_relaxed);
    // Nobody leads only when nobody is queued (leadership is handed on while anyone is), so
    // `self` is the oldest and leads its own group at once.
    if (!leading_) {
      leading_ = true;
      self.state.store(Writer::kLead, std::memory_order_relaxed);
    }
  }
  Sleep(self);
  const uint32_t state = self.state.load(std::memory_order_acquire);
  if (state == Writer::kLead || state == Writer::kDoneLead) Lead(self);
  if (!self.status.ok()) return self.status;
  return self.first_seq;
}

void CommitQueue::Sleep(Writer& self) {
  for (;;) {
    const uint64_t generation = self.generation.load(std::memory_order_acquire);
    std::atomic<uint32_t>& word = wake_words_[generation % kWakeWords];
    // Read the word before the state: a wake-up after this read changes the word, so FutexWait
    // returns at once instead of missing it.
    const uint32_t seen = word.load(std::memory_order_acquire);
    if (self.state.load(std::memory_order_acquire) != Writer::kWaiting) return;
    if (self.generation.load(std::memory_order_acquire) != generation) continue;  // moved on
    FutexWait(word, seen);
  }
}

void CommitQueue::Lead(Writer& self) {
  for (int groups = 1;; ++groups) {
    std::vector<Writer*> group;
    std::vector<const Batch*> batches;
    uint64_t first_seq = 0;
    size_t records = 0;
    uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      // No other group is in flight (there is one leader), so LastSequence() is final here.
      first_seq = LastSequence() + 1;
      size_t bytes = 0;
      for (Writer* w : pending_) {
        const size_t n = w->batch->records.size();
        // The oldest queued batch is always taken, however large.
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
      // Whoever queues from now on (and whoever the limits left behind) is woken with the next
      // group, not with this one.
      generation = open_generation_++;
      for (Writer* w : pending_) w->generation.store(open_generation_, std::memory_order_release);
    }

    // Write without the lock, so that the next group can queue up meanwhile.
    const Status status = write_group_(std::span<const Batch* const>(batches), first_seq);
    groups_written_.fetch_add(1, std::memory_order_relaxed);
    if (status.ok() && records > 0) Publish(first_seq + records - 1);

    // Who leads next: nobody if nobody queued; else this thread, until it has written
    // groups_per_leader groups and the group it just wrote has a follower to take over.
    Writer* heir = nullptr;
    bool lead_again = false;
    {
      std::lock_guard lock(mu_);
      in_flight_ = 0;
      if (pending_.empty()) {
        leading_ = false;
      } else {
        for (Writer* w : group) {
          if (w != &self && groups >= limits_.groups_per_leader) {
            heir = w;
            break;
          }
        }
        lead_again = heir == nullptr;
      }
    }
    for (Writer* w : group) {
      w->status = status;
      if (w == &self) continue;
      // After this store `w` may return at any moment: nothing below touches it.
      w->state.store(w == heir ? Writer::kDoneLead : Writer::kDone, std::memory_order_release);
    }
    std::atomic<uint32_t>& word = wake_words_[generation % kWakeWords];
    word.fetch_add(1, std::memory_order_release);
    FutexWakeAll(word);
    if (!lead_again) return;
  }
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
