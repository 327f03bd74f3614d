// `verify`: every check recovery makes, but reporting every problem instead of stopping at the
// first. The per-session replay uses host::Fold, the very fold recovery and the live host use,
// so a record verify accepts is one recovery accepts.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "engine/machine/machine.h"
#include "schema/codec.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {
namespace {

struct SnapshotInfo {
  uint64_t covered_seq = 0;
  host::SessionImage image;
  bool compared = false;
};

// The replay of one stream.
struct Track {
  host::SessionImage image;
  // A snapshot the replay will start from once the records it covers have gone by (the
  // journal was truncated, so the stream's retained records start mid-life).
  std::optional<const SnapshotInfo*> pending_base;
  // The first record of a life that has neither its start nor a snapshot (seq, session_seq).
  std::optional<std::pair<uint64_t, uint64_t>> orphan;
  std::vector<uint64_t> seqs;  // every intact record of the stream, for the index check
};

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

// Brings `image` past `record` after host::Fold refused it, the way the machine would have, so
// that one bad record does not make every later record of the session look bad too.
void AdvanceLeniently(host::SessionImage& image, const schema::RecordEnvelope& record) {
  if (image.removed && record.session_seq == 1) image = host::SessionImage{};
  image.session_id = record.session_id;
  std::visit(
      [&](const auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, schema::TransitionRecord>) {
          machine::Decision decision = machine::Apply(image.state, p.input);
          if (auto* accepted = std::get_if<machine::Accepted>(&decision)) {
            image.state = std::move(accepted->next);
            if (std::holds_alternative<machine::UnregisterSession>(p.input)) image.removed = true;
          }
        } else if constexpr (std::is_same_v<P, schema::InboxAppended>) {
          image.inbox_count = std::max(image.inbox_count, p.inbox_index + 1);
        } else if constexpr (std::is_same_v<P, schema::MessageDelivered>) {
          image.delivered_count = std::max(image.delivered_count, p.inbox_index + 1);
          image.inbox_count = std::max(image.inbox_count, image.delivered_count);
        } else if constexpr (std::is_same_v<P, schema::DrainTaskStarted>) {
          image.incarnation = std::max(image.incarnation, p.incarnation);
        }
      },
      record.payload);
  image.session_seq = record.session_seq;
  image.last_seq = record.seq;
}

class Verifier {
 public:
  explicit Verifier(const journal::Journal& journal) : journal_(journal) {}

  Result<VerifyReport> Run() {
    report_.format_version = journal::kFormatVersion;  // Open refuses any other
    report_.first_seq = journal_.FirstSequence();
    report_.last_seq = journal_.LastSequence();
    BURROW_RETURN_IF_ERROR(LoadSnapshots());
    uint64_t expected = report_.first_seq;
    BURROW_RETURN_IF_ERROR(journal_.ScanStored(
        report_.first_seq, report_.last_seq, [&](const journal::StoredRecord& stored) {
          ++report_.records_checked;
          if (stored.seq == 0 && !stored.intact) {
            Add(0, fmt::format("malformed record key {} ({})", Hex(stored.key), stored.damage));
            return true;
          }
          if (stored.seq > expected)
            ReportGap(expected, stored.seq, "found " + std::to_string(stored.seq));
          expected = std::max(expected, stored.seq + 1);
          Check(ToEntry(stored));
          return true;
        }));
    if (expected <= report_.last_seq) {
      ReportGap(expected, report_.last_seq + 1, "found the end of the journal");
    }
    Finish();
    BURROW_RETURN_IF_ERROR(CheckStreamIndex());
    report_.sessions = tracks_.size();
    return std::move(report_);
  }

 private:
  void Add(uint64_t seq, std::string what) { report_.problems.push_back({seq, std::move(what)}); }

  void ReportGap(uint64_t expected, uint64_t found, const std::string& found_what) {
    damage_seen_ = true;
    if (found == expected + 1) {
      Add(expected, fmt::format("record {} is missing (gap: expected {}, {})", expected, expected,
                                found_what));
    } else {
      Add(expected, fmt::format("records {}..{} are missing (gap: expected {}, {})", expected,
                                found - 1, expected, found_what));
    }
  }

