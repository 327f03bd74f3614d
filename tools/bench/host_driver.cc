#include "tools/bench/host_driver.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

#include "journal/journal.h"

namespace burrow::bench {

std::string SessionId(uint64_t index) {
  return fmt::format("{:08x}-0000-4000-8000-{:012x}", static_cast<uint32_t>(index >> 48),
                     index & 0xffff'ffff'ffffULL);
}

Status FromHostError(const host::Error& error, std::string_view command) {
  const std::string message =
      fmt::format("{}: {}: {}", command, host::Name(error.code), error.reason);
  return error.code == host::ErrorCode::kUnavailable ? UnavailableError(message)
                                                     : InternalError(message);
}

Status SessionDriver::Next() {
  // One run id for every run: FinishRun must name the run that is current, nothing more.
  static const std::string kRun = "run";
  if (!running_) {
    auto started = host_->StartRun(session_, kRun);
    if (!started.ok()) return FromHostError(started.error(), "start_run " + session_);
  } else {
    auto finished = host_->FinishRun(session_, kRun, machine::RunOutcome::kCommitted);
    if (!finished.ok()) return FromHostError(finished.error(), "finish_run " + session_);
  }
  running_ = !running_;
  return OkStatus();
}

namespace {

// Runs `threads` threads, thread t calling body(t); returns the first error.
Status RunThreads(int threads, const std::function<Status(int)>& body) {
  std::vector<Status> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { results[t] = body(t); });
  for (std::thread& thread : pool) thread.join();
  for (Status& status : results) BURROW_RETURN_IF_ERROR(status);
  return OkStatus();
}

// The generation itself, in the child. `host` and `journal` are left to the caller so that a
// crash can skip their destructors.
Result<History> Generate(const std::string& dir, const HistoryOptions& options,
                         std::unique_ptr<journal::Journal>& journal,
                         std::unique_ptr<host::Host>& host) {
  const auto started = std::chrono::steady_clock::now();
  journal::Options journal_options;
  journal_options.durability = journal::Durability::kNone;  // generation only
  BURROW_ASSIGN_OR_RETURN(journal, journal::Journal::Open(dir, journal_options));
  host::HostOptions host_options;
  host_options.snapshot_every_records = options.snapshot_every_records;
  host_options.checkpoint_every_records = options.checkpoint_every_records;
  host = host::Host::Create(journal.get(), host_options);
  auto start = host->Start();
  if (!start.ok()) return FromHostError(start.error(), "start");

  const int threads = options.threads;
  BURROW_RETURN_IF_ERROR(RunThreads(threads, [&](int t) -> Status {
    for (uint64_t i = t; i < options.sessions; i += threads) {
      auto registered = host->Register(SessionId(i));
      if (!registered.ok()) return FromHostError(registered.error(), "register");
    }
    return OkStatus();
  }));
  std::atomic<bool> done{journal->LastSequence() >= options.records};
  BURROW_RETURN_IF_ERROR(RunThreads(threads, [&](int t) -> Status {
    std::vector<SessionDriver> drivers;
    for (uint64_t i = t; i < options.sessions; i += threads) {
      drivers.emplace_back(host.get(), SessionId(i));
    }
    while (!done.load(std::memory_order_relaxed)) {
      for (SessionDriver& driver : drivers) {
        BURROW_RETURN_IF_ERROR(driver.Next());
        if (journal->LastSequence() >= options.records) {
          done = true;
          break;
        }
      }
    }
    return OkStatus();
  }));
  History history;
  history.last_seq = journal->LastSequence();
  history.first_seq = journal->FirstSequence();
  history.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return history;
}

}  // namespace

Result<History> GenerateHistory(const std::string& dir, const HistoryOptions& options, bool crash) {
  if (options.sessions == 0) return InvalidArgumentError("sessions must be at least 1");
  if (options.records < 2 * options.sessions) {
    return InvalidArgumentError(
        fmt::format("{} records cannot hold {} sessions: registering one writes 2 records",
                    options.records, options.sessions));
  }
  if (options.threads < 1) return InvalidArgumentError("threads must be at least 1");
  int fds[2];
  if (pipe(fds) != 0) return UnavailableError(fmt::format("pipe: {}", std::strerror(errno)));
  const pid_t pid = fork();
  if (pid < 0) return UnavailableError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    close(fds[0]);
    std::unique_ptr<journal::Journal> journal;
    std::unique_ptr<host::Host> host;
    Result<History> history = Generate(dir, options, journal, host);
    if (history.ok() && !crash) {
      host.reset();  // clean shutdown (and its checkpoint), then the journal's flush
      journal.reset();
    }
    const std::string line = history.ok() ? fmt::format("ok {} {} {}", history->last_seq,
                                                        history->first_seq, history->seconds)
                                          : "error " + history.status().ToString();
    (void)!write(fds[1], line.data(), line.size());
    _exit(history.ok() ? 0 : 1);  // a crash for `crash`; nothing left to clean up otherwise
  }
  close(fds[1]);
  std::string reply;
  char buffer[512];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  std::istringstream in(reply);
  std::string word;
  in >> word;
  History history;
  if (word == "ok" && (in >> history.last_seq >> history.first_seq >> history.seconds)) {
    return history;
  }
  if (word == "error") return UnavailableError("generating the history: " + reply.substr(6));
  return UnavailableError(
      fmt::format("generating the history: the child ended with status {}", wstatus));
}

}  // namespace burrow::bench
