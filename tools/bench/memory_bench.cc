#include "tools/bench/memory_bench.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "engine/host/host.h"
#include "journal/journal.h"
#include "recovery/recovery.h"
#include "tools/bench/host_driver.h"

namespace burrow::bench {

Result<uint64_t> ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) {
    return UnavailableError("cannot read /proc/self/statm");
  }
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

Result<MemoryFigures> MeasureIdleSessions(const std::string& dir, uint64_t sessions, int threads) {
  journal::Options options;
  options.durability = journal::Durability::kNone;
  BURROW_ASSIGN_OR_RETURN(std::unique_ptr<journal::Journal> journal,
                          journal::Journal::Open(dir, options));
  std::unique_ptr<host::Host> host = host::Host::Create(journal.get(), host::HostOptions{});
  auto started = host->Start();
  if (!started.ok()) return FromHostError(started.error(), "start");

  MemoryFigures figures;
  figures.sessions = sessions;
  malloc_trim(0);
  BURROW_ASSIGN_OR_RETURN(figures.rss_before, ResidentBytes());
  const auto start = std::chrono::steady_clock::now();
  std::vector<Status> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint64_t i = t; i < sessions; i += threads) {
        auto registered = host->Register(SessionId(i));
        if (!registered.ok()) {
          results[t] = FromHostError(registered.error(), "register");
          return;
        }
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  for (Status& status : results) BURROW_RETURN_IF_ERROR(status);
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  malloc_trim(0);
  BURROW_ASSIGN_OR_RETURN(figures.rss_after, ResidentBytes());
  const host::Reply<std::vector<std::string>> listed = host->Sessions();
  if (!listed.ok() || listed.value().size() != sessions) {
    return InternalError("the host does not list every registered session");
  }
  figures.bytes_per_session =
      figures.rss_after > figures.rss_before
          ? static_cast<double>(figures.rss_after - figures.rss_before) / sessions
          : 0;

  host.reset();  // clean shutdown: a checkpoint snapshots every session
  journal.reset();
  options.create_if_missing = false;
  BURROW_ASSIGN_OR_RETURN(journal, journal::Journal::Open(dir, options));
  malloc_trim(0);
  BURROW_ASSIGN_OR_RETURN(figures.rss_before_recover, ResidentBytes());
  BURROW_ASSIGN_OR_RETURN(recovery::Recovered recovered,
                          recovery::Recover(*journal, host::HostOptions{}));
  malloc_trim(0);
  BURROW_ASSIGN_OR_RETURN(figures.rss_after_recover, ResidentBytes());
  if (recovered.report.sessions_rebuilt != sessions) {
    return InternalError("recovery did not bring back every session");
  }
  figures.bytes_per_session_recovered =
      figures.rss_after_recover > figures.rss_before_recover
          ? static_cast<double>(figures.rss_after_recover - figures.rss_before_recover) / sessions
          : 0;
  recovered.host.reset();
  return figures;
}

}  // namespace burrow::bench
