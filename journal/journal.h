// The journal: Burrow's append-only, durable log of opaque records (front door of journal/).
//
// The journal knows nothing of sessions or machines. It stores:
//   * records: opaque payload bytes, each tagged with an opaque `stream` (Burrow uses the session
//     id) and given a gap-free global sequence number (1, 2, 3, ...) at append time;
//   * state: opaque key/value pairs written atomically with records (Burrow keeps each session's
//     inbox and delivered stream here, so truncating old records never loses a message);
//   * snapshots: opaque blobs per stream, each covering the stream up to a sequence.
// The on-disk layout is documented in journal/FORMAT.md and pinned by a golden-bytes test
// (tests/journal/format_test.cc). Every stored value carries a crc32c that also covers its key;
// every read verifies it and reports damage as DataLoss naming the sequence.
//
// Thread-safety: a Journal is safe for concurrent use. Concurrent Append calls (and the batches
// queued by AppendAsync) are merged by a commit queue into one RocksDB WriteBatch and one fsync
// (group commit). Destroying a Journal while another thread still calls it is a bug (the
// AppendAsync callbacks that closing runs may call AppendAsync: it refuses); a writer flushes its
// memtables when destroyed, so the next open replays no WAL.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace spdlog {
class logger;
}
namespace rocksdb {
class Env;
}

namespace burrow::journal {

// The format version this build writes and the only one it reads (see FORMAT.md).
inline constexpr uint32_t kFormatVersion = 1;

// Append-time limits (InvalidArgument beyond them).
inline constexpr size_t kMaxStreamBytes = 1024;             // RecordIn::stream, Snapshot::stream
inline constexpr size_t kMaxValueBytes = size_t{64} << 20;  // payloads, state values, snapshots

enum class Durability : uint8_t {
  kSync,  // Append returns only after the batch is fsynced (the default; the only safe mode).
  kNone,  // Append returns after the write reaches the OS; a power cut loses it. Tests and
          // benchmarks only: opening in this mode logs a warning.
};

// The reader modes open a RocksDB secondary instance (its own files live in a private
// temporary directory, removed on close), so they never take the writer's lock and are safe on
// a live host's directory.
enum class OpenMode : uint8_t {
  kWriter,    // exclusive: a second writer on the same directory is refused (Unavailable)
  kReadOnly,  // a consistent view as of open; never writes; safe on a live host's directory
  kFollower,  // like kReadOnly, but CatchUp() sees what the live writer committed since
};

// One group commit as the writer wrote it, for metrics (`burrow serve --metrics-listen`).
struct GroupWritten {
  size_t batches = 0;  // Append calls the group merged
  size_t records = 0;
  // The RocksDB write of the group, including its fsync under Durability::kSync.
  std::chrono::nanoseconds write_time{0};
  bool ok = true;
};

struct Options {
  OpenMode mode = OpenMode::kWriter;
  Durability durability = Durability::kSync;
  // Named logger for the journal's own messages; null = a private logger that drops them.
  std::shared_ptr<spdlog::logger> logger;
  // Optional RocksDB Env (non-owning; must outlive the Journal). Drills pass a fault-injecting
  // one here; null = rocksdb::Env::Default().
  rocksdb::Env* env = nullptr;
  // Creates the directory and a new journal when none exists (writer mode only).
  bool create_if_missing = true;
  // Called by the writer after each group commit, on the committing thread, before any Append
  // of the group returns; must be quick and must not call the Journal. Null = nobody observes.
  std::function<void(const GroupWritten&)> on_group_written;
};

// A record as appended: `stream` groups records for ReadStream (may be empty: no stream, and
// then the record is not indexed). At most kMaxStreamBytes / kMaxValueBytes.
struct RecordIn {
  std::string stream;
  std::string payload;
};

// A state mutation applied in the same atomic batch as the records it accompanies.
struct StatePut {
  std::string key;
  std::string value;
};

// One atomic unit: either all of it becomes durable, with contiguous sequence numbers, or none
// of it does. Within a batch the state puts are applied before the state deletes; across the
// batches of one group, in sequence order. State keys must not be empty.
struct Batch {
  std::vector<RecordIn> records;
  std::vector<StatePut> state_puts;
  std::vector<std::string> state_deletes;
  bool empty() const { return records.empty() && state_puts.empty() && state_deletes.empty(); }
};

// A record as read back; `payload` is verified against its checksum before it is returned.
struct Record {
  uint64_t seq = 0;
  std::string stream;
  std::string payload;
};

// A verified record as ScanViews hands it over: views into the journal's read buffer, valid only
// while the visit that received them runs.
struct RecordView {
  uint64_t seq = 0;
  std::string_view stream;
  std::string_view payload;
};

struct Snapshot {
  std::string stream;
  uint64_t covered_seq = 0;  // the snapshot reflects every record of the stream with seq <= this
  std::string payload;
};

// What a read found wrong, for the caller's policy to act on (STYLE.md "Report damage, let
// policy decide"). Reads return DataLoss naming the sequence in any case.
struct Damage {
  uint64_t seq = 0;     // the sequence concerned (0 when it is not about one record)
  std::string key_hex;  // the RocksDB key, in hex
  std::string what;     // "checksum mismatch", "gap: expected 41, found 43", ...
};

// A record as ScanUnverified hands it over: its sequence (contiguity already checked) and the
// value exactly as stored (crc ‖ stream length ‖ stream ‖ payload), not yet verified. A view into
// the journal's read buffer, valid only while the visit that received it runs.
struct UnverifiedRecord {
  uint64_t seq = 0;
  std::string_view value;

