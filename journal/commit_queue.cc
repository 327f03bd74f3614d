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

void FutexWake(std::atomic<uint32_t>& word, int how_many) {
  syscall(SYS_futex, FutexWord(word), FUTEX_WAKE_PRIVATE, how_many, nullptr, nullptr, 0);
}

}  // namespace

size_t BatchBytes(const Batch& batch) {
  size_t bytes = 0;
  for (const RecordIn& r : batch.records) bytes += r.stream.size() + r.payload.size();
  for (const StatePut& p : batch.state_puts) bytes += p.key.size() + p.value.size();
  for (const std::string& k : batch.state_deletes) bytes += k.size();
  return bytes;
}

struct CommitQueue::Writer {
  enum : uint32_t {
    kWaiting,  // queued, or in a group being written
    kLead,     // lead: the caller's own batch is still queued
    kDone,     // the result is in `status` / `first_seq`
  };

  explicit Writer(std::span<const Batch* const> b) : batches(b) {
    for (const Batch* batch : batches) {
      records += batch->records.size();
      bytes += BatchBytes(*batch);
    }
  }

  const std::span<const Batch* const> batches;
  size_t records = 0;
  size_t bytes = 0;
  uint64_t first_seq = 0;  // of the writer's first record; set when the writer joins a group
  Status status;           // set by its group's leader before `state` becomes kDone
  std::atomic<uint32_t> state{kWaiting};
  // The generation whose word the caller sleeps on. Written under mu_ (by the caller when it
  // queues, by a leader when the limits left it behind), read by the sleeping caller.
  std::atomic<uint64_t> generation{0};
};

CommitQueue::CommitQueue(uint64_t last_seq, GroupLimits limits, WriteGroupFn write_group)
    : limits_(limits), write_group_(std::move(write_group)), last_seq_(last_seq) {}

Result<uint64_t> CommitQueue::Commit(const Batch& batch) {
  const Batch* const one[] = {&batch};
  Writer self(one);
  BURROW_RETURN_IF_ERROR(Run(self));
  // A batch without records reports the newest sequence before it.
  return self.records == 0 ? self.first_seq - 1 : self.first_seq;
}

Result<uint64_t> CommitQueue::CommitAll(std::span<const Batch* const> batches) {
  Writer self(batches);
  BURROW_RETURN_IF_ERROR(Run(self));
  return self.first_seq;
}

Status CommitQueue::Run(Writer& self) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(&self);
    self.generation.store(open_generation_, std::memory_order_relaxed);
    // Nobody leads only when nobody is queued (leadership is handed on while anyone is), so
    // `self` is the only queued caller and leads its own group at once.
    if (!leading_) {
      leading_ = true;
      self.state.store(Writer::kLead, std::memory_order_relaxed);
    }
  }
  Sleep(self);
  if (self.state.load(std::memory_order_acquire) == Writer::kLead) Lead(self);
  return self.status;
}

void CommitQueue::Sleep(Writer& self) {
  for (;;) {
    const uint64_t generation = self.generation.load(std::memory_order_acquire);
    const size_t slot = generation % kWakeWords;
    // Read the word before anything it announces: a change after this read makes FutexWait
    // return at once instead of sleeping through it.
    const uint32_t seen = wake_words_[slot].load(std::memory_order_acquire);
    if (self.state.load(std::memory_order_acquire) != Writer::kWaiting) return;
    if (self.generation.load(std::memory_order_acquire) != generation) continue;  // moved on
    // Leadership handed to this generation: the first of its callers to look takes it. The
    // offer names its generation, because a slot is shared by every kWakeWords-th generation
    // and only a caller of the generation offered may take it.
    uint64_t offer = generation + 1;
    if (lead_offered_[slot].compare_exchange_strong(offer, 0, std::memory_order_acq_rel)) {
      self.state.store(Writer::kLead, std::memory_order_relaxed);
      return;
    }
    FutexWait(wake_words_[slot], seen);
  }
}

void CommitQueue::Lead(Writer& self) {
  for (;;) {
    std::vector<Writer*> group;
    std::vector<const Batch*> batches;
    uint64_t first_seq = 0;
    size_t records = 0;
    uint64_t generation = 0;
    bool mine = false;  // `self`'s batch is in this group
    {
      std::lock_guard lock(mu_);
      // No other group is in flight (there is one leader), so LastSequence() is final here.
      first_seq = LastSequence() + 1;
      size_t bytes = 0;
      for (Writer* w : pending_) {
        // The oldest queued writer is always taken, however large.
        if (!group.empty() &&
            (records + w->records > limits_.max_records || bytes + w->bytes > limits_.max_bytes)) {
          break;
        }
        w->first_seq = first_seq + records;
        records += w->records;
        bytes += w->bytes;
        group.push_back(w);
        batches.insert(batches.end(), w->batches.begin(), w->batches.end());
        mine = mine || w == &self;
      }
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(group.size()));
      in_flight_ = group.size();
      // Whoever queues from now on (and whoever the limits left behind) belongs to the next
      // generation: woken with the next group, not with this one.
      generation = open_generation_++;
      for (Writer* w : pending_) w->generation.store(open_generation_, std::memory_order_release);
    }

    // Write without the lock, so that the next group can queue up meanwhile.
    const Status status = write_group_(std::span<const Batch* const>(batches), first_seq);
    groups_written_.fetch_add(1, std::memory_order_relaxed);
    if (status.ok() && records > 0) Publish(first_seq + records - 1);

    // Who leads next: this thread again while its own batch waits (the limits left it behind);
    // else nobody if nobody queued; else the next generation, at once, so that its write
    // overlaps the wake-ups below.
    bool hand_on = false;
    {
      std::lock_guard lock(mu_);
      in_flight_ = 0;
      if (mine) {
        if (pending_.empty()) {
          leading_ = false;
        } else {
          hand_on = true;
        }
      }
    }
    for (Writer* w : group) {
      w->status = status;
      if (w == &self) continue;
      // After this store `w` may return at any moment: nothing below touches it.
      w->state.store(Writer::kDone, std::memory_order_release);
    }
    if (hand_on) {
      // The next generation's callers all sleep on one word; the offer goes to whichever of them
      // looks first: the one this wakes (the longest asleep), or one not yet asleep, whose
      // FutexWait returns at once because the word changed.
      const uint64_t next = generation + 1;
      lead_offered_[next % kWakeWords].store(next + 1, std::memory_order_release);
      wake_words_[next % kWakeWords].fetch_add(1, std::memory_order_release);
      FutexWake(wake_words_[next % kWakeWords], 1);
    }
    std::atomic<uint32_t>& word = wake_words_[generation % kWakeWords];
    word.fetch_add(1, std::memory_order_release);
    FutexWake(word, std::numeric_limits<int>::max());
    if (mine) return;
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
