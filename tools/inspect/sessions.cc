// `ls` and `state`: sessions rebuilt exactly as recovery rebuilds them (recovery::Rebuild).
#include <fmt/format.h>

#include "engine/machine/machine.h"
#include "recovery/recovery.h"
#include "schema/codec.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {

Result<std::vector<SessionRow>> ListSessions(const journal::Journal& journal) {
  BURROW_ASSIGN_OR_RETURN(recovery::Rebuilt rebuilt, recovery::Rebuild(journal));
  std::map<std::string, SessionRow> rows;
  journal::Damage damage;
  BURROW_RETURN_IF_ERROR(journal.Scan(
      journal.FirstSequence(), rebuilt.last_seq,
      [&](const journal::Record& record) {
        if (record.stream.empty()) return true;
        SessionRow& row = rows[record.stream];
        row.session = record.stream;
        ++row.records;
        row.last_seq = record.seq;
        return true;
      },
      &damage));
  for (auto& [id, session] : rebuilt.sessions) {
    SessionRow& row = rows[id];
    row.session = id;
    row.live = true;
    row.image = session.image;
    row.last_seq = std::max(row.last_seq, session.image.last_seq);
  }
  std::vector<SessionRow> out;
  out.reserve(rows.size());
  for (auto& [id, row] : rows) out.push_back(std::move(row));
  return out;
}

Result<SessionState> StateAt(const journal::Journal& journal, std::string_view session,
                             std::optional<uint64_t> at) {
  const uint64_t first = journal.FirstSequence();
  const uint64_t last = journal.LastSequence();
  const uint64_t at_seq = at.value_or(last);
  if (at_seq > last || at_seq + 1 < first || (at && at_seq == 0)) {
    return NotFoundError(
        fmt::format("record {} is not in the journal (it holds {}..{})", at_seq, first, last));
  }
  auto rebuilt = recovery::Rebuild(journal, at_seq);
  if (!rebuilt.ok()) {
    return Status(rebuilt.status().code(),
                  fmt::format("cannot rebuild the sessions as of record {}: {}", at_seq,
                              rebuilt.status().message()));
  }
  auto it = rebuilt->sessions.find(std::string(session));
  if (it == rebuilt->sessions.end()) {
    return NotFoundError(fmt::format(
        "no session '{}' right after record {} (never registered by then, or unregistered)",
        session, at_seq));
  }
  SessionState out;
  out.session = std::string(session);
  out.at_seq = at_seq;
  out.image = it->second.image;
  out.digest = machine::Digest(out.image.state);
  // Rebuild keeps the snapshots it considered, newest first; it started from the newest (and
  // drops them when the session's current life began after them).
  if (!it->second.snapshots.empty()) out.snapshot_seq = it->second.snapshots.front();
  if (at_seq >= first) {
    BURROW_RETURN_IF_ERROR(journal.Scan(at_seq, at_seq, [&](const journal::Record& record) {
      if (record.stream != session) return false;
      auto decoded = schema::DecodeRecord(record.seq, record.payload);
      if (!decoded.ok()) return false;
      if (auto* t = std::get_if<schema::TransitionRecord>(&decoded->payload)) {
        out.recorded_digest = t->state_digest;
      }
      return false;
    }));
  }
  return out;
}

Json SessionStateJson(const SessionState& state) {
  return Json{{"session", state.session},
              {"at_seq", state.at_seq},
              {"last_seq", state.image.last_seq},
              {"session_seq", state.image.session_seq},
              {"state", StateJson(state.image.state)},
              {"state_digest", fmt::format("{:016x}", state.digest)},
              {"recorded_digest", state.recorded_digest
                                      ? Json(fmt::format("{:016x}", *state.recorded_digest))
                                      : Json(nullptr)},
              {"task_incarnation", state.image.incarnation},
              {"inbox_count", state.image.inbox_count},
              {"delivered_count", state.image.delivered_count},
              {"snapshot_seq", state.snapshot_seq ? Json(*state.snapshot_seq) : Json(nullptr)}};
}

std::string SessionStateText(const SessionState& state) {
  std::string out =
      fmt::format("session {} right after record {}\n", Dump(Json(state.session)), state.at_seq);
  const auto line = [&](std::string_view name, const std::string& value) {
    out += fmt::format("  {:<32} {}\n", name, value);
  };
  Json fields = StateJson(state.image.state);
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    line(it.key(), it.value().is_null()     ? "-"
                   : it.value().is_string() ? it.value().get<std::string>()
                                            : Dump(it.value()));
  }
  line("state digest", fmt::format("{:016x}{}", state.digest,
                                   !state.recorded_digest ? ""
                                   : *state.recorded_digest == state.digest
                                       ? fmt::format(" (record {} records the same)", state.at_seq)
                                       : fmt::format(" (MISMATCH: record {} records {:016x})",
                                                     state.at_seq, *state.recorded_digest)));
  line("last record of the session",
       fmt::format("{} (per-session {})", state.image.last_seq, state.image.session_seq));
  line("drain task incarnation", std::to_string(state.image.incarnation));
  line("inbox messages", std::to_string(state.image.inbox_count));
  line("delivered messages", std::to_string(state.image.delivered_count));
  line("rebuilt from snapshot", state.snapshot_seq
                                    ? fmt::format("covering up to {}", *state.snapshot_seq)
                                    : std::string("none (records only)"));
  return out;
}

}  // namespace burrow::inspect