  // The stream the value's header names, to route the record to whoever verifies it. Unverified:
  // a damaged header names arbitrary bytes of the value (or none).
  std::string_view ClaimedStream() const;
  // Where the payload starts in `value`, as the header claims (unverified; at most its size).
  size_t ClaimedPayloadOffset() const;
};

// Verifies a record that ScanUnverified handed over, or a copy of its value: the checks Scan
// makes, with the same error. On success `out` views `value`.
// Errors: DataLoss "record N (key ...): checksum mismatch" and the like (`damage`, when given, is
//         filled in).
Status VerifyRecord(uint64_t seq, std::string_view value, RecordView& out,
                    Damage* damage = nullptr);

// One stored record as ScanStored sees it: the exact key and value bytes RocksDB holds, and the
// verified record when the value passes its checks.
struct StoredRecord {
  uint64_t seq = 0;  // parsed from the key; 0 when the key is malformed
  std::string key;   // the stored key bytes
  // The stored value bytes (framed: crc ‖ stream length ‖ stream ‖ payload).
  std::string value;
  // Whether the value passed its checksum and framing checks; `record` is valid only then.
  bool intact = false;
  Record record;
  // What is wrong when not intact: "checksum mismatch", "malformed record key", ...
  std::string damage;
};

class Journal {
 public:
  // Opens (and in writer mode, creates if allowed) the journal in `dir`. Opening in writer mode
  // with Durability::kNone logs a warning.
  // Errors: Unavailable (I/O, or another writer holds the directory: "another writer holds
  //         <dir>"),
  //         DataLoss ("unknown format version N", a damaged meta record, or a directory that is
  //         not a Burrow journal),
  //         NotFound (read-only or follower mode, or create_if_missing=false, and no journal).
  static Result<std::unique_ptr<Journal>> Open(const std::string& dir, const Options& options);

