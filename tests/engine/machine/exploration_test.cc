// Exhaustive exploration of the session authority machine: breadth-first from the initial state
// over every input kind, with a small alphabet of payload values, until no new state appears.
//
// On every edge: Apply never reports a broken invariant and never touches its input, a rejection
// names the state's phase and the input's kind, an accepted state satisfies every invariant and
// its effects are among those its declaration lists; on every edge that changes the state, the
// digest of the new state equals the digest of a copy. Over the whole closure: every input kind
// is tried, every declaration is accepted in every phase it names (except three combinations no
// input sequence can reach, listed below), and no two distinct explored states share a digest.
//
// Symmetry reduction. Each kind of id lives in exactly one field of the state (session_id,
// runtime_id, current_run_id, ingress_transport_id, ingress_mob_id), and the machine only ever
// compares ids for equality or copies them from an input. Renaming ids therefore commutes with
// Apply, and a state whose ids are s2/r2/run2/t2/m2 behaves exactly like the same state with
// s1/r1/run1/t1/m1. The exploration keeps both ids of each kind in its alphabet (so every
// "same id" and "other id" outcome is tried) but explores one state per renaming class, which
// makes the closure about 14 times smaller. The test checks the commuting property itself on a
// sample of explored states, with every id swapped for its twin.
//
// Write-only history. keep_alive, runtime_loop_forced_abort and comms_drain_forced_abort are
// recorded by the machine but read by no guard, update, effect or invariant, so two states that
// differ only in them accept the same inputs by the same declarations and evolve alike. States
// are deduplicated with those three fields masked (the state explored keeps the values it was
// reached with); the test checks on a sample of states that flipping the three fields changes
// no decision. This makes the closure about 5 times smaller again.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "engine/machine/machine.h"

