#include "journal/commit_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace burrow::journal {
namespace {

using namespace std::chrono_literals;

Batch Records(int n, const std::string& tag = "x") {
  Batch batch;
  for (int i = 0; i < n; ++i) batch.records.push_back({"s", tag + std::to_string(i)});
  return batch;
}

// A WriteGroupFn that records every group and can hold the first one until released, so that
// the test can queue callers behind it.
class FakeStore {
 public:
  CommitQueue::WriteGroupFn Fn() {
    return [this](std::span<const Batch* const> group, uint64_t first_seq) {
      std::unique_lock lock(mu_);
      entered_ = true;
      entered_cv_.notify_all();
      release_cv_.wait(lock, [&] { return released_; });
      std::vector<size_t> sizes;
      for (const Batch* b : group) sizes.push_back(b->records.size());
      const size_t index = groups_.size();
      groups_.push_back({first_seq, sizes});
      if (std::find(fail_groups_.begin(), fail_groups_.end(), index) != fail_groups_.end()) {
        return UnavailableError("disk on fire");
      }
      return OkStatus();
    };
  }
  void Hold() {
    std::lock_guard lock(mu_);
    released_ = false;
    entered_ = false;
  }
  void WaitUntilEntered() {
    std::unique_lock lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    release_cv_.notify_all();
  }
  // The index-th group written (0-based) fails.
  void FailGroup(size_t index) {
    std::lock_guard lock(mu_);
    fail_groups_.push_back(index);
  }
  struct Group {
    uint64_t first_seq;
    std::vector<size_t> batch_sizes;
  };
  std::vector<Group> groups() {
    std::lock_guard lock(mu_);
    return groups_;
  }

 private:
  std::mutex mu_;
  std::condition_variable entered_cv_;
  std::condition_variable release_cv_;
  bool entered_ = false;
  bool released_ = true;
  std::vector<size_t> fail_groups_;
  std::vector<Group> groups_;
};

void WaitForQueued(CommitQueue& queue, size_t n) {
  while (queue.QueuedForTesting() < n) std::this_thread::sleep_for(1ms);
}

TEST(CommitQueueTest, LoneCallerLeadsAtOnceAndGetsContiguousSequences) {
  FakeStore store;
  CommitQueue queue(10, GroupLimits{}, store.Fn());
  auto first = queue.Commit(Records(3));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 11u);
  EXPECT_EQ(queue.LastSequence(), 13u);
  auto second = queue.Commit(Records(1));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 14u);
  EXPECT_EQ(queue.GroupsWritten(), 2u);
}

TEST(CommitQueueTest, CallersQueuedBehindALeaderShareOneWrite) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{}, store.Fn());
  store.Hold();
  Batch leader_batch = Records(1);
  Result<uint64_t> leader_result = UnavailableError("not run");
  std::thread leader([&] { leader_result = queue.Commit(leader_batch); });
  store.WaitUntilEntered();

  std::vector<Batch> batches;
  for (int i = 0; i < 5; ++i) batches.push_back(Records(i + 1));
  std::vector<Result<uint64_t>> results(5, UnavailableError("not run"));
  std::vector<std::thread> followers;
  for (int i = 0; i < 5; ++i) {
    followers.emplace_back([&, i] { results[i] = queue.Commit(batches[i]); });
    WaitForQueued(queue, 2 + i);  // queue them in a known order
  }
  store.Release();
  leader.join();
  for (auto& t : followers) t.join();

  const auto groups = store.groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].first_seq, 1u);
  EXPECT_EQ(groups[1].first_seq, 2u);
  EXPECT_EQ(groups[1].batch_sizes, (std::vector<size_t>{1, 2, 3, 4, 5}));
  ASSERT_TRUE(leader_result.ok());
  EXPECT_EQ(*leader_result, 1u);
  uint64_t expected = 2;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(*results[i], expected);
    expected += static_cast<uint64_t>(i) + 1;
  }
  EXPECT_EQ(queue.LastSequence(), 16u);
}

TEST(CommitQueueTest, FailedGroupFailsEveryCallerAndConsumesNoSequence) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{}, store.Fn());
  ASSERT_TRUE(queue.Commit(Records(2)).ok());  // group 0: 1, 2

  store.FailGroup(1);
  store.Hold();
  Batch blocker = Records(1);
  Result<uint64_t> blocker_result = UnavailableError("not run");
  std::thread leader([&] { blocker_result = queue.Commit(blocker); });  // 3
  store.WaitUntilEntered();
  std::vector<Batch> batches = {Records(2), Records(3)};
  std::vector<Result<uint64_t>> results(2, Result<uint64_t>(0));
  std::vector<std::thread> followers;
  for (int i = 0; i < 2; ++i) {
    followers.emplace_back([&, i] { results[i] = queue.Commit(batches[i]); });
    WaitForQueued(queue, 2 + i);
  }
  store.Release();  // the blocker's group (1) fails...
  leader.join();
  EXPECT_EQ(blocker_result.status().code(), StatusCode::kUnavailable);
  for (auto& t : followers) t.join();
  // ...and the followers formed the next group, which started from the same sequence.
  const auto groups = store.groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[1].first_seq, 3u);
  EXPECT_EQ(groups[2].first_seq, 3u);
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(*results[0], 3u);
  EXPECT_EQ(*results[1], 5u);
  EXPECT_EQ(queue.LastSequence(), 7u);
}

