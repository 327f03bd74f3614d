#include "recovery/recovery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/host/session_image.h"
#include "engine/machine/types.h"
#include "schema/codec.h"

namespace burrow::recovery {
namespace {

// Loads the newest valid snapshot at or below `up_to` of every stream that has one, in one pass
// over the journal's snapshots (one lookup per stream made a 100,000-session start slow).
// `streams` gets every stream that has a stored snapshot, valid or not.
Status LoadSnapshots(const journal::Journal& journal, uint64_t up_to, Rebuilt& out,
                     std::vector<std::string>& streams) {
  return journal.ScanSnapshots([&](std::string_view stream_view,
                                   std::vector<journal::Snapshot>& snapshots,
                                   std::vector<journal::Damage>& damaged) {
    const std::string& stream = streams.emplace_back(stream_view);
    for (auto& d : damaged) out.snapshots_damaged.push_back(std::move(d));
    host::RecoveredSession recovered;
    bool loaded = false;
    for (const journal::Snapshot& snapshot : snapshots) {
      if (snapshot.covered_seq > up_to) continue;
      recovered.snapshots.push_back(snapshot.covered_seq);
      if (loaded) continue;
      auto decoded = schema::DecodeSnapshot(snapshot.payload);
      Result<host::SessionImage> image = decoded.ok()
                                             ? host::ImageFromSnapshot(*decoded)
                                             : Result<host::SessionImage>(decoded.status());
      if (!image.ok() || image->session_id != stream) {
        // Damaged inside a valid checksum (a bug, or a stream mix-up): fall back like a
        // checksum failure does.
        out.snapshots_damaged.push_back(
            journal::Damage{snapshot.covered_seq,
                            {},
                            image.ok() ? "snapshot names session '" + image->session_id + "'"
                                       : image.status().ToString()});
        recovered.snapshots.pop_back();
        continue;
      }
      recovered.image = std::move(image).value();
      // The snapshot covers the stream up to covered_seq even when its last record is older.
      recovered.image.last_seq = snapshot.covered_seq;
      loaded = true;
    }
    if (loaded) {
      ++out.snapshots_loaded;
      out.sessions.emplace_hint(out.sessions.end(), stream, std::move(recovered));
    }
    return true;
  });
}

// The rebuilt sessions by stream, for the lookup every scanned record makes. Open addressing
// over {hash, key, session} slots: a lookup costs one slot read and one key comparison, where
// std::unordered_map's bucket array, chain and node were ~20 % of replay with 100,000 sessions
// (cache misses). Keys point at the std::map's keys, which never move.
class SessionIndex {
 public:
  explicit SessionIndex(size_t expected) { Grow(expected); }

  static uint64_t Hash(std::string_view id) { return std::hash<std::string_view>{}(id); }

