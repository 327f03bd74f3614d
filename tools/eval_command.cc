// `burrow eval`: the scripting surface (SPEC.md §8.1). Opens the journal in the data directory,
// starts an embedded host over it, answers one JSON request per stdin line with one JSON
// response per stdout line, and shuts the host down cleanly at EOF, SIGTERM or SIGINT (drain
// tasks stop without journaling anything, so the next start respawns them).
//
// Exit status: 0 after a clean shutdown, whatever the requests' outcomes (errors are data);
// 1 when the journal cannot be opened or recovered, or when stdout can no longer be written.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"
#include "base/write_all.h"
#include "engine/host/host.h"
#include "engine/rpc/rpc.h"
#include "journal/journal.h"
#include "recovery/recovery.h"
#include "tools/commands.h"
#include "tools/eval_protocol.h"
#include "tools/host_flags.h"

namespace burrow::tools {
namespace {

// A request line longer than this gets an InvalidArgument response and is skipped, so a client
// cannot make eval buffer without bound. A 1 MiB body escaped as \uXXXX is 6 MiB.
constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;

struct EvalFlags {
  std::string data_dir = "./burrow-data";
  HostFlags host{.log_level = "warn"};
  std::string connect;     // a serving host's address: requests go over RPC
  std::string token_file;  // with connect
};

// SIGTERM and SIGINT, blocked in every thread and read through a signalfd by one watcher thread,
// so no handler ever runs at an arbitrary point of some thread. On the first signal the watcher
// shuts the host down, which also ends a request that is waiting on a drain task (`wait` without
// a timeout), and wakes the main loop out of its blocked read of stdin.
class TerminationSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread. Threads inherit the mask, so this must run
  // before any thread is started (RocksDB starts its own when the journal opens). The mask stays
  // for the life of the process: eval exits right after it stops serving. A signal that arrives
  // before Watch() stays pending and is seen by Watch(). Errors: Unavailable.
  static Result<std::unique_ptr<TerminationSignals>> Block() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
      return UnavailableError(fmt::format("pthread_sigmask: {}", std::strerror(rc)));
    }
    auto signals = std::unique_ptr<TerminationSignals>(new TerminationSignals());
    signals->signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
    signals->wake_fd_ = eventfd(0, EFD_CLOEXEC);
    signals->quit_fd_ = eventfd(0, EFD_CLOEXEC);
    if (signals->signal_fd_ < 0 || signals->wake_fd_ < 0 || signals->quit_fd_ < 0) {
      return UnavailableError(fmt::format("signalfd/eventfd: {}", std::strerror(errno)));
    }
    return signals;
  }

  ~TerminationSignals() {
    StopWatching();
    for (int fd : {signal_fd_, wake_fd_, quit_fd_}) {
      if (fd >= 0) close(fd);
    }
  }
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

  // Starts the watcher thread: on the first signal it logs it, makes arrived() true, runs
  // `on_signal` on that thread, then makes wake_fd() readable. Call once; what `on_signal` and
  // `logger` refer to must stay valid until StopWatching().
  void Watch(std::function<void()> on_signal, spdlog::logger& logger) {
    watcher_ = std::thread([this, on_signal = std::move(on_signal), &logger] {
      pollfd fds[2] = {{.fd = signal_fd_, .events = POLLIN, .revents = 0},
                       {.fd = quit_fd_, .events = POLLIN, .revents = 0}};
      while (poll(fds, 2, -1) < 0 && errno == EINTR) {
      }
      if (fds[0].revents == 0) return;  // asked to quit (or poll failed: nothing to watch)
      signalfd_siginfo info;
      if (read(signal_fd_, &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info))) return;
      logger.info("received SIG{}; shutting down", sigabbrev_np(static_cast<int>(info.ssi_signo)));
      arrived_ = true;
      on_signal();
      Notify(wake_fd_);
    });
  }

  // Stops the watcher thread (if it runs) and joins it; a signal after this stays pending and
  // is never acted on. Idempotent. Call it before anything `on_signal` touches is destroyed.
  void StopWatching() {
    if (!watcher_.joinable()) return;
    Notify(quit_fd_);
    watcher_.join();
  }

  // Readable once a signal has arrived and been handled.
  int wake_fd() const { return wake_fd_; }
  bool arrived() const { return arrived_; }

 private:
  TerminationSignals() = default;

  static void Notify(int event_fd) {
    uint64_t one = 1;
    while (write(event_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }

  int signal_fd_ = -1;
  int wake_fd_ = -1;
  int quit_fd_ = -1;
  std::atomic<bool> arrived_{false};
  std::thread watcher_;
};

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

enum class StopCause { kEndOfInput, kSignal, kOutputFailed };

// Reads request lines from fd 0 and writes one response line per request to fd 1, until EOF, a
// termination signal, or a failed write. Blank lines are ignored; a last line without a newline
// is still a request.
class Server {
 public:
  Server(host::Host& host, const EvalOptions& options, const TerminationSignals& signals,
         spdlog::logger& logger)
      : host_(host), options_(options), signals_(signals), logger_(logger) {}

  StopCause Run() {
    char chunk[64 * 1024];
    for (;;) {
      pollfd fds[2] = {{.fd = signals_.wake_fd(), .events = POLLIN, .revents = 0},
                       {.fd = STDIN_FILENO, .events = POLLIN, .revents = 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        logger_.error("poll on stdin failed: {}; treating it as end of input",
                      std::strerror(errno));
        return Finish();
      }
      if (signals_.arrived()) return StopCause::kSignal;
      if (fds[1].revents == 0) continue;
      ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) {
        logger_.error("reading stdin failed: {}; treating it as end of input",
                      std::strerror(errno));
        return Finish();
      }
      if (n == 0) return Finish();
      if (std::optional<StopCause> stop = Consume(std::string_view(chunk, n))) return *stop;
    }
  }

 private:
  // Splits `data` into lines and answers each complete one; a signal that arrives meanwhile
  // stops the stream before the next line.
  std::optional<StopCause> Consume(std::string_view data) {
    while (!data.empty()) {
      size_t newline = data.find('\n');
      std::string_view piece = data.substr(0, newline);
      data.remove_prefix(newline == std::string_view::npos ? data.size() : newline + 1);
      if (!skipping_ && pending_.size() + piece.size() <= kMaxLineBytes) {
        pending_.append(piece);
      } else {
        skipping_ = true;
        pending_.clear();
      }
      if (newline == std::string_view::npos) break;
      if (signals_.arrived()) return StopCause::kSignal;
      if (!Answer()) return StopCause::kOutputFailed;
    }
    return std::nullopt;
  }

  // End of input: the last line may lack its newline.
  StopCause Finish() {
    if (!skipping_ && IsBlank(pending_)) return StopCause::kEndOfInput;
    return Answer() ? StopCause::kEndOfInput : StopCause::kOutputFailed;
  }

  // Answers the line in pending_ (or the over-long line that was skipped) and clears it.
  bool Answer() {
    std::string response;
    if (skipping_) {
      nlohmann::json error = {{"code", "InvalidArgument"},
                              {"reason", fmt::format("line longer than {} bytes", kMaxLineBytes)}};
      response = nlohmann::json{{"ok", false}, {"error", std::move(error)}}.dump();
    } else if (!IsBlank(pending_)) {
      response = HandleLine(host_, pending_, options_);
    }
    skipping_ = false;
    pending_.clear();
    if (response.empty()) return true;
    response += '\n';
    if (!WriteAll(STDOUT_FILENO, response)) {
      logger_.error("writing to stdout failed: {}", std::strerror(errno));
      return false;
    }
    return true;
  }

  host::Host& host_;
  const EvalOptions& options_;
  const TerminationSignals& signals_;
  spdlog::logger& logger_;
  std::string pending_;    // the current line so far
  bool skipping_ = false;  // the current line is over kMaxLineBytes and is being skipped
};

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>(
      "burrow", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::level::from_str(level));
  return logger;
}

