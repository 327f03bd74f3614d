#include "recovery/recovery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/crc32c.h"
#include "engine/host/session_image.h"
#include "engine/machine/types.h"
#include "schema/codec.h"

namespace burrow::recovery {
namespace {

// Loads the newest valid snapshot at or below `up_to` of every stream that has one, in one pass
// over the journal's snapshots (one lookup per stream made a 100,000-session start slow).
// `unloaded` gets every stream with stored snapshots of which none was loaded (damaged, or newer
// than `up_to`); the loaded ones are in out.sessions. Only those: a copy of every stream's id,
// freed just before the host copies its sessions, left 100,000 small holes that the host's own
// strings then filled, scattered over pages recovery otherwise frees (`bench memory`: 1,006 ->
// ~1,400 bytes per recovered session).
Status LoadSnapshots(const journal::Journal& journal, uint64_t up_to, Rebuilt& out,
                     std::vector<std::string>& unloaded) {
  return journal.ScanSnapshots([&](std::string_view stream,
                                   std::vector<journal::Snapshot>& snapshots,
                                   std::vector<journal::Damage>& damaged) {
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
      out.sessions.emplace_hint(out.sessions.end(), std::string(stream), std::move(recovered));
    } else {
      unloaded.emplace_back(stream);
    }
    return true;
  });
}

// The rebuilt sessions by stream, for the lookup every scanned record makes. Open addressing
// over 64-byte {hash, key, session} slots with the key's bytes inline (up to kInlineKey; the
// 36-byte UUID-shaped ids fit): a lookup costs one cache line and no pointer chase, and the
// caller can prefetch that line ahead (SlotFor). std::unordered_map's bucket, chain and node were
// ~20 % of replay with 100,000 sessions; a slot pointing at the key's bytes still cost a miss.
// Longer keys are compared through a pointer to the std::map's key, which never moves.
class SessionIndex {
 public:
  explicit SessionIndex(size_t expected) { Grow(expected); }
  void Reserve(size_t expected) {
    if (expected * 2 > slots_.size()) Grow(expected);
  }

  static uint64_t Hash(std::string_view id) { return std::hash<std::string_view>{}(id); }

  // Where a lookup of `hash` starts; prefetch it ahead of Find.
  const void* SlotFor(uint64_t hash) const { return &slots_[hash & mask_]; }

  host::RecoveredSession* Find(std::string_view id, uint64_t hash) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.session == nullptr) return nullptr;
      if (slot.hash == hash && slot.Matches(id)) return slot.session;
    }
  }
  // `key` must not be in the index yet and must outlive it.
  void Insert(const std::string& key, uint64_t hash, host::RecoveredSession* session) {
    if ((size_ + 1) * 2 > slots_.size()) Grow(size_ + 1);
    Slot slot;
    slot.hash = hash;
    slot.session = session;
    slot.key = &key;
    slot.size = static_cast<uint32_t>(key.size());
    if (key.size() <= kInlineKey) std::memcpy(slot.inline_key, key.data(), key.size());
    Place(slot);
    ++size_;
  }

 private:
  static constexpr size_t kInlineKey = 36;
  struct alignas(64) Slot {
    uint64_t hash = 0;
    host::RecoveredSession* session = nullptr;  // null: empty
    const std::string* key = nullptr;
    uint32_t size = 0;
    char inline_key[kInlineKey];

    bool Matches(std::string_view id) const {
      if (id.size() != size) return false;
      if (size <= kInlineKey) return std::memcmp(inline_key, id.data(), size) == 0;
      return *key == id;
    }
  };
  static_assert(sizeof(Slot) == 64);

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

// Records copied out of the journal's scan, in sequence order, for one lane: their stored values,
// verified by the lane (VerifyRecord), not by the scan.
struct Batch {
  static constexpr size_t kPayloadAlignment = 8;  // capnp::word
  struct Entry {
    uint64_t seq;
    uint32_t value_at, value_size;
  };
  std::vector<Entry> entries;
  std::string bytes;

  Batch();  // reserves a full batch, so that filling one never copies it to grow
  void Add(const journal::UnverifiedRecord& record) {
    // The payload follows the header and the stream; it starts on an 8-byte boundary (the buffer
    // itself is at least 8-byte aligned) so that the lane's decoder reads it in place instead of
    // copying each into aligned memory. A damaged header misplaces it, and the record fails
    // verification before anything decodes it.
    const size_t payload_at = record.ClaimedPayloadOffset();
    bytes.append(
        (kPayloadAlignment - (bytes.size() + payload_at) % kPayloadAlignment) % kPayloadAlignment,
        '\0');
    entries.push_back(Entry{record.seq, static_cast<uint32_t>(bytes.size()),
                            static_cast<uint32_t>(record.value.size())});
    bytes += record.value;
  }
  std::string_view Value(const Entry& e) const {
    return std::string_view(bytes).substr(e.value_at, e.value_size);
  }
  void Clear() {
    entries.clear();
    bytes.clear();
  }
};

