// What Burrow writes into the journal, as plain C++ values (front door of schema/).
//
// The Cap'n Proto schema (journal.capnp) is the wire form; codec.h converts between the two.
// Cap'n Proto types stop at the codec: nothing above schema/ includes a capnp header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/machine/types.h"

namespace burrow::schema {

// Version of the record envelope's schema (independent of journal::kFormatVersion, which is the
// key/value framing). Readers refuse a newer version.
inline constexpr uint32_t kRecordVersion = 1;

// An input the authority accepted, with what it did.
struct TransitionRecord {
  machine::Input input;
  std::string transition;  // the accepted declaration's name
  std::vector<machine::Effect> effects;
  uint64_t state_digest = 0;  // machine::Digest of the state after the transition
  friend bool operator==(const TransitionRecord&, const TransitionRecord&) = default;
};

// A peer message appended to a session's durable inbox.
struct InboxAppended {
  std::string message_id;
  std::string from;
  std::string body;
  uint64_t inbox_index = 0;  // position in the session's inbox, 0-based, in post order
  friend bool operator==(const InboxAppended&, const InboxAppended&) = default;
};

// A message handed to the session's delivered stream (journaled before the hand-over).
struct MessageDelivered {
  std::string message_id;
  uint64_t inbox_index = 0;
  uint64_t incarnation = 0;  // the drain task that delivered it
  friend bool operator==(const MessageDelivered&, const MessageDelivered&) = default;
};

// Why a drain task started or ended.
enum class TaskCause : uint8_t {
  kCommand = 0,      // started by set_peer_ingress
  kRecovery = 1,     // started by recovery for a Running drain
  kRespawn = 2,      // started by the respawn supervisor
  kReplaced = 3,     // started to replace a task serving another transport
  kIdleTimeout = 4,  // ended: idle timeout
  kFailed = 5,       // ended: inbox read or delivery journaling failed
  kCancelled = 6,    // ended: abort / destroy / unregister / notify cancelled it
  kAbandoned = 7,    // ended: did not finish within the 2 s join bound
};
std::string_view Name(TaskCause cause);

struct DrainTaskStarted {
  uint64_t incarnation = 0;
  TaskCause cause = TaskCause::kCommand;
  std::string transport_id;
  friend bool operator==(const DrainTaskStarted&, const DrainTaskStarted&) = default;
};
struct DrainTaskEnded {
  uint64_t incarnation = 0;
  TaskCause cause = TaskCause::kCancelled;
  friend bool operator==(const DrainTaskEnded&, const DrainTaskEnded&) = default;
};

// Written once per start, after recovery finished and before any command is accepted.
struct RecoveryMarker {
  uint64_t sessions_rebuilt = 0;
  uint64_t drains_respawned = 0;
  uint64_t records_replayed = 0;
  uint64_t unregisters_finished = 0;
  uint64_t duration_us = 0;
  friend bool operator==(const RecoveryMarker&, const RecoveryMarker&) = default;
};

using Payload = std::variant<TransitionRecord, InboxAppended, MessageDelivered, DrainTaskStarted,
                             DrainTaskEnded, RecoveryMarker>;

// The record envelope. The global sequence is the journal's (it lives in the key, and
// journal::Record carries it); everything else is in the payload bytes.
struct RecordEnvelope {
  uint32_t version = kRecordVersion;
  uint64_t seq = 0;          // filled in by DecodeRecord from the journal record; ignored by Encode
  std::string session_id;    // empty for host-wide records (the recovery marker)
  uint64_t session_seq = 0;  // 1, 2, 3 ... per session, gap-free
  uint64_t incarnation = 0;  // the session's current drain task incarnation when written
  int64_t wall_time_us = 0;  // microseconds since the Unix epoch, for people; never for logic
  Payload payload;
  friend bool operator==(const RecordEnvelope&, const RecordEnvelope&) = default;
};

// A snapshot of one authority: the full state plus the host-side cursors recovery needs.
struct AuthoritySnapshot {
  std::string session_id;
  uint64_t covered_seq = 0;  // global sequence of the last record reflected
  uint64_t session_seq = 0;  // per-session sequence of that record
  machine::State state;
  uint64_t incarnation = 0;      // newest drain task incarnation
  uint64_t inbox_count = 0;      // messages appended so far
  uint64_t delivered_count = 0;  // messages delivered so far
  friend bool operator==(const AuthoritySnapshot&, const AuthoritySnapshot&) = default;
};

}  // namespace burrow::schema
