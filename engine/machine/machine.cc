// Dispatch (SPEC.md §2.1), rejection messages and the invariants of SPEC §2.4.
#include "engine/machine/machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "base/check.h"

namespace burrow::machine {
namespace {

// The declarations of each input kind, in declaration order: dispatch reads only these.
using DeclarationsByKind = std::array<std::vector<const Transition*>, kInputKindCount>;

const DeclarationsByKind& Declarations() {
  static const DeclarationsByKind* const index = [] {
    auto* by_kind = new DeclarationsByKind();
    for (const Transition& t : Transitions()) {
      (*by_kind)[static_cast<size_t>(t.input)].push_back(&t);
    }
    return by_kind;
  }();
  return *index;
}

bool AppliesIn(const Transition& t, Phase phase) { return (t.phases & PhaseBit(phase)) != 0; }

Phase TargetOf(const Transition& t, const State& pre) {
  switch (t.target_rule) {
    case TargetRule::kSelf:
      return pre.phase;
    case TargetRule::kFixed:
      return t.target;
    case TargetRule::kPreRun:
      // Running implies a current run, and the invariants keep pre_run_phase with it.
      BURROW_CHECK(pre.pre_run_phase.has_value(), "{} from {} without pre_run_phase", t.name,
                   Name(pre.phase));
      return *pre.pre_run_phase;
  }
  BURROW_CHECK(false, "{} has an unknown target rule", t.name);
  return pre.phase;
}

template <typename T>
std::string Show(const std::optional<T>& v) {
  if (!v.has_value()) return "none";
  if constexpr (std::is_same_v<T, std::string>) {
    return fmt::format("\"{}\"", *v);
  } else if constexpr (std::is_enum_v<T>) {
    return std::string(Name(*v));
  } else {
    return fmt::format("{}", *v);
  }
}

}  // namespace

std::optional<Decision> ApplyInto(const State& state, const Input& input, Accepted& accepted) {
  const InputKind kind = KindOf(input);
  const std::vector<const Transition*>& declarations = Declarations()[static_cast<size_t>(kind)];
  const auto all_hold = [&](const Transition& t) {
    return std::all_of(t.guards.begin(), t.guards.end(),
                       [&](const Guard& guard) { return guard.holds(state, input); });
  };
  for (const Transition* t : declarations) {
    if (!AppliesIn(*t, state.phase) || !all_hold(*t)) continue;
    accepted.transition = t->name;
    accepted.next = state;  // copy-assignment: reuses the strings' buffers
    accepted.effects.clear();
    t->update(state, input, accepted.next);
    accepted.next.phase = TargetOf(*t, state);
    t->effects(state, accepted.next, accepted.effects);
    std::string violation = CheckInvariants(accepted.next);
    if (!violation.empty()) {
      return InvariantViolated{.transition = t->name, .violation = std::move(violation)};
    }
    return std::nullopt;
  }
  // Rejected: name every guard that failed, in declaration order, without repeats. A second
  // pass, so that an acceptance never pays for the names of an earlier declaration's guards.
  Rejected rejected{.phase = state.phase, .input = kind, .failed_guards = {}};
  for (const Transition* t : declarations) {
    if (!AppliesIn(*t, state.phase)) continue;
    for (const Guard& guard : t->guards) {
      if (guard.holds(state, input)) continue;
      auto& failed = rejected.failed_guards;
      if (std::find(failed.begin(), failed.end(), guard.name) == failed.end()) {
        failed.push_back(guard.name);
      }
    }
  }
  return rejected;
}

Decision Apply(const State& state, const Input& input) {
  Accepted accepted;
  if (std::optional<Decision> other = ApplyInto(state, input, accepted)) return *std::move(other);
  return accepted;
}

std::string Rejected::Message() const {
  if (failed_guards.empty()) {
    return fmt::format("{} rejected in {}: not declared in this phase", Name(input), Name(phase));
  }
  return fmt::format("{} rejected in {}: {} {} failed", Name(input), Name(phase),
                     failed_guards.size() == 1 ? "guard" : "guards",
                     fmt::join(failed_guards, ", "));
}

std::string CheckInvariants(const State& s) {
  // Ingress shape: the owner kind says exactly which ids are present.
  const bool has_transport = s.ingress_transport_id.has_value();
  const bool has_mob = s.ingress_mob_id.has_value();
  const bool shape_ok = [&] {
    switch (s.ingress_owner) {
      case IngressOwner::kUnattached:
        return !has_transport && !has_mob;
      case IngressOwner::kSessionOwned:
        return has_transport && !has_mob;
      case IngressOwner::kMobOwned:
        return has_transport && has_mob;
    }
    return false;
  }();
  if (!shape_ok) {
    return fmt::format(
        "ingress_shape: ingress_owner {} with ingress_transport_id {} and ingress_mob_id {}",
        Name(s.ingress_owner), Show(s.ingress_transport_id), Show(s.ingress_mob_id));
  }

  if (s.registration_phase != RegistrationPhase::kDraining &&
      (s.unregister_runtime_loop_pending || s.unregister_comms_drain_pending ||
       s.unregister_waiters_pending || s.unregister_retains_snapshot)) {
    return fmt::format(
        "unregister_obligations_only_while_draining: registration_phase {} with "
        "unregister_runtime_loop_pending {}, unregister_comms_drain_pending {}, "
        "unregister_waiters_pending {}, unregister_retains_snapshot {}",
        Name(s.registration_phase), s.unregister_runtime_loop_pending,
        s.unregister_comms_drain_pending, s.unregister_waiters_pending,
        s.unregister_retains_snapshot);
  }

  if (!s.runtime_id.has_value() &&
      (s.fence_token.has_value() || s.generation.has_value() || s.epoch_id.has_value())) {
    return fmt::format(
        "binding_requires_runtime: runtime_id none with fence_token {}, generation {}, "
        "epoch_id {}",
        Show(s.fence_token), Show(s.generation), Show(s.epoch_id));
  }
  if (s.runtime_id.has_value() && !s.generation.has_value() && !s.epoch_id.has_value()) {
    return fmt::format(
        "runtime_requires_generation_or_epoch: runtime_id {} with generation none and "
        "epoch_id none",
        Show(s.runtime_id));
  }

  if (s.phase == Phase::kRunning && !s.current_run_id.has_value()) {
    return "running_has_current_run: phase Running with current_run_id none";
  }
  if (s.current_run_id.has_value() && s.phase != Phase::kRunning && s.phase != Phase::kRetired) {
    return fmt::format("current_run_only_while_running_or_retired: phase {} with current_run_id {}",
                       Name(s.phase), Show(s.current_run_id));
  }
  if (s.current_run_id.has_value() != s.pre_run_phase.has_value()) {
    return fmt::format(
        "current_run_and_pre_run_phase_together: current_run_id {} with pre_run_phase {}",
        Show(s.current_run_id), Show(s.pre_run_phase));
  }
  // The field's domain (SPEC §2.2); only a corrupt record can break it.
  if (s.pre_run_phase.has_value() && *s.pre_run_phase != Phase::kIdle &&
      *s.pre_run_phase != Phase::kAttached && *s.pre_run_phase != Phase::kRetired) {
    return fmt::format("pre_run_phase_domain: pre_run_phase {} is not Idle, Attached or Retired",
                       Show(s.pre_run_phase));
  }

  if (s.stop_deferred && s.phase != Phase::kAttached && s.phase != Phase::kRunning) {
    return fmt::format("stop_deferred_only_while_attached_or_running: phase {}", Name(s.phase));
  }

  if (s.drain_phase != DrainPhase::kInactive && !s.drain_mode.has_value()) {
    return fmt::format("active_drain_has_mode: drain_phase {} with drain_mode none",
                       Name(s.drain_phase));
  }

  if (s.phase == Phase::kDestroyed &&
      (s.drain_phase == DrainPhase::kRunning || s.drain_phase == DrainPhase::kExitedRespawnable)) {
    return fmt::format("destroyed_has_no_live_drain: phase Destroyed with drain_phase {}",
                       Name(s.drain_phase));
  }
  return {};
}

}  // namespace burrow::machine
