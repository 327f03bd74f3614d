// Metrics (rpc.h): fixed label sets, so every series is an atomic and recording takes no lock.
#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cmath>
#include <string_view>

#include "engine/rpc/rpc.h"
#include "journal/journal.h"

namespace burrow::rpc {
namespace {

// Every command the service answers (schema/host.capnp), as the eval protocol spells it.
constexpr std::array<std::string_view, 25> kCommands = {"register",
                                                        "attach_runtime",
                                                        "ensure_executor",
                                                        "start_run",
                                                        "finish_run",
                                                        "retire",
                                                        "reset",
                                                        "stop_runtime",
                                                        "runtime_exited",
                                                        "destroy",
                                                        "unregister",
                                                        "set_peer_ingress",
                                                        "notify_drain_exited",
                                                        "abort",
                                                        "abort_all",
                                                        "wait",
                                                        "post",
                                                        "delivered",
                                                        "await_delivered",
                                                        "inspect",
                                                        "sessions",
                                                        "subscribe",
                                                        "fail_next_inbox_read",
                                                        "fail_next_appends",
                                                        "other"};
constexpr std::array<std::string_view, 7> kResults = {
    "ok",          "NotReady", "Destroyed", "ValidationFailed", "InvalidArgument",
    "Unavailable", "Internal"};

// Upper bounds of the histogram buckets (+Inf is implicit).
constexpr std::array<double, 12> kBatchBuckets = {1,  2,   4,   8,   16,   32,
                                                  64, 128, 256, 512, 1024, 4096};
constexpr std::array<double, 14> kFsyncBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

template <size_t N>
struct Histogram {
  std::array<std::atomic<uint64_t>, N + 1> counts{};  // the last one: above every bound
  std::atomic<uint64_t> count{0};
  std::atomic<double> sum{0};

  void Observe(const std::array<double, N>& bounds, double value) {
    size_t i = 0;
    while (i < N && value > bounds[i]) ++i;
    counts[i].fetch_add(1, std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
    double old = sum.load(std::memory_order_relaxed);
    while (!sum.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
    }
  }

  void Render(std::string& out, std::string_view name, const std::array<double, N>& bounds) const {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N; ++i) {
      cumulative += counts[i].load(std::memory_order_relaxed);
      out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], cumulative);
    }
    cumulative += counts[N].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
    out += fmt::format("{}_sum {}\n", name, sum.load(std::memory_order_relaxed));
    out += fmt::format("{}_count {}\n", name, count.load(std::memory_order_relaxed));
  }
};

size_t IndexOf(std::string_view value, std::span<const std::string_view> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] == value) return i;
  }
  return values.size() - 1;
}

}  // namespace

struct Metrics::State {
  std::array<std::array<std::atomic<uint64_t>, kResults.size()>, kCommands.size()> commands{};
  Histogram<kBatchBuckets.size()> batch_records;
  Histogram<kFsyncBuckets.size()> write_seconds;
  std::atomic<uint64_t> write_failures{0};
  std::atomic<double> recovery_seconds{0};
  std::atomic<uint64_t> drains_running{0};
};

Metrics::Metrics() : state_(std::make_unique<State>()) {}
Metrics::~Metrics() = default;

void Metrics::CommandDone(std::string_view command, std::string_view result) {
  size_t c = IndexOf(command, kCommands);
  size_t r = IndexOf(result, kResults);
  if (kResults[r] != result) r = kResults.size() - 1;  // unknown result names count as Internal
  state_->commands[c][r].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::GroupWritten(const journal::GroupWritten& group) {
  if (!group.ok) {
    state_->write_failures.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  state_->batch_records.Observe(kBatchBuckets, static_cast<double>(group.records));
  state_->write_seconds.Observe(kFsyncBuckets,
                                std::chrono::duration<double>(group.write_time).count());
}

void Metrics::SetRecoveryDuration(std::chrono::microseconds duration) {
  state_->recovery_seconds = std::chrono::duration<double>(duration).count();
}

void Metrics::SetDrainsRunning(uint64_t running) { state_->drains_running = running; }

std::string Metrics::Render() const {
  std::string out;
  out += "# HELP burrow_commands_total Commands answered, by command and result.\n";
  out += "# TYPE burrow_commands_total counter\n";
  for (size_t c = 0; c < kCommands.size(); ++c) {
    for (size_t r = 0; r < kResults.size(); ++r) {
      uint64_t n = state_->commands[c][r].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += fmt::format("burrow_commands_total{{command=\"{}\",result=\"{}\"}} {}\n", kCommands[c],
                         kResults[r], n);
    }
  }
  out += "# HELP burrow_journal_batch_records Records per journal group commit.\n";
  out += "# TYPE burrow_journal_batch_records histogram\n";
  state_->batch_records.Render(out, "burrow_journal_batch_records", kBatchBuckets);
  out += "# HELP burrow_journal_fsync_seconds Duration of one group commit's write and fsync.\n";
  out += "# TYPE burrow_journal_fsync_seconds histogram\n";
  state_->write_seconds.Render(out, "burrow_journal_fsync_seconds", kFsyncBuckets);
  out += "# HELP burrow_journal_write_failures_total Group commits that failed.\n";
  out += "# TYPE burrow_journal_write_failures_total counter\n";
  out += fmt::format("burrow_journal_write_failures_total {}\n", state_->write_failures.load());
  out += "# HELP burrow_drains_running Sessions whose authority says the drain is Running.\n";
  out += "# TYPE burrow_drains_running gauge\n";
  out += fmt::format("burrow_drains_running {}\n", state_->drains_running.load());
  out += "# HELP burrow_recovery_duration_seconds How long the start's recovery took.\n";
  out += "# TYPE burrow_recovery_duration_seconds gauge\n";
  out += fmt::format("burrow_recovery_duration_seconds {}\n", state_->recovery_seconds.load());
  return out;
}

}  // namespace burrow::rpc
