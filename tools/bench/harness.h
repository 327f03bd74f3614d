// The `burrow bench` harness: runs a workload with P concurrent producers for S seconds (or N
// operations each), times every operation, and reports throughput and latency percentiles;
// repeats the run and reports the median of each figure over the runs. A producer is a thread
// that runs one blocking operation after another, or, for an asynchronous API, a chain of
// operations each started when the one before it completed (no thread of its own).
//
// House rule: benchmarks, not timed tests. A figure means something only next to a baseline
// measured in the same run (RunCases interleaves them), and is reported as a median over runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/bench/stats.h"

namespace burrow::bench {

// One producer's side of a workload for one run. Used only by that producer's thread.
class Producer {
 public:
  virtual ~Producer() = default;
  // One timed operation, which makes Workload::records_per_op() records durable (or, for a
  // workload named as not durable, written). Errors: whatever the system under test reports;
  // the first error stops the run.
  virtual Status Op() = 0;
  // Called on the producer's own thread, untimed: Prepare() before the start signal (an error
  // stops the run like Op's), Finish() after its last Op(). For what must live on the thread
  // that runs Op(), e.g. a connection bound to that thread's event loop.
  virtual Status Prepare() { return OkStatus(); }
  virtual void Finish() {}
};

// One producer of an asynchronous workload: the harness starts an operation, and starts the
// next one from the previous one's completion, so that each producer has exactly one operation
// in flight (as a blocking Producer has) without a thread of its own.
class AsyncProducer {
 public:
  virtual ~AsyncProducer() = default;
  // Starts one operation; `done` is called exactly once, on any thread, when it has finished
  // (its records durable) or failed, and may start the next one. An error returned here means
  // the operation did not start (and `done` is not called). The first error stops the run.
  virtual Status StartOp(std::function<void(Status)> done) = 0;
};

// What a run exercises. The harness makes a new Workload for every run, so nothing carries over
// between runs; it calls Open() once with a fresh, empty directory, then NewProducer() for each
// producer (all from one thread), then runs each producer's Op() on its own thread. It destroys
// the producers before the workload, and the workload before it deletes the directory.
class Workload {
 public:
  virtual ~Workload() = default;
  // Creates and opens what the producers share (a file per producer, a database, ...) in `dir`,
  // which exists, is empty and outlives the workload. Errors: Unavailable (I/O).
  virtual Status Open(const std::string& dir, int producers) = 0;
  // Producer `index` (0 <= index < producers) of this run. Errors: Unavailable (I/O).
  // Workloads whose spec is `asynchronous` make AsyncProducers instead (and may refuse this).
  virtual Result<std::unique_ptr<Producer>> NewProducer(int index) = 0;
  virtual Result<std::unique_ptr<AsyncProducer>> NewAsyncProducer(int /*index*/) {
    return FailedPreconditionError("this workload has no asynchronous producers");
  }
  // Records made durable by one Op(): throughput counts records, latency is per Op().
  virtual uint64_t records_per_op() const { return 1; }
};

// A named way to make a fresh Workload for each run.
struct WorkloadSpec {
  std::string name;  // the report's mode column and JSON "mode", e.g. "naive_rocksdb"
  std::function<std::unique_ptr<Workload>()> make;
  // Its producers are AsyncProducers, all driven from one thread (RunOnce only).
  bool asynchronous = false;
};

struct RunOptions {
  int producers = 1;
  // Producers stop starting new operations after this long (zero: no time limit).
  std::chrono::duration<double> duration = std::chrono::seconds(3);
  // Each producer stops after this many operations (zero: no limit). At least one of
  // duration and ops_per_producer must be set.
  uint64_t ops_per_producer = 0;
  // Each run's fresh directory is created inside this one (which must exist) and deleted after
  // the run. Put it on the device under test: fsync on a tmpfs measures nothing.
  std::string parent_dir;
};

// The figures of one run, or (from MedianOfRuns) the median of each figure over several runs.
struct RunFigures {
  uint64_t ops = 0;
  uint64_t records = 0;
  // From the start signal until the last producer finished its last operation.
  double seconds = 0;
  double records_per_s = 0;
  // Latency of one Op() (one write of records_per_op() records), in microseconds.
  double p50_us = 0;
  double p99_us = 0;
};

// Runs `spec` once with `options`.
// Errors: InvalidArgument (bad options), Unavailable (the directory could not be created), or
// the first error of Workload::Open, NewProducer or Producer::Op.
Result<RunFigures> RunOnce(const WorkloadSpec& spec, const RunOptions& options);

// The median of each figure separately over `runs` (see Median in stats.h).
RunFigures MedianOfRuns(const std::vector<RunFigures>& runs);

// ---------------------------------------------------------------------------------------------
// The pieces every harness (RunOnce here, RunPacedOnce in paced.h) is made of.

// A run's workload set up on a fresh directory inside options.parent_dir, with its producers.
// Members are destroyed in reverse order: the producers, then the workload, then the directory
// is deleted with everything in it.
struct PreparedRun {
  struct Dir {
    std::string path;
    ~Dir();
  };
  std::unique_ptr<Dir> dir;
  std::unique_ptr<Workload> workload;
  std::vector<std::unique_ptr<Producer>> producers;  // or, for an asynchronous spec:
  std::vector<std::unique_ptr<AsyncProducer>> async_producers;
};
// Errors: Unavailable (the directory could not be created), or the first error of
// Workload::Open or NewProducer.
Result<PreparedRun> PrepareRun(const WorkloadSpec& spec, const RunOptions& options);

// What one producer measured. Only that producer (its thread, or its chain of operations)
// writes it until it has finished.
struct ProducerSlot {
  LatencyHistogram latency;
  uint64_t ops = 0;
  std::chrono::steady_clock::time_point finished;
  Status status;
};

// The run's figures from its producers' slots, counted from `from` (the start, or the end of a
// warm-up) until the last producer finished. Errors: the first failed producer's, named.
Result<RunFigures> SumProducers(const std::vector<std::unique_ptr<ProducerSlot>>& slots,
                                uint64_t records_per_op,
                                std::chrono::steady_clock::time_point from);

// One row of a report: a workload at a producer count.
struct Case {
  WorkloadSpec spec;
  int producers = 1;
};

struct CaseResult {
  std::string mode;  // Case::spec.name
  int producers = 1;
  std::vector<RunFigures> runs;  // in the order they ran
  RunFigures median;             // MedianOfRuns(runs)
};

// Called after every run, e.g. to show progress: `run` counts from 1.
using RunObserver = std::function<void(const Case&, int run, const RunFigures&)>;

// Runs every case `runs` times, interleaved: round r runs each case once, in order, before round
// r+1 starts, so the drift of a noisy machine reaches every case alike. `options.producers` is
// ignored (each case has its own). Returns one CaseResult per case, in the order of `cases`.
// Errors: those of RunOnce, with the case named.
Result<std::vector<CaseResult>> RunCases(const std::vector<Case>& cases, const RunOptions& options,
                                         int runs, const RunObserver& observer = nullptr);

}  // namespace burrow::bench