TEST(CommitQueueTest, EveryCallerOfAFailedGroupGetsTheError) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{}, store.Fn());
  store.FailGroup(1);
  store.Hold();
  Batch blocker = Records(1);
  std::thread leader([&] { ASSERT_TRUE(queue.Commit(blocker).ok()); });
  store.WaitUntilEntered();
  std::vector<Batch> batches = {Records(1), Records(1), Records(1)};
  std::vector<Result<uint64_t>> results(3, Result<uint64_t>(0));
  std::vector<std::thread> followers;
  for (int i = 0; i < 3; ++i) {
    followers.emplace_back([&, i] { results[i] = queue.Commit(batches[i]); });
    WaitForQueued(queue, 2 + i);
  }
  // The first group succeeds; the followers' group (one write) fails as a whole.
  store.Release();
  leader.join();
  for (auto& t : followers) t.join();
  const auto groups = store.groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].batch_sizes.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(queue.LastSequence(), 1u);
  auto next = queue.Commit(Records(1));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 2u);
}

TEST(CommitQueueTest, GroupsRespectTheRecordLimit) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{.max_records = 3, .max_bytes = size_t{1} << 20}, store.Fn());
  store.Hold();
  Batch blocker = Records(5);  // a leader's own batch is always taken, even over the limit
  std::thread leader([&] { ASSERT_TRUE(queue.Commit(blocker).ok()); });
  store.WaitUntilEntered();
  std::vector<Batch> batches = {Records(1), Records(1), Records(1), Records(1)};
  std::vector<std::thread> followers;
  for (int i = 0; i < 4; ++i) {
    followers.emplace_back([&, i] { ASSERT_TRUE(queue.Commit(batches[i]).ok()); });
    WaitForQueued(queue, 2 + i);
  }
  store.Release();
  leader.join();
  for (auto& t : followers) t.join();
  const auto groups = store.groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].batch_sizes, (std::vector<size_t>{5}));
  EXPECT_EQ(groups[1].batch_sizes, (std::vector<size_t>{1, 1, 1}));
  EXPECT_EQ(groups[2].batch_sizes, (std::vector<size_t>{1}));
  EXPECT_EQ(groups[2].first_seq, 9u);
}

TEST(CommitQueueTest, GroupsRespectTheByteLimit) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{.max_records = 1000, .max_bytes = 100}, store.Fn());
  store.Hold();
  Batch blocker = Records(1);
  std::thread leader([&] { ASSERT_TRUE(queue.Commit(blocker).ok()); });
  store.WaitUntilEntered();
  std::vector<Batch> batches(3);
  for (auto& b : batches) b.records.push_back({"s", std::string(40, 'p')});  // 41 bytes each
  std::vector<std::thread> followers;
  for (int i = 0; i < 3; ++i) {
    followers.emplace_back([&, i] { ASSERT_TRUE(queue.Commit(batches[i]).ok()); });
    WaitForQueued(queue, 2 + i);
  }
  store.Release();
  leader.join();
  for (auto& t : followers) t.join();
  const auto groups = store.groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[1].batch_sizes.size(), 2u);
  EXPECT_EQ(groups[2].batch_sizes.size(), 1u);
}

TEST(CommitQueueTest, BatchWithoutRecordsReportsTheNewestSequenceBeforeIt) {
  FakeStore store;
  CommitQueue queue(4, GroupLimits{}, store.Fn());
  Batch state_only;
  state_only.state_puts.push_back({"k", "v"});
  auto result = queue.Commit(state_only);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 4u);
  EXPECT_EQ(queue.LastSequence(), 4u);

  // Inside a group: after a batch of two records starting at 5, it reports 6.
  store.Hold();
  Batch blocker = Records(1);
  std::thread leader([&] { ASSERT_TRUE(queue.Commit(blocker).ok()); });  // 5
  store.WaitUntilEntered();
  Batch two = Records(2);
  Result<uint64_t> two_result = UnavailableError("not run");
  Result<uint64_t> state_result = UnavailableError("not run");
  std::thread a([&] { two_result = queue.Commit(two); });
  WaitForQueued(queue, 2);
  std::thread b([&] { state_result = queue.Commit(state_only); });
  WaitForQueued(queue, 3);
  store.Release();
  leader.join();
  a.join();
  b.join();
  EXPECT_EQ(*two_result, 6u);
  EXPECT_EQ(*state_result, 7u);
}