  Status LoadSnapshots() {
    std::vector<std::string> streams;
    BURROW_RETURN_IF_ERROR(journal_.ScanSnapshotHeads([&](std::string_view stream, uint64_t) {
      streams.emplace_back(stream);
      return true;
    }));
    for (const std::string& stream : streams) {
      std::vector<journal::Damage> damaged;
      BURROW_ASSIGN_OR_RETURN(std::vector<journal::Snapshot> snapshots,
                              journal_.Snapshots(stream, &damaged));
      for (const journal::Damage& d : damaged) {
        ++report_.snapshots_checked;
        Add(0, fmt::format("snapshot of session '{}' at {} (key {}): {}", stream, d.seq, d.key_hex,
                           d.what));
      }
      std::vector<SnapshotInfo>& infos = snapshots_[stream];
      for (const journal::Snapshot& snapshot : snapshots) {
        ++report_.snapshots_checked;
        auto decoded = schema::DecodeSnapshot(snapshot.payload);
        auto image = decoded.ok() ? host::ImageFromSnapshot(*decoded)
                                  : Result<host::SessionImage>(decoded.status());
        if (!image.ok()) {
          Add(0, fmt::format("snapshot of session '{}' at {}: {}", stream, snapshot.covered_seq,
                             image.status().message()));
          continue;
        }
        if (image->session_id != stream) {
          Add(0, fmt::format("snapshot of session '{}' at {} names session '{}'", stream,
                             snapshot.covered_seq, image->session_id));
          continue;
        }
        image->last_seq = snapshot.covered_seq;
        infos.push_back(SnapshotInfo{snapshot.covered_seq, std::move(image).value(), false});
      }
      std::sort(infos.begin(), infos.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
        return a.covered_seq < b.covered_seq;
      });
    }
    return OkStatus();
  }

  void Check(const Entry& entry) {
    if (!entry.envelope) {
      damage_seen_ = true;
      Add(entry.seq,
          fmt::format("record {} (key {}): {}", entry.seq, Hex(entry.key), entry.damage));
      return;
    }
    const schema::RecordEnvelope& record = *entry.envelope;
    if (record.session_id.empty()) {
      if (!std::holds_alternative<schema::RecoveryMarker>(record.payload)) {
        Add(record.seq, fmt::format("record {}: a {} record without a session", record.seq,
                                    schema::PayloadKindName(record.payload)));
      }
      return;
    }
    Track& track = tracks_[record.session_id];
    track.seqs.push_back(record.seq);
    if (track.pending_base) {
      if (record.seq <= (*track.pending_base)->covered_seq) return;  // covered by the base
      track.image = (*track.pending_base)->image;
      track.pending_base.reset();
    }
    CompareSnapshots(record.session_id, track, record.seq);
    const bool fresh = track.image.session_seq == 0 || track.image.removed;
    if (fresh && record.session_seq != 1 && !StartMidLife(record, track)) return;
    if (track.pending_base) return;
    if (std::holds_alternative<schema::TransitionRecord>(record.payload)) {
      ++report_.transitions_replayed;
    }
    Status folded = host::Fold(track.image, record);
    if (!folded.ok()) {
      Add(record.seq, folded.message());
      AdvanceLeniently(track.image, record);
    }
  }

  // The stream's retained records begin mid-life (truncation). Returns whether `record` can be
  // folded now (a snapshot right before it is the base).
  bool StartMidLife(const schema::RecordEnvelope& record, Track& track) {
    const std::vector<SnapshotInfo>& infos = snapshots_[record.session_id];
    for (const SnapshotInfo& info : infos) {
      // The oldest snapshot that covers everything truncated is the longest replay.
      if (info.covered_seq + 1 < report_.first_seq) continue;
      track.orphan.reset();
      if (info.covered_seq < record.seq) {
        track.image = info.image;
        return true;
      }
      track.pending_base = &info;
      return false;
    }
    // No snapshot: the tail of a life that was unregistered is fine (recovery's rule).
    auto* transition = std::get_if<schema::TransitionRecord>(&record.payload);
    if (transition && std::holds_alternative<machine::UnregisterSession>(transition->input)) {
      track.orphan.reset();
      track.image = host::SessionImage{};
      track.image.session_id = record.session_id;
      track.image.session_seq = record.session_seq;
      track.image.last_seq = record.seq;
      track.image.removed = true;
    } else if (!track.orphan) {
      track.orphan = {record.seq, record.session_seq};
    }
    return false;
  }

  // Compares the replayed image with each snapshot the replay has just passed (covered_seq at
  // or after the last folded record and before `next_seq`).
  void CompareSnapshots(const std::string& session, Track& track, uint64_t next_seq) {
    if (track.image.session_seq == 0 || track.image.removed) return;
    for (SnapshotInfo& info : snapshots_[session]) {
      if (info.compared || info.covered_seq < track.image.last_seq ||
          info.covered_seq >= next_seq) {
        continue;
      }
      info.compared = true;
      host::SessionImage replayed = track.image;
      replayed.last_seq = info.covered_seq;
      if (replayed == info.image) continue;
      Add(info.covered_seq,
          fmt::format("snapshot of session '{}' at {} differs from the replayed state "
                      "(snapshot: per-session seq {}, digest {:016x}, inbox {}, delivered {}, "
                      "task {}; replay: per-session seq {}, digest {:016x}, inbox {}, "
                      "delivered {}, task {})",
                      session, info.covered_seq, info.image.session_seq,
                      machine::Digest(info.image.state), info.image.inbox_count,
                      info.image.delivered_count, info.image.incarnation, replayed.session_seq,
                      machine::Digest(replayed.state), replayed.inbox_count,
                      replayed.delivered_count, replayed.incarnation));
    }
  }

  void Finish() {
    for (auto& [session, track] : tracks_) {
      CompareSnapshots(session, track, report_.last_seq + 1);
      if (track.orphan) {
        Add(track.orphan->first,
            fmt::format("record {} of session '{}' has per-session sequence {}, but no snapshot "
                        "covers what came before it (and the session was not unregistered)",
                        track.orphan->first, session, track.orphan->second));
      }
    }
  }

  // Every intact record of a stream must be in the stream index, and the index must name no
  // other record (ReadStream reports one that is missing or belongs to another stream).
  Status CheckStreamIndex() {
    for (const auto& [session, track] : tracks_) {
      auto indexed = journal_.ReadStream(session, report_.first_seq, kMaxSeq);
      if (!indexed.ok()) {
        if (indexed.status().code() == StatusCode::kUnavailable) return indexed.status();
        // A damaged record is already reported; the index names it, rightly.
        if (!damage_seen_) {
          Add(0,
              fmt::format("stream index of session '{}': {}", session, indexed.status().message()));
        }
        continue;
      }
      std::set<uint64_t> in_index;
      for (const journal::Record& r : *indexed) in_index.insert(r.seq);
      for (uint64_t seq : track.seqs) {
        if (!in_index.contains(seq)) {
          Add(seq, fmt::format("record {} of session '{}' is missing from the stream index", seq,
                               session));
        }
      }
    }
    return OkStatus();
  }

  const journal::Journal& journal_;
  VerifyReport report_;
  std::map<std::string, std::vector<SnapshotInfo>> snapshots_;
  std::map<std::string, Track> tracks_;
  bool damage_seen_ = false;
};

}  // namespace

