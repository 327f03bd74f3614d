#include "tools/bench/paced.h"

#include <sys/prctl.h>

#include <atomic>
#include <cmath>
#include <latch>
#include <thread>
#include <vector>

#include "tools/bench/stats.h"

namespace burrow::bench {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

PacedSchedule::PacedSchedule(double ops_per_second, int producers)
    : ops_per_second_(ops_per_second), producers_(producers) {}

Status PacedSchedule::Validate(double ops_per_second, int producers) {
  if (!std::isfinite(ops_per_second) || ops_per_second <= 0) {
    return InvalidArgumentError("the offered rate must be a positive number of operations/s");
  }
  if (producers < 1) return InvalidArgumentError("producers must be at least 1");
  return OkStatus();
}

std::chrono::nanoseconds PacedSchedule::Due(int producer, uint64_t op) const {
  const double index =
      static_cast<double>(producer) + static_cast<double>(op) * static_cast<double>(producers_);
  return std::chrono::nanoseconds(std::llround(index * 1e9 / ops_per_second_));
}

uint64_t PacedSchedule::OpsWithin(int producer, std::chrono::nanoseconds duration) const {
  // The closed form, then nudged so it agrees exactly with Due's rounding at the boundary.
  const double slots = std::chrono::duration<double>(duration).count() * ops_per_second_;
  const double estimate =
      std::ceil((slots - static_cast<double>(producer)) / static_cast<double>(producers_));
  uint64_t n = estimate > 0 ? static_cast<uint64_t>(estimate) : 0;
  while (Due(producer, n) < duration) ++n;
  while (n > 0 && Due(producer, n - 1) >= duration) --n;
  return n;
}

Result<RunFigures> RunPacedOnce(const WorkloadSpec& spec, const RunOptions& options,
                                double ops_per_second, std::chrono::nanoseconds warmup) {
  BURROW_RETURN_IF_ERROR(PacedSchedule::Validate(ops_per_second, options.producers));
  if (!(options.duration.count() > 0)) {
    return InvalidArgumentError("a paced run needs a positive duration");
  }
  if (warmup.count() < 0) return InvalidArgumentError("a negative warm-up");
  if (options.parent_dir.empty()) return InvalidArgumentError("parent_dir is empty");
  if (spec.asynchronous) return InvalidArgumentError("a paced run drives blocking producers only");
  BURROW_ASSIGN_OR_RETURN(PreparedRun run, PrepareRun(spec, options));

  const PacedSchedule schedule(ops_per_second, options.producers);
  const auto duration =
      warmup + std::chrono::duration_cast<std::chrono::nanoseconds>(options.duration);
  const int count = options.producers;
  std::vector<std::unique_ptr<ProducerSlot>> slots;
  for (int i = 0; i < count; ++i) slots.push_back(std::make_unique<ProducerSlot>());
  std::atomic<bool> failed{false};
  std::latch prepared(count);
  std::latch start(1);
  Clock::time_point started;  // written before `start` opens, read after
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      // Sleeps end within ~1 µs of their deadline instead of the default 50 µs slack: the
      // schedule, not the timer, decides when an operation starts.
      prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
      Producer& producer = *run.producers[static_cast<size_t>(i)];
      ProducerSlot& slot = *slots[static_cast<size_t>(i)];
      slot.status = producer.Prepare();
      if (!slot.status.ok()) failed = true;
      prepared.count_down();
      start.wait();
      for (uint64_t op = 0; slot.status.ok() && !failed.load(std::memory_order_relaxed); ++op) {
        const std::chrono::nanoseconds offset = schedule.Due(i, op);
        if (offset >= duration) break;
        const Clock::time_point due = started + offset;
        std::this_thread::sleep_until(due);  // returns at once when already late
        Status status = producer.Op();
        const Clock::time_point finished = Clock::now();
        if (!status.ok()) {
          slot.status = std::move(status);
          failed = true;
          break;
        }
        if (offset < warmup) continue;
        slot.latency.Record(LatencyFromSchedule(due, finished));
        ++slot.ops;
      }
      slot.finished = Clock::now();
      producer.Finish();
    });
  }
  prepared.wait();
  started = Clock::now();
  start.count_down();
  for (std::thread& thread : threads) thread.join();

  return SumProducers(slots, run.workload->records_per_op(), started + warmup);
}

}  // namespace burrow::bench
