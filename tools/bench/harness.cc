#include "tools/bench/harness.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <latch>
#include <mutex>
#include <thread>
#include <utility>

#include "tools/bench/stats.h"

namespace burrow::bench {
namespace {

using Clock = std::chrono::steady_clock;

Status Validate(const RunOptions& options) {
  if (options.producers < 1) return InvalidArgumentError("producers must be at least 1");
  if (options.duration.count() < 0) return InvalidArgumentError("duration must not be negative");
  if (options.duration.count() == 0 && options.ops_per_producer == 0) {
    return InvalidArgumentError("set a duration or an operation count, or the run never ends");
  }
  if (options.parent_dir.empty()) return InvalidArgumentError("parent_dir is empty");
  return OkStatus();
}

// Waits on `cv` until `over()` holds or, with a duration, the run's time is up.
void WaitUntilOver(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                   Clock::time_point started, const RunOptions& options,
                   const std::function<bool()>& over) {
  if (options.duration.count() > 0) {
    cv.wait_until(lock, started + std::chrono::duration_cast<Clock::duration>(options.duration),
                  over);
  } else {
    cv.wait(lock, over);
  }
}

// Starts every producer at once, stops them when the time is up, when each has done its
// operations, or at the first error, and returns what each one measured.
std::vector<std::unique_ptr<ProducerSlot>> Drive(std::vector<std::unique_ptr<Producer>>& producers,
                                                 const RunOptions& options,
                                                 Clock::time_point& started) {
  const int count = static_cast<int>(producers.size());
  std::vector<std::unique_ptr<ProducerSlot>> slots;
  for (int i = 0; i < count; ++i) slots.push_back(std::make_unique<ProducerSlot>());

  std::atomic<bool> stop{false};
  std::latch start(1);
  std::latch prepared(count);  // every producer has run Prepare() on its thread
  std::mutex mu;
  std::condition_variable done_cv;
  int finished = 0;     // guarded by mu
  bool failed = false;  // guarded by mu
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      Producer& producer = *producers[i];
      ProducerSlot& slot = *slots[i];
      slot.status = producer.Prepare();
      prepared.count_down();
      start.wait();
      while (slot.status.ok() && !stop.load(std::memory_order_relaxed) &&
             (options.ops_per_producer == 0 || slot.ops < options.ops_per_producer)) {
        const Clock::time_point before = Clock::now();
        Status status = producer.Op();
        const Clock::time_point after = Clock::now();
        if (!status.ok()) {
          slot.status = std::move(status);
          break;
        }
        slot.latency.Record(after - before);
        ++slot.ops;
      }
      slot.finished = Clock::now();
      producer.Finish();
      std::lock_guard lock(mu);
      ++finished;
      failed = failed || !slot.status.ok();
      done_cv.notify_one();
    });
  }

  prepared.wait();
  started = Clock::now();
  start.count_down();
  {
    std::unique_lock lock(mu);
    WaitUntilOver(lock, done_cv, started, options, [&] { return finished == count || failed; });
  }
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& thread : threads) thread.join();
  return slots;
}

// Drive's counterpart for asynchronous producers: the calling thread starts one operation per
// producer, and each completion records its latency and starts that producer's next operation
// until the time is up, the producer has done its operations, or an operation fails. Returns
// once every producer's last operation has completed.
std::vector<std::unique_ptr<ProducerSlot>> DriveAsync(
    std::vector<std::unique_ptr<AsyncProducer>>& producers, const RunOptions& options,
    Clock::time_point& started) {
  const size_t count = producers.size();
  std::vector<std::unique_ptr<ProducerSlot>> slots;
  for (size_t i = 0; i < count; ++i) slots.push_back(std::make_unique<ProducerSlot>());
  // When each producer's operation in flight started; like its slot, touched by one chain only.
  std::vector<Clock::time_point> op_started(count);

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable done_cv;
  size_t finished = 0;  // guarded by mu
  bool failed = false;  // guarded by mu

  auto finish = [&](size_t i, Status status) {
    ProducerSlot& slot = *slots[i];
    slot.status = std::move(status);
    slot.finished = Clock::now();
    std::lock_guard lock(mu);
    ++finished;
    failed = failed || !slot.status.ok();
    done_cv.notify_one();
  };
  std::function<void(size_t)> start_op = [&](size_t i) {
    op_started[i] = Clock::now();
    Status status = producers[i]->StartOp([&, i](Status result) {
      const Clock::time_point now = Clock::now();
      ProducerSlot& slot = *slots[i];
      if (!result.ok()) return finish(i, std::move(result));
      slot.latency.Record(now - op_started[i]);
      ++slot.ops;
      if (stop.load(std::memory_order_relaxed) ||
          (options.ops_per_producer != 0 && slot.ops >= options.ops_per_producer)) {
        return finish(i, OkStatus());
      }
      start_op(i);
    });
    if (!status.ok()) finish(i, std::move(status));
  };

  started = Clock::now();
  for (size_t i = 0; i < count; ++i) start_op(i);
  std::unique_lock lock(mu);
  WaitUntilOver(lock, done_cv, started, options, [&] { return finished == count || failed; });
  stop.store(true, std::memory_order_relaxed);
  // The chains still running end with their operation in flight.
  done_cv.wait(lock, [&] { return finished == count; });
  return slots;
}

}  // namespace