  host::RecoveredSession* Find(std::string_view id, uint64_t hash) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.session == nullptr) return nullptr;
      if (slot.hash == hash && *slot.key == id) return slot.session;
    }
  }
  // `key` must not be in the index yet and must outlive it.
  void Insert(const std::string& key, uint64_t hash, host::RecoveredSession* session) {
    if ((size_ + 1) * 2 > slots_.size()) Grow(size_ + 1);
    Place(Slot{hash, &key, session});
    ++size_;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    const std::string* key = nullptr;
    host::RecoveredSession* session = nullptr;  // null: empty
  };

  void Place(const Slot& slot) {
    size_t i = slot.hash & mask_;
    while (slots_[i].session != nullptr) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
  // At most half full, so probes stay short.
  void Grow(size_t wanted) {
    size_t capacity = 1024;
    while (capacity < wanted * 2) capacity *= 2;
    if (capacity <= slots_.size()) capacity = slots_.size() * 2;
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.session != nullptr) Place(slot);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace

Result<Rebuilt> Rebuild(const journal::Journal& journal, std::optional<uint64_t> up_to) {
  Rebuilt out;
  out.first_seq = journal.FirstSequence();
  out.last_seq = up_to.value_or(journal.LastSequence());
  if (out.last_seq > journal.LastSequence()) {
    return NotFoundError(fmt::format("sequence {} is past the newest record, {}", out.last_seq,
                                     journal.LastSequence()));
  }
  if (out.last_seq + 1 < out.first_seq) {
    return NotFoundError(fmt::format("sequence {} was truncated; the journal starts at {}",
                                     out.last_seq, out.first_seq));
  }
  std::vector<std::string> snapshot_streams;
  BURROW_RETURN_IF_ERROR(LoadSnapshots(journal, out.last_seq, out, snapshot_streams));

  Status fold_status;
  journal::Damage damage;
  // Streams whose records start mid-life with no snapshot: record seq, per-session seq.
  std::map<std::string, std::pair<uint64_t, uint64_t>> orphans;
  // The sessions by stream, hashed: a lookup per record in the ordered map (one string
  // comparison per level) dominated replay with 100,000 sessions.
  SessionIndex index(out.sessions.size());
  for (auto& [stream, session] : out.sessions) {
    index.Insert(stream, SessionIndex::Hash(stream), &session);
  }
  // One decoder and one envelope for the whole scan: decoding reuses their buffers instead of
  // allocating per record.
  schema::RecordDecoder decoder;
  schema::RecordEnvelope envelope;
  Status scanned = journal.Scan(
      out.first_seq, out.last_seq,
      [&](const journal::Record& record) {
        ++out.records_scanned;
        const uint64_t hash = SessionIndex::Hash(record.stream);
        host::RecoveredSession* found = index.Find(record.stream, hash);
        if (found != nullptr && record.seq <= found->image.last_seq) {
          return true;  // covered by the session's snapshot
        }
        fold_status = decoder.Decode(record.seq, record.payload, envelope);
        if (!fold_status.ok()) return false;
        schema::RecordEnvelope* decoded = &envelope;
        if (decoded->session_id.empty()) return true;  // a recovery marker
        if (decoded->session_id != record.stream) {
          fold_status =
              DataLossError(fmt::format("record {} is indexed under '{}' but names "
                                        "session '{}'",
                                        record.seq, record.stream, decoded->session_id));
          return false;
        }
        if (found == nullptr) {
          auto node = out.sessions.try_emplace(record.stream).first;
          found = &node->second;
          index.Insert(node->first, hash, found);
        }
        host::RecoveredSession& session = *found;
        bool fresh = session.image.session_seq == 0 || session.image.removed;
        if (fresh && decoded->session_seq != 1) {
          // No snapshot and not the start of a life: the tail of a life that was unregistered
          // (removed sessions do not hold truncation back). It must end in UnregisterSession
          // before the scan does; its records are checksum-verified but cannot be replayed.
          auto* transition = std::get_if<schema::TransitionRecord>(&decoded->payload);
          if (transition && std::holds_alternative<machine::UnregisterSession>(transition->input)) {
            orphans.erase(record.stream);
            session.image = host::SessionImage{};
            session.image.session_id = record.stream;
            session.image.session_seq = decoded->session_seq;
            session.image.removed = true;
          } else {
            orphans.try_emplace(record.stream, record.seq, decoded->session_seq);
          }
          return true;
        }
        if (fresh) {
          session.first_seq = record.seq;
          session.snapshots.clear();
        }
        fold_status = host::Fold(session.image, *decoded);
        if (!fold_status.ok()) return false;
        ++out.records_replayed;
        return true;
      },
      &damage);
  BURROW_RETURN_IF_ERROR(scanned);
  BURROW_RETURN_IF_ERROR(fold_status);
  if (!orphans.empty()) {
    const auto& [stream, at] = *orphans.begin();
    return DataLossError(fmt::format(
        "record {} of session '{}' has per-session sequence {}, but no snapshot covers what "
        "came before it (and the session was not unregistered)",
        at.first, stream, at.second));
  }
  for (std::string& stream : snapshot_streams) {
    const host::RecoveredSession* found = index.Find(stream, SessionIndex::Hash(stream));
    if (found == nullptr || found->image.removed) {
      out.stale_snapshot_streams.push_back(std::move(stream));
    }
  }
  for (auto it = out.sessions.begin(); it != out.sessions.end();) {
    it = it->second.image.removed ? out.sessions.erase(it) : std::next(it);
  }
  return out;
}

std::string Report::Summary() const {
  std::string damaged;
  for (const auto& d : snapshots_damaged) {
    damaged += fmt::format("; damaged snapshot at {} ({}) fell back", d.seq, d.what);
  }
  return fmt::format(
      "recovered {} sessions from {} snapshots and {} of {} records (journal {}..{}) in "
      "{:.1f} ms; {} unregisters finished, {} drains respawned, {} respawns scheduled{}",
      sessions_rebuilt, snapshots_loaded, records_replayed, records_scanned, first_seq, last_seq,
      duration.count() / 1000.0, start.unregisters_finished, start.drains_started,
      start.respawns_scheduled, damaged);
}

Result<Recovered> Recover(journal::Journal& journal, host::HostOptions options) {
  const auto started = std::chrono::steady_clock::now();
  BURROW_ASSIGN_OR_RETURN(Rebuilt rebuilt, Rebuild(journal));

  Report report;
  report.first_seq = rebuilt.first_seq;
  report.last_seq = rebuilt.last_seq;
  report.records_scanned = rebuilt.records_scanned;
  report.records_replayed = rebuilt.records_replayed;
  report.sessions_rebuilt = rebuilt.sessions.size();
  report.snapshots_loaded = rebuilt.snapshots_loaded;
  report.snapshots_damaged = std::move(rebuilt.snapshots_damaged);

  // Snapshots of sessions that no longer exist (their unregister committed, the deletion of
  // their snapshots did not) would resurrect them once the journal is truncated.
  // (Found by Rebuild's pass over the snapshots: a second pass cost a 100,000-session start
  // another iteration and an ordered-map lookup per stream.)
  const std::vector<std::string>& stale = rebuilt.stale_snapshot_streams;
  for (const std::string& stream : stale) {
    BURROW_RETURN_IF_ERROR(journal.DeleteSnapshots(stream));
  }
  report.stale_snapshots_deleted = stale.size();

  std::vector<host::RecoveredSession> sessions;
  sessions.reserve(rebuilt.sessions.size());
  for (auto& [id, session] : rebuilt.sessions) sessions.push_back(std::move(session));
  auto logger = options.logger;
  std::unique_ptr<host::Host> host =
      host::Host::Create(&journal, std::move(options), std::move(sessions));
  auto start = host->Start();
  if (!start.ok()) {
    return Status(start.error().code == host::ErrorCode::kInternal ? StatusCode::kInternal
                                                                   : StatusCode::kUnavailable,
                  "recovery could not start the host: " + start.error().reason);
  }
  report.start = start.value();
  report.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);

  schema::RecordEnvelope marker;
  marker.wall_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  marker.payload = schema::RecoveryMarker{
      report.sessions_rebuilt, report.start.drains_started, report.records_replayed,
      report.start.unregisters_finished, static_cast<uint64_t>(report.duration.count())};
  journal::Batch batch;
  batch.records.push_back({"", schema::EncodeRecord(marker)});
  BURROW_RETURN_IF_ERROR(journal.Append(std::move(batch)).status());
  if (logger) logger->info("{}", report.Summary());
  return Recovered{std::move(host), std::move(report)};
}

}  // namespace burrow::recovery