// Records per batch handed from the scan to a lane (enough to amortise the hand-over), and
// batches a lane may have waiting: enough for what the scan reads while the snapshots load, at
// most kBatchesQueued x kBatchBytes = 16 MiB per lane.
constexpr size_t kBatchRecords = 1024;
constexpr size_t kBatchBytes = 256 * 1024;
constexpr size_t kBatchesQueued = 64;

Batch::Batch() {
  entries.reserve(kBatchRecords);
  bytes.reserve(kBatchBytes + 4096);  // the record that fills it up is usually small
}

// One lane of the replay: the sessions whose stream hashes to it, replayed in sequence order.
// Sessions are independent, so lanes run in parallel; every check runs exactly as in a
// sequential replay, and a lane stops at its first failure (the earliest of its records that
// fails). The scan hands a lane every record of its sessions, in order, so the earliest failure
// over all lanes is the one a sequential replay would have stopped at.
class Lane {
 public:
  Lane() : index_(0) {}

  SessionIndex& index() { return index_; }

  // The scan side: queue a full batch (blocks while kBatchesQueued wait), and take an empty one.
  void Push(std::unique_ptr<Batch> batch) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return full_.size() < kBatchesQueued; });
    full_.push_back(std::move(batch));
    ready_.notify_one();
  }
  std::unique_ptr<Batch> TakeEmpty() {
    std::lock_guard lock(mu_);
    if (empty_.empty()) return std::make_unique<Batch>();
    std::unique_ptr<Batch> batch = std::move(empty_.back());
    empty_.pop_back();
    return batch;
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    ready_.notify_one();
  }

  // The lane's thread: replays every batch until Close. After a failure it keeps taking batches
  // (so the scan never blocks) without looking at them.
  void Run(std::atomic<bool>& failed) {
    for (;;) {
      std::unique_ptr<Batch> batch;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !full_.empty() || closed_; });
        if (full_.empty()) return;
        batch = std::move(full_.front());
        full_.pop_front();
        space_.notify_one();
      }
      if (error_.ok()) {
        Replay(*batch);
        if (!error_.ok()) failed.store(true, std::memory_order_relaxed);
      }
      batch->Clear();
      std::lock_guard lock(mu_);
      empty_.push_back(std::move(batch));
    }
  }

  // Before Run: it will take every batch without replaying any (the rebuild failed already).
  void Abandon() { error_ = AbortedError("rebuild abandoned"); }

  const Status& error() const { return error_; }
  uint64_t error_seq() const { return error_seq_; }
  uint64_t replayed() const { return replayed_; }
  std::map<std::string, host::RecoveredSession>& created() { return created_; }
  // Streams whose records start mid-life with no snapshot: record seq, per-session seq.
  const std::map<std::string, std::pair<uint64_t, uint64_t>>& orphans() const { return orphans_; }

 private:
  // How far ahead the slot of a record's session is prefetched, and (half as far) the session.
  static constexpr size_t kPrefetchSlot = 16;
  static constexpr size_t kPrefetchSession = 8;
  static constexpr size_t kPrefetchStrings = 4;
  static constexpr size_t kCacheLine = 64;

  // A record of the batch whose checksum passed, and its stream's hash (SessionIndex::Hash).
  struct Verified {
    journal::RecordView record;
    uint64_t hash;
  };

  void Replay(const Batch& batch) {
    // First the checksums (and the streams' hashes) of the whole batch, up to its first damaged
    // record: the scan only reads, since it is the replay's critical path. The records before the
    // damage are replayed first, as a sequential replay would: one of them may fail earlier.
    verified_.clear();
    Status damage;
    for (const Batch::Entry& entry : batch.entries) {
      journal::RecordView view;
      damage = journal::VerifyRecord(entry.seq, batch.Value(entry), view);
      if (!damage.ok()) break;
      verified_.push_back(Verified{view, SessionIndex::Hash(view.stream)});
    }
    const size_t n = verified_.size();
    // Lookups done ahead of use, so the session's own cache lines can be prefetched too. A miss
    // found ahead is looked up again when used: the session may have been created since.
    std::array<host::RecoveredSession*, kPrefetchSession> ahead{};
    for (size_t i = 0; i < n && i < kPrefetchSlot; ++i) {
      __builtin_prefetch(index_.SlotFor(verified_[i].hash));
    }
    for (size_t i = 0; i < n && i < kPrefetchSession; ++i) {
      ahead[i] = LookAhead(verified_[i]);
    }
    for (size_t i = 0; i < n; ++i) {
      if (i + kPrefetchSlot < n) {
        __builtin_prefetch(index_.SlotFor(verified_[i + kPrefetchSlot].hash));
      }
      host::RecoveredSession* found = ahead[i % kPrefetchSession];
      if (host::RecoveredSession* soon = ahead[(i + kPrefetchStrings) % kPrefetchSession]) {
        host::PrefetchStateStrings(soon->image);
      }
      if (i + kPrefetchSession < n)
        ahead[i % kPrefetchSession] = LookAhead(verified_[i + kPrefetchSession]);
      if (!One(verified_[i], found)) {
        error_seq_ = verified_[i].record.seq;
        return;
      }
    }
    if (!damage.ok()) {
      error_ = std::move(damage);
      error_seq_ = batch.entries[n].seq;
    }
  }

  host::RecoveredSession* LookAhead(const Verified& v) {
    host::RecoveredSession* found = index_.Find(v.record.stream, v.hash);
    if (found != nullptr) {
      // Every line of the image: the replay reads its counters, flags and state, which span ~8.
      const char* image = reinterpret_cast<const char*>(&found->image);
      for (size_t at = 0; at < sizeof(host::SessionImage); at += kCacheLine) {
        __builtin_prefetch(image + at);
      }
    }
    return found;
  }

  // Replays one record (or skips it: covered by its session's snapshot). False: error_ is set.
  bool One(const Verified& v, host::RecoveredSession* found) {
    const uint64_t seq = v.record.seq;
    const std::string_view stream = v.record.stream;
    if (found == nullptr) found = index_.Find(stream, v.hash);
    if (found != nullptr && seq <= found->image.last_seq) {
      return true;  // covered by the session's snapshot
    }
    error_ = decoder_.Decode(seq, v.record.payload, envelope_);
    if (!error_.ok()) return false;
    const schema::RecordEnvelope& decoded = envelope_;
    if (decoded.session_id.empty()) return true;  // a recovery marker
    if (decoded.session_id != stream) {
      error_ = DataLossError(fmt::format("record {} is indexed under '{}' but names session '{}'",
                                         seq, stream, decoded.session_id));
      return false;
    }
    if (found == nullptr) {
      auto node = created_.try_emplace(std::string(stream)).first;
      found = &node->second;
      index_.Insert(node->first, v.hash, found);
    }
    host::RecoveredSession& session = *found;
    bool fresh = session.image.session_seq == 0 || session.image.removed;
    if (fresh && decoded.session_seq != 1) {
      // No snapshot and not the start of a life: the tail of a life that was unregistered
      // (removed sessions do not hold truncation back). It must end in UnregisterSession
      // before the scan does; its records are checksum-verified but cannot be replayed.
      auto* transition = std::get_if<schema::TransitionRecord>(&decoded.payload);
      if (transition && std::holds_alternative<machine::UnregisterSession>(transition->input)) {
        orphans_.erase(std::string(stream));
        session.image = host::SessionImage{};
        session.image.session_id = std::string(stream);
        session.image.session_seq = decoded.session_seq;
        session.image.removed = true;
      } else {
        orphans_.try_emplace(std::string(stream), seq, decoded.session_seq);
      }
      return true;
    }
    if (fresh) {
      session.first_seq = seq;
      session.snapshots.clear();
    }
    // The index found `session` by `stream`, and the record names `stream` (checked above).
    error_ = host::Fold(session.image, decoded, host::SessionCheck::kAlreadyChecked);
    if (!error_.ok()) return false;
    ++replayed_;
    return true;
  }

  SessionIndex index_;
  std::vector<Verified> verified_;                         // of the batch being replayed
  std::map<std::string, host::RecoveredSession> created_;  // sessions without a snapshot
  std::map<std::string, std::pair<uint64_t, uint64_t>> orphans_;
  // One decoder and one envelope per lane: decoding reuses their buffers.
  schema::RecordDecoder decoder_;
  schema::RecordEnvelope envelope_;
  uint64_t replayed_ = 0;
  Status error_;
  uint64_t error_seq_ = 0;

  std::mutex mu_;
  std::condition_variable ready_;  // a batch is waiting, or the scan is over
  std::condition_variable space_;  // fewer than kBatchesQueued wait
  std::deque<std::unique_ptr<Batch>> full_;
  std::vector<std::unique_ptr<Batch>> empty_;
  bool closed_ = false;
};