// The protocol loop against a host, until EOF, a signal or a failed write.
int Serve(host::Host& host, const EvalFlags& flags, TerminationSignals& signals,
          spdlog::logger& logger) {
  // From here a signal shuts the host down at once, even in the middle of a request; the main
  // loop then stops before the next one. Host is safe for concurrent use and Shutdown is
  // idempotent.
  signals.Watch([&host] { host.Shutdown(); }, logger);
  EvalOptions eval_options;
  eval_options.enable_test_hooks = flags.host.enable_test_hooks;
  StopCause stop = Server(host, eval_options, signals, logger).Run();
  signals.StopWatching();
  host.Shutdown();
  return stop == StopCause::kOutputFailed ? 1 : 0;
}

// `--connect`: every request goes over RPC to a serving host (rpc::RemoteHost). Shutting the
// remote host down here only closes the connection; the server keeps running.
int RunConnected(const EvalFlags& flags, TerminationSignals& signals,
                 const std::shared_ptr<spdlog::logger>& logger) {
  Result<rpc::Address> address = rpc::ParseAddress(flags.connect);
  if (!address.ok()) {
    fmt::print(stderr, "burrow eval: --connect: {}\n", address.status().ToString());
    return 1;
  }
  rpc::ConnectOptions options;
  options.logger = logger;
  if (!flags.token_file.empty()) {
    Result<std::string> token = rpc::ReadTokenFile(flags.token_file);
    if (!token.ok()) {
      fmt::print(stderr, "burrow eval: --token-file: {}\n", token.status().ToString());
      return 1;
    }
    options.token = *token;
  }
  Result<std::unique_ptr<rpc::RemoteHost>> remote = rpc::RemoteHost::Connect(*address, options);
  if (!remote.ok()) {
    fmt::print(stderr, "burrow eval: {}\n", remote.status().ToString());
    return 1;
  }
  return Serve(**remote, flags, signals, *logger);
}

