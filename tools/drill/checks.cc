#include "tools/drill/checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <thread>

#include "engine/host/state_keys.h"
#include "recovery/recovery.h"
#include "schema/codec.h"
#include "tools/eval_protocol.h"

namespace burrow::drill {

using nlohmann::json;

namespace {

Result<json> Ask(Target& target, json request) {
  std::optional<json> response = target.Call(request);
  if (!response) return UnavailableError(fmt::format("no answer to {}", request.dump()));
  if (!response->value("ok", false)) {
    return UnavailableError(fmt::format("{} failed: {}", request.dump(), response->dump()));
  }
  return *response;
}

bool Matches(const Expectation& e, const schema::RecordEnvelope& record) {
  if (e.kind == Expectation::Kind::kInboxAppended) {
    const auto* inbox = std::get_if<schema::InboxAppended>(&record.payload);
    return inbox != nullptr && inbox->message_id == e.message_id;
  }
  const auto* transition = std::get_if<schema::TransitionRecord>(&record.payload);
  if (transition == nullptr || machine::KindOf(transition->input) != e.input_kind) return false;
  return !e.input || *e.input == transition->input;
}

bool InInbox(const journal::Journal& journal, const std::string& session, const std::string& id) {
  return journal.GetState(host::keys::MessageId(session, id)).ok();
}

}  // namespace

Result<Observed> Observe(Target& target, std::chrono::milliseconds quiesce) {
  BURROW_ASSIGN_OR_RETURN(json listed, Ask(target, {{"cmd", "sessions"}}));
  Observed out;
  for (const json& id : listed["sessions"]) {
    const std::string s = id.get<std::string>();
    BURROW_ASSIGN_OR_RETURN(json view, Ask(target, {{"cmd", "inspect"}, {"session", s}}));
    const uint64_t pending = view["inbox_pending"];
    if (view["task"]["running"].get<bool>() && pending > 0) {
      const uint64_t want = view["delivered"].get<uint64_t>() + pending;
      BURROW_ASSIGN_OR_RETURN(json waited, Ask(target, {{"cmd", "await_delivered"},
                                                        {"session", s},
                                                        {"count", want},
                                                        {"timeout_ms", quiesce.count()}}));
      (void)waited;
    }
  }
  for (const json& id : listed["sessions"]) {
    const std::string s = id.get<std::string>();
    BURROW_ASSIGN_OR_RETURN(json view, Ask(target, {{"cmd", "inspect"}, {"session", s}}));
    BURROW_ASSIGN_OR_RETURN(json delivered, Ask(target, {{"cmd", "delivered"}, {"session", s}}));
    LiveSession live;
    live.state = view["state"];
    live.task_running = view["task"]["running"];
    live.incarnation = view["task"]["incarnation"];
    live.inbox_pending = view["inbox_pending"];
    live.delivered = view["delivered"];
    for (const json& m : delivered["messages"]) live.delivered_ids.push_back(m["message_id"]);
    out.sessions.emplace(s, std::move(live));
  }
  return out;
}

void CheckGapFree(const journal::Journal& journal, std::vector<std::string>& out) {
  Status decoded;
  uint64_t expected = journal.FirstSequence();
  Status scanned =
      journal.Scan(journal.FirstSequence(), journal.LastSequence(), [&](const journal::Record& r) {
        if (r.seq != expected) {
          decoded =
              DataLossError(fmt::format("gap: expected record {}, found {}", expected, r.seq));
          return false;
        }
        ++expected;
        auto envelope = schema::DecodeRecord(r.seq, r.payload);
        decoded = envelope.status();
        return decoded.ok();
      });
  if (!scanned.ok()) out.push_back("journal is not gap-free: " + scanned.ToString());
  if (!decoded.ok()) out.push_back("journal record damaged: " + decoded.ToString());
  if (scanned.ok() && decoded.ok() && journal.LastSequence() + 1 != expected) {
    out.push_back(fmt::format("journal ends at {} but its scan stopped before {}",
                              journal.LastSequence(), expected));
  }
}

void CheckReplay(const journal::Journal& journal, const Observed& live,
                 std::vector<std::string>& out) {
  Result<recovery::Rebuilt> rebuilt = recovery::Rebuild(journal);
  if (!rebuilt.ok()) {
    out.push_back("the journal does not replay: " + rebuilt.status().ToString());
    return;
  }
  for (const auto& [id, session] : rebuilt->sessions) {
    if (!live.sessions.count(id)) {
      out.push_back(fmt::format("session '{}' is in the journal's replay but not in the host", id));
    }
  }
  for (const auto& [id, view] : live.sessions) {
    auto it = rebuilt->sessions.find(id);
    if (it == rebuilt->sessions.end()) {
      out.push_back(fmt::format("session '{}' is in the host but not in the journal's replay", id));
      continue;
    }
    const host::SessionImage& image = it->second.image;
    const json replayed = tools::StateToJson(image.state);
    if (replayed != view.state) {
      out.push_back(
          fmt::format("session '{}': the host's authority {} differs from the replay of "
                      "its records {}",
                      id, view.state.dump(), replayed.dump()));
    }
    if (image.delivered_count != view.delivered ||
        image.inbox_count - image.delivered_count != view.inbox_pending) {
      out.push_back(fmt::format(
          "session '{}': the host shows {} delivered and {} pending, the replay {} and {}", id,
          view.delivered, view.inbox_pending, image.delivered_count,
          image.inbox_count - image.delivered_count));
    }
    if (image.incarnation != view.incarnation) {
      out.push_back(fmt::format("session '{}': task incarnation {} in the host, {} in the replay",
                                id, view.incarnation, image.incarnation));
    }
  }
}

void CheckDrains(const Observed& live, std::vector<std::string>& out) {
  for (const auto& [id, view] : live.sessions) {
    if (view.state.value("drain_phase", "") == "Running" && !view.task_running) {
      out.push_back(fmt::format("session '{}': its drain is Running but no task runs", id));
    }
  }
}

void CheckPresence(Ledger& ledger, const Observed& live, std::vector<std::string>& out,
                   uint64_t* lost) {
  for (const auto& [id, view] : live.sessions) {
    auto it = ledger.sessions().find(id);
    if (lost != nullptr && it != ledger.sessions().end() &&
        it->second.presence == Presence::kAbsent) {
      ++*lost;  // an acknowledged unregister that did not survive
      it->second.presence = Presence::kPresent;
      continue;
    }
    if (it == ledger.sessions().end() || it->second.presence == Presence::kAbsent) {
      out.push_back(fmt::format(
          "session '{}' exists, but no register of it was acknowledged or in doubt since its "
          "last acknowledged unregister",
          id));
    }
  }
  for (auto& [id, session] : ledger.sessions()) {
    const bool present = live.sessions.count(id) > 0;
    if (session.presence == Presence::kPresent && !present) {
      if (lost != nullptr) {
        ++*lost;
        session.presence = Presence::kAbsent;
        session.acked_posts.clear();
        session.maybe_posts.clear();
        continue;
      }
      out.push_back(fmt::format("session '{}' was registered (acknowledged) and is gone", id));
    }
    if (session.presence == Presence::kMaybe) {
      session.presence = present ? Presence::kPresent : Presence::kAbsent;
      if (present) {
        for (std::string& p : session.doubted_posts) session.acked_posts.push_back(std::move(p));
      } else {
        session.acked_posts.clear();
        session.maybe_posts.clear();
      }
      session.doubted_posts.clear();
    }
  }
}

namespace {

std::string KindOfRecord(const schema::RecordEnvelope& envelope) {
  if (const auto* t = std::get_if<schema::TransitionRecord>(&envelope.payload)) {
    return std::string(machine::Name(machine::KindOf(t->input)));
  }
  return std::string(schema::PayloadKindName(envelope.payload));
}

}  // namespace

void CheckAcknowledged(const journal::Journal& journal, Ledger& ledger,
                       std::vector<std::string>& out, uint64_t* lost) {
  for (auto& [id, session] : ledger.sessions()) {
    if (session.expected.empty()) continue;
    auto records = journal.ReadStream(id, session.cursor + 1, SIZE_MAX);
    if (!records.ok()) {
      out.push_back(
          fmt::format("cannot read the stream of '{}': {}", id, records.status().ToString()));
      continue;
    }
    std::vector<schema::RecordEnvelope> envelopes;
    for (const journal::Record& r : *records) {
      auto envelope = schema::DecodeRecord(r.seq, r.payload);
      if (!envelope.ok()) {
        out.push_back(envelope.status().ToString());
        break;
      }
      envelopes.push_back(std::move(envelope).value());
    }
    std::string unmatched;  // what the stream held that no expectation took, for the message
    if (journal.FirstSequence() > session.cursor + 1) {
      // A checkpoint truncated part of the window since the last check: match the longest
      // suffix of the expectations (greedy from the end is optimal for subsequences). What is
      // left was acknowledged before the truncation point; its effect is still checked through
      // the replay of the snapshots, not record by record.
      std::deque<Expectation> left = std::move(session.expected);
      session.expected.clear();
      uint64_t newest = session.cursor;
      for (auto r = envelopes.rbegin(); r != envelopes.rend() && !left.empty(); ++r) {
        if (Matches(left.back(), *r)) {
          newest = std::max(newest, r->seq);
          left.pop_back();
        }
      }
      ledger.NoteUnverifiable(left.size());
      session.cursor = newest;
      continue;
    }
    for (const schema::RecordEnvelope& r : envelopes) {
      if (session.expected.empty()) break;
      if (Matches(session.expected.front(), r)) {
        session.expected.pop_front();
        session.cursor = r.seq;
      } else {
        unmatched += fmt::format(" {}:{}", r.seq, KindOfRecord(r));
      }
    }
    if (session.expected.empty()) continue;
    if (lost != nullptr) {
      *lost += session.expected.size();
    } else {
      out.push_back(fmt::format(
          "session '{}': {} acknowledged command(s) have no record in the journal, the first: {} "
          "(records of the stream after {} that matched nothing:{})",
          id, session.expected.size(), session.expected.front().what, session.cursor,
          unmatched.empty() ? " none" : unmatched));
    }
    session.expected.clear();
  }
}

void CheckDelivery(const journal::Journal& journal, Ledger& ledger, const Observed& live,
                   std::vector<std::string>& out, uint64_t* lost) {
  for (const auto& [id, view] : live.sessions) {
    SessionLedger& session = ledger.sessions()[id];
    std::set<std::string> seen;
    for (const std::string& m : view.delivered_ids) {
      if (!seen.insert(m).second) {
        out.push_back(fmt::format("session '{}': message {} was delivered twice", id, m));
      }
    }
    if (view.task_running && view.inbox_pending > 0) {
      out.push_back(fmt::format("session '{}': a drain runs, yet {} message(s) stay undelivered",
                                id, view.inbox_pending));
    }
    // Posts of unknown outcome: in the inbox index = applied.
    for (auto it = session.maybe_posts.begin(); it != session.maybe_posts.end();) {
      if (InInbox(journal, id, *it)) session.acked_posts.push_back(*it);
      it = session.maybe_posts.erase(it);
    }
    std::set<std::string> posted(session.acked_posts.begin(), session.acked_posts.end());
    for (const std::string& m : seen) {
      // (Under loss an unregister may not have survived, bringing an earlier life's messages
      // back; only exactly-once is checked then.)
      if (!posted.count(m) && lost == nullptr) {
        out.push_back(fmt::format(
            "session '{}': message {} was delivered but never acknowledged to this life", id, m));
      }
    }
    std::vector<std::string> kept;
    for (const std::string& m : session.acked_posts) {
      const bool indexed = InInbox(journal, id, m);
      const bool delivered = seen.count(m) > 0;
      if (indexed && (delivered || view.inbox_pending > 0)) {
        kept.push_back(m);
        continue;
      }
      if (lost != nullptr) {
        ++*lost;
      } else {
        out.push_back(fmt::format(
            "session '{}': acknowledged post {} is lost ({})", id, m,
            indexed ? "in the inbox index but neither delivered nor pending" : "not in the inbox"));
      }
    }
    session.acked_posts = std::move(kept);
  }
}

namespace {

std::string Differences(const Observed& a, const Observed& b) {
  std::string out;
  for (const auto& [id, view] : a.sessions) {
    auto it = b.sessions.find(id);
    if (it == b.sessions.end()) {
      out += fmt::format(" '{}' disappeared;", id);
    } else if (!(it->second == view)) {
      out += fmt::format(
          " '{}' changed (drain {} → {}, task running {} → {}, incarnation {} → {}, "
          "delivered {} → {}, pending {} → {});",
          id, view.state.value("drain_phase", ""), it->second.state.value("drain_phase", ""),
          view.task_running, it->second.task_running, view.incarnation, it->second.incarnation,
          view.delivered, it->second.delivered, view.inbox_pending, it->second.inbox_pending);
    }
  }
  for (const auto& [id, view] : b.sessions) {
    if (!a.sessions.count(id)) out += fmt::format(" '{}' appeared;", id);
  }
  return out;
}

}  // namespace

void CheckNothingApplied(const std::string& command, const Observed& before, const Observed& after,
                         uint64_t seq_before, uint64_t seq_after, std::vector<std::string>& out) {
  if (!(after == before)) {
    out.push_back(fmt::format("{} got Unavailable yet the host changed:{}", command,
                              Differences(before, after)));
  }
  if (seq_after != seq_before) {
    out.push_back(fmt::format("{} got Unavailable yet the journal moved from {} to {}", command,
                              seq_before, seq_after));
  }
}

// A full read of the journal in `dir` through a read-only instance: DataLoss/Unavailable when any
// record, state value or snapshot is damaged or the records do not replay.
Status VerifyJournal(const std::string& dir) {
  journal::Options ro;
  ro.mode = journal::OpenMode::kReadOnly;
  BURROW_ASSIGN_OR_RETURN(auto journal, journal::Journal::Open(dir, ro));
  std::vector<std::string> problems;
  CheckGapFree(*journal, problems);
  if (!problems.empty()) return DataLossError(problems.front());
  BURROW_RETURN_IF_ERROR(
      journal->ScanState("", [](std::string_view, std::string_view) { return true; }));
  std::vector<std::string> streams;
  BURROW_RETURN_IF_ERROR(journal->ScanSnapshotHeads([&](std::string_view stream, uint64_t) {
    streams.emplace_back(stream);
    return true;
  }));
  for (const std::string& stream : streams) {
    std::vector<journal::Damage> damaged;
    BURROW_ASSIGN_OR_RETURN(auto snapshots, journal->Snapshots(stream, &damaged));
    if (!damaged.empty()) {
      return DataLossError(
          fmt::format("snapshot of '{}' at {}: {}", stream, damaged[0].seq, damaged[0].what));
    }
  }
  return recovery::Rebuild(*journal).status();
}

std::vector<std::string> CheckAll(Target& target, const std::string& data_dir, Ledger& ledger,
                                  const CheckOptions& options, uint64_t* records) {
  std::vector<std::string> out;
  for (int attempt = 0;; ++attempt) {
    Result<Observed> before = Observe(target, options.quiesce);
    if (!before.ok()) return {"cannot observe the host: " + before.status().ToString()};
    journal::Options ro;
    ro.mode = journal::OpenMode::kReadOnly;
    auto journal = journal::Journal::Open(data_dir, ro);
    if (!journal.ok()) return {"cannot open the journal read-only: " + journal.status().ToString()};
    Result<Observed> after = Observe(target, options.quiesce);
    if (!after.ok()) return {"cannot observe the host: " + after.status().ToString()};
    if (*before != *after && attempt < 5) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;  // the host moved while the journal was opened; look again
    }
    const Observed& live = *after;
    if (records != nullptr) *records = (*journal)->LastSequence();
    CheckGapFree(**journal, out);
    CheckReplay(**journal, live, out);
    CheckDrains(live, out);
    CheckPresence(ledger, live, out, options.lost);
    CheckAcknowledged(**journal, ledger, out, options.lost);
    CheckDelivery(**journal, ledger, live, out, options.lost);
    return out;
  }
}

}  // namespace burrow::drill
