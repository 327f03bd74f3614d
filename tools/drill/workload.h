// The drills' seeded workload and the ledger of what the host acknowledged (private to
// tools/drill).
//
// Workload: `eval` requests (SPEC §8.1) drawn from a seeded generator over a handful of session
// slots: register, attach_runtime, ensure_executor, start_run/finish_run, retire, reset,
// stop_runtime, runtime_exited, set_peer_ingress (spawns, re-assertions, keep_alive=false
// drains and detaches), abort, destroy, unregister and posts with globally unique message ids.
// It adapts to the responses it is shown (a destroyed slot moves on to a fresh session id; a
// finish_run names the run the slot started), so the same seed and the same responses give the
// same requests.
//
// Ledger: the acknowledged commands and what each must have left in the journal. The mapping
// (docs/DRILLS.md, "What acknowledged means"):
//   * register, attach_runtime, ensure_executor, start_run, finish_run, retire, reset,
//     stop_runtime, runtime_exited, destroy acknowledged → a TransitionRecord whose input equals
//     the request's input (RegisterSession{s}, PrepareBindings{...}, ...), in acknowledgement
//     order within the session's stream;
//   * set_peer_ingress acknowledged → SetPeerIngressContext{keep_alive};
//   * unregister acknowledged → an UnregisterSession record, and the session is gone;
//   * post acknowledged (duplicate false) → an InboxAppended record with its message id, and the
//     message is in the session's inbox or delivered stream — exactly once.
// A command whose outcome is unknown (in flight at a kill or power cut, or failed with
// Unavailable where the drill allows either outcome) expects nothing but may have happened: its
// post may be delivered, its register may have created the session.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/machine/types.h"

namespace burrow::drill {

class Workload {
 public:
  // `tag` makes message ids unique across workloads sharing one journal (e.g. one per round).
  Workload(uint64_t seed, std::string tag, int slots = 8);

  nlohmann::json Next();
  void Observe(const nlohmann::json& request, const nlohmann::json& response);

  // Session ids the workload has used (current generation of each slot).
  std::vector<std::string> Sessions() const;

 private:
  std::string SessionOf(int slot) const;

  std::mt19937_64 rng_;
  std::string tag_;
  std::vector<int> generation_;
  std::map<std::string, std::string> running_run_;  // session → run id started
  uint64_t counter_ = 0;
};

// What one acknowledged command must have left in its session's stream.
struct Expectation {
  enum class Kind : uint8_t { kTransition, kInboxAppended };
  Kind kind = Kind::kTransition;
  machine::InputKind input_kind = machine::InputKind::kInitialize;
  std::optional<machine::Input> input;  // exact input when known (all but unregister)
  std::string message_id;               // kInboxAppended
  std::string what;                     // the request, for messages
};

enum class Presence : uint8_t { kAbsent, kPresent, kMaybe };

struct SessionLedger {
  Presence presence = Presence::kAbsent;
  std::deque<Expectation> expected;      // acknowledged, not yet found in the journal
  uint64_t cursor = 0;                   // stream records up to this seq are matched
  std::vector<std::string> acked_posts;  // this life, in post order
  std::set<std::string> maybe_posts;     // this life, outcome unknown
  // Acknowledged posts of a life that an unregister of unknown outcome may have ended: they are
  // acknowledged again if the session turns out to be still there, forgotten if it is gone.
  std::vector<std::string> doubted_posts;
};

class Ledger {
 public:
  // Feeds one request and its response. `unknown_outcome` marks a command that may or may not
  // have been applied (no response, or a response the scenario does not trust).
  void Record(const nlohmann::json& request, const nlohmann::json& response);
  void RecordUnknown(const nlohmann::json& request);

  // Requests answered with "ok": true (read-only ones included).
  uint64_t acknowledged() const { return acknowledged_; }
  // Acknowledged commands whose records a checkpoint truncated before a check could see them
  // (checks.h, CheckAcknowledged).
  uint64_t unverifiable() const { return unverifiable_; }
  void NoteUnverifiable(uint64_t n) { unverifiable_ += n; }
  std::map<std::string, SessionLedger>& sessions() { return sessions_; }
  const std::map<std::string, SessionLedger>& sessions() const { return sessions_; }

 private:
  std::map<std::string, SessionLedger> sessions_;
  uint64_t acknowledged_ = 0;
  uint64_t unverifiable_ = 0;
};

// The input an acknowledged request must have journaled (nullopt: none, or not knowable).
std::optional<Expectation> ExpectationOf(const nlohmann::json& request);

}  // namespace burrow::drill
