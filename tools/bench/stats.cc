#include "tools/bench/stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace burrow::bench {
namespace {

// Bucket layout: a latency v (ns) below 2^(kSubBits+1) has its own bucket. Above, with
// shift = bit_width(v) - (kSubBits+1), bucket shift*kSub + (v >> shift) covers the 2^shift
// latencies that share v's top kSubBits+1 bits; v >> shift lies in [kSub, 2*kSub), so the index
// is continuous across powers of two and a bucket is at most 1/kSub of its values wide.
constexpr int kSubBits = 7;
constexpr uint64_t kSub = uint64_t{1} << kSubBits;  // 128 buckets per power of two
constexpr uint64_t kMaxNs = (uint64_t{1} << 40) - 1;
constexpr size_t kBuckets = (40 - kSubBits - 1) * kSub + 2 * kSub;

int ShiftOf(uint64_t ns) {
  return std::max(0, static_cast<int>(std::bit_width(ns)) - (kSubBits + 1));
}

size_t BucketIndex(uint64_t ns) {
  const int shift = ShiftOf(ns);
  return static_cast<size_t>(shift) * kSub + (ns >> shift);
}

// The smallest latency and the width of bucket `index` (the inverse of BucketIndex).
void BucketRange(size_t index, uint64_t& lowest, uint64_t& width) {
  const uint64_t shift = index < 2 * kSub ? 0 : index / kSub - 1;
  lowest = (index - shift * kSub) << shift;
  width = uint64_t{1} << shift;
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  const uint64_t ns = std::min<uint64_t>(std::max<int64_t>(latency.count(), 0), kMaxNs);
  ++counts_[BucketIndex(ns)];
  ++count_;
  min_ns_ = std::min(min_ns_, ns);
  max_ns_ = std::max(max_ns_, ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

double LatencyHistogram::PercentileMicros(double q) const {
  if (count_ == 0) return 0;
  if (q <= 0) return static_cast<double>(min_ns_) / 1000.0;
  // Nearest rank, 1-based; the epsilon keeps 0.99 * 100 from rounding up to rank 100.
  const double exact_rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count_);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(exact_rank - 1e-9)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen < rank) continue;
    uint64_t lowest = 0;
    uint64_t width = 0;
    BucketRange(i, lowest, width);
    const double middle = static_cast<double>(lowest) + static_cast<double>(width - 1) / 2;
    const double ns =
        std::clamp(middle, static_cast<double>(min_ns_), static_cast<double>(max_ns_));
    return ns / 1000.0;
  }
  return static_cast<double>(max_ns_) / 1000.0;  // unreachable: the counts sum to count_
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace burrow::bench
