// The journal: Burrow's append-only, durable log of opaque records (front door of journal/).
//
// The journal knows nothing of sessions or machines. It stores:
//   * records: opaque payload bytes, each tagged with an opaque `stream` (Burrow uses the session
//     id) and given a gap-free global sequence number (1, 2, 3, ...) at append time;
//   * state: opaque key/value pairs written atomically with records (Burrow keeps each session's
//     inbox and delivered stream here, so truncating old records never loses a message);
//   * snapshots: opaque blobs per stream, each covering the stream up to a sequence.
// The on-disk layout is documented in journal/FORMAT.md and pinned by a golden-bytes test.
//
// Thread-safety: a Journal is safe for concurrent use. Concurrent Append calls are merged by a
// commit queue into one RocksDB WriteBatch and one fsync (group commit).
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

enum class Durability : uint8_t {
  kSync,  // Append returns only after the batch is fsynced (the default; the only safe mode).
  kNone,  // Append returns after the write reaches the OS; a power cut loses it. Tests and
          // benchmarks only: opening in this mode logs a warning.
};

enum class OpenMode : uint8_t {
  kWriter,    // exclusive: a second writer on the same directory is refused (Unavailable)
  kReadOnly,  // a consistent view as of open; never writes; safe on a live host's directory
  kFollower,  // like kReadOnly, but CatchUp() sees what the live writer committed since
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
};

// A record as appended: `stream` groups records for ReadStream (may be empty: no stream).
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
// of it does.
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

class Journal {
 public:
  // Opens (and in writer mode, creates if allowed) the journal in `dir`.
  // Errors: Unavailable (I/O, or another writer holds the directory: the message says so),
  //         DataLoss (unknown format version, or a damaged meta record),
  //         NotFound (read-only or follower mode, or create_if_missing=false, and no journal).
  static Result<std::unique_ptr<Journal>> Open(const std::string& dir, const Options& options);

  virtual ~Journal() = default;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends `batch` atomically and returns the sequence given to its first record (the records
  // get first, first+1, ...; a batch without records returns LastSequence()). In kSync mode it
  // returns only after the batch is durable. Concurrent callers share one write and one fsync.
  // Errors: Unavailable (I/O failed; nothing of the batch is visible, no sequence is consumed),
  //         FailedPrecondition (opened read-only), InvalidArgument (empty stream too long, etc.).
  virtual Result<uint64_t> Append(Batch batch) = 0;

  // The newest sequence appended (0 for an empty journal). In reader modes, as of open or the
  // last CatchUp().
  virtual uint64_t LastSequence() const = 0;
  // The oldest sequence still stored (LastSequence()+1 when there are none: all truncated).
  virtual uint64_t FirstSequence() const = 0;

  // Calls `visit` for each record with from <= seq <= to, in order, stopping early when it
  // returns false. Verifies each checksum and that sequences are contiguous.
  // Errors: DataLoss naming the sequence (and `damage`, when given, is filled in).
  virtual Status Scan(uint64_t from, uint64_t to, const std::function<bool(const Record&)>& visit,
                      Damage* damage = nullptr) const = 0;

  // Up to `limit` records of `stream` with seq >= from, in order. Errors: DataLoss.
  virtual Result<std::vector<Record>> ReadStream(std::string_view stream, uint64_t from,
                                                 size_t limit) const = 0;

  // Blocks until a record with seq > after exists or `timeout` passes; returns the records
  // after `after` (up to `limit`), possibly none on timeout. In follower mode it catches up
  // with the live writer while it waits. Errors: DataLoss, Unavailable.
  virtual Result<std::vector<Record>> Follow(uint64_t after, std::chrono::milliseconds timeout,
                                             size_t limit) = 0;

  // Follower mode: sees what the live writer committed since open. Errors: Unavailable.
  virtual Status CatchUp() = 0;

  // State: point read (NotFound when absent) and ordered prefix scan.
  virtual Result<std::string> GetState(std::string_view key) const = 0;
  virtual Status ScanState(std::string_view prefix,
                           const std::function<bool(std::string_view key, std::string_view value)>&
                               visit) const = 0;

  // Snapshots. WriteSnapshot stores a new one durably and keeps only the two newest of the
  // stream. Snapshots() returns the valid ones newest first (at most two); a damaged one
  // (checksum mismatch) is left out and described in `damaged` when given, so recovery can fall
  // back to the older one. Errors: Unavailable.
  virtual Status WriteSnapshot(const Snapshot& snapshot) = 0;
  virtual Result<std::vector<Snapshot>> Snapshots(std::string_view stream,
                                                  std::vector<Damage>* damaged = nullptr) const = 0;
  // Every stream that has a snapshot, with its newest covered_seq.
  virtual Status ScanSnapshotHeads(
      const std::function<bool(std::string_view stream, uint64_t covered_seq)>& visit) const = 0;
  virtual Status DeleteSnapshots(std::string_view stream) = 0;

  // Deletes every record with seq < below (DeleteRange), durably. Later reads start there.
  // Errors: Unavailable, InvalidArgument (below > LastSequence()+1).
  virtual Status Truncate(uint64_t below) = 0;

  // Test hook: the next `n` Append calls fail with Unavailable and write nothing.
  virtual void FailNextAppends(int n) = 0;
};

}  // namespace burrow::journal
