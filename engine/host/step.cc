#include "engine/host/step.h"

#include <fmt/format.h>

#include "schema/codec.h"

namespace burrow::host {

Step::Step(const SessionImage& image, int64_t now_us) : image_(image), now_us_(now_us) {}
Step::Step(SessionImage&& image, int64_t now_us) : image_(std::move(image)), now_us_(now_us) {}

Step::Staged Step::Stage(const machine::Input& input) {
  machine::Decision decision = machine::Apply(image_.state, input);
  if (auto* rejected = std::get_if<machine::Rejected>(&decision)) {
    return Staged{Verdict::kRejected, rejected->Message(), {}};
  }
  if (auto* violated = std::get_if<machine::InvariantViolated>(&decision)) {
    return Staged{
        Verdict::kInternal,
        fmt::format("{} broke an invariant: {}", violated->transition, violated->violation),
        {}};
  }
  auto& accepted = std::get<machine::Accepted>(decision);
  schema::TransitionRecord record;
  record.input = input;
  record.transition = std::string(accepted.transition);
  record.effects = accepted.effects;
  record.state_digest = machine::Digest(accepted.next);
  image_.state = std::move(accepted.next);
  if (std::holds_alternative<machine::UnregisterSession>(input)) image_.removed = true;
  AddRecord(std::move(record));
  return Staged{Verdict::kAccepted, {}, std::move(accepted.effects)};
}

void Step::AddEvent(schema::Payload event) {
  BURROW_CHECK(!std::holds_alternative<schema::TransitionRecord>(event),
               "transitions are staged, not added");
  schema::RecordEnvelope envelope;
  envelope.session_id = image_.session_id;
  envelope.session_seq = image_.session_seq + 1;
  envelope.payload = event;
  // The live host folds its own events with the same code replay uses.
  Status folded = Fold(image_, envelope);
  BURROW_CHECK(folded.ok(), "host produced an event its own fold refuses: {}", folded.ToString());
  --image_.session_seq;  // AddRecord advances it
  AddRecord(std::move(event));
}

void Step::AddRecord(schema::Payload payload) {
  schema::RecordEnvelope envelope;
  envelope.session_id = image_.session_id;
  envelope.session_seq = ++image_.session_seq;
  envelope.incarnation = image_.incarnation;
  envelope.wall_time_us = now_us_;
  envelope.payload = std::move(payload);
  batch_.records.push_back({image_.session_id, schema::EncodeRecord(envelope)});
}

void Step::Put(std::string key, std::string value) {
  batch_.state_puts.push_back({std::move(key), std::move(value)});
}

void Step::Delete(std::string key) { batch_.state_deletes.push_back(std::move(key)); }

Status Step::Commit(journal::Journal& journal) {
  if (batch_.empty()) return OkStatus();
  size_t n = batch_.records.size();
  BURROW_ASSIGN_OR_RETURN(uint64_t first, journal.Append(std::move(batch_)));
  Committed(first, n);
  return OkStatus();
}

Status Step::CommitTogether(journal::Journal& journal, std::vector<Step>& steps) {
  journal::Batch batch;
  std::vector<size_t> records;
  records.reserve(steps.size());
  for (Step& step : steps) {
    records.push_back(step.batch_.records.size());
    for (auto& record : step.batch_.records) batch.records.push_back(std::move(record));
    for (auto& put : step.batch_.state_puts) batch.state_puts.push_back(std::move(put));
    for (auto& key : step.batch_.state_deletes) batch.state_deletes.push_back(std::move(key));
    step.batch_ = journal::Batch{};
  }
  if (batch.empty()) return OkStatus();
  BURROW_ASSIGN_OR_RETURN(uint64_t first, journal.Append(std::move(batch)));
  for (size_t i = 0; i < steps.size(); ++i) {
    steps[i].Committed(first, records[i]);
    first += records[i];
  }
  return OkStatus();
}

void Step::Committed(uint64_t first, size_t records) {
  batch_ = journal::Batch{};
  if (records > 0) {
    first_seq_ = first;
    image_.last_seq = first + records - 1;
  }
}

}  // namespace burrow::host
