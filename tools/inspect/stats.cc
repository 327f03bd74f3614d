// `stats`: what the journal holds, by kind, size, session and time, and its snapshot coverage.
#include <fmt/format.h>

#include <set>

#include "schema/codec.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {

Result<Stats> ComputeStats(const journal::Journal& journal) {
  Stats stats;
  stats.first_seq = journal.FirstSequence();
  stats.last_seq = journal.LastSequence();
  std::set<std::string> sessions;
  BURROW_RETURN_IF_ERROR(
      journal.ScanStored(stats.first_seq, stats.last_seq, [&](const journal::StoredRecord& stored) {
        const uint64_t bytes = stored.key.size() + stored.value.size();
        stats.total.records += 1;
        stats.total.bytes += bytes;
        Entry entry = ToEntry(stored);
        if (!entry.envelope) {
          ++stats.damaged;
          return true;
        }
        const schema::RecordEnvelope& r = *entry.envelope;
        Tally& kind = stats.by_kind[std::string(schema::PayloadKindName(r.payload))];
        kind.records += 1;
        kind.bytes += bytes;
        if (auto* t = std::get_if<schema::TransitionRecord>(&r.payload)) {
          Tally& input = stats.by_input[std::string(machine::Name(machine::KindOf(t->input)))];
          input.records += 1;
          input.bytes += bytes;
        }
        if (!r.session_id.empty()) sessions.insert(r.session_id);
        if (!stats.oldest_us || r.wall_time_us < *stats.oldest_us) stats.oldest_us = r.wall_time_us;
        if (!stats.newest_us || r.wall_time_us > *stats.newest_us) stats.newest_us = r.wall_time_us;
        return true;
      }));
  stats.sessions = sessions.size();
  std::vector<std::string> streams;
  BURROW_RETURN_IF_ERROR(journal.ScanSnapshotHeads([&](std::string_view stream, uint64_t) {
    streams.emplace_back(stream);
    return true;
  }));
  for (const std::string& stream : streams) {
    std::vector<journal::Damage> damaged;
    BURROW_ASSIGN_OR_RETURN(auto snapshots, journal.Snapshots(stream, &damaged));
    stats.snapshots_damaged += damaged.size();
    if (snapshots.empty()) continue;
    ++stats.snapshot_streams;
    stats.snapshots += snapshots.size();
    const uint64_t newest = snapshots.front().covered_seq;  // newest first
    if (!stats.newest_snapshot_seq || newest > *stats.newest_snapshot_seq) {
      stats.newest_snapshot_seq = newest;
    }
    if (!stats.oldest_snapshot_seq || newest < *stats.oldest_snapshot_seq) {
      stats.oldest_snapshot_seq = newest;
    }
  }
  return stats;
}

namespace {

Json TallyJson(const Tally& t) { return Json{{"records", t.records}, {"bytes", t.bytes}}; }

template <typename T>
Json OrNull(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

}  // namespace

Json StatsJson(const Stats& s) {
  Json by_kind = Json::object();
  for (const auto& [k, t] : s.by_kind) by_kind[k] = TallyJson(t);
  Json by_input = Json::object();
  for (const auto& [k, t] : s.by_input) by_input[k] = TallyJson(t);
  return Json{{"first_seq", s.first_seq},
              {"last_seq", s.last_seq},
              {"truncated_below", s.first_seq},
              {"records", s.total.records},
              {"bytes", s.total.bytes},
              {"damaged", s.damaged},
              {"by_kind", std::move(by_kind)},
              {"by_input", std::move(by_input)},
              {"sessions", s.sessions},
              {"oldest_time", s.oldest_us ? Json(FormatTime(*s.oldest_us)) : Json(nullptr)},
              {"newest_time", s.newest_us ? Json(FormatTime(*s.newest_us)) : Json(nullptr)},
              {"span_us", s.oldest_us ? Json(*s.newest_us - *s.oldest_us) : Json(nullptr)},
              {"snapshot_sessions", s.snapshot_streams},
              {"snapshots", s.snapshots},
              {"snapshots_damaged", s.snapshots_damaged},
              {"newest_snapshot_seq", OrNull(s.newest_snapshot_seq)},
              {"oldest_snapshot_seq", OrNull(s.oldest_snapshot_seq)}};
}

std::string StatsText(const Stats& s) {
  std::string out;
  out += fmt::format("records        {} ({} bytes), sequences {}..{}\n", s.total.records,
                     s.total.bytes, s.first_seq, s.last_seq);
  out += fmt::format("truncation     {}\n",
                     s.first_seq > 1 ? fmt::format("records below {} truncated", s.first_seq)
                                     : std::string("none (the journal starts at 1)"));
  if (s.damaged != 0) {
    out += fmt::format("damaged        {} records (run `burrow journal verify`)\n", s.damaged);
  }
  out += fmt::format("sessions       {} with records\n", s.sessions);
  if (s.oldest_us) {
    out += fmt::format("time span      {} .. {} ({:.3f} s)\n", FormatTime(*s.oldest_us),
                       FormatTime(*s.newest_us), (*s.newest_us - *s.oldest_us) / 1e6);
  }
  out += fmt::format("snapshots      {} sessions with snapshots, {} stored", s.snapshot_streams,
                     s.snapshots);
  if (s.newest_snapshot_seq) {
    out += fmt::format(", the newest covers {}; every such session has one covering {} or later",
                       *s.newest_snapshot_seq, *s.oldest_snapshot_seq);
  }
  if (s.snapshots_damaged != 0) out += fmt::format(", {} damaged", s.snapshots_damaged);
  out += "\n\nby kind                                   records        bytes\n";
  for (const auto& [k, t] : s.by_kind) {
    out += fmt::format("  {:<38} {:>10} {:>12}\n", k, t.records, t.bytes);
  }
  if (!s.by_input.empty()) {
    out += "\nby input (transitions)                    records        bytes\n";
    for (const auto& [k, t] : s.by_input) {
      out += fmt::format("  {:<38} {:>10} {:>12}\n", k, t.records, t.bytes);
    }
  }
  return out;
}

}  // namespace burrow::inspect