namespace burrow::machine {
namespace {

// The payload values the exploration draws from.
//
// Two of each kind of id, and both values of every bool payload. Payload values the machine
// cannot tell apart are trimmed to one representative each, so that the closure runs in seconds
// in a Debug+ASan build. (With fence tokens {1, 2}, every enum value and neither reduction
// above, the closure has 4.1 million states and 351 million edges and holds the same properties;
// it takes six minutes in a release build.)
//  * fence tokens {1}: a fence token is only ever compared with the bound one, and the second
//    runtime id already gives PrepareBindings a conflicting payload; Reset makes "unset" reachable.
//  * (generation, epoch) payloads: generation only, epoch only, both, and neither (which
//    generation_or_epoch_present refuses).
//  * drain modes {Timed, PersistentHost} and exit reasons {IdleTimeout, Failed}: the machine only
//    distinguishes PersistentHost + Failed from everything else (AttachedSession behaves as Timed;
//    Dismissed, Aborted and SessionShutdown as IdleTimeout).
//  * run outcome {Committed}: FinishRun ignores the outcome.
// machine_test covers the trimmed values one transition at a time, and its property test draws
// random input sequences from the untrimmed alphabet.
struct Alphabet {
  std::vector<std::string> session_ids = {"s1", "s2"};
  std::vector<std::string> runtime_ids = {"r1", "r2"};
  std::vector<std::string> run_ids = {"run1", "run2"};
  std::vector<std::string> transport_ids = {"t1", "t2"};
  std::vector<std::string> mob_ids = {"m1", "m2"};
  std::vector<uint64_t> fence_tokens = {1};
  std::vector<std::pair<std::optional<uint64_t>, std::optional<std::string>>> generation_and_epoch =
      {{1, std::nullopt}, {std::nullopt, "e1"}, {1, "e1"}, {}};
  std::vector<bool> forced_aborts = {false, true};
  std::vector<bool> keep_alives = {false, true};
  std::vector<RunOutcome> outcomes = {RunOutcome::kCommitted};
  std::vector<DrainMode> modes = {DrainMode::kTimed, DrainMode::kPersistentHost};
  std::vector<DrainExitReason> reasons = {DrainExitReason::kIdleTimeout, DrainExitReason::kFailed};
  std::string stop_reason = "operator";
};

// Every input whose payload does not depend on the state.
std::vector<Input> FixedInputs(const Alphabet& a) {
  std::vector<Input> inputs;
  inputs.push_back(Initialize{});
  for (const auto& s : a.session_ids) inputs.push_back(RegisterSession{s});
  for (const auto& s : a.session_ids) {
    for (const auto& r : a.runtime_ids) {
      for (uint64_t f : a.fence_tokens) {
        for (const auto& [g, e] : a.generation_and_epoch) {
          inputs.push_back(PrepareBindings{s, r, f, g, e});
        }
      }
    }
  }
  for (const auto& s : a.session_ids) inputs.push_back(EnsureSessionWithExecutor{s});
  for (const auto& r : a.run_ids) inputs.push_back(StartRun{r});
  for (const auto& r : a.run_ids) {
    for (RunOutcome o : a.outcomes) inputs.push_back(FinishRun{r, o});
  }
  inputs.push_back(Retire{});
  inputs.push_back(Reset{});
  inputs.push_back(StopRuntimeExecutor{a.stop_reason});
  inputs.push_back(RuntimeExecutorExited{});
  inputs.push_back(Destroy{});
  for (const auto& s : a.session_ids) {
    for (bool f : a.forced_aborts) {
      inputs.push_back(RuntimeLoopStoppedForUnregister{s, f});
      inputs.push_back(CommsDrainExitedForUnregister{s, f});
    }
    inputs.push_back(CompletionWaitersResolvedForUnregister{s});
  }
  for (bool k : a.keep_alives) inputs.push_back(SetPeerIngressContext{k});
  for (const auto& t : a.transport_ids) {
    inputs.push_back(AttachSessionIngress{t});
    for (const auto& m : a.mob_ids) inputs.push_back(AttachMobIngress{t, m});
  }
  inputs.push_back(DetachIngress{});
  for (DrainMode m : a.modes) inputs.push_back(SpawnDrain{m});
  inputs.push_back(StopDrain{});
  for (DrainExitReason r : a.reasons) inputs.push_back(NotifyDrainExited{r});
  return inputs;
}

// The unregister inputs for `s`: each session id with the state's own binding and with one that
// differs from it in the runtime id.
std::vector<Input> BindingInputs(const State& s, const Alphabet& a) {
  const BindingObservation current{s.runtime_id, s.fence_token, s.generation, s.epoch_id};
  BindingObservation other = current;
  other.runtime_id = s.runtime_id == a.runtime_ids[0] ? a.runtime_ids[1] : a.runtime_ids[0];
  std::vector<Input> inputs;
  for (const auto& session : a.session_ids) {
    for (const BindingObservation& observed : {current, other}) {
      inputs.push_back(BeginUnregisterSession{session, observed});
      inputs.push_back(UnregisterSession{session, observed});
    }
  }
  return inputs;
}

// ---------------------------------------------------------------------------------------------
// Id renaming

// Each id and its twin, across all kinds (the kinds use disjoint spellings).
std::unordered_map<std::string, std::string> Twins(const Alphabet& a) {
  std::unordered_map<std::string, std::string> twins;
  for (const auto* ids :
       {&a.session_ids, &a.runtime_ids, &a.run_ids, &a.transport_ids, &a.mob_ids}) {
    twins[(*ids)[0]] = (*ids)[1];
    twins[(*ids)[1]] = (*ids)[0];
  }
  return twins;
}

void Rename(std::string& id, const std::unordered_map<std::string, std::string>& twins) {
  auto it = twins.find(id);
  if (it != twins.end()) id = it->second;
}
void Rename(std::optional<std::string>& id,
            const std::unordered_map<std::string, std::string>& twins) {
  if (id.has_value()) Rename(*id, twins);
}

State Swapped(State s, const std::unordered_map<std::string, std::string>& twins) {
  Rename(s.session_id, twins);
  Rename(s.runtime_id, twins);
  Rename(s.current_run_id, twins);
  Rename(s.ingress_transport_id, twins);
  Rename(s.ingress_mob_id, twins);
  return s;
}

Input Swapped(Input input, const std::unordered_map<std::string, std::string>& twins) {
  std::visit(
      [&](auto& in) {
        if constexpr (requires { in.session_id; }) Rename(in.session_id, twins);
        if constexpr (requires { in.runtime_id; }) Rename(in.runtime_id, twins);
        if constexpr (requires { in.run_id; }) Rename(in.run_id, twins);
        if constexpr (requires { in.transport_id; }) Rename(in.transport_id, twins);
        if constexpr (requires { in.mob_id; }) Rename(in.mob_id, twins);
        if constexpr (requires { in.binding; }) Rename(in.binding.runtime_id, twins);
      },
      input);
  return input;
}

State WithoutHistory(State s) {
  s.keep_alive = false;
  s.runtime_loop_forced_abort = false;
  s.comms_drain_forced_abort = false;
  return s;
}

State WithHistoryFlipped(State s) {
  s.keep_alive = !s.keep_alive;
  s.runtime_loop_forced_abort = !s.runtime_loop_forced_abort;
  s.comms_drain_forced_abort = !s.comms_drain_forced_abort;
  return s;
}

// The deduplication key of `s`: the canonical encoding of its class, with every id replaced by
// the first of its kind and the write-only history masked.
std::string ClassKey(State s, const Alphabet& a) {
  if (s.session_id) s.session_id = a.session_ids[0];
  if (s.runtime_id) s.runtime_id = a.runtime_ids[0];
  if (s.current_run_id) s.current_run_id = a.run_ids[0];
  if (s.ingress_transport_id) s.ingress_transport_id = a.transport_ids[0];
  if (s.ingress_mob_id) s.ingress_mob_id = a.mob_ids[0];
  return CanonicalEncoding(WithoutHistory(std::move(s)));
}

// True when `flipped` (the decision for the same input in the state with its history flipped)
// differs from `original` in nothing but that history.
bool SameUpToHistory(const Decision& original, const Decision& flipped) {
  if (original.index() != flipped.index()) return false;
  if (const auto* a = std::get_if<Accepted>(&original)) {
    const auto& b = std::get<Accepted>(flipped);
    return a->transition == b.transition && a->effects == b.effects &&
           WithoutHistory(a->next) == WithoutHistory(b.next);
  }
  if (const auto* a = std::get_if<Rejected>(&original)) {
    const auto& b = std::get<Rejected>(flipped);
    return a->phase == b.phase && a->input == b.input && a->failed_guards == b.failed_guards;
  }
  return true;
}

// True when `renamed` is `original` with every id swapped for its twin.
bool SameUpToRenaming(const Decision& original, const Decision& renamed,
                      const std::unordered_map<std::string, std::string>& twins) {
  if (original.index() != renamed.index()) return false;
  if (const auto* a = std::get_if<Accepted>(&original)) {
    const auto& b = std::get<Accepted>(renamed);
    return a->transition == b.transition && a->effects == b.effects &&
           Swapped(a->next, twins) == b.next;
  }
  if (const auto* a = std::get_if<Rejected>(&original)) {
    const auto& b = std::get<Rejected>(renamed);
    return a->phase == b.phase && a->input == b.input && a->failed_guards == b.failed_guards;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The exploration

// Every 8th explored state has all its edges replayed with ids swapped, and every 8th (another
// one) with its history flipped.
constexpr size_t kQuotientCheckStride = 8;
constexpr size_t kMaxReportedFailures = 20;
// Far above the closure (about 29 thousand classes): reaching it means the machine grew a
// dimension the alphabet cannot close over.
constexpr size_t kStateLimit = 1'000'000;

struct Exploration {
  size_t states = 0;
  size_t edges = 0;
  size_t accepted_edges = 0;
  size_t renaming_checks = 0;
  size_t history_checks = 0;
  std::map<std::string_view, size_t> accepted_by_transition;
  std::set<std::pair<std::string_view, Phase>> accepted_in_phase;
  std::set<InputKind> kinds_tried;
  size_t failures = 0;
  bool closed = false;
};

Exploration Explore(const Alphabet& alphabet, size_t state_limit) {
  Exploration x;
  const std::vector<Input> fixed = FixedInputs(alphabet);
  const auto twins = Twins(alphabet);
  std::map<std::string_view, const Transition*> declarations;
  for (const Transition& t : Transitions()) declarations[t.name] = &t;

  std::unordered_set<std::string> seen;
  std::unordered_map<uint64_t, std::string> digests;  // digest -> encoding, to catch collisions
  std::deque<State> frontier;
  auto fail = [&](const State& s, const Input* in, const std::string& what) {
    if (++x.failures <= kMaxReportedFailures) {
      ADD_FAILURE() << what << " (in phase " << Name(s.phase)
                    << (in != nullptr ? ", input " + std::string(Name(KindOf(*in))) : "") << ")";
    }
  };
  auto discover = [&](const State& s) {
    const State copy = s;
    if (Digest(copy) != Digest(s)) fail(s, nullptr, "digest is not a function of the state");
    if (!seen.insert(ClassKey(s, alphabet)).second) return;
    std::string encoding = CanonicalEncoding(s);
    auto [it, fresh] = digests.emplace(Digest(s), std::move(encoding));
    if (!fresh && it->second != CanonicalEncoding(s)) {
      fail(s, nullptr, "two distinct states share a digest");
    }
    frontier.push_back(s);
  };

  discover(State{});
  while (!frontier.empty()) {
    if (seen.size() > state_limit) return x;
    const State state = std::move(frontier.front());
    frontier.pop_front();
    const State pristine = state;
    const bool check_renaming = x.states % kQuotientCheckStride == 0;
    const bool check_history = x.states % kQuotientCheckStride == kQuotientCheckStride / 2;
    const State swapped = Swapped(state, twins);
    const State flipped = WithHistoryFlipped(state);
    ++x.states;
    const std::vector<Input> binding_inputs = BindingInputs(state, alphabet);
    for (const auto* inputs : {&fixed, &binding_inputs}) {
      for (const Input& input : *inputs) {
        ++x.edges;
        x.kinds_tried.insert(KindOf(input));
        const Decision decision = Apply(state, input);
        if (!(state == pristine)) fail(state, &input, "Apply modified its input state");
        if (check_renaming) {
          ++x.renaming_checks;
          if (!SameUpToRenaming(decision, Apply(swapped, Swapped(input, twins)), twins)) {
            fail(state, &input, "renaming ids does not commute with Apply");
          }
        }
        if (check_history) {
          ++x.history_checks;
          if (!SameUpToHistory(decision, Apply(flipped, input))) {
            fail(state, &input, "a write-only history field changed a decision");
          }
        }
        if (const auto* bad = std::get_if<InvariantViolated>(&decision)) {
          fail(state, &input,
               "Apply reported a broken invariant after " + std::string(bad->transition) + ": " +
                   bad->violation);
          continue;
        }
        if (const auto* rejected = std::get_if<Rejected>(&decision)) {
          if (rejected->phase != state.phase || rejected->input != KindOf(input)) {
            fail(state, &input, "rejection names another phase or input: " + rejected->Message());
          }
          continue;
        }
        const auto& accepted = std::get<Accepted>(decision);
        ++x.accepted_edges;
        ++x.accepted_by_transition[accepted.transition];
        x.accepted_in_phase.emplace(accepted.transition, state.phase);
        if (std::string violation = CheckInvariants(accepted.next); !violation.empty()) {
          fail(state, &input, "accepted state breaks an invariant: " + violation);
        }
        auto declaration = declarations.find(accepted.transition);
        if (declaration == declarations.end() || declaration->second->input != KindOf(input) ||
            (declaration->second->phases & PhaseBit(state.phase)) == 0) {
          fail(state, &input,
               "accepted by an undeclared transition " + std::string(accepted.transition));
          continue;
        }
        const auto& declared = declaration->second->declared_effects;
        for (Effect e : accepted.effects) {
          if (std::find(declared.begin(), declared.end(), e) == declared.end()) {
            fail(state, &input,
                 std::string(accepted.transition) + " emitted undeclared " + std::string(Name(e)));
          }
        }
        // Many accepted edges keep the state (no-ops, re-assertions): that state was checked
        // and explored when it was discovered.
        if (!(accepted.next == state)) discover(accepted.next);
      }
    }
  }
  x.closed = true;
  return x;
}

// One exploration, shared by the tests below.
class ExplorationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = std::chrono::steady_clock::now();
    result_ = new Exploration(Explore(Alphabet{}, kStateLimit));
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() {
    delete result_;
    result_ = nullptr;
  }

  static const Exploration& x() { return *result_; }
  static double seconds() { return seconds_; }

 private:
  static inline Exploration* result_ = nullptr;
  static inline double seconds_ = 0;
};

TEST_F(ExplorationTest, EveryReachableStateAndEdgeKeepsTheMachinesPromises) {
  std::cout << "exploration: " << x().states << " states, " << x().edges << " edges ("
            << x().accepted_edges << " accepted; " << x().renaming_checks
            << " replayed with ids swapped, " << x().history_checks
            << " with history flipped), closed after " << seconds() << " s\n";
  RecordProperty("states", std::to_string(x().states));
  RecordProperty("edges", std::to_string(x().edges));

  ASSERT_TRUE(x().closed) << "the state limit was reached before closure";
  EXPECT_EQ(x().failures, 0u);
  EXPECT_EQ(x().kinds_tried.size(), static_cast<size_t>(kInputKindCount));
  // The closure of this alphabet has about 29 thousand classes; far fewer means the machine
  // lost transitions or the alphabet lost values.
  EXPECT_GT(x().states, 25'000u);
  EXPECT_GT(x().edges, 1'500'000u);
  EXPECT_GT(x().renaming_checks, x().edges / kQuotientCheckStride / 2);
  EXPECT_GT(x().history_checks, x().edges / kQuotientCheckStride / 2);
}

// SPEC declares two things that no sequence of inputs can reach: PrepareBindings and Destroy
// in Initializing both need something bound before Initialize, but nothing binds a session
// there (RegisterSession is not declared in Initializing, so session_matches never holds) and
// so nothing binds a runtime either. machine_test exercises them on a constructed state.
const std::set<std::pair<std::string_view, Phase>> kUnreachable = {
    {"PrepareBindingsUnchanged", Phase::kInitializing},
    {"PrepareBindings", Phase::kInitializing},
    {"DestroyWhileInitializing", Phase::kInitializing},
};

TEST_F(ExplorationTest, EveryDeclarationIsAcceptedInEveryPhaseItNamesExceptTheUnreachableOnes) {
  ASSERT_TRUE(x().closed);
  std::set<std::string_view> accepted_somewhere;
  for (const auto& [name, phase] : x().accepted_in_phase) accepted_somewhere.insert(name);
  for (const Transition& t : Transitions()) {
    const bool unreachable_everywhere = t.name == "DestroyWhileInitializing";
    EXPECT_EQ(accepted_somewhere.contains(t.name), !unreachable_everywhere)
        << t.name << (unreachable_everywhere ? " became reachable" : " was never accepted");
    for (int i = 0; i < kPhaseCount; ++i) {
      const auto phase = static_cast<Phase>(i);
      if ((t.phases & PhaseBit(phase)) == 0) continue;
      const bool expected = !kUnreachable.contains({t.name, phase});
      EXPECT_EQ(x().accepted_in_phase.contains({t.name, phase}), expected)
          << t.name << " in " << Name(phase)
          << (expected ? " was never accepted" : " became reachable: update kUnreachable");
    }
  }
}

}  // namespace
}  // namespace burrow::machine