Result<VerifyReport> Verify(const journal::Journal& journal) { return Verifier(journal).Run(); }

Json VerifyReportJson(const VerifyReport& report) {
  Json problems = Json::array();
  for (const Problem& p : report.problems) {
    problems.push_back(Json{{"seq", p.seq == 0 ? Json(nullptr) : Json(p.seq)}, {"what", p.what}});
  }
  return Json{{"healthy", report.healthy()},
              {"format_version", report.format_version},
              {"first_seq", report.first_seq},
              {"last_seq", report.last_seq},
              {"records_checked", report.records_checked},
              {"transitions_replayed", report.transitions_replayed},
              {"snapshots_checked", report.snapshots_checked},
              {"sessions", report.sessions},
              {"problems", std::move(problems)}};
}

std::string VerifyReportText(const VerifyReport& report) {
  std::string out = fmt::format(
      "format version {}; records {}..{}: {} checked, {} transitions replayed, {} snapshots "
      "checked, {} sessions\n",
      report.format_version, report.first_seq, report.last_seq, report.records_checked,
      report.transitions_replayed, report.snapshots_checked, report.sessions);
  if (report.healthy()) return out + "healthy\n";
  out += fmt::format("{} problem{}:\n", report.problems.size(),
                     report.problems.size() == 1 ? "" : "s");
  for (const Problem& p : report.problems) out += fmt::format("  - {}\n", p.what);
  return out;
}

}  // namespace burrow::inspect
