// The session authority machine (SPEC.md §2): front door of engine/machine.
//
// Pure: no I/O, no clock, no randomness, no globals that change. Same state and input in, same
// decision out, on every run, build and machine. Safe for concurrent use (everything here is a
// function of its arguments or of the immutable transition table).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/machine/types.h"

namespace burrow::machine {

// ---------------------------------------------------------------------------------------------
// Decisions

// The input was accepted by the transition named `transition`. `next` is the state after the
// update (equal to the pre-state for an accepted no-op) and `effects` what the host must realise
// once the record is durable, in declaration order.
struct Accepted {
  std::string_view transition;  // points into the static transition table
  State next;
  std::vector<Effect> effects;
};

// No declaration held. Nothing changed. `failed_guards` names, for every declaration of this
// input kind whose phase matched, each guard that did not hold (in declaration order, without
// repeats); it is empty when no declaration applies in `phase` at all.
struct Rejected {
  Phase phase;
  InputKind input;
  std::vector<std::string_view> failed_guards;

  // "RegisterSession rejected in Destroyed: not declared in this phase" or
  // "StartRun rejected in Running: guard no_current_run failed". Stable wording: it is the
  // `reason` of ValidationFailed.
  std::string Message() const;
};

// A transition was accepted but its resulting state breaks an invariant of SPEC §2.4. This is a
// bug: the caller must apply and journal nothing and report Internal.
struct InvariantViolated {
  std::string_view transition;
  std::string violation;  // which invariant, with the offending field values
};

using Decision = std::variant<Accepted, Rejected, InvariantViolated>;

// Dispatches `input` against `state` by first match in declaration order (SPEC §2.1), applies
// the update to a copy, checks invariants and computes effects. Never modifies `state`.
Decision Apply(const State& state, const Input& input);

// Apply for callers that apply inputs by the million (replay): an acceptance is written into
// `accepted`, whose strings and effects vector keep their buffers from call to call, and
// nothing is returned; a rejection or a broken invariant is returned as Apply returns it, and
// `accepted` then holds nothing meaningful. `state` must not be `accepted.next`.
std::optional<Decision> ApplyInto(const State& state, const Input& input, Accepted& accepted);

// Empty when `state` satisfies every invariant of SPEC §2.4, else a description of the first
// violated one. Used after every transition and on every state rebuilt from the journal.
std::string CheckInvariants(const State& state);

// ---------------------------------------------------------------------------------------------
// Canonical encoding and digest (see engine/machine/DIGEST.md for the byte layout).
//
// The canonical encoding is a fixed, documented byte string for a state; two states are equal
// iff their encodings are equal. The digest is a 64-bit hash of that encoding, stable across
// runs, builds and machines; the journal records it after every accepted transition and
// recovery compares it.

std::string CanonicalEncoding(const State& state);
uint64_t Digest(const State& state);

// ---------------------------------------------------------------------------------------------
// The transition table, as data: the same declarations drive Apply, the rejection messages,
// `burrow machine --format markdown|dot`, and the exhaustive state-space tests.

using PhaseMask = uint8_t;  // bit i set <=> static_cast<Phase>(i) is included
constexpr PhaseMask PhaseBit(Phase p) { return static_cast<PhaseMask>(1u << static_cast<int>(p)); }

// How a declaration chooses its target phase. Where SPEC gives one input different targets in
// different source phases (PrepareBindings: Idle -> Attached, elsewhere self), the table holds
// one declaration per target, so every declaration's target is one of these three rules.
enum class TargetRule : uint8_t {
  kSelf,    // the phase is unchanged
  kFixed,   // always `target`
  kPreRun,  // the pre-state's pre_run_phase (FinishRun from Running)
};

struct Guard {
  std::string_view name;  // snake_case, e.g. "session_matches"
  bool (*holds)(const State& state, const Input& input);
  std::string_view summary;  // for people: when it holds
};

struct Transition {
  std::string_view name;  // e.g. "FinishRunFromRunning"; unique in the table
  InputKind input;
  PhaseMask phases;
  std::vector<Guard> guards;
  TargetRule target_rule;
  Phase target;                     // meaningful for kFixed
  std::string_view target_summary;  // for people: "Attached", "pre_run_phase", "self", ...
  std::string_view update_summary;  // for people: "registration_phase := Active; ..."
  // The effects this declaration may emit, for documentation (conditional ones included).
  std::vector<Effect> declared_effects;
  std::string_view effects_summary;  // "RuntimeRetired when a runtime is bound"
  // Applies the update to `next` (a copy of the pre-state, phase still the source phase);
  // reads the pre-state through `pre`.
  void (*update)(const State& pre, const Input& input, State& next);
  // Appends the effects of this acceptance; `pre` is the pre-state and `next` the post-state.
  void (*effects)(const State& pre, const State& next, std::vector<Effect>& out);
};

// Every declaration, in declaration order.
std::span<const Transition> Transitions();

// Renderings of the table for `burrow machine`.
std::string RenderMarkdown();  // the transition table
std::string RenderDot();       // the phase diagram (Graphviz), from the same table

}  // namespace burrow::machine