int RunEval(const EvalFlags& flags) {
  // Before anything starts a thread: see TerminationSignals::Block.
  Result<std::unique_ptr<TerminationSignals>> signals = TerminationSignals::Block();
  if (!signals.ok()) {
    fmt::print(stderr, "burrow eval: cannot set up signal handling: {}\n",
               signals.status().ToString());
    return 1;
  }
  // A reader that goes away must not kill eval mid-command: a failed write is handled instead.
  signal(SIGPIPE, SIG_IGN);

  std::shared_ptr<spdlog::logger> logger = MakeLogger(flags.host.log_level);
  if (!flags.connect.empty()) return RunConnected(flags, **signals, logger);

  journal::Options journal_options;
  journal_options.mode = journal::OpenMode::kWriter;
  journal_options.durability = DurabilityOf(flags.host);
  journal_options.logger = logger;
  Result<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Open(flags.data_dir, journal_options);
  if (!journal.ok()) {
    fmt::print(stderr, "burrow eval: cannot open the journal in '{}': {}\n", flags.data_dir,
               journal.status().ToString());
    return 1;
  }
  host::HostOptions host_options = HostOptionsOf(flags.host, logger);
  // Recovery runs before the first request is read: a journal that cannot be replayed exactly
  // (damage other than a torn tail) stops the start with its report.
  Result<recovery::Recovered> recovered = recovery::Recover(**journal, host_options);
  if (!recovered.ok()) {
    fmt::print(stderr, "burrow eval: cannot recover the journal in '{}': {}\n", flags.data_dir,
               recovered.status().ToString());
    return 1;
  }
  // Recover has logged its report already.
  std::unique_ptr<host::Host> host = std::move(recovered->host);
  return Serve(*host, flags, **signals, *logger);
}

}  // namespace

void AddEvalCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "eval",
      "The scripting surface: reads one JSON request per line on stdin and writes one JSON "
      "response per line on stdout, against an embedded host on the data directory (SPEC.md "
      "§8.1). Stops cleanly at end of input, SIGTERM or SIGINT: drain tasks stop without "
      "journaling anything, and the next start recovers the journal and respawns them. Exits 0 "
      "whatever the requests' outcomes (errors are data), 1 when the journal cannot be opened "
      "or recovered, or stdout cannot be written. With --connect, requests go over RPC to a "
      "running "
      "`burrow serve` instead (exit 1 when it cannot be reached); --data, --durability and "
      "--drain-idle-timeout-ms then do not apply.");
  cmd->footer(
      "Requests: {\"cmd\": NAME, \"id\": ANY?, ...args}; \"id\" is echoed. Responses:\n"
      "  {\"ok\": true, ...result} or {\"ok\": false, \"error\": {\"code\": ..., \"reason\": "
      "...}}\n"
      "Commands: register, attach_runtime, ensure_executor, start_run, finish_run, retire,\n"
      "  reset, stop_runtime, runtime_exited, destroy, unregister, set_peer_ingress,\n"
      "  notify_drain_exited, abort, abort_all, wait, post, delivered, await_delivered,\n"
      "  inspect, sessions; with --enable-test-hooks also fail_next_inbox_read,\n"
      "  fail_next_appends.\n"
      "\n"
      "Examples:\n"
      "  printf '%s\\n' '{\"cmd\":\"register\",\"session\":\"s1\",\"id\":1}' \\\n"
      "                 '{\"cmd\":\"inspect\",\"session\":\"s1\",\"id\":2}' |\n"
      "    burrow eval --data /tmp/burrow-demo\n"
      "  burrow eval --data ./burrow-data --drain-idle-timeout-ms 5000 < script.jsonl\n"
      "  burrow eval --data /tmp/t --durability none --enable-test-hooks --log-level debug\n"
      "  burrow eval --connect unix:./burrow-data/burrow.sock < script.jsonl\n"
      "  burrow eval --connect 127.0.0.1:7411 --token-file token < script.jsonl");
  auto flags = std::make_shared<EvalFlags>();
  auto* data = cmd->add_option("--data", flags->data_dir,
                               "Data directory holding the journal (created when missing)")
                   ->capture_default_str();
  auto* connect = cmd->add_option(
      "--connect", flags->connect,
      "Send every request over RPC to a running `burrow serve` at this address (unix:PATH or "
      "HOST:PORT) instead of opening a data directory");
  connect->excludes(data);
  cmd->add_option("--token-file", flags->token_file,
                  "With --connect: file holding the token the server requires (TCP)")
      ->needs(connect);
  AddHostOptions(cmd, flags->host,
                 "Accept the fail_next_inbox_read and fail_next_appends commands (fault "
                 "injection for tests)");
  cmd->callback([flags, &exit_code] { exit_code = RunEval(*flags); });
}

}  // namespace burrow::tools
