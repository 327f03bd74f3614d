// The statistics `burrow bench` reports: latency percentiles and the median over runs.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "tools/bench/harness.h"
#include "tools/bench/stats.h"

namespace burrow::bench {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

// Half a bucket: the most a reported percentile may differ from the recorded latency.
constexpr double kRelativeError = 0.004;

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.PercentileMicros(0.5), 0);
  EXPECT_EQ(histogram.PercentileMicros(0.99), 0);
}

TEST(LatencyHistogramTest, ShortLatenciesAreExact) {
  LatencyHistogram histogram;
  for (int ns = 1; ns <= 100; ++ns) histogram.Record(nanoseconds(ns));
  EXPECT_EQ(histogram.count(), 100u);
  EXPECT_DOUBLE_EQ(histogram.PercentileMicros(0.50), 0.050);
  EXPECT_DOUBLE_EQ(histogram.PercentileMicros(0.99), 0.099);
  EXPECT_DOUBLE_EQ(histogram.PercentileMicros(1.0), 0.100);
  EXPECT_DOUBLE_EQ(histogram.PercentileMicros(0.0), 0.001);
}

TEST(LatencyHistogramTest, PercentilesUseTheNearestRank) {
  // 1..1000 µs, once each: the p50 is the 500th smallest, the p99 the 990th.
  LatencyHistogram histogram;
  for (int us = 1000; us >= 1; --us) histogram.Record(microseconds(us));
  EXPECT_NEAR(histogram.PercentileMicros(0.50), 500, 500 * kRelativeError);
  EXPECT_NEAR(histogram.PercentileMicros(0.99), 990, 990 * kRelativeError);
  EXPECT_NEAR(histogram.PercentileMicros(0.999), 999, 999 * kRelativeError);
  EXPECT_DOUBLE_EQ(histogram.PercentileMicros(1.0), 1000);  // clamped to the exact maximum
  EXPECT_DOUBLE_EQ(histogram.PercentileMicros(0.0), 1);     // clamped to the exact minimum
}

TEST(LatencyHistogramTest, ATailShowsInTheP99ButNotTheP50) {
  LatencyHistogram histogram;
  for (int i = 0; i < 980; ++i) histogram.Record(microseconds(300));
  for (int i = 0; i < 20; ++i) histogram.Record(microseconds(5000));
  EXPECT_NEAR(histogram.PercentileMicros(0.50), 300, 300 * kRelativeError);
  EXPECT_NEAR(histogram.PercentileMicros(0.98), 300, 300 * kRelativeError);
  EXPECT_NEAR(histogram.PercentileMicros(0.99), 5000, 5000 * kRelativeError);
}

TEST(LatencyHistogramTest, EveryLatencyIsReportedWithinHalfABucket) {
  for (int64_t ns : {int64_t{255}, int64_t{256}, int64_t{257}, int64_t{1023}, int64_t{123'456},
                     int64_t{2'000'000'001}, int64_t{1'000'000'000'000}}) {
    LatencyHistogram histogram;
    histogram.Record(nanoseconds(ns));
    histogram.Record(nanoseconds(ns));
    // Two equal samples: min == max, so the clamp makes the answer exact.
    EXPECT_DOUBLE_EQ(histogram.PercentileMicros(0.5), ns / 1000.0) << ns;
    LatencyHistogram spread;
    spread.Record(nanoseconds(1));
    spread.Record(nanoseconds(ns));
    spread.Record(nanoseconds((int64_t{1} << 40) - 1));
    EXPECT_NEAR(spread.PercentileMicros(0.5), ns / 1000.0, ns / 1000.0 * kRelativeError) << ns;
  }
}

TEST(LatencyHistogramTest, NegativeAndHugeLatenciesAreClamped) {
  LatencyHistogram histogram;
  histogram.Record(nanoseconds(-5));
  histogram.Record(std::chrono::hours(24));
  EXPECT_EQ(histogram.min(), nanoseconds(0));
  EXPECT_EQ(histogram.max(), nanoseconds((int64_t{1} << 40) - 1));
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram all;
  LatencyHistogram first;
  LatencyHistogram second;
  for (int us = 1; us <= 500; ++us) {
    first.Record(microseconds(us));
    all.Record(microseconds(us));
  }
  for (int us = 501; us <= 1000; ++us) {
    second.Record(microseconds(us));
    all.Record(microseconds(us));
  }
  first.Merge(second);
  EXPECT_EQ(first.count(), 1000u);
  EXPECT_EQ(first.min(), all.min());
  EXPECT_EQ(first.max(), all.max());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}) {
    EXPECT_DOUBLE_EQ(first.PercentileMicros(q), all.PercentileMicros(q)) << q;
  }
}

TEST(MedianTest, OddCountTakesTheMiddleValue) {
  EXPECT_DOUBLE_EQ(Median({30, 10, 20}), 20);
  EXPECT_DOUBLE_EQ(Median({7}), 7);
}

TEST(MedianTest, EvenCountAveragesTheTwoMiddleValues) {
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
}

TEST(MedianTest, NoValuesGiveZero) { EXPECT_DOUBLE_EQ(Median({}), 0); }

TEST(MedianOfRunsTest, EachFigureIsTheMedianOfItsOwnValues) {
  // The median run by throughput is not the median run by latency: each figure stands alone.
  const std::vector<RunFigures> runs = {
      {.ops = 100,
       .records = 100,
       .seconds = 1.0,
       .records_per_s = 100,
       .p50_us = 900,
       .p99_us = 5},
      {.ops = 300,
       .records = 300,
       .seconds = 3.0,
       .records_per_s = 900,
       .p50_us = 100,
       .p99_us = 7},
      {.ops = 200,
       .records = 200,
       .seconds = 2.0,
       .records_per_s = 500,
       .p50_us = 500,
       .p99_us = 6},
  };
  const RunFigures median = MedianOfRuns(runs);
  EXPECT_EQ(median.ops, 200u);
  EXPECT_EQ(median.records, 200u);
  EXPECT_DOUBLE_EQ(median.seconds, 2.0);
  EXPECT_DOUBLE_EQ(median.records_per_s, 500);
  EXPECT_DOUBLE_EQ(median.p50_us, 500);
  EXPECT_DOUBLE_EQ(median.p99_us, 6);
}

}  // namespace
}  // namespace burrow::bench
