// The durable runtime host over Cap'n Proto RPC (`burrow serve`, SPEC §8): front door of
// engine/rpc. The service's schema is schema/host.capnp.
//
// Nothing here exposes kj or capnp: the server runs its own kj event loop on its own thread, and
// the client (RemoteHost) is a host::Host, so everything written against host::Host (the eval
// protocol, its scripts and tests) runs unchanged against a server. Exceptions live only inside
// this library: an RPC failure reaches callers as an Unavailable error.
//
// Threads. The server's event loop moves bytes; host commands run on worker threads of an
// elastic pool (host commands block on fsync, `wait` blocks on a task), so many commands are in
// flight at once and share fsyncs through the journal's group commit; finished commands return
// to the loop in batches (one cross-thread wake-up per batch, not per command). Except when the
// server is idle: a command that arrives alone, with nothing else in flight, runs on the loop
// thread itself (ServerOptions::run_idle_commands_on_loop), which saves the two cross-thread
// wake-ups (loop -> worker -> loop) that dominate a lone command's cost besides its fsync.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/host/host.h"

namespace spdlog {
class logger;
}
namespace burrow::journal {
struct GroupWritten;
}

namespace burrow::rpc {

// ---------------------------------------------------------------------------------------------
// Addresses

struct Address {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix: the socket file
  std::string host;  // kTcp: a name or a numeric IPv4/IPv6 address (without brackets)
  uint16_t port = 0;

