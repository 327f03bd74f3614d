// Where a drill sends its workload (private to tools/drill): a real `burrow eval` child process
// (kill9) or an embedded host in this process (the fault-injecting scenarios). Both speak the
// eval protocol (SPEC §8.1), so the workload, the ledger and the checkers are the same for all.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/host/host.h"
#include "journal/journal.h"
#include "recovery/recovery.h"

namespace burrow::drill {

class Target {
 public:
  virtual ~Target() = default;
  // Sends one request and returns its response; nullopt when the host cannot answer (the child
  // died or did not answer within the timeout).
  virtual std::optional<nlohmann::json> Call(const nlohmann::json& request) = 0;
};

// `<binary> eval --data DIR --log-level error`, with its stdin and stdout as pipes and its
// stderr appended to `stderr_path`. Owned by one thread.
class ChildHost final : public Target {
 public:
  // Errors: Unavailable (pipe/fork failed).
  static Result<std::unique_ptr<ChildHost>> Start(const std::string& binary,
                                                  const std::string& data_dir,
                                                  const std::string& stderr_path);
  ~ChildHost() override;

  std::optional<nlohmann::json> Call(const nlohmann::json& request) override;
  // Writes a request without reading its response (a request in flight at a kill).
  bool Send(const nlohmann::json& request);
  // SIGKILL and reap. Returns true when the child died of the SIGKILL (not of something else).
  bool Kill();
  // Closes stdin and waits for a clean exit; returns the exit status (-1 on a signal).
  int Stop();

 private:
  ChildHost() = default;
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int in_fd_ = -1;   // the child's stdin
  int out_fd_ = -1;  // the child's stdout
  std::string buffer_;
};

// A journal in `dir` opened as a writer (through `env` when given) and a host recovered on it.
class InProcessHost final : public Target {
 public:
  // Errors: whatever journal::Journal::Open and recovery::Recover return.
  static Result<std::unique_ptr<InProcessHost>> Open(const std::string& dir,
                                                     const journal::Options& journal_options,
                                                     const host::HostOptions& host_options);
  // Shuts the host down (cleanly: tasks stop, nothing journaled) and closes the journal.
  ~InProcessHost() override;

  std::optional<nlohmann::json> Call(const nlohmann::json& request) override;
  host::Host& host() { return *host_; }
  journal::Journal& journal() { return *journal_; }
  const recovery::Report& report() const { return report_; }
  std::chrono::microseconds open_time() const { return open_time_; }

 private:
  InProcessHost() = default;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<host::Host> host_;
  recovery::Report report_;
  std::chrono::microseconds open_time_{0};
};

}  // namespace burrow::drill
