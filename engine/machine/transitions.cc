// The transition table of the session authority machine (SPEC.md §2.3), as data.
//
// Every declaration of §2.3 appears here once, in the order SPEC lists them. Where SPEC gives
// one input different targets, updates or guards in different phases, the input has one
// declaration per case. Where SPEC calls a case an "accepted no-op", that case is its own
// declaration, with its own guard, ordered before the general declaration of the same input:
// dispatch is first match in declaration order (SPEC §2.1), so a general declaration only ever
// sees what the declarations above it did not take.
//
// Guards, updates and effects are plain functions of (state, input). Updates write into `next`,
// a copy of the pre-state, and read the pre-state only through `pre`.
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/check.h"
#include "engine/machine/machine.h"

namespace burrow::machine {
namespace {

// ---------------------------------------------------------------------------------------------
// Input access

// Dispatch selects declarations by input kind, so a guard or update only ever sees the
// alternative its declaration names; anything else is a bug in the table.
template <typename T>
const T& As(const Input& input) {
  const T* typed = std::get_if<T>(&input);
  BURROW_CHECK(typed != nullptr, "transition function applied to input {}", Name(KindOf(input)));
  return *typed;
}

// The session id an input names (RegisterSession, BeginUnregisterSession, ...).
std::string_view NamedSession(const Input& input) {
  const std::string* id = std::visit(
      [](const auto& typed) -> const std::string* {
        if constexpr (requires { typed.session_id; }) {
          return &typed.session_id;
        } else {
          return nullptr;
        }
      },
      input);
  BURROW_CHECK(id != nullptr, "input {} names no session", Name(KindOf(input)));
  return *id;
}

// The binding a BeginUnregisterSession or UnregisterSession observed.
const BindingObservation& ObservedBinding(const Input& input) {
  if (const auto* begin = std::get_if<BeginUnregisterSession>(&input)) return begin->binding;
  return As<UnregisterSession>(input).binding;
}

constexpr PhaseMask Phases(std::initializer_list<Phase> phases) {
  PhaseMask mask = 0;
  for (Phase p : phases) mask |= PhaseBit(p);
  return mask;
}

// R5 in SPEC: the phases in which a registered session lives.
constexpr PhaseMask kR5 =
    Phases({Phase::kIdle, Phase::kAttached, Phase::kRunning, Phase::kRetired, Phase::kStopped});

// ---------------------------------------------------------------------------------------------
// Guards

bool SameSessionBound(const State& s, const Input& in) {
  return s.session_id == As<RegisterSession>(in).session_id;
}
bool SessionMatches(const State& s, const Input& in) { return s.session_id == NamedSession(in); }
bool SessionRegistered(const State& s, const Input&) { return s.session_id.has_value(); }
bool NoSessionBound(const State& s, const Input&) { return !s.session_id.has_value(); }

bool BindingIsCurrent(const State& s, const Input& in) {
  const auto& p = As<PrepareBindings>(in);
  return s.runtime_id == p.runtime_id && s.fence_token == p.fence_token &&
         s.generation == p.generation && s.epoch_id == p.epoch_id;
}
// Each binding field of the state is unset or equal to the payload's (an absent payload
// generation or epoch equals only an unset one).
bool BindingFieldsUnsetOrEqual(const State& s, const Input& in) {
  const auto& p = As<PrepareBindings>(in);
  return (!s.runtime_id || *s.runtime_id == p.runtime_id) &&
         (!s.fence_token || *s.fence_token == p.fence_token) &&
         (!s.generation || s.generation == p.generation) &&
         (!s.epoch_id || s.epoch_id == p.epoch_id);
}
bool GenerationOrEpochPresent(const State&, const Input& in) {
  const auto& p = As<PrepareBindings>(in);
  return p.generation.has_value() || p.epoch_id.has_value();
}
bool BindingMatches(const State& s, const Input& in) {
  const BindingObservation& b = ObservedBinding(in);
  return s.runtime_id == b.runtime_id && s.fence_token == b.fence_token &&
         s.generation == b.generation && s.epoch_id == b.epoch_id;
}
bool RuntimeBound(const State& s, const Input&) { return s.runtime_id.has_value(); }

bool NotDraining(const State& s, const Input&) {
  return s.registration_phase != RegistrationPhase::kDraining;
}
bool IsDraining(const State& s, const Input&) {
  return s.registration_phase == RegistrationPhase::kDraining;
}
bool RuntimeLoopPending(const State& s, const Input&) { return s.unregister_runtime_loop_pending; }
bool CommsDrainPending(const State& s, const Input&) { return s.unregister_comms_drain_pending; }
bool WaitersPending(const State& s, const Input&) { return s.unregister_waiters_pending; }
bool UnregisterObligationsClosed(const State& s, const Input&) {
  return !s.unregister_runtime_loop_pending && !s.unregister_comms_drain_pending &&
         !s.unregister_waiters_pending;
}

bool NoCurrentRun(const State& s, const Input&) { return !s.current_run_id.has_value(); }
bool RunIdMatches(const State& s, const Input& in) {
  return s.current_run_id == As<FinishRun>(in).run_id;
}

bool OwnerAllowsSessionAttach(const State& s, const Input& in) {
  const auto& a = As<AttachSessionIngress>(in);
  return s.ingress_owner == IngressOwner::kUnattached ||
         (s.ingress_owner == IngressOwner::kSessionOwned &&
          s.ingress_transport_id == a.transport_id);
}
bool OwnerAllowsMobAttach(const State& s, const Input& in) {
  const auto& a = As<AttachMobIngress>(in);
  switch (s.ingress_owner) {
    case IngressOwner::kUnattached:
    case IngressOwner::kSessionOwned:  // promotion, from any transport
      return true;
    case IngressOwner::kMobOwned:
      return s.ingress_transport_id == a.transport_id && s.ingress_mob_id == a.mob_id;
  }
  return false;
}
bool IngressUnattached(const State& s, const Input&) {
  return s.ingress_owner == IngressOwner::kUnattached;
}

bool DrainCanSpawn(const State& s, const Input&) {
  return s.drain_phase == DrainPhase::kInactive || s.drain_phase == DrainPhase::kStopped ||
         s.drain_phase == DrainPhase::kExitedRespawnable;
}
bool DrainIsRunningOrRespawnable(const State& s, const Input&) {
  return s.drain_phase == DrainPhase::kRunning || s.drain_phase == DrainPhase::kExitedRespawnable;
}
bool DrainNotRunning(const State& s, const Input&) { return s.drain_phase != DrainPhase::kRunning; }

constexpr Guard kSameSessionBound{"same_session_bound", &SameSessionBound,
                                  "the input's session_id is the bound one"};
constexpr Guard kSessionMatches{"session_matches", &SessionMatches,
                                "a session is bound and it is the input's session_id"};
constexpr Guard kSessionRegistered{"session_registered", &SessionRegistered, "a session is bound"};
constexpr Guard kNoSessionBound{"no_session_bound", &NoSessionBound, "no session is bound"};
constexpr Guard kBindingIsCurrent{
    "binding_is_current", &BindingIsCurrent,
    "runtime_id, fence_token, generation and epoch_id all equal the payload's"};
constexpr Guard kBindingFieldsUnsetOrEqual{
    "binding_fields_unset_or_equal", &BindingFieldsUnsetOrEqual,
    "each of runtime_id, fence_token, generation, epoch_id is unset or equal to the payload's"};
constexpr Guard kGenerationOrEpochPresent{"generation_or_epoch_present", &GenerationOrEpochPresent,
                                          "the payload carries a generation or an epoch_id"};
constexpr Guard kBindingMatches{
    "binding_matches", &BindingMatches,
    "the observed runtime_id, fence_token, generation and epoch_id equal the state's"};
constexpr Guard kRuntimeBound{"runtime_bound", &RuntimeBound, "runtime_id is set"};
constexpr Guard kNotDraining{"not_draining", &NotDraining, "registration_phase is not Draining"};
constexpr Guard kIsDraining{"is_draining", &IsDraining, "registration_phase is Draining"};
constexpr Guard kRuntimeLoopPending{"runtime_loop_pending", &RuntimeLoopPending,
                                    "unregister_runtime_loop_pending"};
constexpr Guard kCommsDrainPending{"comms_drain_pending", &CommsDrainPending,
                                   "unregister_comms_drain_pending"};
constexpr Guard kWaitersPending{"waiters_pending", &WaitersPending, "unregister_waiters_pending"};
constexpr Guard kUnregisterObligationsClosed{"unregister_obligations_closed",
                                             &UnregisterObligationsClosed,
                                             "none of the three unregister_*_pending is set"};
constexpr Guard kNoCurrentRun{"no_current_run", &NoCurrentRun, "current_run_id is unset"};
constexpr Guard kRunIdMatches{"run_id_matches", &RunIdMatches,
                              "current_run_id is the input's run_id"};
constexpr Guard kOwnerAllowsSessionAttach{
    "owner_allows_session_attach", &OwnerAllowsSessionAttach,
    "ingress is Unattached, or SessionOwned by the input's transport"};
constexpr Guard kOwnerAllowsMobAttach{
    "owner_allows_mob_attach", &OwnerAllowsMobAttach,
    "ingress is Unattached, SessionOwned (any transport), or MobOwned by the input's transport "
    "and mob"};
constexpr Guard kIngressUnattached{"ingress_unattached", &IngressUnattached,
                                   "ingress_owner is Unattached"};
constexpr Guard kDrainCanSpawn{"drain_can_spawn", &DrainCanSpawn,
                               "drain_phase is Inactive, Stopped or ExitedRespawnable"};
constexpr Guard kDrainIsRunningOrRespawnable{"drain_is_running_or_respawnable",
                                             &DrainIsRunningOrRespawnable,
                                             "drain_phase is Running or ExitedRespawnable"};
constexpr Guard kDrainNotRunning{"drain_not_running", &DrainNotRunning,
                                 "drain_phase is not Running"};

// ---------------------------------------------------------------------------------------------
// Updates

// "Run facts": the run in progress and the phase to return to when it finishes. The
// invariants keep the two set together.
void ClearRunFacts(State& next) {
  next.current_run_id.reset();
  next.pre_run_phase.reset();
}

void NoUpdate(const State&, const Input&, State&) {}

void BindSession(const State&, const Input& in, State& next) {
  next.session_id = As<RegisterSession>(in).session_id;
}

// The guards have established that every set field already equals the payload, so copying the
// payload only fills in what was unset.
void SetBinding(const State&, const Input& in, State& next) {
  const auto& p = As<PrepareBindings>(in);
  next.runtime_id = p.runtime_id;
  next.fence_token = p.fence_token;
  next.generation = p.generation;
  next.epoch_id = p.epoch_id;
}

void ActivateRegistration(const State&, const Input&, State& next) {
  next.registration_phase = RegistrationPhase::kActive;
}
void ActivateRegistrationClearingStopDeferred(const State&, const Input&, State& next) {
  next.registration_phase = RegistrationPhase::kActive;
  next.stop_deferred = false;
}

void BeginRun(const State& pre, const Input& in, State& next) {
  next.current_run_id = As<StartRun>(in).run_id;
  next.pre_run_phase = pre.phase;
}
// Back in Attached the executor is still there, so a deferred stop stays deferred.
void FinishRunFromRunningUpdate(const State& pre, const Input&, State& next) {
  ClearRunFacts(next);
  if (pre.pre_run_phase != Phase::kAttached) next.stop_deferred = false;
}
void FinishRunWhileRetiredUpdate(const State&, const Input&, State& next) {
  ClearRunFacts(next);
  next.stop_deferred = false;
}

void ClearStopDeferred(const State&, const Input&, State& next) { next.stop_deferred = false; }

void ResetUpdate(const State&, const Input&, State& next) {
  ClearRunFacts(next);
  next.fence_token.reset();
  next.stop_deferred = false;
}

void DeferStop(const State&, const Input&, State& next) { next.stop_deferred = true; }
void DeferStopWhileARunIsBound(const State& pre, const Input&, State& next) {
  next.stop_deferred = pre.current_run_id.has_value();
}
void ClearRunFactsUpdate(const State&, const Input&, State& next) { ClearRunFacts(next); }

void ExecutorExitedUpdate(const State& pre, const Input&, State& next) {
  ClearRunFacts(next);
  next.stop_deferred = false;
  if (pre.registration_phase != RegistrationPhase::kDraining) {
    next.registration_phase = RegistrationPhase::kQueuing;
  }
}

// Forced flags are kept as history; a live drain is stopped (Burrow decision, SPEC §7.3).
void DestroyUpdate(const State& pre, const Input&, State& next) {
  ClearRunFacts(next);
  next.stop_deferred = false;
  next.unregister_runtime_loop_pending = false;
  next.unregister_comms_drain_pending = false;
  next.unregister_waiters_pending = false;
  next.unregister_retains_snapshot = false;
  next.registration_phase = RegistrationPhase::kQueuing;
  if (pre.drain_phase == DrainPhase::kRunning ||
      pre.drain_phase == DrainPhase::kExitedRespawnable) {
    next.drain_phase = DrainPhase::kStopped;
  }
}

void OpenUnregisterObligations(State& next, bool retains_snapshot) {
  next.registration_phase = RegistrationPhase::kDraining;
  next.unregister_runtime_loop_pending = true;
  next.unregister_comms_drain_pending = true;
  next.unregister_waiters_pending = true;
  next.runtime_loop_forced_abort = false;
  next.comms_drain_forced_abort = false;
  next.unregister_retains_snapshot = retains_snapshot;
}
void BeginUnregisterUpdate(const State&, const Input&, State& next) {
  OpenUnregisterObligations(next, /*retains_snapshot=*/false);
}
void BeginUnregisterRetainingSnapshotUpdate(const State&, const Input&, State& next) {
  OpenUnregisterObligations(next, /*retains_snapshot=*/true);
}
void CloseRuntimeLoopObligation(const State&, const Input& in, State& next) {
  next.unregister_runtime_loop_pending = false;
  next.runtime_loop_forced_abort = As<RuntimeLoopStoppedForUnregister>(in).forced_abort;
}
void CloseCommsDrainObligation(const State& pre, const Input& in, State& next) {
  next.unregister_comms_drain_pending = false;
  next.comms_drain_forced_abort = As<CommsDrainExitedForUnregister>(in).forced_abort;
  if (pre.drain_phase == DrainPhase::kRunning) next.drain_phase = DrainPhase::kStopped;
}
void CloseWaitersObligation(const State&, const Input&, State& next) {
  next.unregister_waiters_pending = false;
}
// Drain, ingress and keep_alive survive: the host removes the session right after.
void UnregisterUpdate(const State&, const Input&, State& next) {
  next.session_id.reset();
  next.runtime_id.reset();
  next.epoch_id.reset();
  next.fence_token.reset();
  next.generation.reset();
  ClearRunFacts(next);
  next.stop_deferred = false;
  next.unregister_retains_snapshot = false;
  next.registration_phase = RegistrationPhase::kQueuing;
}

void RecordKeepAlive(const State&, const Input& in, State& next) {
  next.keep_alive = As<SetPeerIngressContext>(in).keep_alive;
}
void AttachSessionOwner(const State&, const Input& in, State& next) {
  next.ingress_owner = IngressOwner::kSessionOwned;
  next.ingress_transport_id = As<AttachSessionIngress>(in).transport_id;
  next.ingress_mob_id.reset();
}
void AttachMobOwner(const State&, const Input& in, State& next) {
  const auto& a = As<AttachMobIngress>(in);
  next.ingress_owner = IngressOwner::kMobOwned;
  next.ingress_transport_id = a.transport_id;
  next.ingress_mob_id = a.mob_id;
}
void DetachOwner(const State&, const Input&, State& next) {
  next.ingress_owner = IngressOwner::kUnattached;
  next.ingress_transport_id.reset();
  next.ingress_mob_id.reset();
}

void SpawnDrainUpdate(const State&, const Input& in, State& next) {
  next.drain_phase = DrainPhase::kRunning;
  next.drain_mode = As<SpawnDrain>(in).mode;
}
void StopDrainUpdate(const State&, const Input&, State& next) {
  next.drain_phase = DrainPhase::kStopped;
}
// Only a Running drain reaches this: NotifyDrainExitedWhileDrainNotRunning takes the rest.
void DrainExitedUpdate(const State& pre, const Input& in, State& next) {
  const bool respawnable = pre.drain_mode == DrainMode::kPersistentHost &&
                           As<NotifyDrainExited>(in).reason == DrainExitReason::kFailed;
  next.drain_phase = respawnable ? DrainPhase::kExitedRespawnable : DrainPhase::kStopped;
}

// ---------------------------------------------------------------------------------------------
// Effects

void NoEffects(const State&, const State&, std::vector<Effect>&) {}

template <Effect... kEffects>
void Emit(const State&, const State&, std::vector<Effect>& out) {
  (out.push_back(kEffects), ...);
}

void RetireEffects(const State& pre, const State&, std::vector<Effect>& out) {
  if (pre.runtime_id.has_value()) out.push_back(Effect::kRuntimeRetired);
}
void DestroyEffects(const State& pre, const State&, std::vector<Effect>& out) {
  out.push_back(Effect::kRuntimeDestroyed);
  if (pre.drain_phase == DrainPhase::kRunning) out.push_back(Effect::kStopDrainTask);
}

// ---------------------------------------------------------------------------------------------
// The table

std::vector<Transition> BuildTable() {
  constexpr PhaseMask kIdle = PhaseBit(Phase::kIdle);
  constexpr PhaseMask kAttached = PhaseBit(Phase::kAttached);
  constexpr PhaseMask kRunning = PhaseBit(Phase::kRunning);
  constexpr PhaseMask kRetired = PhaseBit(Phase::kRetired);
  constexpr PhaseMask kInitializing = PhaseBit(Phase::kInitializing);
  constexpr PhaseMask kRetiredOrStopped = Phases({Phase::kRetired, Phase::kStopped});
  constexpr PhaseMask kLive = Phases({Phase::kIdle, Phase::kAttached, Phase::kRunning});

  constexpr std::string_view kDestroyUpdateSummary =
      "clear current_run_id, pre_run_phase, stop_deferred, the three unregister_*_pending and "
      "unregister_retains_snapshot; registration_phase := Queuing; drain_phase Running or "
      "ExitedRespawnable := Stopped";
  constexpr std::string_view kExecutorExitedUpdateSummary =
      "clear current_run_id, pre_run_phase, stop_deferred; registration_phase := Queuing "
      "unless Draining";

  return {
      // -- Lifecycle ---------------------------------------------------------------------------
      {
          .name = "Initialize",
          .input = InputKind::kInitialize,
          .phases = kInitializing,
          .guards = {},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kIdle,
          .target_summary = "Idle",
          .update_summary = "",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "RegisterSessionIdempotent",
          .input = InputKind::kRegisterSession,
          .phases = kR5,
          .guards = {kSameSessionBound},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "accepted no-op",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "RegisterSession",
          .input = InputKind::kRegisterSession,
          .phases = kR5,
          .guards = {},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "session_id := session_id",
          .declared_effects = {},
          .effects_summary = "",
          .update = &BindSession,
          .effects = &NoEffects,
      },
      {
          .name = "PrepareBindingsUnchanged",
          .input = InputKind::kPrepareBindings,
          .phases = static_cast<PhaseMask>(kR5 | kInitializing),
          .guards = {kSessionMatches, kBindingIsCurrent},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "accepted no-op",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "PrepareBindingsFromIdle",
          .input = InputKind::kPrepareBindings,
          .phases = kIdle,
          .guards = {kSessionMatches, kBindingFieldsUnsetOrEqual, kGenerationOrEpochPresent},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kAttached,
          .target_summary = "Attached",
          .update_summary = "runtime_id, fence_token, generation, epoch_id := payload",
          .declared_effects = {Effect::kRuntimeBound},
          .effects_summary = "RuntimeBound",
          .update = &SetBinding,
          .effects = &Emit<Effect::kRuntimeBound>,
      },
      {
          .name = "PrepareBindings",
          .input = InputKind::kPrepareBindings,
          .phases = Phases({Phase::kInitializing, Phase::kAttached, Phase::kRunning,
                            Phase::kRetired, Phase::kStopped}),
          .guards = {kSessionMatches, kBindingFieldsUnsetOrEqual, kGenerationOrEpochPresent},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "runtime_id, fence_token, generation, epoch_id := payload",
          .declared_effects = {Effect::kRuntimeBound},
          .effects_summary = "RuntimeBound",
          .update = &SetBinding,
          .effects = &Emit<Effect::kRuntimeBound>,
      },
      {
          .name = "EnsureSessionWithExecutorFromIdle",
          .input = InputKind::kEnsureSessionWithExecutor,
          .phases = kIdle,
          .guards = {kSessionMatches, kNotDraining},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kAttached,
          .target_summary = "Attached",
          .update_summary = "registration_phase := Active",
          .declared_effects = {},
          .effects_summary = "",
          .update = &ActivateRegistration,
          .effects = &NoEffects,
      },
      {
          .name = "EnsureSessionWithExecutorWhileAttached",
          .input = InputKind::kEnsureSessionWithExecutor,
          .phases = kAttached,
          .guards = {kSessionMatches, kNotDraining},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "registration_phase := Active; stop_deferred := false",
          .declared_effects = {},
          .effects_summary = "",
          .update = &ActivateRegistrationClearingStopDeferred,
          .effects = &NoEffects,
      },
      {
          .name = "EnsureSessionWithExecutorWhileRunning",
          .input = InputKind::kEnsureSessionWithExecutor,
          .phases = kRunning,
          .guards = {kSessionMatches, kNotDraining},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "registration_phase := Active",
          .declared_effects = {},
          .effects_summary = "",
          .update = &ActivateRegistration,
          .effects = &NoEffects,
      },
      {
          .name = "EnsureSessionWithExecutorWhileRetiredOrStopped",
          .input = InputKind::kEnsureSessionWithExecutor,
          .phases = kRetiredOrStopped,
          .guards = {kSessionMatches},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "StartRun",
          .input = InputKind::kStartRun,
          .phases = Phases({Phase::kIdle, Phase::kAttached, Phase::kRetired}),
          .guards = {kSessionRegistered, kNoCurrentRun},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kRunning,
          .target_summary = "Running",
          .update_summary = "current_run_id := run_id; pre_run_phase := source phase",
          .declared_effects = {Effect::kRunStarted},
          .effects_summary = "RunStarted",
          .update = &BeginRun,
          .effects = &Emit<Effect::kRunStarted>,
      },
      {
          .name = "FinishRunFromRunning",
          .input = InputKind::kFinishRun,
          .phases = kRunning,
          .guards = {kRunIdMatches},
          .target_rule = TargetRule::kPreRun,
          .target_summary = "pre_run_phase",
          .update_summary =
              "clear current_run_id, pre_run_phase; stop_deferred := false unless the target "
              "is Attached",
          .declared_effects = {Effect::kRunFinished},
          .effects_summary = "RunFinished",
          .update = &FinishRunFromRunningUpdate,
          .effects = &Emit<Effect::kRunFinished>,
      },
      {
          .name = "FinishRunWhileRetired",
          .input = InputKind::kFinishRun,
          .phases = kRetired,
          .guards = {kRunIdMatches},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "clear current_run_id, pre_run_phase, stop_deferred",
          .declared_effects = {Effect::kRunFinished},
          .effects_summary = "RunFinished",
          .update = &FinishRunWhileRetiredUpdate,
          .effects = &Emit<Effect::kRunFinished>,
      },
      {
          .name = "Retire",
          .input = InputKind::kRetire,
          .phases = static_cast<PhaseMask>(kLive | kRetired),
          .guards = {},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kRetired,
          .target_summary = "Retired",
          .update_summary = "stop_deferred := false (a run in progress keeps its run id)",
          .declared_effects = {Effect::kRuntimeRetired},
          .effects_summary = "RuntimeRetired when a runtime is bound",
          .update = &ClearStopDeferred,
          .effects = &RetireEffects,
      },
      {
          .name = "Reset",
          .input = InputKind::kReset,
          .phases = Phases({Phase::kInitializing, Phase::kIdle, Phase::kAttached, Phase::kRetired}),
          .guards = {},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kIdle,
          .target_summary = "Idle",
          .update_summary = "clear current_run_id, pre_run_phase, fence_token, stop_deferred",
          .declared_effects = {},
          .effects_summary = "",
          .update = &ResetUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "StopRuntimeExecutorWhileAttached",
          .input = InputKind::kStopRuntimeExecutor,
          .phases = kAttached,
          .guards = {},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "stop_deferred := true",
          .declared_effects = {Effect::kStopRuntime},
          .effects_summary = "StopRuntime",
          .update = &DeferStop,
          .effects = &Emit<Effect::kStopRuntime>,
      },
      {
          .name = "StopRuntimeExecutorWhileRunning",
          .input = InputKind::kStopRuntimeExecutor,
          .phases = kRunning,
          .guards = {},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "stop_deferred := (current_run_id is set)",
          .declared_effects = {Effect::kStopRuntime},
          .effects_summary = "StopRuntime",
          .update = &DeferStopWhileARunIsBound,
          .effects = &Emit<Effect::kStopRuntime>,
      },
      {
          .name = "StopRuntimeExecutor",
          .input = InputKind::kStopRuntimeExecutor,
          .phases = Phases({Phase::kInitializing, Phase::kIdle, Phase::kRetired}),
          .guards = {},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "clear current_run_id, pre_run_phase",
          .declared_effects = {Effect::kStopRuntime},
          .effects_summary = "StopRuntime",
          .update = &ClearRunFactsUpdate,
          .effects = &Emit<Effect::kStopRuntime>,
      },
      {
          .name = "RuntimeExecutorExited",
          .input = InputKind::kRuntimeExecutorExited,
          .phases = static_cast<PhaseMask>(kLive | PhaseBit(Phase::kStopped)),
          .guards = {},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kStopped,
          .target_summary = "Stopped",
          .update_summary = kExecutorExitedUpdateSummary,
          .declared_effects = {},
          .effects_summary = "",
          .update = &ExecutorExitedUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "RuntimeExecutorExitedWhileRetired",
          .input = InputKind::kRuntimeExecutorExited,
          .phases = kRetired,
          .guards = {},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = kExecutorExitedUpdateSummary,
          .declared_effects = {},
          .effects_summary = "",
          .update = &ExecutorExitedUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "Destroy",
          .input = InputKind::kDestroy,
          .phases = kR5,
          .guards = {},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kDestroyed,
          .target_summary = "Destroyed",
          .update_summary = kDestroyUpdateSummary,
          .declared_effects = {Effect::kRuntimeDestroyed, Effect::kStopDrainTask},
          .effects_summary = "RuntimeDestroyed; StopDrainTask when the drain was Running",
          .update = &DestroyUpdate,
          .effects = &DestroyEffects,
      },
      {
          .name = "DestroyWhileInitializing",
          .input = InputKind::kDestroy,
          .phases = kInitializing,
          .guards = {kRuntimeBound},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kDestroyed,
          .target_summary = "Destroyed",
          .update_summary = kDestroyUpdateSummary,
          .declared_effects = {Effect::kRuntimeDestroyed, Effect::kStopDrainTask},
          .effects_summary = "RuntimeDestroyed; StopDrainTask when the drain was Running",
          .update = &DestroyUpdate,
          .effects = &DestroyEffects,
      },

      // -- Two-phase unregister ----------------------------------------------------------------
      {
          .name = "BeginUnregisterSession",
          .input = InputKind::kBeginUnregisterSession,
          .phases = kLive,
          .guards = {kSessionMatches, kBindingMatches, kNotDraining},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary =
              "registration_phase := Draining; the three unregister_*_pending := true; both "
              "forced flags := false; unregister_retains_snapshot := false",
          .declared_effects = {Effect::kRequestRuntimeLoopStop, Effect::kRequestCommsDrainExit,
                               Effect::kRequestWaiterResolution},
          .effects_summary = "RequestRuntimeLoopStop, RequestCommsDrainExit, "
                             "RequestWaiterResolution",
          .update = &BeginUnregisterUpdate,
          .effects = &Emit<Effect::kRequestRuntimeLoopStop, Effect::kRequestCommsDrainExit,
                           Effect::kRequestWaiterResolution>,
      },
      {
          .name = "BeginUnregisterSessionRetainingSnapshot",
          .input = InputKind::kBeginUnregisterSession,
          .phases = kRetiredOrStopped,
          .guards = {kSessionMatches, kBindingMatches, kNotDraining},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary =
              "registration_phase := Draining; the three unregister_*_pending := true; both "
              "forced flags := false; unregister_retains_snapshot := true",
          .declared_effects = {Effect::kRequestRuntimeLoopStop, Effect::kRequestCommsDrainExit,
                               Effect::kRequestWaiterResolution},
          .effects_summary = "RequestRuntimeLoopStop, RequestCommsDrainExit, "
                             "RequestWaiterResolution",
          .update = &BeginUnregisterRetainingSnapshotUpdate,
          .effects = &Emit<Effect::kRequestRuntimeLoopStop, Effect::kRequestCommsDrainExit,
                           Effect::kRequestWaiterResolution>,
      },
      {
          .name = "RuntimeLoopStoppedForUnregister",
          .input = InputKind::kRuntimeLoopStoppedForUnregister,
          .phases = kR5,
          .guards = {kSessionMatches, kIsDraining, kRuntimeLoopPending},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary =
              "unregister_runtime_loop_pending := false; runtime_loop_forced_abort := "
              "forced_abort",
          .declared_effects = {},
          .effects_summary = "",
          .update = &CloseRuntimeLoopObligation,
          .effects = &NoEffects,
      },
      {
          .name = "CommsDrainExitedForUnregister",
          .input = InputKind::kCommsDrainExitedForUnregister,
          .phases = kR5,
          .guards = {kSessionMatches, kIsDraining, kCommsDrainPending},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "unregister_comms_drain_pending := false; comms_drain_forced_abort := "
                            "forced_abort; drain_phase Running := Stopped",
          .declared_effects = {},
          .effects_summary = "",
          .update = &CloseCommsDrainObligation,
          .effects = &NoEffects,
      },
      {
          .name = "CompletionWaitersResolvedForUnregister",
          .input = InputKind::kCompletionWaitersResolvedForUnregister,
          .phases = kR5,
          .guards = {kSessionMatches, kIsDraining, kWaitersPending},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "unregister_waiters_pending := false",
          .declared_effects = {},
          .effects_summary = "",
          .update = &CloseWaitersObligation,
          .effects = &NoEffects,
      },
      {
          .name = "UnregisterSession",
          .input = InputKind::kUnregisterSession,
          .phases = kR5,
          .guards = {kSessionMatches, kBindingMatches, kIsDraining, kUnregisterObligationsClosed},
          .target_rule = TargetRule::kFixed,
          .target = Phase::kIdle,
          .target_summary = "Idle",
          .update_summary =
              "clear session_id, runtime_id, epoch_id, fence_token, generation, current_run_id, "
              "pre_run_phase, stop_deferred, unregister_retains_snapshot; registration_phase := "
              "Queuing (drain, ingress and keep_alive are kept)",
          .declared_effects = {},
          .effects_summary = "",
          .update = &UnregisterUpdate,
          .effects = &NoEffects,
      },

      // -- Comms drain and peer ingress --------------------------------------------------------
      {
          .name = "SetPeerIngressContext",
          .input = InputKind::kSetPeerIngressContext,
          .phases = kR5,
          .guards = {kSessionRegistered},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "keep_alive := keep_alive",
          .declared_effects = {},
          .effects_summary = "",
          .update = &RecordKeepAlive,
          .effects = &NoEffects,
      },
      {
          .name = "AttachSessionIngress",
          .input = InputKind::kAttachSessionIngress,
          .phases = kR5,
          .guards = {kSessionRegistered, kOwnerAllowsSessionAttach},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "ingress_owner := SessionOwned; ingress_transport_id := "
                            "transport_id; clear ingress_mob_id",
          .declared_effects = {},
          .effects_summary = "",
          .update = &AttachSessionOwner,
          .effects = &NoEffects,
      },
      {
          .name = "AttachMobIngress",
          .input = InputKind::kAttachMobIngress,
          .phases = kR5,
          .guards = {kSessionRegistered, kOwnerAllowsMobAttach},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "ingress_owner := MobOwned; ingress_transport_id := transport_id; "
                            "ingress_mob_id := mob_id",
          .declared_effects = {},
          .effects_summary = "",
          .update = &AttachMobOwner,
          .effects = &NoEffects,
      },
      {
          .name = "DetachIngressWhenUnattached",
          .input = InputKind::kDetachIngress,
          .phases = kR5,
          .guards = {kSessionRegistered, kIngressUnattached},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "accepted no-op",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "DetachIngress",
          .input = InputKind::kDetachIngress,
          .phases = kR5,
          .guards = {kSessionRegistered},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "ingress_owner := Unattached; clear ingress_transport_id, "
                            "ingress_mob_id",
          .declared_effects = {},
          .effects_summary = "",
          .update = &DetachOwner,
          .effects = &NoEffects,
      },
      {
          .name = "SpawnDrain",
          .input = InputKind::kSpawnDrain,
          .phases = kR5,
          .guards = {kDrainCanSpawn},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "drain_phase := Running; drain_mode := mode",
          .declared_effects = {Effect::kSpawnDrainTask},
          .effects_summary = "SpawnDrainTask",
          .update = &SpawnDrainUpdate,
          .effects = &Emit<Effect::kSpawnDrainTask>,
      },
      {
          .name = "StopDrain",
          .input = InputKind::kStopDrain,
          .phases = kR5,
          .guards = {kDrainIsRunningOrRespawnable},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "drain_phase := Stopped",
          .declared_effects = {},
          .effects_summary = "",
          .update = &StopDrainUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "NotifyDrainExitedWhileDrainNotRunning",
          .input = InputKind::kNotifyDrainExited,
          .phases = kR5,
          .guards = {kSessionRegistered, kDrainNotRunning},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "accepted no-op",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "NotifyDrainExitedAfterUnregister",
          .input = InputKind::kNotifyDrainExited,
          .phases = kIdle,
          .guards = {kNoSessionBound},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "accepted no-op (post-unregister straggler)",
          .declared_effects = {},
          .effects_summary = "",
          .update = &NoUpdate,
          .effects = &NoEffects,
      },
      {
          .name = "NotifyDrainExited",
          .input = InputKind::kNotifyDrainExited,
          .phases = kR5,
          .guards = {kSessionRegistered},
          .target_rule = TargetRule::kSelf,
          .target_summary = "self",
          .update_summary = "drain_phase := ExitedRespawnable if drain_mode is PersistentHost "
                            "and reason is Failed, else Stopped",
          .declared_effects = {},
          .effects_summary = "",
          .update = &DrainExitedUpdate,
          .effects = &NoEffects,
      },
  };
}

}  // namespace

std::span<const Transition> Transitions() {
  static const std::vector<Transition>* const table = new std::vector<Transition>(BuildTable());
  return *table;
}

}  // namespace burrow::machine
