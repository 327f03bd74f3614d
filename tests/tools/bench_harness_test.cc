// The closed-loop harness of `burrow bench` (tools/bench/harness.h) with asynchronous producers:
// one operation in flight per producer, each started from the previous one's completion.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "tools/bench/harness.h"
#include "tools/bench/paced.h"

namespace burrow::bench {
namespace {

// Completes queued operations on its own thread, as an asynchronous API does.
class Completer {
 public:
  Completer()
      : thread_([this] {
          std::unique_lock lock(mu_);
          for (;;) {
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;
            auto done = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            done();  // may queue the next operation
            lock.lock();
          }
        }) {}
  ~Completer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void Queue(std::function<void()> done) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(done));
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Producer `fail_at` fails its third operation (-1: none fails). Every producer checks that it
// never has two operations in flight.
class AsyncWorkload : public Workload {
 public:
  explicit AsyncWorkload(int fail_at) : fail_at_(fail_at) {}
  Status Open(const std::string&, int) override { return OkStatus(); }
  Result<std::unique_ptr<Producer>> NewProducer(int) override {
    return FailedPreconditionError("asynchronous only");
  }
  Result<std::unique_ptr<AsyncProducer>> NewAsyncProducer(int index) override {
    class P : public AsyncProducer {
     public:
      P(Completer* completer, bool fails) : completer_(completer), fails_(fails) {}
      ~P() override { EXPECT_FALSE(in_flight_.load()) << "destroyed with an operation in flight"; }
      Status StartOp(std::function<void(Status)> done) override {
        EXPECT_FALSE(in_flight_.exchange(true)) << "two operations in flight";
        const bool fail = fails_ && ++started_ == 3;
        completer_->Queue([this, fail, done = std::move(done)] {
          in_flight_ = false;
          done(fail ? UnavailableError("disk on fire") : OkStatus());
        });
        return OkStatus();
      }

     private:
      Completer* completer_;
      bool fails_;
      int started_ = 0;
      std::atomic<bool> in_flight_{false};
    };
    return std::unique_ptr<AsyncProducer>(new P(&completer_, index == fail_at_));
  }

 private:
  const int fail_at_;
  Completer completer_;  // destroyed after the producers (the harness's order)
};

RunOptions Options(int producers) {
  RunOptions options;
  options.producers = producers;
  options.parent_dir = std::filesystem::temp_directory_path().string();
  return options;
}

WorkloadSpec AsyncSpec(int fail_at) {
  return {.name = "async",
          .make = [fail_at] { return std::make_unique<AsyncWorkload>(fail_at); },
          .asynchronous = true};
}

TEST(RunOnceTest, AsyncProducersEachRunTheirOperationsOneAtATime) {
  RunOptions options = Options(16);
  options.duration = std::chrono::seconds(0);
  options.ops_per_producer = 50;
  Result<RunFigures> figures = RunOnce(AsyncSpec(-1), options);
  ASSERT_TRUE(figures.ok()) << figures.status();
  EXPECT_EQ(figures->ops, 16u * 50u);
  EXPECT_EQ(figures->records, 16u * 50u);
  EXPECT_GT(figures->records_per_s, 0);
}

TEST(RunOnceTest, AsyncProducersStopWhenTheTimeIsUp) {
  RunOptions options = Options(4);
  options.duration = std::chrono::milliseconds(200);
  Result<RunFigures> figures = RunOnce(AsyncSpec(-1), options);
  ASSERT_TRUE(figures.ok()) << figures.status();
  EXPECT_GT(figures->ops, 0u);
  EXPECT_GE(figures->seconds, 0.19);
  EXPECT_LT(figures->seconds, 10);
}

TEST(RunOnceTest, AFailedAsyncOperationEndsTheRunWithItsError) {
  RunOptions options = Options(4);
  options.duration = std::chrono::seconds(30);  // the failure ends it long before
  Result<RunFigures> figures = RunOnce(AsyncSpec(2), options);
  ASSERT_FALSE(figures.ok());
  EXPECT_EQ(figures.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(figures.status().message().find("producer 2"), std::string::npos) << figures.status();
}

TEST(RunOnceTest, APacedRunRefusesAsyncProducers) {
  RunOptions options = Options(1);
  options.duration = std::chrono::milliseconds(100);
  EXPECT_EQ(RunPacedOnce(AsyncSpec(-1), options, 100).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace burrow::bench