Result<RunFigures> RunOnce(const WorkloadSpec& spec, const RunOptions& options) {
  BURROW_RETURN_IF_ERROR(Validate(options));
  BURROW_ASSIGN_OR_RETURN(PreparedRun run, PrepareRun(spec, options));
  Clock::time_point started;
  const std::vector<std::unique_ptr<ProducerSlot>> slots =
      spec.asynchronous ? DriveAsync(run.async_producers, options, started)
                        : Drive(run.producers, options, started);
  return SumProducers(slots, run.workload->records_per_op(), started);
}

PreparedRun::Dir::~Dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

Result<PreparedRun> PrepareRun(const WorkloadSpec& spec, const RunOptions& options) {
  PreparedRun run;
  std::string path =
      (std::filesystem::path(options.parent_dir) / ("burrow-bench-" + spec.name + "-XXXXXX"));
  if (mkdtemp(path.data()) == nullptr) {
    return UnavailableError(fmt::format("mkdtemp {}: {}", path, std::strerror(errno)));
  }
  run.dir.reset(new PreparedRun::Dir{std::move(path)});
  run.workload = spec.make();
  BURROW_RETURN_IF_ERROR(run.workload->Open(run.dir->path, options.producers).WithContext("open"));
  for (int i = 0; i < options.producers; ++i) {
    if (spec.asynchronous) {
      BURROW_ASSIGN_OR_RETURN(std::unique_ptr<AsyncProducer> producer,
                              run.workload->NewAsyncProducer(i));
      run.async_producers.push_back(std::move(producer));
    } else {
      BURROW_ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer, run.workload->NewProducer(i));
      run.producers.push_back(std::move(producer));
    }
  }
  return run;
}

Result<RunFigures> SumProducers(const std::vector<std::unique_ptr<ProducerSlot>>& slots,
                                uint64_t records_per_op, Clock::time_point from) {
  LatencyHistogram latency;
  uint64_t ops = 0;
  Clock::time_point last_finished = from;
  for (size_t i = 0; i < slots.size(); ++i) {
    const ProducerSlot& slot = *slots[i];
    if (!slot.status.ok()) return slot.status.WithContext(fmt::format("producer {}", i));
    latency.Merge(slot.latency);
    ops += slot.ops;
    last_finished = std::max(last_finished, slot.finished);
  }
  RunFigures figures;
  figures.ops = ops;
  figures.records = ops * records_per_op;
  figures.seconds = std::chrono::duration<double>(last_finished - from).count();
  figures.records_per_s =
      figures.seconds > 0 ? static_cast<double>(figures.records) / figures.seconds : 0;
  figures.p50_us = latency.PercentileMicros(0.50);
  figures.p99_us = latency.PercentileMicros(0.99);
  return figures;
}

RunFigures MedianOfRuns(const std::vector<RunFigures>& runs) {
  auto median_of = [&runs](auto field) {
    std::vector<double> values;
    for (const RunFigures& run : runs) values.push_back(static_cast<double>(run.*field));
    return Median(std::move(values));
  };
  RunFigures median;
  median.ops = static_cast<uint64_t>(median_of(&RunFigures::ops));
  median.records = static_cast<uint64_t>(median_of(&RunFigures::records));
  median.seconds = median_of(&RunFigures::seconds);
  median.records_per_s = median_of(&RunFigures::records_per_s);
  median.p50_us = median_of(&RunFigures::p50_us);
  median.p99_us = median_of(&RunFigures::p99_us);
  return median;
}

Result<std::vector<CaseResult>> RunCases(const std::vector<Case>& cases, const RunOptions& options,
                                         int runs, const RunObserver& observer) {
  if (runs < 1) return InvalidArgumentError("runs must be at least 1");
  std::vector<CaseResult> results;
  for (const Case& c : cases) results.push_back({.mode = c.spec.name, .producers = c.producers});
  for (int run = 1; run <= runs; ++run) {
    for (size_t i = 0; i < cases.size(); ++i) {
      RunOptions case_options = options;
      case_options.producers = cases[i].producers;
      Result<RunFigures> figures = RunOnce(cases[i].spec, case_options);
      if (!figures.ok()) {
        return figures.status().WithContext(
            fmt::format("{} (producers={}, run {})", cases[i].spec.name, cases[i].producers, run));
      }
      if (observer) observer(cases[i], run, *figures);
      results[i].runs.push_back(*figures);
    }
  }
  for (CaseResult& result : results) result.median = MedianOfRuns(result.runs);
  return results;
}

}  // namespace burrow::bench
