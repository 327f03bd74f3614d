#include "engine/host/session_image.h"

#include <fmt/format.h>

#include <optional>
#include <type_traits>
#include <utility>

#include "engine/machine/machine.h"

namespace burrow::host {
namespace {

Status Corrupt(const schema::RecordEnvelope& record, std::string_view what) {
  return DataLossError(
      fmt::format("record {} of session '{}': {}", record.seq, record.session_id, what));
}

Status FoldTransition(SessionImage& image, const schema::RecordEnvelope& record,
                      const schema::TransitionRecord& t) {
  // Replay folds millions of records on a few threads: one Accepted per thread, whose buffers
  // go back and forth with the images' (swap below), saves the allocations of a state copy.
  thread_local machine::Accepted accepted;
  std::optional<machine::Decision> other = machine::ApplyInto(image.state, t.input, accepted);
  if (other) {
    if (auto* rejected = std::get_if<machine::Rejected>(&*other)) {
      return Corrupt(record, "the machine rejects the recorded input: " + rejected->Message());
    }
    const auto& violated = std::get<machine::InvariantViolated>(*other);
    return Corrupt(record, "invariant broken after " + std::string(violated.transition) + ": " +
                               violated.violation);
  }
  if (accepted.transition != t.transition) {
    return Corrupt(record, fmt::format("recorded transition {} but the machine accepts with {}",
                                       t.transition, accepted.transition));
  }
  if (accepted.effects != t.effects) {
    return Corrupt(record, "recorded effects differ from the machine's");
  }
  uint64_t digest = machine::Digest(accepted.next);
  if (digest != t.state_digest) {
    return Corrupt(record, fmt::format("state digest mismatch: recorded {:016x}, replayed {:016x}",
                                       t.state_digest, digest));
  }
  std::swap(image.state, accepted.next);
  if (std::holds_alternative<machine::UnregisterSession>(t.input)) image.removed = true;
  return OkStatus();
}

}  // namespace

void PrefetchStateStrings(const SessionImage& image) {
  const machine::State& state = image.state;
  for (const std::optional<std::string>* id :
       {&state.session_id, &state.runtime_id, &state.epoch_id, &state.current_run_id,
        &state.ingress_transport_id, &state.ingress_mob_id}) {
    if (id->has_value()) __builtin_prefetch((*id)->data());
  }
}

Status Fold(SessionImage& image, const schema::RecordEnvelope& record, SessionCheck session_check) {
  // A session that was unregistered may be registered again: its new life starts over at
  // per-session sequence 1 with a fresh authority.
  if (image.removed && record.session_seq == 1) image = SessionImage{};
  if (image.session_seq == 0) {
    image.session_id = record.session_id;
  } else if (session_check == SessionCheck::kCompareIds && record.session_id != image.session_id) {
    return Corrupt(record, "folded into session '" + image.session_id + "'");
  }
  if (image.removed) return Corrupt(record, "the session was unregistered before this record");
  if (record.session_seq != image.session_seq + 1) {
    return Corrupt(record, fmt::format("per-session sequence gap: expected {}, found {}",
                                       image.session_seq + 1, record.session_seq));
  }
  Status status = std::visit(
      [&](const auto& p) -> Status {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, schema::TransitionRecord>) {
          return FoldTransition(image, record, p);
        } else if constexpr (std::is_same_v<P, schema::InboxAppended>) {
          if (p.inbox_index != image.inbox_count) {
            return Corrupt(record, fmt::format("inbox index {} where {} was next", p.inbox_index,
                                               image.inbox_count));
          }
          ++image.inbox_count;
          return OkStatus();
        } else if constexpr (std::is_same_v<P, schema::MessageDelivered>) {
          if (p.inbox_index != image.delivered_count || p.inbox_index >= image.inbox_count) {
            return Corrupt(record,
                           fmt::format("delivery of inbox index {} where {} was next "
                                       "({} appended)",
                                       p.inbox_index, image.delivered_count, image.inbox_count));
          }
          ++image.delivered_count;
          return OkStatus();
        } else if constexpr (std::is_same_v<P, schema::DrainTaskStarted>) {
          if (p.incarnation != image.incarnation + 1) {
            return Corrupt(record, fmt::format("task incarnation {} where {} was next",
                                               p.incarnation, image.incarnation + 1));
          }
          image.incarnation = p.incarnation;
          return OkStatus();
        } else if constexpr (std::is_same_v<P, schema::DrainTaskEnded>) {
          if (p.incarnation == 0 || p.incarnation > image.incarnation) {
            return Corrupt(record, fmt::format("end of task incarnation {} that never started",
                                               p.incarnation));
          }
          return OkStatus();
        } else {
          static_assert(std::is_same_v<P, schema::RecoveryMarker>);
          return Corrupt(record, "a recovery marker belongs to no session");
        }
      },
      record.payload);
  BURROW_RETURN_IF_ERROR(status);
  image.session_seq = record.session_seq;
  image.last_seq = record.seq;
  return OkStatus();
}

Result<SessionImage> ImageFromSnapshot(const schema::AuthoritySnapshot& snapshot) {
  std::string violation = machine::CheckInvariants(snapshot.state);
  if (!violation.empty()) {
    return DataLossError(fmt::format("snapshot of session '{}' at {}: invariant broken: {}",
                                     snapshot.session_id, snapshot.covered_seq, violation));
  }
  if (snapshot.delivered_count > snapshot.inbox_count) {
    return DataLossError(fmt::format("snapshot of session '{}' at {}: {} delivered of {} posted",
                                     snapshot.session_id, snapshot.covered_seq,
                                     snapshot.delivered_count, snapshot.inbox_count));
  }
  SessionImage image;
  image.session_id = snapshot.session_id;
  image.state = snapshot.state;
  image.last_seq = snapshot.covered_seq;
  image.session_seq = snapshot.session_seq;
  image.incarnation = snapshot.incarnation;
  image.inbox_count = snapshot.inbox_count;
  image.delivered_count = snapshot.delivered_count;
  return image;
}

schema::AuthoritySnapshot SnapshotOf(const SessionImage& image) {
  schema::AuthoritySnapshot snapshot;
  snapshot.session_id = image.session_id;
  snapshot.covered_seq = image.last_seq;
  snapshot.session_seq = image.session_seq;
  snapshot.state = image.state;
  snapshot.incarnation = image.incarnation;
  snapshot.inbox_count = image.inbox_count;
  snapshot.delivered_count = image.delivered_count;
  return snapshot;
}

}  // namespace burrow::host
