// The durable runtime host (SPEC.md §3, §4): front door of engine/host.
//
// Every command follows one path: decide in memory (the pure machine) → append the accepted
// records to the journal in one atomic, durable batch → publish the new state → run side effects
// (start, cancel or feed drain tasks). A rejected input appends nothing and touches nothing; no
// task is started, cancelled or fed before the record that allows it is durable.
//
// Thread-safety: a Host is safe for concurrent use. Commands on one session are serialised;
// commands on different sessions run concurrently and share fsyncs through the journal's group
// commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/host/session_image.h"
#include "engine/machine/types.h"

namespace spdlog {
class logger;
}
namespace burrow::journal {
class Journal;
}

namespace burrow::host {

// ---------------------------------------------------------------------------------------------
// Errors: the names are part of the contract (SPEC §3).

enum class ErrorCode : uint8_t {
  kNotReady,          // the session is unknown (state "destroyed", as SPEC §3 spells it)
  kDestroyed,         // the session is destroyed and the command cannot apply to it
  kValidationFailed,  // a machine rejection; reason names phase, input and guard(s)
  kInvalidArgument,   // a malformed request; nothing was looked at
  kUnavailable,       // journal I/O failed; nothing was applied
  kInternal,          // a bug (e.g. a broken invariant); nothing was applied
};
std::string_view Name(ErrorCode code);  // "NotReady", "Destroyed", ...

struct Error {
  ErrorCode code;
  std::string reason;  // empty for Destroyed
  std::string state;   // NotReady only
};

// Either a value or an Error.
template <typename T>
class [[nodiscard]] Reply {
 public:
  Reply(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Reply(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  const T& value() const { return std::get<0>(v_); }
  T& value() { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};
struct Done {};  // the ok result of commands that return nothing

// ---------------------------------------------------------------------------------------------
// Requests and results

struct AttachRuntimeArgs {
  std::string runtime_id;
  uint64_t fence_token = 0;
  std::optional<uint64_t> generation;
  std::optional<std::string> epoch_id;
};

struct PeerIngressArgs {
  bool keep_alive = false;
  std::optional<std::string> transport_id;
  std::optional<std::string> mob_id;
  machine::DrainMode mode = machine::DrainMode::kPersistentHost;
};

struct PostArgs {
  std::string message_id;
  std::string from;
  std::string body;
};

struct PostResult {
  bool duplicate = false;
};

struct Message {
  std::string message_id;
  std::string from;
  std::string body;
  friend bool operator==(const Message&, const Message&) = default;
};

struct TaskView {
  bool running = false;
  uint64_t incarnation = 0;  // 0 before the session's first task
};

struct SessionView {
  std::string session_id;
  machine::State state;
  TaskView task;
  uint64_t inbox_pending = 0;
  uint64_t delivered = 0;
};

// Limits on request fields; a request beyond them gets InvalidArgument.
inline constexpr size_t kMaxIdBytes = 256;            // session, runtime, run, transport, ...
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;  // post body

// ---------------------------------------------------------------------------------------------

// What the host reads the wall clock through (records carry wall time for people). Tests may
// pass a fixed clock; logic never depends on it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() = 0;  // since the Unix epoch
};

// What the host publishes, for those who follow sessions from outside (`burrow serve`'s
// subscriptions and metrics). Calls come from the thread that committed a step, while it holds
// the session's serialisation, right after the step is durable and published: per session they
// arrive in commit order. An implementation must be quick, must not block and must never call the
// Host (it would deadlock on the session). Observing changes nothing the host does.
class Observer {
 public:
  virtual ~Observer() = default;
  // A step changed the authority of `session`; `state` is the authority after it. After an
  // unregister, `state.session_id` is empty and the session is gone.
  virtual void StateChanged(std::string_view session, const machine::State& state) = 0;
  // Messages of `session` became durable as delivered, in delivery order.
  virtual void Delivered(std::string_view session, std::span<const Message> messages) = 0;
};

struct HostOptions {
  // Timed and AttachedSession drains end by themselves after this long with an empty inbox;
  // PersistentHost drains never idle out.
  std::chrono::milliseconds drain_idle_timeout{300'000};
  // Bound on joining a cancelled drain task before it is abandoned.
  std::chrono::milliseconds join_timeout{2'000};
  // Respawn supervisor backoff: initial, cap, and healthy-run time that resets it.
  std::chrono::milliseconds respawn_initial{100};
  std::chrono::milliseconds respawn_max{30'000};
  std::chrono::milliseconds respawn_reset_after{60'000};
  // Snapshots bound recovery time (SPEC §5). A session is snapshotted after this many records
  // of its own; every `checkpoint_every_records` journal records (and at clean shutdown) a
  // checkpoint snapshots every session in one batch and truncates the journal below what
  // recovery still needs, keeping two snapshot generations per session. 0 disables either.
  uint64_t snapshot_every_records = 1'000;
  uint64_t checkpoint_every_records = 100'000;
  // Test hooks (FailNextInboxRead, journal failures) are refused unless this is set.
  bool enable_test_hooks = false;
  // Non-owning; null = the system clock.
  Clock* clock = nullptr;
  // Named logger; null = a private logger that drops everything.
  std::shared_ptr<spdlog::logger> logger;
  // Non-owning, must outlive the Host; null = nobody observes.
  Observer* observer = nullptr;
};

// A session as recovery rebuilt it, with what the host needs to keep truncation safe.
struct RecoveredSession {
  SessionImage image;
  // covered_seq of the session's valid snapshots, newest first (at most two).
  std::vector<uint64_t> snapshots;
  // Global sequence of the oldest record of the session's current life that recovery saw
  // (0 when none was seen: the snapshots cover everything).
  uint64_t first_seq = 0;
};

struct StartReport {
  uint64_t drains_started = 0;        // tasks started for Running drains (cause "recovery")
  uint64_t respawns_scheduled = 0;    // ExitedRespawnable drains handed to the supervisor
  uint64_t unregisters_finished = 0;  // unregisters a crash had interrupted
};

struct CheckpointReport {
  uint64_t snapshots_written = 0;
  uint64_t truncated_below = 0;  // the journal's FirstSequence() afterwards
};

class Host {
 public:
  // Creates a host over `journal` (non-owning; must outlive the Host), with the sessions
  // recovery rebuilt from it (none for an empty journal; images with `removed` set are
  // ignored). No task runs until Start().
  static std::unique_ptr<Host> Create(journal::Journal* journal, HostOptions options,
                                      std::vector<RecoveredSession> sessions = {});
  // The same, with the sessions as recovery::Rebuild leaves them (by id): no intermediate
  // vector, whose ~400-byte elements for 100,000 sessions were ~10 % of a restart.
  static std::unique_ptr<Host> CreateRecovered(journal::Journal* journal, HostOptions options,
                                               std::map<std::string, RecoveredSession> sessions);
  virtual ~Host() = default;

  // Recovery's last steps (SPEC §6.3-4), before any command: finishes the unregisters a crash
  // interrupted (open obligations closed through journaled inputs, the runtime-loop and
  // comms-drain ones with forced_abort = true), starts a drain task (journaled, cause
  // "recovery"; all their start records in one append) for every session whose drain is Running,
  // and hands ExitedRespawnable PersistentHost drains to the respawn supervisor. Errors:
  // Unavailable, Internal.
  virtual Reply<StartReport> Start() = 0;

  // Snapshots every session in one durable batch, deletes the snapshots of sessions that no
  // longer exist, and truncates the journal below what recovery still needs. Runs by itself
  // every `checkpoint_every_records`; safe to call concurrently with commands.
  // Errors: Unavailable.
  virtual Reply<CheckpointReport> Checkpoint() = 0;

  // Clean shutdown: stops every task and the supervisor WITHOUT journaling anything (their
  // authorities stay Running so the next start respawns them), then takes a checkpoint so the
  // next start replays little. Commands after Shutdown get Unavailable. Idempotent; also run by
  // the destructor.
  virtual void Shutdown() = 0;

  // Lifecycle commands (SPEC §3). Unknown session → NotReady (except register).
  virtual Reply<Done> Register(std::string_view session) = 0;
  virtual Reply<Done> AttachRuntime(std::string_view session, const AttachRuntimeArgs& args) = 0;
  virtual Reply<Done> EnsureExecutor(std::string_view session) = 0;
  virtual Reply<Done> StartRun(std::string_view session, std::string_view run_id) = 0;
  virtual Reply<Done> FinishRun(std::string_view session, std::string_view run_id,
                                machine::RunOutcome outcome) = 0;
  virtual Reply<Done> Retire(std::string_view session) = 0;
  virtual Reply<Done> Reset(std::string_view session) = 0;
  virtual Reply<Done> StopRuntime(std::string_view session, std::string_view reason) = 0;
  virtual Reply<Done> RuntimeExited(std::string_view session) = 0;
  virtual Reply<Done> Destroy(std::string_view session) = 0;
  virtual Reply<Done> Unregister(std::string_view session) = 0;

  // Peer ingress and drains (SPEC §3, §4). SetPeerIngress returns whether a task was spawned.
  virtual Reply<bool> SetPeerIngress(std::string_view session, const PeerIngressArgs& args) = 0;
  virtual Reply<Done> NotifyDrainExited(std::string_view session,
                                        machine::DrainExitReason reason) = 0;
  virtual Reply<Done> Abort(std::string_view session) = 0;
  virtual Reply<Done> AbortAll() = 0;
  // Returns whether the task ended (true at once when there is no task). nullopt = no timeout.
  virtual Reply<bool> Wait(std::string_view session,
                           std::optional<std::chrono::milliseconds> timeout) = 0;

  // Commands without a blocked caller, for callers that keep many in flight from few threads (an
  // event loop; `burrow bench commit`'s burrow_async). Submit takes the input of one of the
  // lifecycle commands that decide one input and start, cancel or feed no task, and decides it
  // exactly as that command does: machine::PrepareBindings (AttachRuntime; its session_id must be
  // `session`), EnsureSessionWithExecutor (EnsureExecutor; likewise), StartRun, FinishRun,
  // Retire, Reset, StopRuntimeExecutor (StopRuntime), RuntimeExecutorExited (RuntimeExited).
  // `done` is called exactly once, with what that command would have returned, once the step is
  // durable and published (or refused, or failed). Submitted commands are run by one thread of
  // the host in groups: a group's accepted steps, each of a different session, are appended as
  // ONE journal batch (one fsync), so their effects still follow their records; a session's
  // submitted commands are decided in the order Submit accepted them. `done` runs on that thread:
  // it must be quick, must not block and must not call the blocking commands; it may Submit.
  // Errors returned at once, and then `done` is never called: InvalidArgument (as the command's,
  // or an input Submit does not take, or a host that offers no Submit: the RPC client),
  // Unavailable (the host is shutting down).
  using SubmitCallback = std::function<void(Reply<Done>)>;
  virtual Reply<Done> Submit(std::string_view session, machine::Input input, SubmitCallback done);

  // The durable inbox.
  virtual Reply<PostResult> Post(std::string_view session, const PostArgs& args) = 0;
  virtual Reply<std::vector<Message>> Delivered(std::string_view session) = 0;
  // Waits until at least `count` messages are delivered or the timeout passes; returns the
  // number delivered then.
  virtual Reply<uint64_t> AwaitDelivered(std::string_view session, uint64_t count,
                                         std::chrono::milliseconds timeout) = 0;

  // Read-only views.
  virtual Reply<SessionView> Inspect(std::string_view session) = 0;
  // Every live session's id, sorted. Errors: Unavailable when the list cannot be had (a remote
  // host out of reach or shutting down), never an empty list in its place.
  virtual Reply<std::vector<std::string>> Sessions() = 0;

  // Test hooks (InvalidArgument unless HostOptions::enable_test_hooks): the session's drain fails
  // its next inbox read; the journal fails its next `n` appends.
  virtual Reply<Done> FailNextInboxRead(std::string_view session) = 0;
  virtual Reply<Done> FailNextAppends(int n) = 0;
};

}  // namespace burrow::host