TEST(CommitQueueTest, CommitAllWritesItsBatchesInOrderInOneGroupWithOtherCallers) {
  FakeStore store;
  CommitQueue queue(10, GroupLimits{}, store.Fn());
  Batch state_only;
  state_only.state_puts.push_back({"k", "v"});
  const Batch two = Records(2);
  const Batch three = Records(3);
  const Batch* const alone[] = {&two, &state_only, &three};
  auto first = queue.CommitAll(alone);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 11u);
  EXPECT_EQ(queue.LastSequence(), 15u);
  ASSERT_EQ(store.groups().size(), 1u);
  EXPECT_EQ(store.groups()[0].batch_sizes, (std::vector<size_t>{2, 0, 3}));

  // Queued behind a leader, it joins the next group with a plain caller, its batches together.
  store.Hold();
  const Batch blocker = Records(1);
  std::thread leader([&] { ASSERT_TRUE(queue.Commit(blocker).ok()); });  // 16
  store.WaitUntilEntered();
  const Batch one = Records(1);
  Result<uint64_t> all_result = UnavailableError("not run");
  Result<uint64_t> one_result = UnavailableError("not run");
  const Batch* const behind[] = {&three, &two};
  std::thread a([&] { all_result = queue.CommitAll(behind); });
  WaitForQueued(queue, 2);
  std::thread b([&] { one_result = queue.Commit(one); });
  WaitForQueued(queue, 3);
  store.Release();
  leader.join();
  a.join();
  b.join();
  EXPECT_EQ(*all_result, 17u);  // 17..19 and 20..21
  EXPECT_EQ(*one_result, 22u);
  ASSERT_EQ(store.groups().size(), 3u);
  EXPECT_EQ(store.groups()[2].batch_sizes, (std::vector<size_t>{3, 2, 1}));
}

TEST(CommitQueueTest, WaitForSequenceAboveWakesOnPublishAndTimesOut) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{}, store.Fn());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(queue.WaitForSequenceAbove(0, start + 30ms), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);

  std::thread appender([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(queue.Commit(Records(2)).ok());
  });
  EXPECT_EQ(queue.WaitForSequenceAbove(0, std::chrono::steady_clock::now() + 10s), 2u);
  appender.join();
}

TEST(CommitQueueTest, ConcurrentCallersGetDisjointContiguousRanges) {
  FakeStore store;
  CommitQueue queue(0, GroupLimits{}, store.Fn());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::vector<std::pair<uint64_t, size_t>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = 1 + (i + t) % 3;
        auto r = queue.Commit(Records(n));
        ASSERT_TRUE(r.ok());
        got[t].push_back({*r, static_cast<size_t>(n)});
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::pair<uint64_t, size_t>> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  uint64_t next = 1;
  for (const auto& [first, n] : all) {
    ASSERT_EQ(first, next);
    next += n;
  }
  EXPECT_EQ(queue.LastSequence(), next - 1);
}

// The batch the current thread is committing (set by the test's callers; read by the write
// function, which runs on the leader's thread).
thread_local const Batch* current_batch = nullptr;

TEST(CommitQueueTest, ALeaderWritesGroupsOnlyUntilItsOwnBatchIsWritten) {
  // Then it hands leadership on: no caller waits for other callers' groups after its own.
  // Checked from the write function, which runs on the leader's thread, so the scheduling of
  // the test's threads does not matter. Groups of at most two records, and writes that take a
  // while, keep callers queued behind every group and leave some leaders' batches behind.
  std::mutex mu;
  std::map<const Batch*, std::vector<bool>> groups_by_leader;  // per call: "own batch in it?"
  CommitQueue::WriteGroupFn write = [&](std::span<const Batch* const> group, uint64_t) {
    {
      std::lock_guard lock(mu);
      groups_by_leader[current_batch].push_back(
          std::find(group.begin(), group.end(), current_batch) != group.end());
    }
    std::this_thread::sleep_for(50us);  // like an fsync: the woken queue up again meanwhile
    return OkStatus();
  };
  CommitQueue queue(0, GroupLimits{.max_records = 2}, write);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  std::vector<std::thread> threads;
  std::set<std::thread::id> leaders;
  std::mutex leaders_mu;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      bool led = false;
      for (int i = 0; i < kPerThread; ++i) {
        Batch batch = Records(1);
        current_batch = &batch;
        const uint64_t before = queue.GroupsWritten();
        ASSERT_TRUE(queue.Commit(batch).ok());
        std::lock_guard lock(mu);
        auto it = groups_by_leader.find(&batch);
        if (it == groups_by_leader.end()) continue;
        led = true;
        // The last group it wrote held its batch, and no earlier one did.
        EXPECT_TRUE(it->second.back()) << "wrote " << it->second.size() << " groups";
        EXPECT_EQ(std::count(it->second.begin(), it->second.end(), true), 1);
        EXPECT_GE(queue.GroupsWritten() - before, it->second.size());
        groups_by_leader.erase(it);  // the next call may reuse the address
      }
      if (led) {
        std::lock_guard lock(leaders_mu);
        leaders.insert(std::this_thread::get_id());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(queue.LastSequence(), uint64_t{kThreads} * kPerThread);
  EXPECT_GT(leaders.size(), 1u);
}

}  // namespace
}  // namespace burrow::journal
