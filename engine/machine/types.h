// The vocabulary of the session authority machine (SPEC.md §2): its state record, every input
// with its payload, and the effects an accepted transition asks the host to realise.
//
// Plain values only: no I/O, no clock, no allocation policy beyond std::string. The journal
// codec (schema/) converts these to and from Cap'n Proto; nothing else in Burrow has a second
// representation of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace burrow::machine {

// ---------------------------------------------------------------------------------------------
// Enumerations. Numeric values are part of the canonical state encoding and of the journal
// format: append new values at the end, never renumber.

enum class Phase : uint8_t {
  kInitializing = 0,
  kIdle = 1,
  kAttached = 2,
  kRunning = 3,
  kRetired = 4,
  kStopped = 5,
  kDestroyed = 6,  // terminal
};
inline constexpr int kPhaseCount = 7;

enum class RegistrationPhase : uint8_t { kQueuing = 0, kActive = 1, kDraining = 2 };
enum class DrainPhase : uint8_t {
  kInactive = 0,
  kRunning = 1,
  kStopped = 2,
  kExitedRespawnable = 3,
};
enum class DrainMode : uint8_t { kTimed = 0, kAttachedSession = 1, kPersistentHost = 2 };
enum class IngressOwner : uint8_t { kUnattached = 0, kSessionOwned = 1, kMobOwned = 2 };
enum class RunOutcome : uint8_t { kCommitted = 0, kFailed = 1, kCancelled = 2 };
enum class DrainExitReason : uint8_t {
  kIdleTimeout = 0,
  kDismissed = 1,
  kFailed = 2,
  kAborted = 3,
  kSessionShutdown = 4,
};

// Names are spelled exactly as in SPEC.md ("Initializing", "ExitedRespawnable", ...): they
// appear in rejection messages, `eval` JSON and `burrow machine` output.
std::string_view Name(Phase v);
std::string_view Name(RegistrationPhase v);
std::string_view Name(DrainPhase v);
std::string_view Name(DrainMode v);
std::string_view Name(IngressOwner v);
std::string_view Name(RunOutcome v);
std::string_view Name(DrainExitReason v);

// Parse the SPEC spelling; nullopt for anything else.
std::optional<Phase> ParsePhase(std::string_view s);
std::optional<RegistrationPhase> ParseRegistrationPhase(std::string_view s);
std::optional<DrainPhase> ParseDrainPhase(std::string_view s);
std::optional<DrainMode> ParseDrainMode(std::string_view s);
std::optional<IngressOwner> ParseIngressOwner(std::string_view s);
std::optional<RunOutcome> ParseRunOutcome(std::string_view s);
std::optional<DrainExitReason> ParseDrainExitReason(std::string_view s);

// ---------------------------------------------------------------------------------------------
// State: one record per session (SPEC §2.2). Default-constructed == the initial state.

struct State {
  Phase phase = Phase::kInitializing;
  std::optional<std::string> session_id;
  std::optional<std::string> runtime_id;
  std::optional<std::string> epoch_id;
  std::optional<uint64_t> fence_token;
  std::optional<uint64_t> generation;
  std::optional<std::string> current_run_id;
  std::optional<Phase> pre_run_phase;  // only Idle, Attached or Retired
  bool stop_deferred = false;
  RegistrationPhase registration_phase = RegistrationPhase::kQueuing;
  bool unregister_runtime_loop_pending = false;
  bool unregister_comms_drain_pending = false;
  bool unregister_waiters_pending = false;
  bool unregister_retains_snapshot = false;
  bool runtime_loop_forced_abort = false;
  bool comms_drain_forced_abort = false;
  DrainPhase drain_phase = DrainPhase::kInactive;
  std::optional<DrainMode> drain_mode;  // never cleared once set
  IngressOwner ingress_owner = IngressOwner::kUnattached;
  std::optional<std::string> ingress_transport_id;
  std::optional<std::string> ingress_mob_id;
  bool keep_alive = false;  // Burrow addition: last peer-ingress keep-alive intent

  friend bool operator==(const State&, const State&) = default;
};

// ---------------------------------------------------------------------------------------------
// Inputs (SPEC §2.3), one struct per kind. The order of the Input variant's alternatives *is*
// InputKind's numbering: append new kinds at the end.

// The binding a caller observed; BeginUnregisterSession and UnregisterSession require it to
// equal the state's binding field for field (an absent field matches only an absent field).
struct BindingObservation {
  std::optional<std::string> runtime_id;
  std::optional<uint64_t> fence_token;
  std::optional<uint64_t> generation;
  std::optional<std::string> epoch_id;
  friend bool operator==(const BindingObservation&, const BindingObservation&) = default;
};