  // "unix:PATH" or "HOST:PORT" ("[HOST]:PORT" for IPv6), parseable by ParseAddress.
  std::string ToString() const;
  // A TCP address on the loopback interface (127.0.0.0/8, ::1, localhost).
  bool IsLoopback() const;
};

// Parses "unix:PATH", "HOST:PORT", "[IPV6]:PORT" or ":PORT" (loopback: 127.0.0.1). PORT 0 asks
// the system for a free port (the server reports the bound one).
// Errors: InvalidArgument (naming what is wrong).
Result<Address> ParseAddress(std::string_view text);

// A token file holds the shared secret of TCP listeners: its bytes, without one trailing newline.
inline constexpr size_t kMinTokenBytes = 16;
// Errors: InvalidArgument (shorter than kMinTokenBytes), Unavailable (cannot read the file).
Result<std::string> ReadTokenFile(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Metrics (Prometheus text exposition format)

// Counters and histograms of a serving host. Safe for concurrent use; recording is lock-free.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One command answered: `result` is "ok" or an error code name ("NotReady", ...).
  void CommandDone(std::string_view command, std::string_view result);
  // Feed journal::Options::on_group_written here.
  void GroupWritten(const journal::GroupWritten& group);
  void SetRecoveryDuration(std::chrono::microseconds duration);
  void SetDrainsRunning(uint64_t running);

  // Every metric, in the text exposition format 0.0.4 (docs/SERVE.md lists the names).
  std::string Render() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Events: the host::Observer that feeds subscriptions (and the drains-running gauge).

class EventHub final : public host::Observer {
 public:
  // `metrics` (optional, non-owning) gets the drains-running gauge.
  explicit EventHub(Metrics* metrics = nullptr);
  ~EventHub() override;

  // Counts the drains `host` runs now (before serving, after recovery): afterwards the gauge
  // follows StateChanged.
  void Seed(host::Host& host);

  void StateChanged(std::string_view session, const machine::State& state) override;
  void Delivered(std::string_view session, std::span<const host::Message> messages) override;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Server

struct ServerOptions {
  Address listen;
  // Required for a TCP listener (InvalidArgument otherwise); optional for a Unix socket, which is
  // guarded by its mode 0600. Compared in constant time.
  std::optional<std::string> token;
  // Allows a TCP listener on a non-loopback address.
  bool allow_remote = false;
  // Where Prometheus text is served over HTTP (GET /metrics); none = no endpoint.
  std::optional<Address> metrics_listen;
  Metrics* metrics = nullptr;  // non-owning; required when metrics_listen is set
  EventHub* events = nullptr;  // non-owning; the host's observer; null = subscribe is refused
  // Bounds: an incoming message larger than this is refused and its connection closed (post
  // bodies are at most host::kMaxBodyBytes).
  size_t max_message_bytes = 4 * 1024 * 1024;
  size_t max_workers = 4096;  // threads running host commands (beyond: commands queue)
  // A command (other than wait / await_delivered) that arrives when no other command is in
  // flight and none arrives in the same turn of the loop runs on the loop thread, not a worker:
  // at low load that is most commands, and it saves two thread wake-ups each. The price: while it
  // runs (one fsync), the loop reads nothing; calls arriving meanwhile are dispatched when it
  // ends, to the workers, and they would have waited for that fsync in the journal's commit
  // queue anyway. Metrics scrapes and subscription events wait as long. false = always workers.
  bool run_idle_commands_on_loop = true;
  // How long Stop() lets in-flight commands finish before it shuts the host down.
  std::chrono::milliseconds shutdown_grace{10'000};
  std::shared_ptr<spdlog::logger> logger;  // null = drop everything
};

class Server {
 public:
  // Binds the listener(s) and starts serving `host` (non-owning; must outlive the Server) on a
  // thread of its own. A Unix socket is created with mode 0600 (a stale socket file is replaced).
  // Errors: InvalidArgument (options), Unavailable (cannot bind).
  static Result<std::unique_ptr<Server>> Start(host::Host& host, ServerOptions options);
  virtual ~Server() = default;  // Stop()s

  // The bound addresses (with the actual port when 0 was asked).
  virtual Address address() const = 0;
  virtual std::optional<Address> metrics_address() const = 0;

  // Graceful stop, safe from any thread, idempotent, blocking until done: stops accepting,
  // answers new calls with Unavailable, lets in-flight commands finish (up to shutdown_grace),
  // then calls host.Shutdown() (drain tasks stop WITHOUT journaling, so the next start respawns
  // them; `wait`s end), sends the last answers and closes every connection.
  virtual void Stop() = 0;

  // Connections open now (for tests and logs).
  virtual size_t connections() const = 0;
  // Commands run on the loop thread so far (run_idle_commands_on_loop; for tests and logs).
  virtual uint64_t commands_run_on_loop() const = 0;
};

// ---------------------------------------------------------------------------------------------
// Client

struct ConnectOptions {
  std::optional<std::string> token;  // presented to the server's gate (empty when none)
  std::chrono::milliseconds connect_timeout{10'000};
  std::shared_ptr<spdlog::logger> logger;
};

// A host::Host whose every command is an RPC to a server. From Connect, safe for concurrent use
// (calls are pipelined on one connection); from ConnectOnThisThread, one thread's own. Start()
// reports nothing; Checkpoint() is Unavailable (the server checkpoints by itself); Shutdown()
// closes the connection (later calls: Unavailable). A lost connection makes every pending and later
// call Unavailable.
class RemoteHost : public host::Host {
 public:
  // Connects and authenticates. Errors: Unavailable (cannot connect, or the gate refused).
  static Result<std::unique_ptr<RemoteHost>> Connect(const Address& address,
                                                     const ConnectOptions& options);

  // The same without a thread of its own: the connection's event loop belongs to the calling
  // thread and runs inside each call, so a command costs no thread hand-off on the client side
  // (two fewer wake-ups per command than Connect). The RemoteHost must be called, and destroyed,
  // only on that thread, which must not run another kj event loop; `observer`s of Subscribe
  // are called during that thread's calls, and must not call back into the RemoteHost.
  // Errors: Unavailable (cannot connect, or the gate refused).
  static Result<std::unique_ptr<RemoteHost>> ConnectOnThisThread(const Address& address,
                                                                 const ConnectOptions& options);

  // Subscribes to `session`'s events (delivered messages, state changes); `observer` is called
  // on the connection's thread, per session in commit order, until Unsubscribe or Shutdown.
  // Errors: as Inspect.
  virtual host::Reply<uint64_t> Subscribe(std::string_view session, host::Observer& observer) = 0;
  virtual void Unsubscribe(uint64_t subscription) = 0;
};

}  // namespace burrow::rpc
