// Latency statistics for `burrow bench`: a per-thread log-linear histogram, and the median that
// every reported figure is taken over runs (machines here are noisy: medians, never one run).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace burrow::bench {

// A latency histogram with HdrHistogram's log-linear buckets: latencies below 256 ns are kept
// exactly; above that, each power-of-two range is split into 128 equal buckets, so a reported
// percentile is within 0.4 % (half a bucket) of the recorded latency. Latencies above ~18 minutes
// (2^40 ns) are counted as 2^40 ns.
//
// Record() is O(1) and never allocates, so each producer thread keeps its own histogram and the
// hot path takes no lock; the harness Merge()s them when the run is over.
// Thread-safety: not safe for concurrent use; one thread records into one histogram.
class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(std::chrono::nanoseconds latency);
  // Adds `other`'s samples to this one's.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // Exact smallest and largest latencies recorded (zero when empty).
  std::chrono::nanoseconds min() const { return std::chrono::nanoseconds(count_ ? min_ns_ : 0); }
  std::chrono::nanoseconds max() const { return std::chrono::nanoseconds(max_ns_); }

  // The nearest-rank percentile in microseconds: the smallest recorded latency L such that at
  // least q * count() samples are <= L, reported as the middle of L's bucket (clamped to
  // [min(), max()]). `q` is a fraction in [0, 1]: 0.5 is the median, 0.99 the p99, 0 gives
  // min(). Returns 0 when the histogram is empty.
  double PercentileMicros(double q) const;

 private:
  std::vector<uint64_t> counts_;  // by bucket index (see BucketIndex in stats.cc)
  uint64_t count_ = 0;
  uint64_t min_ns_ = UINT64_MAX;
  uint64_t max_ns_ = 0;
};

// The median of `values`: the middle one, or the mean of the two middle ones for an even count.
// Returns 0 for no values.
double Median(std::vector<double> values);

}  // namespace burrow::bench
