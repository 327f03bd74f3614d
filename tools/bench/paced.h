// Open-loop runs for `burrow bench`: the producers together offer a fixed rate of operations,
// each operation has a scheduled start, and its latency is measured from that scheduled start.
//
// Why: a latency target is stated at a load ("p99 at 1,000 commands/s"). The closed-loop
// harness (harness.h) measures a system driven flat out, where p99 is queueing; and a producer
// that just waits for its previous operation before starting the next (the closed loop) hides
// every stall from its latencies, because the operations that should have started during the
// stall are simply not sent ("coordinated omission"). Here an operation that starts late because
// its producer was stuck counts the wait: latency = finished - scheduled start.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "base/status.h"
#include "tools/bench/harness.h"

namespace burrow::bench {

// When each producer's operations are due, as offsets from the run's start: `ops_per_second` in
// all, evenly spaced and dealt round-robin to `producers`, so producer p's op j (from 0) is the
// (p + j * producers)-th operation of the run, due at (p + j * producers) / ops_per_second.
// Every producer then offers ops_per_second / producers, and together they never bunch.
class PacedSchedule {
 public:
  // Requires ops_per_second > 0 and producers >= 1 (see Validate).
  PacedSchedule(double ops_per_second, int producers);

  // InvalidArgument unless ops_per_second is a positive finite number and producers >= 1.
  static Status Validate(double ops_per_second, int producers);

  std::chrono::nanoseconds Due(int producer, uint64_t op) const;
  // How many of `producer`'s operations are due before `duration` has passed.
  uint64_t OpsWithin(int producer, std::chrono::nanoseconds duration) const;

 private:
  double ops_per_second_;
  int producers_;
};

// The latency of an operation scheduled at `due` that finished at `finished`: measured from the
// schedule, not from when the producer got round to starting it. Never negative.
inline std::chrono::nanoseconds LatencyFromSchedule(
    std::chrono::steady_clock::time_point due, std::chrono::steady_clock::time_point finished) {
  return std::max(std::chrono::nanoseconds(0),
                  std::chrono::duration_cast<std::chrono::nanoseconds>(finished - due));
}

// Runs `spec` once, open loop: options.producers threads follow PacedSchedule(ops_per_second,
// producers) for `warmup` + options.duration (every operation due within it is issued, and the
// run lasts until the last one finished). Each producer sleeps until its next operation is due,
// or starts it at once when it is already late. The operations due during `warmup` run at the
// same rate but are not counted: they are each connection's and each session's first ones (a
// latency target is about the steady state). In the figures, records_per_s is the rate achieved
// after the warm-up (below ops_per_second when the system could not keep up) and p50/p99 are
// latencies from the scheduled start. options.ops_per_producer is ignored.
// Errors: InvalidArgument (bad options or rate; a duration is required), Unavailable (the
// directory could not be created), or the first error of Workload::Open, NewProducer or Op.
Result<RunFigures> RunPacedOnce(const WorkloadSpec& spec, const RunOptions& options,
                                double ops_per_second,
                                std::chrono::nanoseconds warmup = std::chrono::nanoseconds(0));

}  // namespace burrow::bench
