// Names of the machine's enumerations, spelled exactly as in SPEC.md.
//
// Each enumeration has one table of names indexed by its numeric value; Name() and Parse*()
// both read that table, so the two directions can never disagree.
#include "engine/machine/types.h"

#include <array>

#include "base/check.h"

namespace burrow::machine {
namespace {

constexpr std::array<std::string_view, kPhaseCount> kPhaseNames = {
    "Initializing", "Idle", "Attached", "Running", "Retired", "Stopped", "Destroyed",
};
constexpr std::array<std::string_view, 3> kRegistrationPhaseNames = {"Queuing", "Active",
                                                                     "Draining"};
constexpr std::array<std::string_view, 4> kDrainPhaseNames = {"Inactive", "Running", "Stopped",
                                                              "ExitedRespawnable"};
constexpr std::array<std::string_view, 3> kDrainModeNames = {"Timed", "AttachedSession",
                                                             "PersistentHost"};
constexpr std::array<std::string_view, 3> kIngressOwnerNames = {"Unattached", "SessionOwned",
                                                                "MobOwned"};
constexpr std::array<std::string_view, 3> kRunOutcomeNames = {"Committed", "Failed", "Cancelled"};
constexpr std::array<std::string_view, 5> kDrainExitReasonNames = {
    "IdleTimeout", "Dismissed", "Failed", "Aborted", "SessionShutdown",
};
constexpr std::array<std::string_view, kInputKindCount> kInputKindNames = {
    "Initialize",
    "RegisterSession",
    "PrepareBindings",
    "EnsureSessionWithExecutor",
    "StartRun",
    "FinishRun",
    "Retire",
    "Reset",
    "StopRuntimeExecutor",
    "RuntimeExecutorExited",
    "Destroy",
    "BeginUnregisterSession",
    "RuntimeLoopStoppedForUnregister",
    "CommsDrainExitedForUnregister",
    "CompletionWaitersResolvedForUnregister",
    "UnregisterSession",
    "SetPeerIngressContext",
    "AttachSessionIngress",
    "AttachMobIngress",
    "DetachIngress",
    "SpawnDrain",
    "StopDrain",
    "NotifyDrainExited",
};
constexpr std::array<std::string_view, kEffectCount> kEffectNames = {
    "RuntimeBound",          "RunStarted",
    "RunFinished",           "RuntimeRetired",
    "StopRuntime",           "RuntimeDestroyed",
    "StopDrainTask",         "RequestRuntimeLoopStop",
    "RequestCommsDrainExit", "RequestWaiterResolution",
    "SpawnDrainTask",
};

// An enum value outside its table can only come from a cast of unchecked bytes: a bug.
template <typename E, size_t N>
std::string_view NameIn(const std::array<std::string_view, N>& names, E value) {
  const auto index = static_cast<size_t>(value);
  BURROW_CHECK(index < N, "enum value {} out of range (size {})", index, N);
  return names[index];
}

template <typename E, size_t N>
std::optional<E> ParseIn(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view Name(Phase v) { return NameIn(kPhaseNames, v); }
std::string_view Name(RegistrationPhase v) { return NameIn(kRegistrationPhaseNames, v); }
std::string_view Name(DrainPhase v) { return NameIn(kDrainPhaseNames, v); }
std::string_view Name(DrainMode v) { return NameIn(kDrainModeNames, v); }
std::string_view Name(IngressOwner v) { return NameIn(kIngressOwnerNames, v); }
std::string_view Name(RunOutcome v) { return NameIn(kRunOutcomeNames, v); }
std::string_view Name(DrainExitReason v) { return NameIn(kDrainExitReasonNames, v); }
std::string_view Name(InputKind kind) { return NameIn(kInputKindNames, kind); }
std::string_view Name(Effect effect) { return NameIn(kEffectNames, effect); }

std::optional<Phase> ParsePhase(std::string_view s) { return ParseIn<Phase>(kPhaseNames, s); }
std::optional<RegistrationPhase> ParseRegistrationPhase(std::string_view s) {
  return ParseIn<RegistrationPhase>(kRegistrationPhaseNames, s);
}
std::optional<DrainPhase> ParseDrainPhase(std::string_view s) {
  return ParseIn<DrainPhase>(kDrainPhaseNames, s);
}
std::optional<DrainMode> ParseDrainMode(std::string_view s) {
  return ParseIn<DrainMode>(kDrainModeNames, s);
}
std::optional<IngressOwner> ParseIngressOwner(std::string_view s) {
  return ParseIn<IngressOwner>(kIngressOwnerNames, s);
}
std::optional<RunOutcome> ParseRunOutcome(std::string_view s) {
  return ParseIn<RunOutcome>(kRunOutcomeNames, s);
}
std::optional<DrainExitReason> ParseDrainExitReason(std::string_view s) {
  return ParseIn<DrainExitReason>(kDrainExitReasonNames, s);
}
std::optional<InputKind> ParseInputKind(std::string_view s) {
  return ParseIn<InputKind>(kInputKindNames, s);
}
std::optional<Effect> ParseEffect(std::string_view s) { return ParseIn<Effect>(kEffectNames, s); }

}  // namespace burrow::machine