struct Initialize {
  friend bool operator==(const Initialize&, const Initialize&) = default;
};
struct RegisterSession {
  std::string session_id;
  friend bool operator==(const RegisterSession&, const RegisterSession&) = default;
};
struct PrepareBindings {
  std::string session_id;
  std::string runtime_id;
  uint64_t fence_token = 0;
  std::optional<uint64_t> generation;
  std::optional<std::string> epoch_id;
  friend bool operator==(const PrepareBindings&, const PrepareBindings&) = default;
};
struct EnsureSessionWithExecutor {
  std::string session_id;
  friend bool operator==(const EnsureSessionWithExecutor&,
                         const EnsureSessionWithExecutor&) = default;
};
struct StartRun {
  std::string run_id;
  friend bool operator==(const StartRun&, const StartRun&) = default;
};
struct FinishRun {
  std::string run_id;
  RunOutcome outcome = RunOutcome::kCommitted;
  friend bool operator==(const FinishRun&, const FinishRun&) = default;
};
struct Retire {
  friend bool operator==(const Retire&, const Retire&) = default;
};
struct Reset {
  friend bool operator==(const Reset&, const Reset&) = default;
};
struct StopRuntimeExecutor {
  std::string reason;
  friend bool operator==(const StopRuntimeExecutor&, const StopRuntimeExecutor&) = default;
};
struct RuntimeExecutorExited {
  friend bool operator==(const RuntimeExecutorExited&, const RuntimeExecutorExited&) = default;
};
struct Destroy {
  friend bool operator==(const Destroy&, const Destroy&) = default;
};
struct BeginUnregisterSession {
  std::string session_id;
  BindingObservation binding;
  friend bool operator==(const BeginUnregisterSession&, const BeginUnregisterSession&) = default;
};
struct RuntimeLoopStoppedForUnregister {
  std::string session_id;
  bool forced_abort = false;
  friend bool operator==(const RuntimeLoopStoppedForUnregister&,
                         const RuntimeLoopStoppedForUnregister&) = default;
};
struct CommsDrainExitedForUnregister {
  std::string session_id;
  bool forced_abort = false;
  friend bool operator==(const CommsDrainExitedForUnregister&,
                         const CommsDrainExitedForUnregister&) = default;
};
struct CompletionWaitersResolvedForUnregister {
  std::string session_id;
  friend bool operator==(const CompletionWaitersResolvedForUnregister&,
                         const CompletionWaitersResolvedForUnregister&) = default;
};
struct UnregisterSession {
  std::string session_id;
  BindingObservation binding;
  friend bool operator==(const UnregisterSession&, const UnregisterSession&) = default;
};
struct SetPeerIngressContext {
  bool keep_alive = false;
  friend bool operator==(const SetPeerIngressContext&, const SetPeerIngressContext&) = default;
};
struct AttachSessionIngress {
  std::string transport_id;
  friend bool operator==(const AttachSessionIngress&, const AttachSessionIngress&) = default;
};
struct AttachMobIngress {
  std::string transport_id;
  std::string mob_id;
  friend bool operator==(const AttachMobIngress&, const AttachMobIngress&) = default;
};
struct DetachIngress {
  friend bool operator==(const DetachIngress&, const DetachIngress&) = default;
};
struct SpawnDrain {
  DrainMode mode = DrainMode::kPersistentHost;
  friend bool operator==(const SpawnDrain&, const SpawnDrain&) = default;
};
struct StopDrain {
  friend bool operator==(const StopDrain&, const StopDrain&) = default;
};
struct NotifyDrainExited {
  DrainExitReason reason = DrainExitReason::kFailed;
  friend bool operator==(const NotifyDrainExited&, const NotifyDrainExited&) = default;
};

using Input =
    std::variant<Initialize, RegisterSession, PrepareBindings, EnsureSessionWithExecutor, StartRun,
                 FinishRun, Retire, Reset, StopRuntimeExecutor, RuntimeExecutorExited, Destroy,
                 BeginUnregisterSession, RuntimeLoopStoppedForUnregister,
                 CommsDrainExitedForUnregister, CompletionWaitersResolvedForUnregister,
                 UnregisterSession, SetPeerIngressContext, AttachSessionIngress, AttachMobIngress,
                 DetachIngress, SpawnDrain, StopDrain, NotifyDrainExited>;

// Numbered as the Input variant's alternatives.
enum class InputKind : uint8_t {
  kInitialize = 0,
  kRegisterSession,
  kPrepareBindings,
  kEnsureSessionWithExecutor,
  kStartRun,
  kFinishRun,
  kRetire,
  kReset,
  kStopRuntimeExecutor,
  kRuntimeExecutorExited,
  kDestroy,
  kBeginUnregisterSession,
  kRuntimeLoopStoppedForUnregister,
  kCommsDrainExitedForUnregister,
  kCompletionWaitersResolvedForUnregister,
  kUnregisterSession,
  kSetPeerIngressContext,
  kAttachSessionIngress,
  kAttachMobIngress,
  kDetachIngress,
  kSpawnDrain,
  kStopDrain,
  kNotifyDrainExited,
};
inline constexpr int kInputKindCount = static_cast<int>(std::variant_size_v<Input>);

inline InputKind KindOf(const Input& input) { return static_cast<InputKind>(input.index()); }
// "RegisterSession", ... as in SPEC §2.3.
std::string_view Name(InputKind kind);
std::optional<InputKind> ParseInputKind(std::string_view s);

// ---------------------------------------------------------------------------------------------
// Effects: what an accepted transition asks the host to realise, after the record is durable.

enum class Effect : uint8_t {
  kRuntimeBound = 0,
  kRunStarted,
  kRunFinished,
  kRuntimeRetired,
  kStopRuntime,
  kRuntimeDestroyed,
  kStopDrainTask,
  kRequestRuntimeLoopStop,
  kRequestCommsDrainExit,
  kRequestWaiterResolution,
  kSpawnDrainTask,
};
inline constexpr int kEffectCount = 11;
// "RuntimeBound", ... as in SPEC §2.3.
std::string_view Name(Effect effect);
std::optional<Effect> ParseEffect(std::string_view s);

}  // namespace burrow::machine
