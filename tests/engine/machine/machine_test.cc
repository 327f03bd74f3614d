// Tests of the session authority machine (SPEC.md §2), one declaration at a time.
//
// Every declaration of the table has at least one accepted case (exact target phase, exact
// effects, exact next state) and, for every guard it names, a case in which that guard fails,
// with the exact outcome: the Rejected naming every failing guard, or, where an earlier or later
// declaration of the same input takes the input instead, the declaration that does.
// TableCoverageTest fails when a declaration or a guard of the table has no case here.
#include "engine/machine/machine.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace burrow::machine {

// Readable failure output for states (found by argument-dependent lookup).
void PrintTo(const State& s, std::ostream* os) {
  auto opt = [](const auto& v) -> std::string {
    if (!v.has_value()) return "none";
    if constexpr (std::is_enum_v<std::decay_t<decltype(*v)>>) {
      return std::string(Name(*v));
    } else {
      return fmt::format("{}", *v);
    }
  };
  *os << "{phase " << Name(s.phase) << ", session " << opt(s.session_id) << ", runtime "
      << opt(s.runtime_id) << ", epoch " << opt(s.epoch_id) << ", fence " << opt(s.fence_token)
      << ", generation " << opt(s.generation) << ", run " << opt(s.current_run_id) << ", pre_run "
      << opt(s.pre_run_phase) << ", stop_deferred " << s.stop_deferred << ", registration "
      << Name(s.registration_phase) << ", pending(loop " << s.unregister_runtime_loop_pending
      << ", comms " << s.unregister_comms_drain_pending << ", waiters "
      << s.unregister_waiters_pending << "), retains " << s.unregister_retains_snapshot
      << ", forced(loop " << s.runtime_loop_forced_abort << ", comms " << s.comms_drain_forced_abort
      << "), drain " << Name(s.drain_phase) << "/" << opt(s.drain_mode) << ", ingress "
      << Name(s.ingress_owner) << "(" << opt(s.ingress_transport_id) << ", "
      << opt(s.ingress_mob_id) << "), keep_alive " << s.keep_alive << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// ---------------------------------------------------------------------------------------------
// States and inputs

// A session "s1" registered and living in `phase`; in Running, with run "run1" started from Idle.
State Fresh(Phase phase) {
  State s;
  s.phase = phase;
  s.session_id = "s1";
  if (phase == Phase::kRunning) {
    s.current_run_id = "run1";
    s.pre_run_phase = Phase::kIdle;
  }
  return s;
}

// No session bound (before RegisterSession, or after UnregisterSession).
State Unregistered(Phase phase) {
  State s;
  s.phase = phase;
  return s;
}

// Runtime "r1" bound with fence token 1 and generation 1.
State WithRuntime(State s) {
  s.runtime_id = "r1";
  s.fence_token = 1;
  s.generation = 1;
  return s;
}
const BindingObservation kObservedR1{"r1", 1, 1, std::nullopt};
const BindingObservation kObservedR2{"r2", 1, 1, std::nullopt};

// BeginUnregisterSession accepted: all three obligations open.
State Draining(State s, bool retains_snapshot = false) {
  s.registration_phase = RegistrationPhase::kDraining;
  s.unregister_runtime_loop_pending = true;
  s.unregister_comms_drain_pending = true;
  s.unregister_waiters_pending = true;
  s.unregister_retains_snapshot = retains_snapshot;
  return s;
}
// Draining with every obligation closed: ready for UnregisterSession.
State DrainingClosed(State s, bool retains_snapshot = false) {
  s = Draining(std::move(s), retains_snapshot);
  s.unregister_runtime_loop_pending = false;
  s.unregister_comms_drain_pending = false;
  s.unregister_waiters_pending = false;
  return s;
}

State WithDrain(State s, DrainPhase phase, DrainMode mode = DrainMode::kPersistentHost) {
  s.drain_phase = phase;
  s.drain_mode = mode;
  return s;
}
State SessionOwnedBy(State s, std::string transport) {
  s.ingress_owner = IngressOwner::kSessionOwned;
  s.ingress_transport_id = std::move(transport);
  s.ingress_mob_id.reset();
  return s;
}
State MobOwnedBy(State s, std::string transport, std::string mob) {
  s.ingress_owner = IngressOwner::kMobOwned;
  s.ingress_transport_id = std::move(transport);
  s.ingress_mob_id = std::move(mob);
  return s;
}
State WithRun(State s, std::string run, Phase pre_run_phase) {
  s.current_run_id = std::move(run);
  s.pre_run_phase = pre_run_phase;
  return s;
}
State With(State s, const std::function<void(State&)>& change) {
  change(s);
  return s;
}

PrepareBindings Bind(std::string session, std::string runtime, uint64_t fence,
                     std::optional<uint64_t> generation,
                     std::optional<std::string> epoch = std::nullopt) {
  return {std::move(session), std::move(runtime), fence, generation, std::move(epoch)};
}

const Transition* Find(std::string_view name) {
  for (const Transition& t : Transitions()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Accepted cases: one or more per declaration.

struct AcceptCase {
  std::string name;  // "<transition>_<what>": the test's name
  std::string_view transition;
  State pre;
  Input input;
  State next;
  std::vector<Effect> effects;
};

void PrintTo(const AcceptCase& c, std::ostream* os) { *os << c.name; }

AcceptCase Accept(std::string_view transition, std::string_view what, State pre, Input input,
                  const std::function<void(State&)>& change, std::vector<Effect> effects = {}) {
  State next = pre;
  change(next);
  return {fmt::format("{}_{}", transition, what),
          transition,
          std::move(pre),
          std::move(input),
          std::move(next),
          std::move(effects)};
}
void Unchanged(State&) {}

std::vector<AcceptCase> AcceptCases() {
  using E = Effect;
  using P = Phase;
  const std::vector<Effect> kUnregisterRequests = {
      E::kRequestRuntimeLoopStop, E::kRequestCommsDrainExit, E::kRequestWaiterResolution};
  return {
      // Lifecycle
      Accept("Initialize", "MovesToIdle", State{}, Initialize{},
             [](State& s) { s.phase = P::kIdle; }),
      Accept("RegisterSessionIdempotent", "SameIdInAttached", Fresh(P::kAttached),
             RegisterSession{"s1"}, Unchanged),
      Accept("RegisterSession", "BindsTheFirstId", Unregistered(P::kIdle), RegisterSession{"s1"},
             [](State& s) { s.session_id = "s1"; }),
      Accept("RegisterSession", "BindsAnotherIdOverTheBoundOne", Fresh(P::kStopped),
             RegisterSession{"s2"}, [](State& s) { s.session_id = "s2"; }),
      Accept("PrepareBindingsUnchanged", "ExactBindingInAttached", WithRuntime(Fresh(P::kAttached)),
             Bind("s1", "r1", 1, 1), Unchanged),
      Accept("PrepareBindingsUnchanged", "ExactBindingInIdleStaysIdle",
             WithRuntime(Fresh(P::kIdle)), Bind("s1", "r1", 1, 1), Unchanged),
      Accept("PrepareBindingsFromIdle", "BindsAndAttaches", Fresh(P::kIdle), Bind("s1", "r1", 1, 1),
             [](State& s) {
               s = WithRuntime(s);
               s.phase = P::kAttached;
             },
             {E::kRuntimeBound}),
      Accept("PrepareBindings", "BindsAnEpochOnlyRuntimeInRunning", Fresh(P::kRunning),
             Bind("s1", "r2", 2, std::nullopt, "e1"),
             [](State& s) {
               s.runtime_id = "r2";
               s.fence_token = 2;
               s.epoch_id = "e1";
             },
             {E::kRuntimeBound}),
      Accept("PrepareBindings", "FillsInAnUnsetEpochInRetired", WithRuntime(Fresh(P::kRetired)),
             Bind("s1", "r1", 1, 1, "e1"), [](State& s) { s.epoch_id = "e1"; }, {E::kRuntimeBound}),
      Accept("PrepareBindings", "SetsAFenceThatResetCleared",
             With(WithRuntime(Fresh(P::kStopped)), [](State& s) { s.fence_token.reset(); }),
             Bind("s1", "r1", 2, 1), [](State& s) { s.fence_token = 2; }, {E::kRuntimeBound}),
      Accept("PrepareBindings", "StaysInInitializing",
             With(State{}, [](State& s) { s.session_id = "s1"; }), Bind("s1", "r1", 1, 1),
             [](State& s) { s = WithRuntime(s); }, {E::kRuntimeBound}),
      Accept("EnsureSessionWithExecutorFromIdle", "ActivatesAndAttaches", Fresh(P::kIdle),
             EnsureSessionWithExecutor{"s1"},
             [](State& s) {
               s.phase = P::kAttached;
               s.registration_phase = RegistrationPhase::kActive;
             }),
      Accept("EnsureSessionWithExecutorWhileAttached", "ActivatesAndClearsStopDeferred",
             With(Fresh(P::kAttached), [](State& s) { s.stop_deferred = true; }),
             EnsureSessionWithExecutor{"s1"},
             [](State& s) {
               s.registration_phase = RegistrationPhase::kActive;
               s.stop_deferred = false;
             }),
      Accept("EnsureSessionWithExecutorWhileRunning", "ActivatesAndKeepsStopDeferred",
             With(Fresh(P::kRunning), [](State& s) { s.stop_deferred = true; }),
             EnsureSessionWithExecutor{"s1"},
             [](State& s) { s.registration_phase = RegistrationPhase::kActive; }),
      Accept("EnsureSessionWithExecutorWhileRetiredOrStopped", "RetiredIsUnchanged",
             Fresh(P::kRetired), EnsureSessionWithExecutor{"s1"}, Unchanged),
      Accept("EnsureSessionWithExecutorWhileRetiredOrStopped", "StoppedIsUnchangedWhileDraining",
             Draining(Fresh(P::kStopped)), EnsureSessionWithExecutor{"s1"}, Unchanged),
      Accept("StartRun", "FromIdle", Fresh(P::kIdle), StartRun{"run2"},
             [](State& s) {
               s = WithRun(s, "run2", P::kIdle);
               s.phase = P::kRunning;
             },
             {E::kRunStarted}),
      Accept("StartRun", "FromAttachedKeepsStopDeferred",
             With(Fresh(P::kAttached), [](State& s) { s.stop_deferred = true; }), StartRun{"run1"},
             [](State& s) {
               s = WithRun(s, "run1", P::kAttached);
               s.phase = P::kRunning;
             },
             {E::kRunStarted}),
      Accept("StartRun", "FromRetired", Fresh(P::kRetired), StartRun{"run1"},
             [](State& s) {
               s = WithRun(s, "run1", P::kRetired);
               s.phase = P::kRunning;
             },
             {E::kRunStarted}),
      Accept("FinishRunFromRunning", "ReturnsToIdleAndClearsStopDeferred",
             With(Fresh(P::kRunning), [](State& s) { s.stop_deferred = true; }),
             FinishRun{"run1", RunOutcome::kCommitted},
             [](State& s) {
               s.phase = P::kIdle;
               s.current_run_id.reset();
               s.pre_run_phase.reset();
               s.stop_deferred = false;
             },
             {E::kRunFinished}),
      Accept("FinishRunFromRunning", "ReturnsToAttachedKeepingStopDeferred",
             With(WithRun(Fresh(P::kRunning), "run1", P::kAttached),
                  [](State& s) { s.stop_deferred = true; }),
             FinishRun{"run1", RunOutcome::kFailed},
             [](State& s) {
               s.phase = P::kAttached;
               s.current_run_id.reset();
               s.pre_run_phase.reset();
             },
             {E::kRunFinished}),
      Accept("FinishRunFromRunning", "ReturnsToRetired",
             WithRun(Fresh(P::kRunning), "run1", P::kRetired),
             FinishRun{"run1", RunOutcome::kCancelled},
             [](State& s) {
               s.phase = P::kRetired;
               s.current_run_id.reset();
               s.pre_run_phase.reset();
             },
             {E::kRunFinished}),
      Accept("FinishRunWhileRetired", "ClearsTheRunThatWasRetired",
             WithRun(Fresh(P::kRetired), "run1", P::kAttached),
             FinishRun{"run1", RunOutcome::kCommitted},
             [](State& s) {
               s.current_run_id.reset();
               s.pre_run_phase.reset();
             },
             {E::kRunFinished}),
      Accept("Retire", "FromAttachedWithARuntime",
             With(WithRuntime(Fresh(P::kAttached)), [](State& s) { s.stop_deferred = true; }),
             Retire{},
             [](State& s) {
               s.phase = P::kRetired;
               s.stop_deferred = false;
             },
             {E::kRuntimeRetired}),
      Accept("Retire", "FromIdleWithoutARuntime", Fresh(P::kIdle), Retire{},
             [](State& s) { s.phase = P::kRetired; }),
      Accept("Retire", "FromRunningKeepsTheRun",
             With(WithRuntime(Fresh(P::kRunning)), [](State& s) { s.stop_deferred = true; }),
             Retire{},
             [](State& s) {
               s.phase = P::kRetired;
               s.stop_deferred = false;
             },
             {E::kRuntimeRetired}),
      Accept("Retire", "RetiredStaysRetired", WithRuntime(Fresh(P::kRetired)), Retire{}, Unchanged,
             {E::kRuntimeRetired}),
      Accept("Reset", "FromRetiredClearsTheRunAndTheFence",
             WithRun(WithRuntime(Fresh(P::kRetired)), "run1", P::kAttached), Reset{},
             [](State& s) {
               s.phase = P::kIdle;
               s.current_run_id.reset();
               s.pre_run_phase.reset();
               s.fence_token.reset();
             }),
      Accept("Reset", "FromAttachedClearsStopDeferred",
             With(Fresh(P::kAttached), [](State& s) { s.stop_deferred = true; }), Reset{},
             [](State& s) {
               s.phase = P::kIdle;
               s.stop_deferred = false;
             }),
      Accept("Reset", "FromInitializing", State{}, Reset{}, [](State& s) { s.phase = P::kIdle; }),
      Accept("StopRuntimeExecutorWhileAttached", "DefersTheStop", Fresh(P::kAttached),
             StopRuntimeExecutor{"operator"}, [](State& s) { s.stop_deferred = true; },
             {E::kStopRuntime}),
      Accept("StopRuntimeExecutorWhileRunning", "DefersTheStopWhileARunIsBound", Fresh(P::kRunning),
             StopRuntimeExecutor{"operator"}, [](State& s) { s.stop_deferred = true; },
             {E::kStopRuntime}),
      Accept("StopRuntimeExecutor", "InRetiredClearsTheRun",
             WithRun(Fresh(P::kRetired), "run1", P::kIdle), StopRuntimeExecutor{"operator"},
             [](State& s) {
               s.current_run_id.reset();
               s.pre_run_phase.reset();
             },
             {E::kStopRuntime}),
      Accept("StopRuntimeExecutor", "InIdle", Fresh(P::kIdle), StopRuntimeExecutor{""}, Unchanged,
             {E::kStopRuntime}),
      Accept("StopRuntimeExecutor", "InInitializing", State{}, StopRuntimeExecutor{"x"}, Unchanged,
             {E::kStopRuntime}),
      Accept("RuntimeExecutorExited", "FromRunningStopsAndRequeues",
             With(Fresh(P::kRunning),
                  [](State& s) {
                    s.stop_deferred = true;
                    s.registration_phase = RegistrationPhase::kActive;
                  }),
             RuntimeExecutorExited{},
             [](State& s) {
               s.phase = P::kStopped;
               s.current_run_id.reset();
               s.pre_run_phase.reset();
               s.stop_deferred = false;
               s.registration_phase = RegistrationPhase::kQueuing;
             }),
      Accept("RuntimeExecutorExited", "WhileDrainingStaysDraining", Draining(Fresh(P::kAttached)),
             RuntimeExecutorExited{}, [](State& s) { s.phase = P::kStopped; }),
      Accept("RuntimeExecutorExited", "FromIdle",
             With(Fresh(P::kIdle),
                  [](State& s) { s.registration_phase = RegistrationPhase::kActive; }),
             RuntimeExecutorExited{},
             [](State& s) {
               s.phase = P::kStopped;
               s.registration_phase = RegistrationPhase::kQueuing;
             }),
      Accept("RuntimeExecutorExited", "StoppedStaysStopped", Fresh(P::kStopped),
             RuntimeExecutorExited{}, Unchanged),
      Accept("RuntimeExecutorExitedWhileRetired", "ClearsTheRunAndRequeues",
             With(WithRun(Fresh(P::kRetired), "run1", P::kAttached),
                  [](State& s) { s.registration_phase = RegistrationPhase::kActive; }),
             RuntimeExecutorExited{},
             [](State& s) {
               s.current_run_id.reset();
               s.pre_run_phase.reset();
               s.registration_phase = RegistrationPhase::kQueuing;
             }),
      Accept("Destroy", "StopsARunningDrainAndClearsObligations",
             With(Draining(WithDrain(WithRuntime(Fresh(P::kRunning)), DrainPhase::kRunning)),
                  [](State& s) {
                    s.stop_deferred = true;
                    s.runtime_loop_forced_abort = true;
                    s.comms_drain_forced_abort = true;
                  }),
             Destroy{},
             [](State& s) {
               s.phase = P::kDestroyed;
               s.current_run_id.reset();
               s.pre_run_phase.reset();
               s.stop_deferred = false;
               s.registration_phase = RegistrationPhase::kQueuing;
               s.unregister_runtime_loop_pending = false;
               s.unregister_comms_drain_pending = false;
               s.unregister_waiters_pending = false;
               s.drain_phase = DrainPhase::kStopped;
             },
             {E::kRuntimeDestroyed, E::kStopDrainTask}),
      Accept("Destroy", "StopsARespawnableDrainWithoutATask",
             DrainingClosed(WithDrain(Fresh(P::kStopped), DrainPhase::kExitedRespawnable),
                            /*retains_snapshot=*/true),
             Destroy{},
             [](State& s) {
               s.phase = P::kDestroyed;
               s.registration_phase = RegistrationPhase::kQueuing;
               s.unregister_retains_snapshot = false;
               s.drain_phase = DrainPhase::kStopped;
             },
             {E::kRuntimeDestroyed}),
      Accept("Destroy", "KeepsBindingIngressAndAnInactiveDrain",
             SessionOwnedBy(WithRuntime(Fresh(P::kIdle)), "t1"), Destroy{},
             [](State& s) { s.phase = P::kDestroyed; }, {E::kRuntimeDestroyed}),
      Accept("DestroyWhileInitializing", "WhenARuntimeIsBound",
             With(State{},
                  [](State& s) {
                    s.runtime_id = "r1";
                    s.generation = 1;
                  }),
             Destroy{}, [](State& s) { s.phase = P::kDestroyed; }, {E::kRuntimeDestroyed}),

      // Two-phase unregister
      Accept(
          "BeginUnregisterSession", "FromAttachedOpensEveryObligation",
          With(WithRuntime(Fresh(P::kAttached)),
               [](State& s) {
                 s.runtime_loop_forced_abort = true;
                 s.comms_drain_forced_abort = true;
               }),
          BeginUnregisterSession{"s1", kObservedR1},
          [](State& s) {
            s = Draining(s);
            s.runtime_loop_forced_abort = false;
            s.comms_drain_forced_abort = false;
          },
          kUnregisterRequests),
      Accept(
          "BeginUnregisterSession", "FromIdleWithoutARuntime", Fresh(P::kIdle),
          BeginUnregisterSession{"s1", {}}, [](State& s) { s = Draining(s); }, kUnregisterRequests),
      Accept(
          "BeginUnregisterSessionRetainingSnapshot", "FromStopped", WithRuntime(Fresh(P::kStopped)),
          BeginUnregisterSession{"s1", kObservedR1},
          [](State& s) { s = Draining(s, /*retains_snapshot=*/true); }, kUnregisterRequests),
      Accept(
          "BeginUnregisterSessionRetainingSnapshot", "FromRetired", WithRuntime(Fresh(P::kRetired)),
          BeginUnregisterSession{"s1", kObservedR1},
          [](State& s) { s = Draining(s, /*retains_snapshot=*/true); }, kUnregisterRequests),
      Accept("RuntimeLoopStoppedForUnregister", "ClosesItsObligationForced",
             Draining(Fresh(P::kIdle)), RuntimeLoopStoppedForUnregister{"s1", true},
             [](State& s) {
               s.unregister_runtime_loop_pending = false;
               s.runtime_loop_forced_abort = true;
             }),
      Accept("CommsDrainExitedForUnregister", "StopsARunningDrain",
             Draining(WithDrain(Fresh(P::kAttached), DrainPhase::kRunning)),
             CommsDrainExitedForUnregister{"s1", true},
             [](State& s) {
               s.unregister_comms_drain_pending = false;
               s.comms_drain_forced_abort = true;
               s.drain_phase = DrainPhase::kStopped;
             }),
      Accept("CommsDrainExitedForUnregister", "LeavesARespawnableDrain",
             Draining(WithDrain(Fresh(P::kStopped), DrainPhase::kExitedRespawnable)),
             CommsDrainExitedForUnregister{"s1", false},
             [](State& s) { s.unregister_comms_drain_pending = false; }),
      Accept("CompletionWaitersResolvedForUnregister", "ClosesItsObligation",
             Draining(Fresh(P::kRunning)), CompletionWaitersResolvedForUnregister{"s1"},
             [](State& s) { s.unregister_waiters_pending = false; }),
      Accept("UnregisterSession", "ReturnsToIdleKeepingDrainIngressAndKeepAlive",
             With(DrainingClosed(
                      SessionOwnedBy(
                          WithDrain(WithRuntime(Fresh(P::kStopped)), DrainPhase::kStopped), "t1"),
                      /*retains_snapshot=*/true),
                  [](State& s) {
                    s.keep_alive = true;
                    s.comms_drain_forced_abort = true;
                  }),
             UnregisterSession{"s1", kObservedR1},
             [](State& s) {
               s.phase = P::kIdle;
               s.session_id.reset();
               s.runtime_id.reset();
               s.fence_token.reset();
               s.generation.reset();
               s.registration_phase = RegistrationPhase::kQueuing;
               s.unregister_retains_snapshot = false;
             }),
      Accept("UnregisterSession", "FromRunningClearsTheRun",
             With(DrainingClosed(Fresh(P::kRunning)), [](State& s) { s.stop_deferred = true; }),
             UnregisterSession{"s1", {}}, [](State& s) { s = Unregistered(P::kIdle); }),

      // Comms drain and peer ingress
      Accept("SetPeerIngressContext", "RecordsKeepAlive", Fresh(P::kIdle),
             SetPeerIngressContext{true}, [](State& s) { s.keep_alive = true; }),
      Accept("SetPeerIngressContext", "RecordsNoKeepAlive",
             With(Fresh(P::kStopped), [](State& s) { s.keep_alive = true; }),
             SetPeerIngressContext{false}, [](State& s) { s.keep_alive = false; }),
      Accept("AttachSessionIngress", "FromUnattached", Fresh(P::kAttached),
             AttachSessionIngress{"t1"}, [](State& s) { s = SessionOwnedBy(s, "t1"); }),
      Accept("AttachSessionIngress", "ReassertsTheSameTransport",
             SessionOwnedBy(Fresh(P::kRunning), "t1"), AttachSessionIngress{"t1"}, Unchanged),
      Accept("AttachMobIngress", "FromUnattached", Fresh(P::kIdle), AttachMobIngress{"t1", "m1"},
             [](State& s) { s = MobOwnedBy(s, "t1", "m1"); }),
      Accept("AttachMobIngress", "PromotesSessionOwnedFromAnotherTransport",
             SessionOwnedBy(Fresh(P::kRetired), "t1"), AttachMobIngress{"t2", "m1"},
             [](State& s) { s = MobOwnedBy(s, "t2", "m1"); }),
      Accept("AttachMobIngress", "ReassertsTheSameTransportAndMob",
             MobOwnedBy(Fresh(P::kStopped), "t1", "m1"), AttachMobIngress{"t1", "m1"}, Unchanged),
      Accept("DetachIngressWhenUnattached", "IsANoOp", Fresh(P::kIdle), DetachIngress{}, Unchanged),
      Accept("DetachIngress", "ClearsAMobOwner", MobOwnedBy(Fresh(P::kAttached), "t1", "m1"),
             DetachIngress{},
             [](State& s) {
               s.ingress_owner = IngressOwner::kUnattached;
               s.ingress_transport_id.reset();
               s.ingress_mob_id.reset();
             }),
      Accept("DetachIngress", "ClearsASessionOwner", SessionOwnedBy(Fresh(P::kRunning), "t2"),
             DetachIngress{},
             [](State& s) {
               s.ingress_owner = IngressOwner::kUnattached;
               s.ingress_transport_id.reset();
             }),
      Accept("SpawnDrain", "FromInactive", Fresh(P::kIdle), SpawnDrain{DrainMode::kTimed},
             [](State& s) { s = WithDrain(s, DrainPhase::kRunning, DrainMode::kTimed); },
             {E::kSpawnDrainTask}),
      Accept("SpawnDrain", "FromStoppedWithANewMode",
             WithDrain(Fresh(P::kAttached), DrainPhase::kStopped, DrainMode::kTimed),
             SpawnDrain{DrainMode::kAttachedSession},
             [](State& s) { s = WithDrain(s, DrainPhase::kRunning, DrainMode::kAttachedSession); },
             {E::kSpawnDrainTask}),
      Accept("SpawnDrain", "FromExitedRespawnable",
             WithDrain(Fresh(P::kStopped), DrainPhase::kExitedRespawnable),
             SpawnDrain{DrainMode::kPersistentHost},
             [](State& s) { s.drain_phase = DrainPhase::kRunning; }, {E::kSpawnDrainTask}),
      Accept("StopDrain", "StopsARunningDrain", WithDrain(Fresh(P::kRunning), DrainPhase::kRunning),
             StopDrain{}, [](State& s) { s.drain_phase = DrainPhase::kStopped; }),
      Accept("StopDrain", "StopsARespawnableDrain",
             WithDrain(Fresh(P::kIdle), DrainPhase::kExitedRespawnable), StopDrain{},
             [](State& s) { s.drain_phase = DrainPhase::kStopped; }),
      Accept("NotifyDrainExitedWhileDrainNotRunning", "StoppedDrain",
             WithDrain(Fresh(P::kAttached), DrainPhase::kStopped),
             NotifyDrainExited{DrainExitReason::kFailed}, Unchanged),
      Accept("NotifyDrainExitedWhileDrainNotRunning", "InactiveDrain", Fresh(P::kRetired),
             NotifyDrainExited{DrainExitReason::kIdleTimeout}, Unchanged),
      Accept("NotifyDrainExitedWhileDrainNotRunning", "RespawnableDrain",
             WithDrain(Fresh(P::kStopped), DrainPhase::kExitedRespawnable),
             NotifyDrainExited{DrainExitReason::kFailed}, Unchanged),
      Accept("NotifyDrainExitedAfterUnregister", "StragglerIsANoOp",
             WithDrain(Unregistered(P::kIdle), DrainPhase::kRunning),
             NotifyDrainExited{DrainExitReason::kFailed}, Unchanged),
      Accept("NotifyDrainExited", "PersistentHostFailureIsRespawnable",
             WithDrain(Fresh(P::kRunning), DrainPhase::kRunning, DrainMode::kPersistentHost),
             NotifyDrainExited{DrainExitReason::kFailed},
             [](State& s) { s.drain_phase = DrainPhase::kExitedRespawnable; }),
      Accept("NotifyDrainExited", "PersistentHostIdleTimeoutStops",
             WithDrain(Fresh(P::kIdle), DrainPhase::kRunning, DrainMode::kPersistentHost),
             NotifyDrainExited{DrainExitReason::kIdleTimeout},
             [](State& s) { s.drain_phase = DrainPhase::kStopped; }),
      Accept("NotifyDrainExited", "TimedFailureStops",
             WithDrain(Fresh(P::kAttached), DrainPhase::kRunning, DrainMode::kTimed),
             NotifyDrainExited{DrainExitReason::kFailed},
             [](State& s) { s.drain_phase = DrainPhase::kStopped; }),
  };
}

class AcceptedTransitionTest : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(AcceptedTransitionTest, ReachesTheExactStateAndEffects) {
  const AcceptCase& c = GetParam();
  ASSERT_EQ(CheckInvariants(c.pre), "") << "the case's pre-state is not a valid state";
  const State before = c.pre;
  const Decision decision = Apply(c.pre, c.input);
  EXPECT_EQ(c.pre, before);
  const auto* accepted = std::get_if<Accepted>(&decision);
  ASSERT_NE(accepted, nullptr) << (std::holds_alternative<Rejected>(decision)
                                       ? std::get<Rejected>(decision).Message()
                                       : std::get<InvariantViolated>(decision).violation);
  EXPECT_EQ(accepted->transition, c.transition);
  EXPECT_EQ(accepted->next, c.next);
  EXPECT_EQ(accepted->effects, c.effects);
  const Transition* declaration = Find(c.transition);
  ASSERT_NE(declaration, nullptr);
  for (Effect e : accepted->effects) {
    EXPECT_THAT(declaration->declared_effects, ::testing::Contains(e))
        << c.transition << " emits " << Name(e) << " without declaring it";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryDeclaration, AcceptedTransitionTest,
                         ::testing::ValuesIn(AcceptCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Guard cases: one per (declaration, guard).

struct GuardCase {
  std::string name;
  std::string_view transition;
  std::string_view guard;  // fails in `pre` for `input`
  State pre;
  Input input;
  // The exact outcome: rejected naming these guards, or (when non-empty) accepted by another
  // declaration of the same input.
  std::vector<std::string_view> rejected_guards;
  std::string_view accepted_by;
};

void PrintTo(const GuardCase& c, std::ostream* os) { *os << c.name; }

GuardCase Refuse(std::string_view transition, std::string_view guard, State pre, Input input,
                 std::vector<std::string_view> rejected_guards) {
  return {fmt::format("{}_{}", transition, guard),
          transition,
          guard,
          std::move(pre),
          std::move(input),
          std::move(rejected_guards),
          {}};
}
GuardCase FallThrough(std::string_view transition, std::string_view guard, State pre, Input input,
                      std::string_view accepted_by) {
  return {fmt::format("{}_{}", transition, guard),
          transition,
          guard,
          std::move(pre),
          std::move(input),
          {},
          accepted_by};
}

std::vector<GuardCase> GuardCases() {
  using P = Phase;
  return {
      FallThrough("RegisterSessionIdempotent", "same_session_bound", Fresh(P::kIdle),
                  RegisterSession{"s2"}, "RegisterSession"),
      Refuse("PrepareBindingsUnchanged", "session_matches", WithRuntime(Fresh(P::kAttached)),
             Bind("s2", "r1", 1, 1), {"session_matches"}),
      FallThrough("PrepareBindingsUnchanged", "binding_is_current",
                  WithRuntime(Fresh(P::kAttached)), Bind("s1", "r1", 1, 1, "e1"),
                  "PrepareBindings"),
      Refuse("PrepareBindingsFromIdle", "session_matches", Fresh(P::kIdle), Bind("s2", "r1", 1, 1),
             {"session_matches", "binding_is_current"}),
      Refuse("PrepareBindingsFromIdle", "binding_fields_unset_or_equal",
             WithRuntime(Fresh(P::kIdle)), Bind("s1", "r2", 1, 1),
             {"binding_is_current", "binding_fields_unset_or_equal"}),
      Refuse("PrepareBindingsFromIdle", "generation_or_epoch_present", Fresh(P::kIdle),
             Bind("s1", "r1", 1, std::nullopt),
             {"binding_is_current", "generation_or_epoch_present"}),
      Refuse("PrepareBindings", "session_matches", Fresh(P::kStopped), Bind("s2", "r1", 1, 1),
             {"session_matches", "binding_is_current"}),
      Refuse("PrepareBindings", "binding_fields_unset_or_equal", WithRuntime(Fresh(P::kRunning)),
             Bind("s1", "r1", 2, 1), {"binding_is_current", "binding_fields_unset_or_equal"}),
      Refuse("PrepareBindings", "generation_or_epoch_present", Fresh(P::kRetired),
             Bind("s1", "r1", 1, std::nullopt),
             {"binding_is_current", "generation_or_epoch_present"}),
      Refuse("EnsureSessionWithExecutorFromIdle", "session_matches", Fresh(P::kIdle),
             EnsureSessionWithExecutor{"s2"}, {"session_matches"}),
      Refuse("EnsureSessionWithExecutorFromIdle", "not_draining", Draining(Fresh(P::kIdle)),
             EnsureSessionWithExecutor{"s1"}, {"not_draining"}),
      Refuse("EnsureSessionWithExecutorWhileAttached", "session_matches", Fresh(P::kAttached),
             EnsureSessionWithExecutor{"s2"}, {"session_matches"}),
      Refuse("EnsureSessionWithExecutorWhileAttached", "not_draining",
             Draining(Fresh(P::kAttached)), EnsureSessionWithExecutor{"s1"}, {"not_draining"}),
      Refuse("EnsureSessionWithExecutorWhileRunning", "session_matches", Fresh(P::kRunning),
             EnsureSessionWithExecutor{"s2"}, {"session_matches"}),
      Refuse("EnsureSessionWithExecutorWhileRunning", "not_draining", Draining(Fresh(P::kRunning)),
             EnsureSessionWithExecutor{"s1"}, {"not_draining"}),
      Refuse("EnsureSessionWithExecutorWhileRetiredOrStopped", "session_matches",
             Fresh(P::kStopped), EnsureSessionWithExecutor{"s2"}, {"session_matches"}),
      Refuse("StartRun", "session_registered", Unregistered(P::kIdle), StartRun{"run1"},
             {"session_registered"}),
      Refuse("StartRun", "no_current_run", WithRun(Fresh(P::kRetired), "run1", P::kIdle),
             StartRun{"run2"}, {"no_current_run"}),
      Refuse("FinishRunFromRunning", "run_id_matches", Fresh(P::kRunning),
             FinishRun{"run2", RunOutcome::kCommitted}, {"run_id_matches"}),
      Refuse("FinishRunWhileRetired", "run_id_matches", Fresh(P::kRetired),
             FinishRun{"run1", RunOutcome::kCommitted}, {"run_id_matches"}),
      Refuse("DestroyWhileInitializing", "runtime_bound", State{}, Destroy{}, {"runtime_bound"}),
      Refuse("BeginUnregisterSession", "session_matches", WithRuntime(Fresh(P::kAttached)),
             BeginUnregisterSession{"s2", kObservedR1}, {"session_matches"}),
      Refuse("BeginUnregisterSession", "binding_matches", WithRuntime(Fresh(P::kRunning)),
             BeginUnregisterSession{"s1", kObservedR2}, {"binding_matches"}),
      Refuse("BeginUnregisterSession", "not_draining", Draining(WithRuntime(Fresh(P::kIdle))),
             BeginUnregisterSession{"s1", kObservedR1}, {"not_draining"}),
      Refuse("BeginUnregisterSessionRetainingSnapshot", "session_matches",
             WithRuntime(Fresh(P::kRetired)), BeginUnregisterSession{"s2", kObservedR1},
             {"session_matches"}),
      Refuse("BeginUnregisterSessionRetainingSnapshot", "binding_matches",
             WithRuntime(Fresh(P::kStopped)), BeginUnregisterSession{"s1", {}},
             {"binding_matches"}),
      Refuse("BeginUnregisterSessionRetainingSnapshot", "not_draining",
             Draining(WithRuntime(Fresh(P::kStopped)), true),
             BeginUnregisterSession{"s1", kObservedR1}, {"not_draining"}),
      Refuse("RuntimeLoopStoppedForUnregister", "session_matches", Draining(Fresh(P::kIdle)),
             RuntimeLoopStoppedForUnregister{"s2", false}, {"session_matches"}),
      Refuse("RuntimeLoopStoppedForUnregister", "is_draining", Fresh(P::kIdle),
             RuntimeLoopStoppedForUnregister{"s1", false}, {"is_draining", "runtime_loop_pending"}),
      Refuse("RuntimeLoopStoppedForUnregister", "runtime_loop_pending",
             With(Draining(Fresh(P::kAttached)),
                  [](State& s) { s.unregister_runtime_loop_pending = false; }),
             RuntimeLoopStoppedForUnregister{"s1", false}, {"runtime_loop_pending"}),
      Refuse("CommsDrainExitedForUnregister", "session_matches", Draining(Fresh(P::kRunning)),
             CommsDrainExitedForUnregister{"s2", false}, {"session_matches"}),
      Refuse("CommsDrainExitedForUnregister", "is_draining", Fresh(P::kRetired),
             CommsDrainExitedForUnregister{"s1", true}, {"is_draining", "comms_drain_pending"}),
      Refuse("CommsDrainExitedForUnregister", "comms_drain_pending",
             With(Draining(Fresh(P::kStopped)),
                  [](State& s) { s.unregister_comms_drain_pending = false; }),
             CommsDrainExitedForUnregister{"s1", false}, {"comms_drain_pending"}),
      Refuse("CompletionWaitersResolvedForUnregister", "session_matches", Draining(Fresh(P::kIdle)),
             CompletionWaitersResolvedForUnregister{"s2"}, {"session_matches"}),
      Refuse("CompletionWaitersResolvedForUnregister", "is_draining", Fresh(P::kAttached),
             CompletionWaitersResolvedForUnregister{"s1"}, {"is_draining", "waiters_pending"}),
      Refuse(
          "CompletionWaitersResolvedForUnregister", "waiters_pending",
          With(Draining(Fresh(P::kIdle)), [](State& s) { s.unregister_waiters_pending = false; }),
          CompletionWaitersResolvedForUnregister{"s1"}, {"waiters_pending"}),
      Refuse("UnregisterSession", "session_matches",
             DrainingClosed(WithRuntime(Fresh(P::kStopped))), UnregisterSession{"s2", kObservedR1},
             {"session_matches"}),
      Refuse("UnregisterSession", "binding_matches", DrainingClosed(WithRuntime(Fresh(P::kIdle))),
             UnregisterSession{"s1", kObservedR2}, {"binding_matches"}),
      Refuse("UnregisterSession", "is_draining", WithRuntime(Fresh(P::kAttached)),
             UnregisterSession{"s1", kObservedR1}, {"is_draining"}),
      Refuse("UnregisterSession", "unregister_obligations_closed",
             Draining(WithRuntime(Fresh(P::kRetired)), true), UnregisterSession{"s1", kObservedR1},
             {"unregister_obligations_closed"}),
      Refuse("SetPeerIngressContext", "session_registered", Unregistered(P::kIdle),
             SetPeerIngressContext{true}, {"session_registered"}),
      Refuse("AttachSessionIngress", "session_registered", Unregistered(P::kIdle),
             AttachSessionIngress{"t1"}, {"session_registered"}),
      Refuse("AttachSessionIngress", "owner_allows_session_attach",
             MobOwnedBy(Fresh(P::kIdle), "t1", "m1"), AttachSessionIngress{"t1"},
             {"owner_allows_session_attach"}),
      Refuse("AttachMobIngress", "session_registered", Unregistered(P::kAttached),
             AttachMobIngress{"t1", "m1"}, {"session_registered"}),
      Refuse("AttachMobIngress", "owner_allows_mob_attach",
             MobOwnedBy(Fresh(P::kRunning), "t1", "m1"), AttachMobIngress{"t1", "m2"},
             {"owner_allows_mob_attach"}),
      Refuse("DetachIngressWhenUnattached", "session_registered", Unregistered(P::kIdle),
             DetachIngress{}, {"session_registered"}),
      FallThrough("DetachIngressWhenUnattached", "ingress_unattached",
                  SessionOwnedBy(Fresh(P::kIdle), "t1"), DetachIngress{}, "DetachIngress"),
      Refuse("DetachIngress", "session_registered", SessionOwnedBy(Unregistered(P::kStopped), "t1"),
             DetachIngress{}, {"session_registered", "ingress_unattached"}),
      Refuse("SpawnDrain", "drain_can_spawn", WithDrain(Fresh(P::kIdle), DrainPhase::kRunning),
             SpawnDrain{DrainMode::kPersistentHost}, {"drain_can_spawn"}),
      Refuse("StopDrain", "drain_is_running_or_respawnable",
             WithDrain(Fresh(P::kIdle), DrainPhase::kStopped), StopDrain{},
             {"drain_is_running_or_respawnable"}),
      Refuse("NotifyDrainExitedWhileDrainNotRunning", "session_registered",
             WithDrain(Unregistered(P::kAttached), DrainPhase::kStopped),
             NotifyDrainExited{DrainExitReason::kDismissed}, {"session_registered"}),
      FallThrough("NotifyDrainExitedWhileDrainNotRunning", "drain_not_running",
                  WithDrain(Fresh(P::kAttached), DrainPhase::kRunning, DrainMode::kTimed),
                  NotifyDrainExited{DrainExitReason::kAborted}, "NotifyDrainExited"),
      FallThrough("NotifyDrainExitedAfterUnregister", "no_session_bound",
                  WithDrain(Fresh(P::kIdle), DrainPhase::kRunning),
                  NotifyDrainExited{DrainExitReason::kSessionShutdown}, "NotifyDrainExited"),
      Refuse("NotifyDrainExited", "session_registered",
             WithDrain(Unregistered(P::kStopped), DrainPhase::kRunning),
             NotifyDrainExited{DrainExitReason::kFailed},
             {"session_registered", "drain_not_running"}),
  };
}

class GuardTest : public ::testing::TestWithParam<GuardCase> {};

TEST_P(GuardTest, FailingGuardGivesTheExactOutcome) {
  const GuardCase& c = GetParam();
  ASSERT_EQ(CheckInvariants(c.pre), "") << "the case's pre-state is not a valid state";
  const Transition* declaration = Find(c.transition);
  ASSERT_NE(declaration, nullptr);
  ASSERT_EQ(declaration->input, KindOf(c.input));
  ASSERT_NE(declaration->phases & PhaseBit(c.pre.phase), 0) << "the case is in another phase";
  const Guard* guard = nullptr;
  for (const Guard& g : declaration->guards) {
    if (g.name == c.guard) guard = &g;
  }
  ASSERT_NE(guard, nullptr) << c.transition << " has no guard " << c.guard;
  EXPECT_FALSE(guard->holds(c.pre, c.input)) << "the guard holds: the case tests nothing";

  const State before = c.pre;
  const Decision decision = Apply(c.pre, c.input);
  EXPECT_EQ(c.pre, before);
  if (!c.accepted_by.empty()) {
    const auto* accepted = std::get_if<Accepted>(&decision);
    ASSERT_NE(accepted, nullptr);
    EXPECT_EQ(accepted->transition, c.accepted_by);
    return;
  }
  const auto* rejected = std::get_if<Rejected>(&decision);
  ASSERT_NE(rejected, nullptr) << "accepted by "
                               << (std::holds_alternative<Accepted>(decision)
                                       ? std::get<Accepted>(decision).transition
                                       : "nothing");
  EXPECT_EQ(rejected->phase, c.pre.phase);
  EXPECT_EQ(rejected->input, KindOf(c.input));
  EXPECT_EQ(rejected->failed_guards, c.rejected_guards);
}

INSTANTIATE_TEST_SUITE_P(EveryGuard, GuardTest, ::testing::ValuesIn(GuardCases()),
                         [](const auto& info) { return info.param.name; });

TEST(TableCoverageTest, EveryDeclarationHasAnAcceptedCase) {
  std::set<std::string_view> covered;
  for (const AcceptCase& c : AcceptCases()) covered.insert(c.transition);
  for (const Transition& t : Transitions()) {
    EXPECT_TRUE(covered.contains(t.name)) << t.name << " has no accepted case";
    covered.erase(t.name);
  }
  EXPECT_THAT(covered, IsEmpty()) << "cases name transitions the table does not have";
}

TEST(TableCoverageTest, EveryGuardOfEveryDeclarationHasAFailingCase) {
  std::set<std::pair<std::string_view, std::string_view>> covered;
  for (const GuardCase& c : GuardCases()) covered.emplace(c.transition, c.guard);
  for (const Transition& t : Transitions()) {
    for (const Guard& g : t.guards) {
      EXPECT_TRUE(covered.contains({t.name, g.name}))
          << t.name << " has no case in which " << g.name << " fails";
      covered.erase({t.name, g.name});
    }
  }
  for (const auto& [transition, guard] : covered) {
    ADD_FAILURE() << "a case names " << transition << "/" << guard << ", which the table lacks";
  }
}

// ---------------------------------------------------------------------------------------------
// The table's shape

TEST(TableTest, DeclarationNamesAreUniqueAndEveryInputKindIsDeclared) {
  std::set<std::string_view> names;
  std::set<InputKind> kinds;
  for (const Transition& t : Transitions()) {
    EXPECT_TRUE(names.insert(t.name).second) << "duplicate declaration " << t.name;
    kinds.insert(t.input);
  }
  EXPECT_EQ(kinds.size(), static_cast<size_t>(kInputKindCount));
}

TEST(TableTest, NothingIsDeclaredFromDestroyed) {
  for (const Transition& t : Transitions()) {
    EXPECT_EQ(t.phases & PhaseBit(Phase::kDestroyed), 0) << t.name;
    EXPECT_NE(t.phases, 0) << t.name << " applies in no phase";
  }
}

TEST(TableTest, GuardNamesAreSnakeCaseAndTargetSummariesMatchTheRule) {
  for (const Transition& t : Transitions()) {
    for (const Guard& g : t.guards) {
      EXPECT_FALSE(g.name.empty());
      EXPECT_EQ(g.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos)
          << t.name << " guard " << g.name;
      EXPECT_NE(g.holds, nullptr);
    }
    EXPECT_NE(t.update, nullptr) << t.name;
    EXPECT_NE(t.effects, nullptr) << t.name;
    switch (t.target_rule) {
      case TargetRule::kSelf:
        EXPECT_EQ(t.target_summary, "self") << t.name;
        break;
      case TargetRule::kFixed:
        EXPECT_EQ(t.target_summary, Name(t.target)) << t.name;
        break;
      case TargetRule::kPreRun:
        EXPECT_EQ(t.target_summary, "pre_run_phase") << t.name;
        EXPECT_EQ(t.phases, PhaseBit(Phase::kRunning)) << t.name;
        break;
    }
  }
}

TEST(TableTest, DeclarationsFollowSpecOrderWithNoOpsBeforeTheirGeneralCase) {
  std::vector<std::string_view> names;
  for (const Transition& t : Transitions()) names.push_back(t.name);
  auto before = [&](std::string_view a, std::string_view b) {
    auto ia = std::find(names.begin(), names.end(), a);
    auto ib = std::find(names.begin(), names.end(), b);
    return ia != names.end() && ib != names.end() && ia < ib;
  };
  EXPECT_TRUE(before("RegisterSessionIdempotent", "RegisterSession"));
  EXPECT_TRUE(before("PrepareBindingsUnchanged", "PrepareBindingsFromIdle"));
  EXPECT_TRUE(before("PrepareBindingsUnchanged", "PrepareBindings"));
  EXPECT_TRUE(before("DetachIngressWhenUnattached", "DetachIngress"));
  EXPECT_TRUE(before("NotifyDrainExitedWhileDrainNotRunning", "NotifyDrainExited"));
  EXPECT_TRUE(before("NotifyDrainExitedAfterUnregister", "NotifyDrainExited"));
  EXPECT_EQ(names.front(), "Initialize");
  EXPECT_TRUE(before("Destroy", "BeginUnregisterSession"));
  EXPECT_TRUE(before("UnregisterSession", "SetPeerIngressContext"));
  EXPECT_EQ(names.back(), "NotifyDrainExited");
}

// ---------------------------------------------------------------------------------------------
// Rejections

TEST(RejectionTest, MessageNamesPhaseInputAndTheSingleFailingGuard) {
  const Decision d = Apply(Fresh(Phase::kRunning), StartRun{"run2"});
  ASSERT_TRUE(std::holds_alternative<Rejected>(d));
  EXPECT_EQ(std::get<Rejected>(d).Message(),
            "StartRun rejected in Running: not declared in this phase");
  const Decision retired =
      Apply(WithRun(Fresh(Phase::kRetired), "run1", Phase::kIdle), StartRun{"run2"});
  ASSERT_TRUE(std::holds_alternative<Rejected>(retired));
  EXPECT_EQ(std::get<Rejected>(retired).Message(),
            "StartRun rejected in Retired: guard no_current_run failed");
}

TEST(RejectionTest, MessageListsEveryFailingGuardInDeclarationOrder) {
  const Decision d = Apply(Fresh(Phase::kIdle), Bind("s2", "r1", 1, std::nullopt));
  ASSERT_TRUE(std::holds_alternative<Rejected>(d));
  EXPECT_EQ(std::get<Rejected>(d).Message(),
            "PrepareBindings rejected in Idle: guards session_matches, binding_is_current, "
            "generation_or_epoch_present failed");
}

TEST(RejectionTest, StartRunIsRejectedWhileARunIsBound) {
  const State retired = WithRun(Fresh(Phase::kRetired), "run1", Phase::kAttached);
  const Decision d = Apply(retired, StartRun{"run1"});
  ASSERT_TRUE(std::holds_alternative<Rejected>(d));
  EXPECT_THAT(std::get<Rejected>(d).failed_guards, ElementsAre("no_current_run"));
}

// A sample input of every kind, for "rejected in every phase" checks.
std::vector<Input> OneInputOfEveryKind() {
  std::vector<Input> inputs = {
      Initialize{},
      RegisterSession{"s1"},
      Bind("s1", "r1", 1, 1),
      EnsureSessionWithExecutor{"s1"},
      StartRun{"run1"},
      FinishRun{"run1", RunOutcome::kCommitted},
      Retire{},
      Reset{},
      StopRuntimeExecutor{"operator"},
      RuntimeExecutorExited{},
      Destroy{},
      BeginUnregisterSession{"s1", kObservedR1},
      RuntimeLoopStoppedForUnregister{"s1", false},
      CommsDrainExitedForUnregister{"s1", false},
      CompletionWaitersResolvedForUnregister{"s1"},
      UnregisterSession{"s1", kObservedR1},
      SetPeerIngressContext{true},
      AttachSessionIngress{"t1"},
      AttachMobIngress{"t1", "m1"},
      DetachIngress{},
      SpawnDrain{DrainMode::kPersistentHost},
      StopDrain{},
      NotifyDrainExited{DrainExitReason::kFailed},
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(inputs[i].index(), i) << "OneInputOfEveryKind is out of order";
  }
  return inputs;
}

TEST(DestroyedTest, EveryInputKindIsRejectedAsNotDeclared) {
  // A destroyed session that still has everything a session can have.
  const State destroyed =
      With(MobOwnedBy(WithDrain(WithRuntime(Fresh(Phase::kDestroyed)), DrainPhase::kStopped), "t1",
                      "m1"),
           [](State& s) { s.keep_alive = true; });
  ASSERT_EQ(CheckInvariants(destroyed), "");
  const std::vector<Input> inputs = OneInputOfEveryKind();
  ASSERT_EQ(inputs.size(), static_cast<size_t>(kInputKindCount));
  for (const Input& input : inputs) {
    const Decision d = Apply(destroyed, input);
    ASSERT_TRUE(std::holds_alternative<Rejected>(d)) << Name(KindOf(input));
    const auto& rejected = std::get<Rejected>(d);
    EXPECT_EQ(rejected.phase, Phase::kDestroyed);
    EXPECT_EQ(rejected.input, KindOf(input));
    EXPECT_THAT(rejected.failed_guards, IsEmpty());
    EXPECT_EQ(
        rejected.Message(),
        fmt::format("{} rejected in Destroyed: not declared in this phase", Name(KindOf(input))));
  }
}

TEST(LifecycleTest, InitializingAcceptsOnlyInitializeResetAndStopRuntime) {
  std::set<InputKind> accepted;
  for (const Input& input : OneInputOfEveryKind()) {
    const Decision d = Apply(State{}, input);
    if (std::holds_alternative<Accepted>(d)) accepted.insert(KindOf(input));
  }
  EXPECT_THAT(accepted, ElementsAre(InputKind::kInitialize, InputKind::kReset,
                                    InputKind::kStopRuntimeExecutor));
}

// ---------------------------------------------------------------------------------------------
// Scenarios

// Applies `input` and returns the accepted next state; fails the test on anything else.
State Step(const State& s, const Input& input, std::string_view expected_transition = {}) {
  const Decision d = Apply(s, input);
  const auto* accepted = std::get_if<Accepted>(&d);
  if (accepted == nullptr) {
    ADD_FAILURE() << Name(KindOf(input)) << " not accepted: "
                  << (std::holds_alternative<Rejected>(d)
                          ? std::get<Rejected>(d).Message()
                          : std::get<InvariantViolated>(d).violation);
    return s;
  }
  if (!expected_transition.empty()) {
    EXPECT_EQ(accepted->transition, expected_transition);
  }
  return accepted->next;
}

std::vector<std::string_view> RejectedGuards(const State& s, const Input& input) {
  const Decision d = Apply(s, input);
  const auto* rejected = std::get_if<Rejected>(&d);
  if (rejected == nullptr) {
    ADD_FAILURE() << Name(KindOf(input)) << " was not rejected";
    return {};
  }
  return rejected->failed_guards;
}

TEST(OwnershipTest, MobOwnedIngressIsNeverSilentlyDowngradedToSessionOwned) {
  const State mob = MobOwnedBy(Fresh(Phase::kAttached), "t1", "m1");
  EXPECT_THAT(RejectedGuards(mob, AttachSessionIngress{"t1"}),
              ElementsAre("owner_allows_session_attach"));
  EXPECT_THAT(RejectedGuards(mob, AttachSessionIngress{"t2"}),
              ElementsAre("owner_allows_session_attach"));
}

TEST(OwnershipTest, SessionOwnedIngressIsNeverSilentlyReboundToAnotherTransport) {
  const State owned = SessionOwnedBy(Fresh(Phase::kIdle), "t1");
  EXPECT_THAT(RejectedGuards(owned, AttachSessionIngress{"t2"}),
              ElementsAre("owner_allows_session_attach"));
}

TEST(OwnershipTest, SessionOwnedIngressCanBePromotedToAMobThroughAnyTransport) {
  for (const char* transport : {"t1", "t2"}) {
    const State owned = SessionOwnedBy(Fresh(Phase::kRunning), "t1");
    EXPECT_EQ(Step(owned, AttachMobIngress{transport, "m1"}, "AttachMobIngress"),
              MobOwnedBy(owned, transport, "m1"));
  }
}

TEST(OwnershipTest, ExactReassertionIsIdempotent) {
  const State session = SessionOwnedBy(Fresh(Phase::kIdle), "t1");
  EXPECT_EQ(Step(session, AttachSessionIngress{"t1"}), session);
  const State mob = MobOwnedBy(Fresh(Phase::kIdle), "t1", "m1");
  EXPECT_EQ(Step(mob, AttachMobIngress{"t1", "m1"}), mob);
}

TEST(OwnershipTest, ConflictingMobRebindIsRefused) {
  const State mob = MobOwnedBy(Fresh(Phase::kStopped), "t1", "m1");
  EXPECT_THAT(RejectedGuards(mob, AttachMobIngress{"t1", "m2"}),
              ElementsAre("owner_allows_mob_attach"));
  EXPECT_THAT(RejectedGuards(mob, AttachMobIngress{"t2", "m1"}),
              ElementsAre("owner_allows_mob_attach"));
  EXPECT_THAT(RejectedGuards(mob, AttachMobIngress{"t2", "m2"}),
              ElementsAre("owner_allows_mob_attach"));
}

TEST(OwnershipTest, DetachingAnUnattachedSessionIsAnAcceptedNoOp) {
  const State s = Fresh(Phase::kRetired);
  EXPECT_EQ(Step(s, DetachIngress{}, "DetachIngressWhenUnattached"), s);
}

TEST(OwnershipTest, IngressNeedsARegisteredSession) {
  const State s = Unregistered(Phase::kIdle);
  EXPECT_THAT(RejectedGuards(s, AttachSessionIngress{"t1"}), ElementsAre("session_registered"));
  EXPECT_THAT(RejectedGuards(s, AttachMobIngress{"t1", "m1"}), ElementsAre("session_registered"));
  EXPECT_THAT(RejectedGuards(s, SetPeerIngressContext{true}), ElementsAre("session_registered"));
}

TEST(DrainTest, OnlyAPersistentHostDrainThatFailedBecomesRespawnable) {
  const std::vector<DrainMode> modes = {DrainMode::kTimed, DrainMode::kAttachedSession,
                                        DrainMode::kPersistentHost};
  const std::vector<DrainExitReason> reasons = {
      DrainExitReason::kIdleTimeout, DrainExitReason::kDismissed, DrainExitReason::kFailed,
      DrainExitReason::kAborted, DrainExitReason::kSessionShutdown};
  for (DrainMode mode : modes) {
    for (DrainExitReason reason : reasons) {
      const State running = WithDrain(Fresh(Phase::kAttached), DrainPhase::kRunning, mode);
      const State next = Step(running, NotifyDrainExited{reason}, "NotifyDrainExited");
      const bool respawnable =
          mode == DrainMode::kPersistentHost && reason == DrainExitReason::kFailed;
      EXPECT_EQ(next.drain_phase,
                respawnable ? DrainPhase::kExitedRespawnable : DrainPhase::kStopped)
          << Name(mode) << " " << Name(reason);
      EXPECT_EQ(next.drain_mode, mode);
    }
  }
}

TEST(DrainTest, ExitOfADrainThatIsNotRunningIsAnAcceptedNoOp) {
  for (DrainPhase phase :
       {DrainPhase::kInactive, DrainPhase::kStopped, DrainPhase::kExitedRespawnable}) {
    State s = Fresh(Phase::kStopped);
    if (phase != DrainPhase::kInactive) s = WithDrain(s, phase);
    EXPECT_EQ(Step(s, NotifyDrainExited{DrainExitReason::kFailed},
                   "NotifyDrainExitedWhileDrainNotRunning"),
              s)
        << Name(phase);
  }
}

TEST(DrainTest, ExitReportedAfterUnregisterIsAnAcceptedNoOp) {
  State s = WithDrain(Fresh(Phase::kIdle), DrainPhase::kRunning);
  s = Step(s, BeginUnregisterSession{"s1", {}});
  s = Step(s, RuntimeLoopStoppedForUnregister{"s1", false});
  s = Step(s, CompletionWaitersResolvedForUnregister{"s1"});
  s = Step(s, CommsDrainExitedForUnregister{"s1", true});
  s = Step(s, UnregisterSession{"s1", {}}, "UnregisterSession");
  ASSERT_EQ(s.session_id, std::nullopt);
  EXPECT_EQ(
      Step(s, NotifyDrainExited{DrainExitReason::kAborted}, "NotifyDrainExitedAfterUnregister"), s);
  // Anywhere but Idle, an unregistered session refuses the report.
  EXPECT_THAT(RejectedGuards(With(s, [](State& x) { x.phase = Phase::kStopped; }),
                             NotifyDrainExited{DrainExitReason::kAborted}),
              ElementsAre("session_registered"));
  EXPECT_THAT(RejectedGuards(State{}, NotifyDrainExited{DrainExitReason::kAborted}), IsEmpty());
}

TEST(DrainTest, SpawnIsRefusedOnlyWhileTheDrainRuns) {
  for (DrainPhase phase : {DrainPhase::kInactive, DrainPhase::kStopped,
                           DrainPhase::kExitedRespawnable, DrainPhase::kRunning}) {
    State s = Fresh(Phase::kAttached);
    if (phase != DrainPhase::kInactive) s = WithDrain(s, phase, DrainMode::kTimed);
    const Decision d = Apply(s, SpawnDrain{DrainMode::kPersistentHost});
    if (phase == DrainPhase::kRunning) {
      ASSERT_TRUE(std::holds_alternative<Rejected>(d));
      EXPECT_THAT(std::get<Rejected>(d).failed_guards, ElementsAre("drain_can_spawn"));
    } else {
      ASSERT_TRUE(std::holds_alternative<Accepted>(d)) << Name(phase);
      EXPECT_EQ(std::get<Accepted>(d).next.drain_phase, DrainPhase::kRunning);
      EXPECT_EQ(std::get<Accepted>(d).next.drain_mode, DrainMode::kPersistentHost);
      EXPECT_THAT(std::get<Accepted>(d).effects, ElementsAre(Effect::kSpawnDrainTask));
    }
  }
}

TEST(DrainTest, StopIsAllowedForARunningOrRespawnableDrainOnly) {
  for (DrainPhase phase : {DrainPhase::kInactive, DrainPhase::kStopped,
                           DrainPhase::kExitedRespawnable, DrainPhase::kRunning}) {
    State s = Fresh(Phase::kRetired);
    if (phase != DrainPhase::kInactive) s = WithDrain(s, phase);
    const Decision d = Apply(s, StopDrain{});
    if (phase == DrainPhase::kRunning || phase == DrainPhase::kExitedRespawnable) {
      ASSERT_TRUE(std::holds_alternative<Accepted>(d)) << Name(phase);
      EXPECT_EQ(std::get<Accepted>(d).next.drain_phase, DrainPhase::kStopped);
    } else {
      ASSERT_TRUE(std::holds_alternative<Rejected>(d)) << Name(phase);
      EXPECT_THAT(std::get<Rejected>(d).failed_guards,
                  ElementsAre("drain_is_running_or_respawnable"));
    }
  }
}

TEST(UnregisterTest, ObligationsOpenOnBeginAndCloseOneByOneBeforeUnregister) {
  const State attached = WithRuntime(Fresh(Phase::kAttached));
  State s = Step(attached, BeginUnregisterSession{"s1", kObservedR1});
  EXPECT_TRUE(s.unregister_runtime_loop_pending);
  EXPECT_TRUE(s.unregister_comms_drain_pending);
  EXPECT_TRUE(s.unregister_waiters_pending);
  EXPECT_EQ(s.registration_phase, RegistrationPhase::kDraining);

  const Input unregister = UnregisterSession{"s1", kObservedR1};
  const std::vector<Input> closings = {RuntimeLoopStoppedForUnregister{"s1", false},
                                       CompletionWaitersResolvedForUnregister{"s1"},
                                       CommsDrainExitedForUnregister{"s1", true}};
  for (const Input& closing : closings) {
    EXPECT_THAT(RejectedGuards(s, unregister), ElementsAre("unregister_obligations_closed"));
    s = Step(s, closing);
    // Each obligation closes once.
    EXPECT_FALSE(std::holds_alternative<Accepted>(Apply(s, closing))) << Name(KindOf(closing));
  }
  EXPECT_TRUE(s.comms_drain_forced_abort);
  EXPECT_FALSE(s.runtime_loop_forced_abort);
  const State idle = Step(s, unregister, "UnregisterSession");
  EXPECT_EQ(idle.phase, Phase::kIdle);
  EXPECT_EQ(idle.session_id, std::nullopt);
  EXPECT_EQ(idle.runtime_id, std::nullopt);
  EXPECT_EQ(idle.registration_phase, RegistrationPhase::kQueuing);
  EXPECT_TRUE(idle.comms_drain_forced_abort) << "forced flags are kept as history";
}

TEST(UnregisterTest, UnregisterIsRefusedWhileAnyObligationIsOpen) {
  const State closed = DrainingClosed(Fresh(Phase::kRunning));
  for (bool State::*pending :
       {&State::unregister_runtime_loop_pending, &State::unregister_comms_drain_pending,
        &State::unregister_waiters_pending}) {
    State s = closed;
    s.*pending = true;
    EXPECT_THAT(RejectedGuards(s, UnregisterSession{"s1", {}}),
                ElementsAre("unregister_obligations_closed"));
  }
  EXPECT_EQ(Step(closed, UnregisterSession{"s1", {}}).phase, Phase::kIdle);
}

TEST(UnregisterTest, BeginIsRefusedWhenAlreadyDrainingOrTheBindingMoved) {
  const State bound = WithRuntime(Fresh(Phase::kIdle));
  const State draining = Step(bound, BeginUnregisterSession{"s1", kObservedR1});
  EXPECT_THAT(RejectedGuards(draining, BeginUnregisterSession{"s1", kObservedR1}),
              ElementsAre("not_draining"));
  const BindingObservation stale_fence{"r1", 2, 1, std::nullopt};
  EXPECT_THAT(RejectedGuards(bound, BeginUnregisterSession{"s1", stale_fence}),
              ElementsAre("binding_matches"));
  const BindingObservation missing_epoch{"r1", 1, 1, "e1"};
  EXPECT_THAT(RejectedGuards(bound, BeginUnregisterSession{"s1", missing_epoch}),
              ElementsAre("binding_matches"));
}

TEST(UnregisterTest, DestroyClearsOpenObligations) {
  const State draining =
      Step(WithRuntime(Fresh(Phase::kRetired)), BeginUnregisterSession{"s1", kObservedR1});
  ASSERT_TRUE(draining.unregister_retains_snapshot);
  const State destroyed = Step(draining, Destroy{}, "Destroy");
  EXPECT_EQ(destroyed.phase, Phase::kDestroyed);
  EXPECT_EQ(destroyed.registration_phase, RegistrationPhase::kQueuing);
  EXPECT_FALSE(destroyed.unregister_runtime_loop_pending);
  EXPECT_FALSE(destroyed.unregister_comms_drain_pending);
  EXPECT_FALSE(destroyed.unregister_waiters_pending);
  EXPECT_FALSE(destroyed.unregister_retains_snapshot);
}

TEST(UnregisterTest, CommsDrainExitStopsARunningDrain) {
  const State s = Step(WithDrain(Fresh(Phase::kAttached), DrainPhase::kRunning),
                       BeginUnregisterSession{"s1", {}});
  const State next = Step(s, CommsDrainExitedForUnregister{"s1", false});
  EXPECT_EQ(next.drain_phase, DrainPhase::kStopped);
  EXPECT_FALSE(next.unregister_comms_drain_pending);
}

TEST(UnregisterTest, RuntimeExitWhileDrainingKeepsTheRegistrationDraining) {
  const State s = Step(Fresh(Phase::kAttached), BeginUnregisterSession{"s1", {}});
  const State stopped = Step(s, RuntimeExecutorExited{});
  EXPECT_EQ(stopped.phase, Phase::kStopped);
  EXPECT_EQ(stopped.registration_phase, RegistrationPhase::kDraining);
  // Ensure in Stopped has no not_draining guard: it is accepted and changes nothing.
  EXPECT_EQ(Step(stopped, EnsureSessionWithExecutor{"s1"},
                 "EnsureSessionWithExecutorWhileRetiredOrStopped"),
            stopped);
}

TEST(RunLifecycleTest, FinishingARunReturnsToThePhaseItStartedFrom) {
  for (Phase from : {Phase::kIdle, Phase::kAttached, Phase::kRetired}) {
    const State start = Fresh(from);
    const State running = Step(start, StartRun{"run7"}, "StartRun");
    EXPECT_EQ(running.phase, Phase::kRunning);
    EXPECT_EQ(running.pre_run_phase, from);
    EXPECT_EQ(Step(running, FinishRun{"run7", RunOutcome::kCommitted}, "FinishRunFromRunning"),
              start)
        << Name(from);
  }
}

TEST(RunLifecycleTest, ARunRetiredMidwayFinishesInRetired) {
  const State running = Step(WithRuntime(Fresh(Phase::kAttached)), StartRun{"run1"});
  const State retired = Step(running, Retire{}, "Retire");
  EXPECT_EQ(retired.phase, Phase::kRetired);
  EXPECT_EQ(retired.current_run_id, "run1");
  EXPECT_THAT(RejectedGuards(retired, StartRun{"run2"}), ElementsAre("no_current_run"));
  const State finished =
      Step(retired, FinishRun{"run1", RunOutcome::kCancelled}, "FinishRunWhileRetired");
  EXPECT_EQ(finished.current_run_id, std::nullopt);
  EXPECT_EQ(finished.pre_run_phase, std::nullopt);
  EXPECT_EQ(Step(finished, StartRun{"run2"}).pre_run_phase, Phase::kRetired);
}

TEST(RegistrationTest, RegisteringTheSameIdAgainIsAnAcceptedNoOp) {
  State s = Step(Step(State{}, Initialize{}), RegisterSession{"s1"}, "RegisterSession");
  s = Step(s, Bind("s1", "r1", 1, 1));
  EXPECT_EQ(Step(s, RegisterSession{"s1"}, "RegisterSessionIdempotent"), s);
}

TEST(RegistrationTest, ADestroyedSessionCannotBeResurrected) {
  const State destroyed = Step(Fresh(Phase::kIdle), Destroy{});
  const Decision d = Apply(destroyed, RegisterSession{"s1"});
  ASSERT_TRUE(std::holds_alternative<Rejected>(d));
  EXPECT_EQ(std::get<Rejected>(d).Message(),
            "RegisterSession rejected in Destroyed: not declared in this phase");
}

TEST(RegistrationTest, RegisteringBeforeInitializeIsNotDeclared) {
  EXPECT_THAT(RejectedGuards(State{}, RegisterSession{"s1"}), IsEmpty());
}

TEST(RegistrationTest, EnsureActivatesOnlyAMatchingSessionThatIsNotDraining) {
  const State attached = Step(Fresh(Phase::kIdle), EnsureSessionWithExecutor{"s1"});
  EXPECT_EQ(attached.phase, Phase::kAttached);
  EXPECT_EQ(attached.registration_phase, RegistrationPhase::kActive);
  EXPECT_THAT(RejectedGuards(Fresh(Phase::kIdle), EnsureSessionWithExecutor{"s9"}),
              ElementsAre("session_matches"));
}

TEST(BindingTest, AttachRuntimeRefusesAConflictingRebind) {
  const State bound = Step(Fresh(Phase::kIdle), Bind("s1", "r1", 1, 1));
  EXPECT_EQ(bound.phase, Phase::kAttached);
  EXPECT_THAT(RejectedGuards(bound, Bind("s1", "r2", 1, 1)),
              ElementsAre("binding_is_current", "binding_fields_unset_or_equal"));
  EXPECT_THAT(RejectedGuards(bound, Bind("s1", "r1", 1, 2)),
              ElementsAre("binding_is_current", "binding_fields_unset_or_equal"));
  // Omitting a bound generation is a conflict, not a wildcard.
  EXPECT_THAT(RejectedGuards(bound, Bind("s1", "r1", 1, std::nullopt, "e1")),
              ElementsAre("binding_is_current", "binding_fields_unset_or_equal"));
}

TEST(BindingTest, ExactRebindIsAnAcceptedNoOpWithoutEffects) {
  const State bound = WithRuntime(Fresh(Phase::kAttached));
  const Decision d = Apply(bound, Bind("s1", "r1", 1, 1));
  ASSERT_TRUE(std::holds_alternative<Accepted>(d));
  EXPECT_EQ(std::get<Accepted>(d).transition, "PrepareBindingsUnchanged");
  EXPECT_EQ(std::get<Accepted>(d).next, bound);
  EXPECT_THAT(std::get<Accepted>(d).effects, IsEmpty());
}

TEST(BindingTest, PrepareBindingsInInitializingIsRejectedBecauseNoSessionIsBound) {
  EXPECT_THAT(RejectedGuards(State{}, Bind("s1", "r1", 1, 1)),
              ElementsAre("session_matches", "binding_is_current"));
}

// ---------------------------------------------------------------------------------------------
// Invariants

TEST(InvariantTest, InitialAndFreshStatesAreValid) {
  EXPECT_EQ(CheckInvariants(State{}), "");
  for (int i = 0; i < kPhaseCount; ++i) {
    EXPECT_EQ(CheckInvariants(Fresh(static_cast<Phase>(i))), "") << i;
  }
}

TEST(InvariantTest, EachInvariantIsDetectedAndNamed) {
  const std::vector<std::pair<std::string, State>> broken = {
      {"ingress_shape",
       With(Fresh(Phase::kIdle), [](State& s) { s.ingress_owner = IngressOwner::kSessionOwned; })},
      {"ingress_shape",
       With(SessionOwnedBy(Fresh(Phase::kIdle), "t1"), [](State& s) { s.ingress_mob_id = "m1"; })},
      {"ingress_shape", With(Fresh(Phase::kIdle), [](State& s) { s.ingress_mob_id = "m1"; })},
      {"ingress_shape", With(MobOwnedBy(Fresh(Phase::kIdle), "t1", "m1"),
                             [](State& s) { s.ingress_transport_id.reset(); })},
      {"unregister_obligations_only_while_draining",
       With(Fresh(Phase::kIdle), [](State& s) { s.unregister_waiters_pending = true; })},
      {"unregister_obligations_only_while_draining",
       With(Fresh(Phase::kStopped), [](State& s) { s.unregister_retains_snapshot = true; })},
      {"binding_requires_runtime", With(Fresh(Phase::kIdle), [](State& s) { s.fence_token = 1; })},
      {"binding_requires_runtime", With(Fresh(Phase::kIdle), [](State& s) { s.epoch_id = "e"; })},
      {"runtime_requires_generation_or_epoch",
       With(Fresh(Phase::kIdle), [](State& s) { s.runtime_id = "r1"; })},
      {"running_has_current_run", With(Fresh(Phase::kRunning),
                                       [](State& s) {
                                         s.current_run_id.reset();
                                         s.pre_run_phase.reset();
                                       })},
      {"current_run_only_while_running_or_retired",
       WithRun(Fresh(Phase::kStopped), "run1", Phase::kIdle)},
      {"current_run_and_pre_run_phase_together",
       With(Fresh(Phase::kRunning), [](State& s) { s.pre_run_phase.reset(); })},
      {"current_run_and_pre_run_phase_together",
       With(Fresh(Phase::kIdle), [](State& s) { s.pre_run_phase = Phase::kIdle; })},
      {"pre_run_phase_domain", WithRun(Fresh(Phase::kRunning), "run1", Phase::kStopped)},
      {"stop_deferred_only_while_attached_or_running",
       With(Fresh(Phase::kRetired), [](State& s) { s.stop_deferred = true; })},
      {"active_drain_has_mode",
       With(Fresh(Phase::kIdle), [](State& s) { s.drain_phase = DrainPhase::kStopped; })},
      {"destroyed_has_no_live_drain", WithDrain(Fresh(Phase::kDestroyed), DrainPhase::kRunning)},
      {"destroyed_has_no_live_drain",
       WithDrain(Fresh(Phase::kDestroyed), DrainPhase::kExitedRespawnable)},
  };
  for (const auto& [invariant, state] : broken) {
    const std::string violation = CheckInvariants(state);
    EXPECT_TRUE(violation.starts_with(invariant + ":"))
        << "expected " << invariant << ", got \"" << violation << "\"";
  }
}

TEST(InvariantTest, ApplyReportsABrokenInvariantInsteadOfAcceptingIt) {
  // A state that is already broken (as a corrupt snapshot would be) stays broken after an
  // unrelated transition: Apply must say so rather than hand back the state.
  const State corrupt =
      With(Fresh(Phase::kIdle), [](State& s) { s.ingress_owner = IngressOwner::kSessionOwned; });
  const Decision d = Apply(corrupt, SetPeerIngressContext{true});
  ASSERT_TRUE(std::holds_alternative<InvariantViolated>(d));
  EXPECT_EQ(std::get<InvariantViolated>(d).transition, "SetPeerIngressContext");
  EXPECT_THAT(std::get<InvariantViolated>(d).violation, ::testing::StartsWith("ingress_shape:"));
}

// ---------------------------------------------------------------------------------------------
// Random input sequences over the full SPEC alphabet (the exploration trims it).

rc::Gen<std::string> OneOf(std::vector<std::string> values) {
  return rc::gen::elementOf(std::move(values));
}

template <typename T>
rc::Gen<std::optional<T>> OptionalOf(rc::Gen<T> gen) {
  return rc::gen::oneOf(rc::gen::just(std::optional<T>()),
                        rc::gen::map(std::move(gen), [](T v) { return std::optional<T>(v); }));
}

rc::Gen<Input> AnyInput() {
  const auto session = OneOf({"s1", "s2"});
  const auto runtime = OneOf({"r1", "r2", "r3"});
  const auto run = OneOf({"run1", "run2"});
  const auto transport = OneOf({"t1", "t2"});
  const auto mob = OneOf({"m1", "m2"});
  const auto fence = rc::gen::inRange<uint64_t>(1, 4);
  const auto generation = OptionalOf(rc::gen::inRange<uint64_t>(1, 3));
  const auto epoch = OptionalOf(OneOf({"e1", "e2"}));
  const auto binding = rc::gen::construct<BindingObservation>(OptionalOf(runtime),
                                                              OptionalOf(fence), generation, epoch);
  const auto kind = rc::gen::inRange(0, kInputKindCount);
  return rc::gen::mapcat(kind, [=](int k) -> rc::Gen<Input> {
    auto as_input = [](auto gen) {
      return rc::gen::map(gen, [](auto v) { return Input(std::move(v)); });
    };
    switch (static_cast<InputKind>(k)) {
      case InputKind::kInitialize:
        return rc::gen::just(Input(Initialize{}));
      case InputKind::kRegisterSession:
        return as_input(rc::gen::construct<RegisterSession>(session));
      case InputKind::kPrepareBindings:
        return as_input(
            rc::gen::construct<PrepareBindings>(session, runtime, fence, generation, epoch));
      case InputKind::kEnsureSessionWithExecutor:
        return as_input(rc::gen::construct<EnsureSessionWithExecutor>(session));
      case InputKind::kStartRun:
        return as_input(rc::gen::construct<StartRun>(run));
      case InputKind::kFinishRun:
        return as_input(rc::gen::construct<FinishRun>(
            run,
            rc::gen::element(RunOutcome::kCommitted, RunOutcome::kFailed, RunOutcome::kCancelled)));
      case InputKind::kRetire:
        return rc::gen::just(Input(Retire{}));
      case InputKind::kReset:
        return rc::gen::just(Input(Reset{}));
      case InputKind::kStopRuntimeExecutor:
        return as_input(rc::gen::construct<StopRuntimeExecutor>(OneOf({"", "operator"})));
      case InputKind::kRuntimeExecutorExited:
        return rc::gen::just(Input(RuntimeExecutorExited{}));
      case InputKind::kDestroy:
        return rc::gen::just(Input(Destroy{}));
      case InputKind::kBeginUnregisterSession:
        return as_input(rc::gen::construct<BeginUnregisterSession>(session, binding));
      case InputKind::kRuntimeLoopStoppedForUnregister:
        return as_input(rc::gen::construct<RuntimeLoopStoppedForUnregister>(
            session, rc::gen::arbitrary<bool>()));
      case InputKind::kCommsDrainExitedForUnregister:
        return as_input(
            rc::gen::construct<CommsDrainExitedForUnregister>(session, rc::gen::arbitrary<bool>()));
      case InputKind::kCompletionWaitersResolvedForUnregister:
        return as_input(rc::gen::construct<CompletionWaitersResolvedForUnregister>(session));
      case InputKind::kUnregisterSession:
        return as_input(rc::gen::construct<UnregisterSession>(session, binding));
      case InputKind::kSetPeerIngressContext:
        return as_input(rc::gen::construct<SetPeerIngressContext>(rc::gen::arbitrary<bool>()));
      case InputKind::kAttachSessionIngress:
        return as_input(rc::gen::construct<AttachSessionIngress>(transport));
      case InputKind::kAttachMobIngress:
        return as_input(rc::gen::construct<AttachMobIngress>(transport, mob));
      case InputKind::kDetachIngress:
        return rc::gen::just(Input(DetachIngress{}));
      case InputKind::kSpawnDrain:
        return as_input(rc::gen::construct<SpawnDrain>(rc::gen::element(
            DrainMode::kTimed, DrainMode::kAttachedSession, DrainMode::kPersistentHost)));
      case InputKind::kStopDrain:
        return rc::gen::just(Input(StopDrain{}));
      case InputKind::kNotifyDrainExited:
        return as_input(rc::gen::construct<NotifyDrainExited>(rc::gen::element(
            DrainExitReason::kIdleTimeout, DrainExitReason::kDismissed, DrainExitReason::kFailed,
            DrainExitReason::kAborted, DrainExitReason::kSessionShutdown)));
    }
    return rc::gen::just(Input(Initialize{}));
  });
}

// Runs `inputs` from the initial state, applying what is accepted and skipping what is not.
std::vector<uint64_t> Replay(const std::vector<Input>& inputs) {
  std::vector<uint64_t> digests;
  State s;
  for (const Input& input : inputs) {
    const Decision d = Apply(s, input);
    RC_ASSERT(!std::holds_alternative<InvariantViolated>(d));
    if (const auto* accepted = std::get_if<Accepted>(&d)) {
      RC_ASSERT(CheckInvariants(accepted->next).empty());
      s = accepted->next;
    }
    digests.push_back(Digest(s));
  }
  return digests;
}

RC_GTEST_PROP(PropertyTest, RandomInputSequencesKeepEveryInvariantAndReplayIdentically, ()) {
  // Most random inputs are rejected in a random state; prefix the lifecycle so that runs go deep.
  std::vector<Input> inputs = {Initialize{}, RegisterSession{"s1"}};
  const auto tail = *rc::gen::container<std::vector<Input>>(AnyInput());
  inputs.insert(inputs.end(), tail.begin(), tail.end());
  RC_ASSERT(Replay(inputs) == Replay(inputs));
}

// ApplyInto is Apply with its buffers kept: one Accepted, reused across a whole random run and
// swapped with the state after each acceptance (as replay does), decides exactly as a fresh
// Apply does, so no field or effect of an earlier input survives into a later decision.
RC_GTEST_PROP(PropertyTest, ApplyIntoWithReusedBuffersDecidesExactlyAsApply, ()) {
  std::vector<Input> inputs = {Initialize{}, RegisterSession{"s1"}};
  const auto tail = *rc::gen::container<std::vector<Input>>(AnyInput());
  inputs.insert(inputs.end(), tail.begin(), tail.end());
  State s;
  Accepted reused;
  for (const Input& input : inputs) {
    const Decision fresh = Apply(s, input);
    const std::optional<Decision> other = ApplyInto(s, input, reused);
    if (const auto* accepted = std::get_if<Accepted>(&fresh)) {
      RC_ASSERT(!other.has_value());
      RC_ASSERT(reused.transition == accepted->transition);
      RC_ASSERT(reused.next == accepted->next);
      RC_ASSERT(reused.effects == accepted->effects);
      std::swap(s, reused.next);
    } else {
      RC_ASSERT(other.has_value());
      const auto* rejected = std::get_if<Rejected>(&fresh);
      const auto* rejected_too = std::get_if<Rejected>(&*other);
      RC_ASSERT(rejected != nullptr && rejected_too != nullptr);
      RC_ASSERT(rejected->Message() == rejected_too->Message());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Canonical encoding and digest

TEST(DigestTest, EqualStatesHaveEqualEncodingsAndDigests) {
  const State a = MobOwnedBy(WithRuntime(Fresh(Phase::kRunning)), "t1", "m1");
  const State b = a;
  EXPECT_EQ(CanonicalEncoding(a), CanonicalEncoding(b));
  EXPECT_EQ(Digest(a), Digest(b));
}

TEST(DigestTest, ChangingAnyFieldChangesTheEncodingAndTheDigest) {
  const State base =
      MobOwnedBy(WithDrain(WithRuntime(Fresh(Phase::kRunning)), DrainPhase::kRunning), "t1", "m1");
  const std::vector<std::function<void(State&)>> changes = {
      [](State& s) { s.phase = Phase::kRetired; },
      [](State& s) { s.session_id = "s2"; },
      [](State& s) { s.session_id.reset(); },
      [](State& s) { s.runtime_id = "r2"; },
      [](State& s) { s.epoch_id = "e1"; },
      [](State& s) { s.fence_token = 2; },
      [](State& s) { s.generation = 2; },
      [](State& s) { s.current_run_id = "run2"; },
      [](State& s) { s.pre_run_phase = Phase::kAttached; },
      [](State& s) { s.stop_deferred = true; },
      [](State& s) { s.registration_phase = RegistrationPhase::kActive; },
      [](State& s) { s.unregister_runtime_loop_pending = true; },
      [](State& s) { s.unregister_comms_drain_pending = true; },
      [](State& s) { s.unregister_waiters_pending = true; },
      [](State& s) { s.unregister_retains_snapshot = true; },
      [](State& s) { s.runtime_loop_forced_abort = true; },
      [](State& s) { s.comms_drain_forced_abort = true; },
      [](State& s) { s.drain_phase = DrainPhase::kStopped; },
      [](State& s) { s.drain_mode = DrainMode::kTimed; },
      [](State& s) { s.ingress_owner = IngressOwner::kSessionOwned; },
      [](State& s) { s.ingress_transport_id = "t2"; },
      [](State& s) { s.ingress_mob_id = "m2"; },
      [](State& s) { s.keep_alive = true; },
      // Strings are length-prefixed, so moving bytes between adjacent fields shows.
      [](State& s) {
        s.session_id = "s1r";
        s.runtime_id = "1";
      },
  };
  std::set<std::string> encodings = {CanonicalEncoding(base)};
  std::set<uint64_t> digests = {Digest(base)};
  for (size_t i = 0; i < changes.size(); ++i) {
    const State changed = With(base, changes[i]);
    ASSERT_NE(changed, base) << "change " << i << " changes nothing";
    EXPECT_TRUE(encodings.insert(CanonicalEncoding(changed)).second) << "change " << i;
    EXPECT_TRUE(digests.insert(Digest(changed)).second) << "change " << i;
  }
}

TEST(DigestTest, TheInitialStateDigestIsPinned) {
  EXPECT_EQ(CanonicalEncoding(State{}), std::string(22, '\0'));
  EXPECT_EQ(Digest(State{}), 0xf84841652498787dULL);
}

// The two worked examples of DIGEST.md, built here field by field.
State DrainingRunExample() {
  State s;
  s.phase = Phase::kRunning;
  s.session_id = "s1";
  s.runtime_id = "r1";
  s.epoch_id = "e1";
  s.fence_token = 7;
  s.generation = 3;
  s.current_run_id = "run1";
  s.pre_run_phase = Phase::kAttached;
  s.stop_deferred = true;
  s.registration_phase = RegistrationPhase::kDraining;
  s.unregister_comms_drain_pending = true;
  s.unregister_waiters_pending = true;
  s.runtime_loop_forced_abort = true;
  s.drain_phase = DrainPhase::kExitedRespawnable;
  s.drain_mode = DrainMode::kPersistentHost;
  s.ingress_owner = IngressOwner::kMobOwned;
  s.ingress_transport_id = "t1";
  s.ingress_mob_id = "m1";
  s.keep_alive = true;
  return s;
}

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", c);
  return out;
}

// Hex digits of `text` with spaces removed.
std::string Squeeze(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ' ') out += c;
  }
  return out;
}

struct DocExample {
  std::string encoding_hex;
  std::string digest;
};

class DigestDocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(std::string(BURROW_SOURCE_DIR) + "/engine/machine/DIGEST.md");
    ASSERT_TRUE(in.good()) << "cannot read DIGEST.md";
    std::stringstream buffer;
    buffer << in.rdbuf();
    doc_ = buffer.str();
    std::istringstream lines(doc_);
    std::string line;
    std::string current;
    bool in_byte_table = false;
    while (std::getline(lines, line)) {
      if (line.starts_with("example: ")) current = line.substr(9);
      if (line.starts_with("encoding: "))
        examples_[current].encoding_hex = Squeeze(line.substr(10));
      if (line.starts_with("digest: ")) examples_[current].digest = line.substr(8);
      // The annotated byte-by-byte block: hex, two spaces or more, then a description.
      if (line.ends_with("Byte by byte:")) in_byte_table = true;
      if (in_byte_table && line.starts_with("```") && !annotated_.empty()) in_byte_table = false;
      if (in_byte_table && !line.empty() && !line.starts_with("```") &&
          line.find("  ") != std::string::npos && line.find_first_of("0123456789abcdef") == 0) {
        annotated_ += Squeeze(line.substr(0, line.find("  ")));
      }
    }
  }

  std::string doc_;
  std::map<std::string, DocExample> examples_;
  std::string annotated_;  // the draining-run bytes as the annotated block spells them
};

TEST_F(DigestDocTest, WorkedExamplesMatchTheCode) {
  const std::map<std::string, State> states = {{"initial", State{}},
                                               {"draining-run", DrainingRunExample()}};
  ASSERT_EQ(examples_.size(), states.size());
  for (const auto& [name, state] : states) {
    ASSERT_TRUE(examples_.contains(name)) << "DIGEST.md has no example " << name;
    ASSERT_EQ(CheckInvariants(state), "");
    EXPECT_EQ(examples_[name].encoding_hex, Squeeze(Hex(CanonicalEncoding(state))))
        << name << ": the code encodes " << Hex(CanonicalEncoding(state));
    EXPECT_EQ(examples_[name].digest, fmt::format("0x{:016x}", Digest(state)))
        << name << ": the code digests to " << fmt::format("0x{:016x}", Digest(state));
  }
}

TEST_F(DigestDocTest, AnnotatedBytesSpellTheSameEncoding) {
  EXPECT_EQ(annotated_, Squeeze(Hex(CanonicalEncoding(DrainingRunExample()))));
}

TEST_F(DigestDocTest, DocumentsTheHashConstants) {
  EXPECT_NE(doc_.find("0xcbf29ce484222325"), std::string::npos);
  EXPECT_NE(doc_.find("0x00000100000001b3"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Names and renderings

TEST(NamesTest, EveryEnumValueRoundTripsThroughItsSpecSpelling) {
  for (int i = 0; i < kPhaseCount; ++i) {
    const auto v = static_cast<Phase>(i);
    EXPECT_EQ(ParsePhase(Name(v)), v);
  }
  for (int i = 0; i < kInputKindCount; ++i) {
    const auto v = static_cast<InputKind>(i);
    EXPECT_EQ(ParseInputKind(Name(v)), v);
  }
  for (int i = 0; i < kEffectCount; ++i) {
    const auto v = static_cast<Effect>(i);
    EXPECT_EQ(ParseEffect(Name(v)), v);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ParseRegistrationPhase(Name(static_cast<RegistrationPhase>(i))),
              static_cast<RegistrationPhase>(i));
    EXPECT_EQ(ParseDrainMode(Name(static_cast<DrainMode>(i))), static_cast<DrainMode>(i));
    EXPECT_EQ(ParseIngressOwner(Name(static_cast<IngressOwner>(i))), static_cast<IngressOwner>(i));
    EXPECT_EQ(ParseRunOutcome(Name(static_cast<RunOutcome>(i))), static_cast<RunOutcome>(i));
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ParseDrainPhase(Name(static_cast<DrainPhase>(i))), static_cast<DrainPhase>(i));
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ParseDrainExitReason(Name(static_cast<DrainExitReason>(i))),
              static_cast<DrainExitReason>(i));
  }
}

TEST(NamesTest, NamesAreSpelledAsInTheSpec) {
  EXPECT_EQ(Name(Phase::kInitializing), "Initializing");
  EXPECT_EQ(Name(DrainPhase::kExitedRespawnable), "ExitedRespawnable");
  EXPECT_EQ(Name(DrainMode::kPersistentHost), "PersistentHost");
  EXPECT_EQ(Name(IngressOwner::kMobOwned), "MobOwned");
  EXPECT_EQ(Name(RegistrationPhase::kDraining), "Draining");
  EXPECT_EQ(Name(DrainExitReason::kSessionShutdown), "SessionShutdown");
  EXPECT_EQ(Name(RunOutcome::kCancelled), "Cancelled");
  EXPECT_EQ(Name(InputKind::kCompletionWaitersResolvedForUnregister),
            "CompletionWaitersResolvedForUnregister");
  EXPECT_EQ(Name(Effect::kSpawnDrainTask), "SpawnDrainTask");
  EXPECT_EQ(Name(Effect::kRequestWaiterResolution), "RequestWaiterResolution");
}

TEST(NamesTest, ParsingRejectsUnknownAndWronglyCasedNames) {
  EXPECT_EQ(ParsePhase("idle"), std::nullopt);
  EXPECT_EQ(ParsePhase(""), std::nullopt);
  EXPECT_EQ(ParseDrainMode("Persistent"), std::nullopt);
  EXPECT_EQ(ParseInputKind("registerSession"), std::nullopt);
  EXPECT_EQ(ParseEffect("RuntimeBound "), std::nullopt);
}

TEST(RenderTest, MarkdownHasTheHeaderAndOneRowPerDeclaration) {
  const std::string md = RenderMarkdown();
  EXPECT_NE(md.find("| transition | input | phases | guards | update | target | effects |"),
            std::string::npos);
  size_t rows = 0;
  std::istringstream lines(md);
  std::string line;
  std::vector<std::string> row_names;
  while (std::getline(lines, line)) {
    if (line.starts_with("## Guards")) break;
    if (line.starts_with("| ") && !line.starts_with("| transition")) {
      ++rows;
      row_names.push_back(line.substr(2, line.find(' ', 2) - 2));
    }
  }
  ASSERT_EQ(rows, Transitions().size());
  for (size_t i = 0; i < rows; ++i) EXPECT_EQ(row_names[i], Transitions()[i].name);
  EXPECT_NE(md.find("| StartRun | StartRun | Idle, Attached, Retired | `session_registered`, "
                    "`no_current_run` | current_run_id := run_id; pre_run_phase := source "
                    "phase | Running | RunStarted |"),
            std::string::npos);
}

TEST(RenderTest, MarkdownExplainsEveryGuardOnce) {
  const std::string md = RenderMarkdown();
  const std::string legend = md.substr(md.find("## Guards"));
  std::set<std::string_view> guards;
  for (const Transition& t : Transitions()) {
    for (const Guard& g : t.guards) {
      EXPECT_FALSE(g.summary.empty()) << g.name;
      if (guards.insert(g.name).second) {
        std::string cell;
        for (char c : g.summary) {
          if (c == '*') cell += '\\';
          cell += c;
        }
        EXPECT_NE(legend.find(fmt::format("| `{}` | {} |", g.name, cell)), std::string::npos)
            << g.name;
      }
    }
  }
  EXPECT_EQ(static_cast<size_t>(std::count(legend.begin(), legend.end(), '\n')), guards.size() + 4);
}

TEST(RenderTest, DotHasEveryPhaseAndMergedEdges) {
  const std::string dot = RenderDot();
  EXPECT_TRUE(dot.starts_with("digraph burrow_machine {"));
  for (int i = 0; i < kPhaseCount; ++i) {
    EXPECT_NE(dot.find(fmt::format("  {} [label=", Name(static_cast<Phase>(i)))),
              std::string::npos);
  }
  EXPECT_NE(dot.find("Initializing -> Idle [label=\"Initialize\\nReset\"];"), std::string::npos);
  EXPECT_NE(dot.find("Running -> Idle [label=\"FinishRunFromRunning\\nUnregisterSession\"];"),
            std::string::npos);
  EXPECT_NE(dot.find("Initializing -> Destroyed [label=\"DestroyWhileInitializing\"];"),
            std::string::npos);
  EXPECT_EQ(dot.find("Destroyed ->"), std::string::npos) << "nothing leaves Destroyed";
}

TEST(RenderTest, DotRendersWithGraphviz) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz not installed";
  const std::string path = ::testing::TempDir() + "burrow_machine.dot";
  {
    std::ofstream out(path);
    out << RenderDot();
  }
  EXPECT_EQ(std::system(("dot -Tsvg '" + path + "' > /dev/null").c_str()), 0);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace burrow::machine