// Lanes of replay: one per core, at most kMaxLanes. The scan has a thread of its own, and the
// caller's thread loads the snapshots meanwhile (Rebuild).
constexpr unsigned kMaxLanes = 2;

// The scan routes records by their claimed stream before anything verifies them: a cheap hash
// (the crc32c instruction), unrelated to the index's, so that a lane's sessions do not share
// the index's low bits. A damaged record may go to any lane, which reports it.
size_t LaneOf(std::string_view stream, size_t lanes) { return crc32c::Value(stream) % lanes; }

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
  // Three things overlap: the scan of the records (RocksDB iteration and a copy of each value:
  // it is replay's critical path, so it leaves the checksums to the lanes) runs on its own
  // thread from the start, while this one loads the snapshots (a second RocksDB scan); then the
  // lanes verify, decode and fold what the scan queued. On two cores a restart costs
  // about the larger of the two scans instead of their sum, and replay about the larger of scan
  // and fold. Until the lanes start, the scan may queue up to kBatchesQueued batches per lane.
  const size_t lanes = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxLanes);
  std::vector<std::unique_ptr<Lane>> lane;
  for (size_t i = 0; i < lanes; ++i) lane.push_back(std::make_unique<Lane>());
  std::atomic<bool> failed{false};  // a lane failed, or the snapshots could not be loaded
  Status scanned;
  std::thread scanner([&] {
    std::vector<std::unique_ptr<Batch>> filling;
    for (auto& l : lane) filling.push_back(l->TakeEmpty());
    scanned = journal.ScanUnverified(
        out.first_seq, out.last_seq, [&](const journal::UnverifiedRecord& record) {
          if (failed.load(std::memory_order_relaxed)) return false;  // no need to go on
          ++out.records_scanned;
          const size_t to = LaneOf(record.ClaimedStream(), lanes);
          Batch& batch = *filling[to];
          batch.Add(record);
          if (batch.entries.size() >= kBatchRecords || batch.bytes.size() >= kBatchBytes) {
            lane[to]->Push(std::move(filling[to]));
            filling[to] = lane[to]->TakeEmpty();
          }
          return true;
        });
    for (size_t i = 0; i < lanes; ++i) {
      if (!filling[i]->entries.empty()) lane[i]->Push(std::move(filling[i]));
      lane[i]->Close();
    }
  });

  std::vector<std::string> unloaded_snapshot_streams;
  Status loaded = LoadSnapshots(journal, out.last_seq, out, unloaded_snapshot_streams);
  if (loaded.ok()) {
    for (auto& l : lane) l->index().Reserve(out.sessions.size() / lanes + 1);
    for (auto& [stream, session] : out.sessions) {
      lane[LaneOf(stream, lanes)]->index().Insert(stream, SessionIndex::Hash(stream), &session);
    }
  } else {
    failed.store(true);
    for (auto& l : lane) l->Abandon();  // take what the scan queued, without looking at it
  }
  std::vector<std::thread> threads;
  for (auto& l : lane) threads.emplace_back([&l, &failed] { l->Run(failed); });
  scanner.join();
  for (std::thread& t : threads) t.join();
  BURROW_RETURN_IF_ERROR(loaded);

  // The earliest failing record over all lanes is where a sequential replay would have stopped;
  // every record a lane saw came before any damage the scan ran into.
  const Lane* first_failed = nullptr;
  for (const auto& l : lane) {
    if (!l->error().ok() &&
        (first_failed == nullptr || l->error_seq() < first_failed->error_seq())) {
      first_failed = l.get();
    }
  }
  if (first_failed != nullptr) return first_failed->error();
  BURROW_RETURN_IF_ERROR(scanned);

  const std::pair<const std::string, std::pair<uint64_t, uint64_t>>* orphan = nullptr;
  for (const auto& l : lane) {
    if (!l->orphans().empty() &&
        (orphan == nullptr || l->orphans().begin()->first < orphan->first)) {
      orphan = &*l->orphans().begin();
    }
  }
  if (orphan != nullptr) {
    const auto& [stream, at] = *orphan;
    return DataLossError(fmt::format(
        "record {} of session '{}' has per-session sequence {}, but no snapshot covers what "
        "came before it (and the session was not unregistered)",
        at.first, stream, at.second));
  }
  // Stale snapshots: of a stream whose session is gone after the replay. Until the lanes'
  // sessions are merged in, out.sessions holds exactly the streams whose snapshot was loaded.
  for (const auto& [stream, session] : out.sessions) {
    if (session.image.removed) out.stale_snapshot_streams.push_back(stream);
  }
  for (std::string& stream : unloaded_snapshot_streams) {
    const host::RecoveredSession* found =
        lane[LaneOf(stream, lanes)]->index().Find(stream, SessionIndex::Hash(stream));
    if (found == nullptr || found->image.removed) {
      out.stale_snapshot_streams.push_back(std::move(stream));
    }
  }
  for (auto& l : lane) {
    out.records_replayed += l->replayed();
    out.sessions.merge(l->created());
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

  auto logger = options.logger;
  std::unique_ptr<host::Host> host =
      host::Host::CreateRecovered(&journal, std::move(options), std::move(rebuilt.sessions));
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