  virtual ~Journal() = default;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends `batch` atomically and returns the sequence given to its first record (the records
  // get first, first+1, ...; a batch without records returns the newest sequence before it).
  // In kSync mode it returns only after the batch is durable. Concurrent callers share one
  // write and one fsync; once it returns, Scan/ReadStream/Follow see the records.
  // Errors: Unavailable (I/O failed: nothing of the batch is visible, no sequence is consumed.
  //         The outcome on disk of a failed write is unknown and RocksDB refuses writes after
  //         it, so the next Append first reopens the RocksDB instance inside this Journal and
  //         checks that it holds exactly the acknowledged records: if the failed batch's bytes
  //         reached the WAL anyway (a failed fsync whose data landed), they are removed again,
  //         durably, with the pre-images captured at the failure, so the batch stays unapplied.
  //         If the reopen fails (the disk still fails) that Append is Unavailable too and the next
  //         one tries again; while the instance is closed, reads fail with Unavailable. Records
  //         the Journal cannot account for refuse appends until a restart. FailNextAppends does
  //         not have this effect),
  //         FailedPrecondition (opened read-only),
  //         InvalidArgument (stream longer than kMaxStreamBytes, payload or state value larger
  //         than kMaxValueBytes, empty state key; nothing is written).
  virtual Result<uint64_t> Append(Batch batch) = 0;

  // What AppendAsync reports: what Append would have returned for the batch.
  using AppendCallback = std::function<void(Result<uint64_t>)>;
  // Append without blocking: for callers that keep many appends in flight from few threads (an
  // event loop, a pipelining client), where a thread per pending Append would cost a sleep and a
  // wake-up per record. Queues `batch` and returns; `done` is called exactly once, later, with
  // what Append would have returned: in kSync mode only once the batch is durable. Queued
  // batches are committed by the journal's completion thread, everything queued at once as one
  // writer in the same group commit as concurrent Append calls (so Append's atomicity, sequence
  // and error rules hold per batch; the batches of one group succeed or fail together). Batches
  // get their sequences in the order AppendAsync accepted them, and `done` is called in that
  // order, on the completion thread: it must be quick and must not block (no Append, no
  // WriteSnapshot); it may call AppendAsync. Closing the Journal first commits what is queued
  // and calls every pending `done`.
  // Errors returned at once, and then `done` is never called: FailedPrecondition (opened
  // read-only), InvalidArgument (as Append), Unavailable (injected by FailNextAppends, or the
  // Journal is closing).
  virtual Status AppendAsync(Batch batch, AppendCallback done) = 0;

  // The newest sequence appended (0 for an empty journal). In reader modes, as of open or the
  // last CatchUp().
  virtual uint64_t LastSequence() const = 0;
  // The oldest sequence still stored (LastSequence()+1 when there are none: all truncated).
  virtual uint64_t FirstSequence() const = 0;

  // Calls `visit` for each record with from <= seq <= to (clamped to FirstSequence() ..
  // LastSequence() as of the call), in order, stopping early when it returns false. Verifies
  // each checksum and that sequences are contiguous. No lock is held while `visit` runs.
  // Errors: DataLoss naming the sequence ("record N (key ...): checksum mismatch",
  //         "gap: expected N, found M"; `damage`, when given, is filled in), Unavailable (I/O).
  virtual Status Scan(uint64_t from, uint64_t to, const std::function<bool(const Record&)>& visit,
                      Damage* damage = nullptr) const = 0;
  // Scan without copying each record into a Record: for callers that keep only part of what they
  // see, or copy it elsewhere themselves (recovery's replay). Same checks and errors.
  virtual Status ScanViews(uint64_t from, uint64_t to,
                           const std::function<bool(const RecordView&)>& visit,
                           Damage* damage = nullptr) const = 0;
  // ScanViews without the checksum: contiguity is checked, each value is left for the caller to
  // verify with VerifyRecord, which lets a caller spread that work over threads (recovery's
  // replay lanes, so the scan, its critical path, only reads). A caller that uses a record before
  // verifying it is on its own. Errors: DataLoss (a gap or a malformed key, as Scan), Unavailable.
  virtual Status ScanUnverified(uint64_t from, uint64_t to,
                                const std::function<bool(const UnverifiedRecord&)>& visit,
                                Damage* damage = nullptr) const = 0;

  // For inspection tools that must report every problem, not the first (`burrow journal verify`,
  // `show --hex`): visits every key stored in the records family from RecordKey(from) to
  // RecordKey(to) inclusive, in key order, as of the call, with the exact stored bytes. Each
  // value is checked as Scan checks it, but damage is described in the StoredRecord instead of
  // ending the scan, and contiguity is not checked (the caller sees the sequences). Keys below
  // FirstSequence() that a truncation has not yet removed are not visited. Stops early when
  // `visit` returns false. Errors: Unavailable (I/O).
  virtual Status ScanStored(uint64_t from, uint64_t to,
                            const std::function<bool(const StoredRecord&)>& visit) const = 0;

  // Up to `limit` records of `stream` with seq >= from (and <= LastSequence()), in order.
  // Records appended with an empty stream are in no stream. Verifies each record's checksum and
  // that it belongs to `stream`.
  // Errors: DataLoss (damaged record, or the index names a missing record), Unavailable,
  //         InvalidArgument (stream longer than kMaxStreamBytes).
  virtual Result<std::vector<Record>> ReadStream(std::string_view stream, uint64_t from,
                                                 size_t limit) const = 0;

  // Blocks until a record with seq > after exists or `timeout` passes; returns the records
  // after `after` (up to `limit`), possibly none on timeout. In writer mode it is woken by the
  // append that publishes the record; in follower mode it calls CatchUp() every 10 ms while it
  // waits; in read-only mode it can only wait out the timeout. Errors: DataLoss, Unavailable.
  virtual Result<std::vector<Record>> Follow(uint64_t after, std::chrono::milliseconds timeout,
                                             size_t limit) = 0;

  // Follower mode: sees what the live writer committed since open (or the last CatchUp). In
  // writer mode a no-op (the writer is always current).
  // Errors: Unavailable, DataLoss (as for Open), FailedPrecondition (kReadOnly: its view is
  //         fixed at open).
  virtual Status CatchUp() = 0;

  // State: point read (NotFound when absent) and ordered prefix scan, each value verified.
  // Errors: DataLoss (damaged value, naming the key in hex), Unavailable.
  virtual Result<std::string> GetState(std::string_view key) const = 0;
  virtual Status ScanState(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const = 0;

  // Snapshots. WriteSnapshot stores a new one durably (fsynced in kSync mode) and keeps two per
  // stream: the new one and the newest valid older one (damaged ones are deleted then; one with
  // the same covered_seq is replaced; a snapshot older than the two kept is not stored).
  // Snapshots() returns the valid ones newest first (at most two); a damaged one (checksum
  // mismatch) is left out and described in `damaged` when given (Damage::seq = its
  // covered_seq), so recovery can fall back to the older one.
  // Errors: Unavailable, FailedPrecondition (writes when opened read-only), InvalidArgument
  //         (stream longer than kMaxStreamBytes, payload larger than kMaxValueBytes).
  virtual Status WriteSnapshot(const Snapshot& snapshot) = 0;
  // Like WriteSnapshot for each, in one atomic write and one fsync (a checkpoint of many
  // streams). Of several with the same stream and covered_seq, the last one counts. Nothing is
  // written when one is invalid.
  virtual Status WriteSnapshots(std::vector<Snapshot> snapshots) = 0;
  virtual Result<std::vector<Snapshot>> Snapshots(std::string_view stream,
                                                  std::vector<Damage>* damaged = nullptr) const = 0;
  // Every stream that has a snapshot, with its newest stored covered_seq (whether that snapshot
  // is valid, Snapshots() tells), ordered by stream length then bytes; stops when `visit`
  // returns false. Errors: DataLoss (malformed key), Unavailable.
  virtual Status ScanSnapshotHeads(
      const std::function<bool(std::string_view stream, uint64_t covered_seq)>& visit) const = 0;
  // Every stream's snapshots in one pass (recovery at start: one call instead of one
  // Snapshots() per stream): calls `visit` once per stream that has a snapshot, in
  // ScanSnapshotHeads' order, with what Snapshots(stream, damaged) would return (the valid ones,
  // newest first, at most two; `damaged` the damaged ones newer than the second valid one);
  // stops when `visit` returns false. Errors: DataLoss (malformed key), Unavailable.
  virtual Status ScanSnapshots(
      const std::function<bool(std::string_view stream, std::vector<Snapshot>& snapshots,
                               std::vector<Damage>& damaged)>& visit) const = 0;
  // Deletes every snapshot of `stream` (durably in kSync mode).
  // Errors: Unavailable, FailedPrecondition (opened read-only), InvalidArgument (stream too long).
  virtual Status DeleteSnapshots(std::string_view stream) = 0;

  // Deletes every record with seq < below (DeleteRange), with their stream index entries and
  // the new FirstSequence(), in one fsynced batch. Later reads start there; below <=
  // FirstSequence() is a no-op. Sequences are never reused: truncating everything
  // (below = LastSequence()+1) leaves FirstSequence() = LastSequence()+1.
  // Errors: Unavailable, InvalidArgument (below > LastSequence()+1), FailedPrecondition (opened
  //         read-only).
  virtual Status Truncate(uint64_t below) = 0;

  // Writer mode: what the open found at the end of the write-ahead log — a damaged or incomplete
  // last record, which RocksDB discards (a write torn by a crash, or damage to the last batch:
  // the two look the same). Damage in the middle of the log refuses the open instead (DataLoss).
  // nullopt when the log ended cleanly, and in the reader modes.
  virtual std::optional<Damage> DiscardedWalTail() const { return std::nullopt; }

  // Test hook: the next `n` Append (or AppendAsync) calls fail with Unavailable and write nothing.
  virtual void FailNextAppends(int n) = 0;

 protected:
  Journal() = default;
};

}  // namespace burrow::journal
