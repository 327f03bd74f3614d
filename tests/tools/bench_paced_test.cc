// Open-loop pacing for `burrow bench` (tools/bench/paced.h): the schedule, and latency measured
// from the scheduled start so that a stall is not hidden (no coordinated omission).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>
#include <vector>

#include "tools/bench/paced.h"

namespace burrow::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(PacedScheduleTest, DealsEvenlySpacedSlotsRoundRobin) {
  const PacedSchedule schedule(1'000, 4);  // one slot per millisecond
  EXPECT_EQ(schedule.Due(0, 0), nanoseconds(0));
  EXPECT_EQ(schedule.Due(1, 0), milliseconds(1));
  EXPECT_EQ(schedule.Due(3, 0), milliseconds(3));
  EXPECT_EQ(schedule.Due(0, 1), milliseconds(4));
  EXPECT_EQ(schedule.Due(2, 5), milliseconds(22));
  // Every slot of the first second belongs to exactly one producer.
  std::set<int64_t> slots;
  for (int p = 0; p < 4; ++p) {
    for (uint64_t op = 0; op < 250; ++op) slots.insert(schedule.Due(p, op).count());
  }
  EXPECT_EQ(slots.size(), 1'000u);
  EXPECT_EQ(*slots.rbegin(), nanoseconds(milliseconds(999)).count());
}

TEST(PacedScheduleTest, CountsTheOpsDueWithinADuration) {
  const PacedSchedule schedule(1'000, 64);
  uint64_t total = 0;
  for (int p = 0; p < 64; ++p) total += schedule.OpsWithin(p, milliseconds(3'000));
  EXPECT_EQ(total, 3'000u);
  EXPECT_EQ(schedule.OpsWithin(0, milliseconds(64)), 1u);  // due at 0; the next at 64 ms
  EXPECT_EQ(schedule.OpsWithin(0, milliseconds(65)), 2u);
  EXPECT_EQ(schedule.OpsWithin(63, milliseconds(63)), 0u);  // its first is due at 63 ms
  // A rate that does not divide a second evenly still gives each slot one producer.
  const PacedSchedule odd(333, 7);
  uint64_t odd_total = 0;
  for (int p = 0; p < 7; ++p) odd_total += odd.OpsWithin(p, milliseconds(1'000));
  EXPECT_EQ(odd_total, 333u);
}

TEST(PacedScheduleTest, RefusesABadRate) {
  EXPECT_FALSE(PacedSchedule::Validate(0, 1).ok());
  EXPECT_FALSE(PacedSchedule::Validate(-5, 1).ok());
  EXPECT_FALSE(PacedSchedule::Validate(std::numeric_limits<double>::infinity(), 1).ok());
  EXPECT_FALSE(PacedSchedule::Validate(100, 0).ok());
  EXPECT_TRUE(PacedSchedule::Validate(100, 1).ok());
}

TEST(LatencyFromScheduleTest, CountsFromTheScheduledStart) {
  const auto due = std::chrono::steady_clock::time_point(milliseconds(100));
  EXPECT_EQ(LatencyFromSchedule(due, due + milliseconds(7)), milliseconds(7));
  EXPECT_EQ(LatencyFromSchedule(due, due - milliseconds(1)), nanoseconds(0));
}

// A workload whose first operation stalls for `stall`, every other one returns at once.
class StallOnce : public Workload {
 public:
  explicit StallOnce(milliseconds stall) : stall_(stall) {}
  Status Open(const std::string&, int) override { return OkStatus(); }
  Result<std::unique_ptr<Producer>> NewProducer(int) override {
    class P : public Producer {
     public:
      explicit P(milliseconds stall) : stall_(stall) {}
      Status Op() override {
        if (ops_++ == 0) std::this_thread::sleep_for(stall_);
        return OkStatus();
      }

     private:
      milliseconds stall_;
      int ops_ = 0;
    };
    return std::unique_ptr<Producer>(new P(stall_));
  }

 private:
  milliseconds stall_;
};

RunOptions Options(int producers, milliseconds duration) {
  RunOptions options;
  options.producers = producers;
  options.duration = duration;
  options.parent_dir = std::filesystem::temp_directory_path().string();
  return options;
}

TEST(RunPacedOnceTest, AStallDelaysTheOpsScheduledDuringIt) {
  // 100 ops/s for 0.5 s: 50 ops, due every 10 ms. The first one takes 400 ms, so the 39 due
  // during it start late, with latencies of ~390, 380, ..., 10 ms from their schedule. A closed
  // loop would report one slow op and 49 fast ones (p50 ~ 0); from the schedule, p50 is the
  // 25th fastest: ~150 ms.
  const WorkloadSpec spec{"stall", [] { return std::make_unique<StallOnce>(milliseconds(400)); }};
  Result<RunFigures> figures = RunPacedOnce(spec, Options(1, milliseconds(500)), 100);
  ASSERT_TRUE(figures.ok()) << figures.status();
  EXPECT_EQ(figures->ops, 50u);
  EXPECT_GE(figures->p50_us, 100'000);
  EXPECT_GE(figures->p99_us, 390'000);
}

TEST(RunPacedOnceTest, OpsDueDuringTheWarmUpRunButAreNotCounted) {
  // The same stall, inside a 450 ms warm-up: the 50 ops due in the 500 ms after it are counted,
  // and none of them waited for the stall.
  const WorkloadSpec spec{"stall", [] { return std::make_unique<StallOnce>(milliseconds(400)); }};
  Result<RunFigures> figures =
      RunPacedOnce(spec, Options(1, milliseconds(500)), 100, milliseconds(450));
  ASSERT_TRUE(figures.ok()) << figures.status();
  EXPECT_EQ(figures->ops, 50u);
  EXPECT_LT(figures->p99_us, 50'000);
  EXPECT_GE(figures->seconds, 0.45);
  EXPECT_FALSE(RunPacedOnce(spec, Options(1, milliseconds(500)), 100, milliseconds(-1)).ok());
}

TEST(RunPacedOnceTest, OffersTheRateAndNoMore) {
  // Instant ops: the run takes as long as the schedule, and every due op is issued once.
  const WorkloadSpec spec{"fast", [] { return std::make_unique<StallOnce>(milliseconds(0)); }};
  Result<RunFigures> figures = RunPacedOnce(spec, Options(4, milliseconds(300)), 200);
  ASSERT_TRUE(figures.ok()) << figures.status();
  EXPECT_EQ(figures->ops, 60u);
  EXPECT_GE(figures->seconds, 0.29);
  EXPECT_LE(figures->records_per_s, 210);
}

TEST(RunPacedOnceTest, RefusesARunWithoutADuration) {
  const WorkloadSpec spec{"fast", [] { return std::make_unique<StallOnce>(milliseconds(0)); }};
  EXPECT_FALSE(RunPacedOnce(spec, Options(1, milliseconds(0)), 100).ok());
  EXPECT_FALSE(RunPacedOnce(spec, Options(1, milliseconds(100)), 0).ok());
}

}  // namespace
}  // namespace burrow::bench
