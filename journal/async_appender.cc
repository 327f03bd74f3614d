#include "journal/async_appender.h"

#include <utility>

namespace burrow::journal {

AsyncAppender::AsyncAppender(GroupLimits limits, CommitAllFn commit_all)
    : limits_(limits), commit_all_(std::move(commit_all)) {}

Status AsyncAppender::Enqueue(Batch batch, Journal::AppendCallback done) {
  std::lock_guard lock(mu_);
  if (stopping_) return UnavailableError("the journal is closing");
  queue_.push_back({std::move(batch), std::move(done)});
  // The thread sleeps only when the queue is empty, so only the first item needs to wake it.
  if (queue_.size() == 1) queued_cv_.notify_one();
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  return OkStatus();
}

void AsyncAppender::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  queued_cv_.notify_one();
  if (thread.joinable()) thread.join();
}

void AsyncAppender::TakeGroup(std::vector<Item>& taken) {
  size_t records = 0;
  size_t bytes = 0;
  while (!queue_.empty()) {
    Item& item = queue_.front();
    const size_t n = item.batch.records.size();
    const size_t b = BatchBytes(item.batch);
    if (!taken.empty() && (records + n > limits_.max_records || bytes + b > limits_.max_bytes)) {
      break;
    }
    records += n;
    bytes += b;
    taken.push_back(std::move(item));
    queue_.pop_front();
  }
}

void AsyncAppender::Run() {
  std::vector<Item> taken;
  std::vector<const Batch*> batches;
  std::unique_lock lock(mu_);
  for (;;) {
    queued_cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and everything queued is done
    TakeGroup(taken);
    lock.unlock();

    batches.clear();
    for (const Item& item : taken) batches.push_back(&item.batch);
    const Result<uint64_t> first = commit_all_(batches);
    uint64_t next = first.ok() ? *first : 0;
    for (Item& item : taken) {
      if (!first.ok()) {
        item.done(first.status());
        continue;
      }
      const size_t n = item.batch.records.size();
      // A batch without records reports the newest sequence before it, as Append does.
      item.done(n == 0 ? next - 1 : next);
      next += n;
    }
    taken.clear();
    lock.lock();
  }
}

}  // namespace burrow::journal
