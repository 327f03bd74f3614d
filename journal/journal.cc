// The RocksDB journal. Layout: journal/FORMAT.md (and journal/format.h); group commit:
// journal/commit_queue.h.
#include "journal/journal.h"

#include <fmt/format.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <spdlog/logger.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "journal/async_appender.h"
#include "journal/commit_queue.h"
#include "journal/format.h"
#include "journal/wal_check.h"

namespace burrow::journal {
namespace {

constexpr uint64_t kMaxSeq = std::numeric_limits<uint64_t>::max();
// Follower mode polls the live writer this often while Follow waits.
constexpr std::chrono::milliseconds kFollowerPollInterval{10};

const std::vector<std::string>& KnownFamilies() {
  static const std::vector<std::string> families = {rocksdb::kDefaultColumnFamilyName,
                                                    format::kRecordsFamily,
                                                    format::kStreamsFamily,
                                                    format::kStateFamily,
                                                    format::kSnapshotsFamily,
                                                    format::kMetaFamily};
  return families;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// RocksDB reports a held LOCK file as an IOError naming "<dir>/LOCK" (another process: "While
// lock file: ...: Resource temporarily unavailable"; this process: "lock hold by current
// process ...").
bool IsLockConflict(const rocksdb::Status& s) {
  return s.IsIOError() && s.ToString().find("/LOCK") != std::string::npos;
}

// Corruption is DataLoss; everything else RocksDB can report here is an I/O-level failure.
Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return OkStatus();
  if (s.IsCorruption()) return DataLossError(fmt::format("{}: {}", context, s.ToString()));
  return UnavailableError(fmt::format("{}: {}", context, s.ToString()));
}

rocksdb::CompressionType PreferredCompression() {
  // MEASUREMENTS.md: lz4 halves disk use at no cost to appends.
  for (rocksdb::CompressionType t : rocksdb::GetSupportedCompressions()) {
    if (t == rocksdb::kLZ4Compression) return t;
  }
  return rocksdb::kNoCompression;
}

// The stream part of a streams-family key (its u16 length and its bytes, FORMAT.md), used only
// as a memtable insert hint (ColumnFamilyOptions::memtable_insert_with_hint_prefix_extractor).
// A group's stream entries interleave many streams, so without a hint every insert searches the
// skip list from the top; within one stream sequences only grow, so with one hint per stream an
// insert lands next to the stream's previous one. That search was most of the group leader's
// CPU, and the leader's write is the one serial step of group commit. Nothing on disk depends
// on it.
//
// RocksDB 7.8.3 keeps one hint map per memtable and uses it for range tombstones too, which live
// in a different skip list: a hint from one list then steers an insert into the other (an
// assertion in InlineSkipList, memory corruption without it; later RocksDB releases hint point
// keys only). Truncate's range deletions on this family all start at sequence 0, which no entry
// has (sequences start at 1), so keys with sequence 0 are kept out of the domain and never
// touch a hint.
class StreamHintPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "burrow.StreamHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 2 + StreamBytes(key));
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    const std::optional<format::StreamKeyView> entry = format::ParseStreamKey(ToView(key));
    return entry.has_value() && entry->seq != 0;
  }

 private:
  static size_t StreamBytes(const rocksdb::Slice& key) {
    return (size_t{static_cast<uint8_t>(key[0])} << 8) | static_cast<uint8_t>(key[1]);
  }
};

rocksdb::ColumnFamilyOptions FamilyOptions(const std::string& name) {
  rocksdb::ColumnFamilyOptions options;
  options.compression = PreferredCompression();
  if (name == format::kRecordsFamily) {
    options.write_buffer_size = size_t{32} << 20;
  } else {
    options.write_buffer_size = size_t{8} << 20;
  }
  if (name == format::kStreamsFamily) {
    options.memtable_insert_with_hint_prefix_extractor = std::make_shared<StreamHintPrefix>();
  }
  return options;
}

rocksdb::DBOptions BaseDbOptions(rocksdb::Env* env) {
  rocksdb::DBOptions options;
  options.env = env;
  // A crash replays the WAL; bounding it bounds reopen time (MEASUREMENTS.md: ~2 s for 55 MB).
  options.max_total_wal_size = uint64_t{64} << 20;
  // A torn WAL tail (the batch being written at a crash, never acknowledged) is dropped whole;
  // WAL replay stops at the first damaged WAL record.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.keep_log_file_num = 4;
  options.max_log_file_size = size_t{16} << 20;
  return options;
}

Result<std::string> MakeSecondaryDir() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string path = (base / "burrow-journal-secondary-XXXXXX").string();
  if (mkdtemp(path.data()) == nullptr) {
    return UnavailableError(
        fmt::format("cannot create a directory for the secondary instance "
                    "under {}: {}",
                    base.string(), std::strerror(errno)));
  }
  return path;
}

Status DamageStatus(uint64_t seq, std::string_view key, std::string what, Damage* damage) {
  std::string message = seq != 0
                            ? fmt::format("record {} (key {}): {}", seq, format::Hex(key), what)
                            : fmt::format("key {}: {}", format::Hex(key), what);
  if (damage != nullptr) {
    damage->seq = seq;
    damage->key_hex = format::Hex(key);
    damage->what = std::move(what);
  }
  return DataLossError(std::move(message));
}

}  // namespace

std::string_view UnverifiedRecord::ClaimedStream() const {
  if (value.size() < format::kRecordHeaderBytes) return {};
  const size_t size = format::DecodeFixed32(value.data() + format::kCrcBytes);
  return value.substr(format::kRecordHeaderBytes, size);  // clamped to the value
}

size_t UnverifiedRecord::ClaimedPayloadOffset() const {
  if (value.size() < format::kRecordHeaderBytes) return value.size();
  return format::kRecordHeaderBytes + ClaimedStream().size();
}

Status VerifyRecord(uint64_t seq, std::string_view value, RecordView& out, Damage* damage) {
  auto view = format::DecodeRecordValue(seq, value);
  if (!view.ok()) {
    return DamageStatus(seq, format::RecordKey(seq), view.status().message(), damage);
  }
  out = RecordView{seq, view->stream, view->payload};
  return OkStatus();
}

namespace {

// `out` keeps its strings' capacity: scans reuse one Record for every record.
void CopyInto(const RecordView& view, Record& out) {
  out.seq = view.seq;
  out.stream.assign(view.stream);
  out.payload.assign(view.payload);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

class RocksJournal final : public Journal {
 public:
  RocksJournal(std::string dir, const Options& options, std::shared_ptr<spdlog::logger> log)
      : dir_(std::move(dir)),
        mode_(options.mode),
        durability_(options.durability),
        on_group_written_(options.on_group_written),
        log_(std::move(log)) {}

  ~RocksJournal() override { Close(); }

  // Opens RocksDB (a secondary instance in the reader modes) and reads the meta family.
  Status Init(const Options& options, rocksdb::Env* env);

  Result<uint64_t> Append(Batch batch) override;
  Status AppendAsync(Batch batch, AppendCallback done) override;
  uint64_t LastSequence() const override {
    return queue_ ? queue_->LastSequence() : reader_last_seq_.load(std::memory_order_acquire);
  }
  uint64_t FirstSequence() const override { return first_seq_.load(std::memory_order_acquire); }
  Status Scan(uint64_t from, uint64_t to, const std::function<bool(const Record&)>& visit,
              Damage* damage) const override;
  Status ScanViews(uint64_t from, uint64_t to, const std::function<bool(const RecordView&)>& visit,
                   Damage* damage) const override;
  Status ScanUnverified(uint64_t from, uint64_t to,
                        const std::function<bool(const UnverifiedRecord&)>& visit,
                        Damage* damage) const override;
  Status ScanStored(uint64_t from, uint64_t to,
                    const std::function<bool(const StoredRecord&)>& visit) const override;
  Result<std::vector<Record>> ReadStream(std::string_view stream, uint64_t from,
                                         size_t limit) const override;
  Result<std::vector<Record>> Follow(uint64_t after, std::chrono::milliseconds timeout,
                                     size_t limit) override;
  Status CatchUp() override;
  Result<std::string> GetState(std::string_view key) const override;
  Status ScanState(
      std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& visit) const override;
  Status WriteSnapshot(const Snapshot& snapshot) override { return WriteSnapshots({snapshot}); }
  Status WriteSnapshots(std::vector<Snapshot> snapshots) override;
  Result<std::vector<Snapshot>> Snapshots(std::string_view stream,
                                          std::vector<Damage>* damaged) const override;
  Status ScanSnapshotHeads(
      const std::function<bool(std::string_view, uint64_t)>& visit) const override;
  Status ScanSnapshots(const std::function<bool(std::string_view, std::vector<Snapshot>&,
                                                std::vector<Damage>&)>& visit) const override;
  Status DeleteSnapshots(std::string_view stream) override;
  Status Truncate(uint64_t below) override;
  void FailNextAppends(int n) override { fail_next_appends_.store(n); }
  std::optional<Damage> DiscardedWalTail() const override { return discarded_wal_tail_; }

 private:
  bool writer() const { return mode_ == OpenMode::kWriter; }
  Status RequireWriter(std::string_view what) const;
  Status Validate(const Batch& batch) const;
  // What Append and AppendAsync check before queueing: writer mode, Validate, FailNextAppends.
  Status CheckAppend(const Batch& batch);
  rocksdb::WriteOptions WriteOptions() const;
  Status WriteGroup(std::span<const Batch* const> group, uint64_t first_seq);
  // Reads the meta family and the newest record key into first_seq_ / the last sequence.
  Status LoadView(bool may_finish_creation);
  Result<std::optional<std::string>> ReadMeta(std::string_view key) const;
  Status WriteMeta(std::string_view key, std::string_view body);
  Result<bool> AllFamiliesEmpty() const;
  void Close();
  void RemoveSecondaryDir();

  const std::string dir_;
  const OpenMode mode_;
  const Durability durability_;
  const std::function<void(const GroupWritten&)> on_group_written_;
  std::shared_ptr<spdlog::logger> log_;

  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* records_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* state_ = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  std::string secondary_dir_;  // reader modes: the secondary instance's private directory

  std::unique_ptr<CommitQueue> queue_;  // writer mode only
  // AppendAsync's queue and completion thread; writer mode only. Stopped (its queue committed)
  // before anything else closes.
  std::unique_ptr<AsyncAppender> async_;
  std::atomic<uint64_t> reader_last_seq_{0};
  std::atomic<uint64_t> first_seq_{1};
  // Shared while a reader reads FirstSequence/LastSequence and creates its iterators; exclusive
  // while Truncate or CatchUp changes what those mean. Keeps a scan from mistaking a concurrent
  // truncation for a gap.
  mutable std::shared_mutex view_mu_;
  std::mutex snapshot_mu_;  // serialises WriteSnapshot / DeleteSnapshots

  // After a failed RocksDB write the outcome on disk is unknown (the WAL may hold the batch), and
  // RocksDB refuses further writes (an EIO on the WAL is fatal to its own Resume()). The next
  // append reopens the instance and proves the journal holds exactly the acknowledged records
  // before anything is written again (ReopenAfterWriteFailure).
  std::atomic<bool> write_failed_{false};
  mutable std::mutex write_error_mu_;
  std::string write_error_;  // guarded by write_error_mu_
  // Undoes the failed group should its bytes have reached the WAL anyway: deletes its records and
  // index entries and restores the pre-images of the state keys it touched, read right after the
  // failure (the failed write reached no memtable). Guarded by write_error_mu_.
  std::unique_ptr<rocksdb::WriteBatch> undo_;
  uint64_t failed_last_seq_ = 0;  // guarded by write_error_mu_

  // Shared by every use of db_ and the family handles; exclusive while a writer reopens the
  // instance after a failed write. db_ is null only when such a reopen failed.
  mutable std::shared_timed_mutex db_mu_;
  using DbLock = std::shared_lock<std::shared_timed_mutex>;
  Result<DbLock> UseDb() const;
  // What the writer opened RocksDB with, to reopen it the same way.
  rocksdb::DBOptions db_options_;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors_;
  Status ReopenAfterWriteFailure(uint64_t acknowledged_last);
  Result<uint64_t> NewestRecordSeq() const;
  std::unique_ptr<rocksdb::WriteBatch> BuildUndo(std::span<const Batch* const> group,
                                                 uint64_t first_seq) const;
  void CloseDb();

  std::atomic<int> fail_next_appends_{0};
  std::optional<Damage> discarded_wal_tail_;  // set once by Init
};

Status RocksJournal::Init(const Options& options, rocksdb::Env* env) {
  const bool exists = env->FileExists(dir_ + "/CURRENT").ok();
  rocksdb::DBOptions db_options = BaseDbOptions(env);

  std::vector<std::string> existing;
  if (exists) {
    rocksdb::Options list_options(db_options, rocksdb::ColumnFamilyOptions());
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(list_options, dir_, &existing);
    if (!s.ok()) return FromRocks(s, fmt::format("cannot list the column families of {}", dir_));
    for (const std::string& name : KnownFamilies()) {
      if (std::find(existing.begin(), existing.end(), name) == existing.end()) {
        return DataLossError(
            fmt::format("{} is not a Burrow journal: column family '{}' is missing", dir_, name));
      }
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : KnownFamilies())
    descriptors.emplace_back(name, FamilyOptions(name));

  rocksdb::Status s;
  if (writer()) {
    if (!exists && !options.create_if_missing) {
      return NotFoundError(fmt::format("no journal in {}", dir_));
    }
    db_options.create_if_missing = !exists;
    db_options.create_missing_column_families = !exists;
    // RocksDB opens read-write only with every existing family named.
    for (const std::string& name : existing) {
      if (std::find(KnownFamilies().begin(), KnownFamilies().end(), name) ==
          KnownFamilies().end()) {
        descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
      }
    }
    if (exists) {
      // Point-in-time WAL recovery stops at the first damaged record and drops the rest: right
      // for a torn tail, silent loss for damage in the middle. Tell them apart first
      // (journal/wal_check.h). Another writer may be appending to these files right now; then
      // the open below is refused for the lock anyway, so a half-written tail read here does
      // not matter (the check never refuses for a tail).
      BURROW_ASSIGN_OR_RETURN(WalCheck wal, CheckWalFiles(env, dir_));
      discarded_wal_tail_ = wal.discarded_tail;
      if (discarded_wal_tail_) {
        log_->warn("journal {}: {}; RocksDB discards it", dir_, discarded_wal_tail_->what);
      }
    }
    s = rocksdb::DB::Open(db_options, dir_, descriptors, &handles_, &db_);
    if (!s.ok() && IsLockConflict(s)) {
      return UnavailableError(fmt::format("another writer holds {} ({})", dir_, s.ToString()));
    }
  } else {
    if (!exists) return NotFoundError(fmt::format("no journal in {}", dir_));
    BURROW_ASSIGN_OR_RETURN(secondary_dir_, MakeSecondaryDir());
    // Required by secondary instances: the primary may delete files the secondary still reads.
    db_options.max_open_files = -1;
    s = rocksdb::DB::OpenAsSecondary(db_options, dir_, secondary_dir_, descriptors, &handles_,
                                     &db_);
  }
  if (!s.ok()) return FromRocks(s, fmt::format("cannot open the journal in {}", dir_));
  if (writer()) {
    db_options_ = db_options;
    db_options_.create_if_missing = false;
    db_options_.create_missing_column_families = false;
    descriptors_ = descriptors;
  }

  records_ = handles_[1];
  streams_ = handles_[2];
  state_ = handles_[3];
  snapshots_ = handles_[4];
  meta_ = handles_[5];

  BURROW_RETURN_IF_ERROR(LoadView(/*may_finish_creation=*/writer() && options.create_if_missing));
  if (writer()) {
    queue_ = std::make_unique<CommitQueue>(
        reader_last_seq_.load(), GroupLimits{},
        [this](std::span<const Batch* const> group, uint64_t first_seq) {
          return WriteGroup(group, first_seq);
        });
    async_ = std::make_unique<AsyncAppender>(
        GroupLimits{},
        [this](std::span<const Batch* const> batches) { return queue_->CommitAll(batches); });
    if (durability_ == Durability::kNone) {
      log_->warn(
          "journal {} opened with durability none: appends are not fsynced, a power cut loses "
          "acknowledged records (tests and benchmarks only)",
          dir_);
    }
  }
  log_->info("journal {} opened ({}): records {}..{}", dir_,
             writer() ? "writer" : (mode_ == OpenMode::kFollower ? "follower" : "read-only"),
             FirstSequence(), LastSequence());
  return OkStatus();
}

Result<std::optional<std::string>> RocksJournal::ReadMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, fmt::format("cannot read meta {}", key));
  auto body = format::DecodeFramedValue(key, value);
  if (!body.ok()) {
    return DataLossError(
        fmt::format("damaged meta record {} in {}: {}", key, dir_, body.status().message()));
  }
  return std::optional<std::string>(std::string(*body));
}

Status RocksJournal::WriteMeta(std::string_view key, std::string_view body) {
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = db_->Put(options, meta_, ToSlice(key), format::EncodeFramedValue(key, body));
  return FromRocks(s, fmt::format("cannot write meta {}", key));
}

Result<bool> RocksJournal::AllFamiliesEmpty() const {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle));
    it->SeekToFirst();
    if (it->Valid()) return false;
    if (!it->status().ok()) return FromRocks(it->status(), "cannot read the journal");
  }
  return true;
}

Status RocksJournal::LoadView(bool may_finish_creation) {
  BURROW_ASSIGN_OR_RETURN(auto version, ReadMeta(format::kFormatVersionKey));
  if (!version) {
    // A journal is created by opening RocksDB and then writing the version; a crash in
    // between leaves an empty database, which a writer may finish creating.
    BURROW_ASSIGN_OR_RETURN(bool empty, AllFamiliesEmpty());
    if (!empty || !may_finish_creation) {
      return DataLossError(fmt::format("{} has no format version", dir_));
    }
    std::string body;
    format::PutFixed32(&body, kFormatVersion);
    BURROW_RETURN_IF_ERROR(WriteMeta(format::kFormatVersionKey, body));
    version = body;
  }
  if (version->size() != 4) {
    return DataLossError(
        fmt::format("damaged meta record format_version in {}: {} bytes", dir_, version->size()));
  }
  const uint32_t v = format::DecodeFixed32(version->data());
  if (v != kFormatVersion) {
    return DataLossError(fmt::format("unknown format version {} in {} (this build reads {})", v,
                                     dir_, kFormatVersion));
  }

  uint64_t first = 1;
  BURROW_ASSIGN_OR_RETURN(auto first_body, ReadMeta(format::kFirstSequenceKey));
  if (first_body) {
    if (first_body->size() != 8) {
      return DataLossError(fmt::format("damaged meta record first_sequence in {}: {} bytes", dir_,
                                       first_body->size()));
    }
    first = format::DecodeFixed64(first_body->data());
  }

  uint64_t last = first - 1;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), records_));
  it->SeekToLast();
  if (it->Valid()) {
    auto seq = format::ParseRecordKey(ToView(it->key()));
    if (!seq) return DamageStatus(0, ToView(it->key()), "malformed record key", nullptr);
    last = std::max(last, *seq);
  } else if (!it->status().ok()) {
    return FromRocks(it->status(), "cannot read the newest record");
  }
  first_seq_.store(first, std::memory_order_release);
  reader_last_seq_.store(last, std::memory_order_release);
  return OkStatus();
}

void RocksJournal::Close() {
  // Pending AppendAsync batches are committed (or fail) and their callbacks run first.
  if (async_) async_->Stop();
  if (db_ == nullptr) {
    RemoveSecondaryDir();
    return;
  }
  if (writer()) {
    // A clean close flushes the memtables so that the next open replays no WAL
    // (MEASUREMENTS.md: ~19 ms instead of seconds).
    rocksdb::FlushOptions flush;
    std::vector<rocksdb::ColumnFamilyHandle*> families(handles_.begin() + 1, handles_.end());
    rocksdb::Status s = db_->Flush(flush, families);
    if (!s.ok()) log_->warn("journal {}: flush at close failed: {}", dir_, s.ToString());
  }
  CloseDb();
  RemoveSecondaryDir();
}

void RocksJournal::CloseDb() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(handle);
    if (!s.ok()) log_->warn("journal {}: {}", dir_, s.ToString());
  }
  handles_.clear();
  rocksdb::Status s = db_->Close();
  if (!s.ok()) log_->warn("journal {}: close: {}", dir_, s.ToString());
  delete db_;
  db_ = nullptr;
}

Result<RocksJournal::DbLock> RocksJournal::UseDb() const {
  DbLock lock(db_mu_);
  if (db_ == nullptr) {
    std::lock_guard error_lock(write_error_mu_);
    return UnavailableError(fmt::format(
        "journal {} is closed: reopening it after a failed write failed ({}); the next append "
        "tries again",
        dir_, write_error_));
  }
  return lock;
}

Result<uint64_t> RocksJournal::NewestRecordSeq() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), records_));
  it->SeekToLast();
  if (!it->Valid()) {
    if (!it->status().ok()) return FromRocks(it->status(), "cannot read the newest record");
    return FirstSequence() - 1;
  }
  auto seq = format::ParseRecordKey(ToView(it->key()));
  if (!seq) return DamageStatus(0, ToView(it->key()), "malformed record key", nullptr);
  return *seq;
}

std::unique_ptr<rocksdb::WriteBatch> RocksJournal::BuildUndo(std::span<const Batch* const> group,
                                                             uint64_t first_seq) const {
  auto undo = std::make_unique<rocksdb::WriteBatch>();
  uint64_t seq = first_seq;
  std::set<std::string> restored;
  auto restore = [&](const std::string& key) {
    if (!restored.insert(key).second) return true;
    std::string before;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), state_, key, &before);
    if (s.IsNotFound()) return undo->Delete(state_, key).ok();
    return s.ok() && undo->Put(state_, key, before).ok();
  };
  for (const Batch* batch : group) {
    for (const RecordIn& r : batch->records) {
      if (!undo->Delete(records_, format::RecordKey(seq)).ok()) return nullptr;
      if (!r.stream.empty() && !undo->Delete(streams_, format::StreamKey(r.stream, seq)).ok()) {
        return nullptr;
      }
      ++seq;
    }
    for (const StatePut& p : batch->state_puts) {
      if (!restore(p.key)) return nullptr;
    }
    for (const std::string& k : batch->state_deletes) {
      if (!restore(k)) return nullptr;
    }
  }
  return undo;
}

Status RocksJournal::ReopenAfterWriteFailure(uint64_t acknowledged_last) {
  std::unique_lock<std::shared_timed_mutex> lock(db_mu_, std::defer_lock);
  std::string error;
  {
    std::lock_guard error_lock(write_error_mu_);
    error = write_error_;
  }
  // Readers hold db_mu_ only for one call; a reader that appends from inside a Scan visitor
  // would wait forever, hence the bound.
  if (!lock.try_lock_for(std::chrono::seconds(2))) {
    return UnavailableError(error + "; the journal is busy, try again");
  }
  if (db_ != nullptr) CloseDb();  // no flush: RocksDB refuses it in this state
  rocksdb::Status s = rocksdb::DB::Open(db_options_, dir_, descriptors_, &handles_, &db_);
  if (!s.ok()) {
    db_ = nullptr;
    handles_.clear();
    return UnavailableError(
        fmt::format("{}; reopening the journal failed: {}", error, s.ToString()));
  }
  records_ = handles_[1];
  streams_ = handles_[2];
  state_ = handles_[3];
  snapshots_ = handles_[4];
  meta_ = handles_[5];

  BURROW_ASSIGN_OR_RETURN(uint64_t last, NewestRecordSeq());
  if (last != acknowledged_last) {
    std::unique_ptr<rocksdb::WriteBatch> undo;
    uint64_t failed_last = 0;
    {
      std::lock_guard error_lock(write_error_mu_);
      failed_last = failed_last_seq_;
      if (last == failed_last) undo = std::move(undo_);
    }
    if (undo != nullptr) {
      // The failed write's bytes reached the WAL after all (a failed fsync whose data landed)
      // and the reopen replayed them. The caller was told Unavailable: take them out again,
      // durably, before anything else is written.
      rocksdb::WriteOptions sync;
      sync.sync = true;
      s = db_->Write(sync, undo.get());
      if (!s.ok()) {
        std::lock_guard error_lock(write_error_mu_);
        undo_ = std::move(undo);
        return UnavailableError(fmt::format(
            "{}; undoing the failed write after the reopen failed: {}", error, s.ToString()));
      }
      log_->warn(
          "journal {}: records {}..{} of a write reported as failed had reached the WAL; they "
          "were removed again",
          dir_, acknowledged_last + 1, failed_last);
      BURROW_ASSIGN_OR_RETURN(last, NewestRecordSeq());
    }
    if (last != acknowledged_last) {
      // Records this Journal cannot account for: the host's memory and the journal disagree.
      // Only a restart (recovery takes the journal as the truth) can go on from here.
      std::string message = fmt::format(
          "journal {} holds records up to {} after a failed write, but only {} were "
          "acknowledged; appends are refused until the host restarts and recovers",
          dir_, last, acknowledged_last);
      log_->error("{}", message);
      std::lock_guard error_lock(write_error_mu_);
      write_error_ = message;
      return UnavailableError(std::move(message));
    }
  }
  {
    std::lock_guard error_lock(write_error_mu_);
    undo_.reset();
    failed_last_seq_ = 0;
  }
  write_failed_.store(false, std::memory_order_release);
  log_->warn(
      "journal {}: reopened after a failed write; the journal holds exactly the {} "
      "acknowledged records, appends go on",
      dir_, acknowledged_last);
  return OkStatus();
}

void RocksJournal::RemoveSecondaryDir() {
  if (secondary_dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(secondary_dir_, ec);
  if (ec) log_->warn("journal {}: cannot remove {}: {}", dir_, secondary_dir_, ec.message());
  secondary_dir_.clear();
}

Status RocksJournal::RequireWriter(std::string_view what) const {
  if (writer()) return OkStatus();
  return FailedPreconditionError(
      fmt::format("cannot {}: journal {} is opened read-only", what, dir_));
}

rocksdb::WriteOptions RocksJournal::WriteOptions() const {
  rocksdb::WriteOptions options;
  options.sync = durability_ == Durability::kSync;
  return options;
}

Status RocksJournal::Validate(const Batch& batch) const {
  for (const RecordIn& r : batch.records) {
    if (r.stream.size() > format::kMaxStreamBytes) {
      return InvalidArgumentError(fmt::format("stream of {} bytes exceeds the limit of {}",
                                              r.stream.size(), format::kMaxStreamBytes));
    }
    if (r.payload.size() > format::kMaxValueBytes) {
      return InvalidArgumentError(fmt::format("payload of {} bytes exceeds the limit of {}",
                                              r.payload.size(), format::kMaxValueBytes));
    }
  }
  for (const StatePut& p : batch.state_puts) {
    if (p.key.empty()) return InvalidArgumentError("empty state key");
    if (p.value.size() > format::kMaxValueBytes) {
      return InvalidArgumentError(fmt::format("state value of {} bytes exceeds the limit of {}",
                                              p.value.size(), format::kMaxValueBytes));
    }
  }
  for (const std::string& k : batch.state_deletes) {
    if (k.empty()) return InvalidArgumentError("empty state key");
  }
  return OkStatus();
}

Status RocksJournal::CheckAppend(const Batch& batch) {
  BURROW_RETURN_IF_ERROR(RequireWriter("append"));
  BURROW_RETURN_IF_ERROR(Validate(batch));
  int pending = fail_next_appends_.load();
  while (pending > 0 && !fail_next_appends_.compare_exchange_weak(pending, pending - 1)) {
  }
  if (pending > 0) return UnavailableError("append failed: injected by FailNextAppends");
  return OkStatus();
}

Result<uint64_t> RocksJournal::Append(Batch batch) {
  BURROW_RETURN_IF_ERROR(CheckAppend(batch));
  if (batch.empty()) return LastSequence();
  return queue_->Commit(batch);
}

Status RocksJournal::AppendAsync(Batch batch, AppendCallback done) {
  BURROW_RETURN_IF_ERROR(CheckAppend(batch));
  return async_->Enqueue(std::move(batch), std::move(done));
}

Status RocksJournal::WriteGroup(std::span<const Batch* const> group, uint64_t first_seq) {
  if (write_failed_.load(std::memory_order_acquire)) {
    BURROW_RETURN_IF_ERROR(ReopenAfterWriteFailure(first_seq - 1));
  }
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  uint64_t seq = first_seq;
  std::string key;
  for (const Batch* batch : group) {
    for (const RecordIn& r : batch->records) {
      key = format::RecordKey(seq);
      const auto header = format::RecordHeader(seq, r.stream, r.payload);
      const rocksdb::Slice key_part = ToSlice(key);
      const rocksdb::Slice value_parts[] = {rocksdb::Slice(header.data(), header.size()),
                                            ToSlice(r.stream), ToSlice(r.payload)};
      s = wb.Put(records_, rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 3));
      if (s.ok() && !r.stream.empty()) {
        s = wb.Put(streams_, format::StreamKey(r.stream, seq), rocksdb::Slice());
      }
      if (!s.ok()) return FromRocks(s, "cannot build the write batch");
      ++seq;
    }
    // Puts before deletes (journal.h).
    for (const StatePut& p : batch->state_puts) {
      const auto header = format::FrameHeader(p.key, p.value);
      const rocksdb::Slice key_part = ToSlice(p.key);
      const rocksdb::Slice value_parts[] = {rocksdb::Slice(header.data(), header.size()),
                                            ToSlice(p.value)};
      s = wb.Put(state_, rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2));
      if (!s.ok()) return FromRocks(s, "cannot build the write batch");
    }
    for (const std::string& k : batch->state_deletes) {
      s = wb.Delete(state_, ToSlice(k));
      if (!s.ok()) return FromRocks(s, "cannot build the write batch");
    }
  }

  const auto write_started = std::chrono::steady_clock::now();
  s = db_->Write(WriteOptions(), &wb);
  if (on_group_written_) {
    on_group_written_(GroupWritten{group.size(), static_cast<size_t>(seq - first_seq),
                                   std::chrono::steady_clock::now() - write_started, s.ok()});
  }
  if (!s.ok()) {
    std::string message = fmt::format(
        "journal {}: a write failed ({}); nothing of it was applied, and the next append first "
        "reopens the journal",
        dir_, s.ToString());
    log_->error("{} (records {}..{} were not acknowledged)", message, first_seq, seq - 1);
    std::unique_ptr<rocksdb::WriteBatch> undo = BuildUndo(group, first_seq);
    {
      std::lock_guard lock(write_error_mu_);
      write_error_ = message;
      undo_ = std::move(undo);
      failed_last_seq_ = seq - 1;
    }
    write_failed_.store(true, std::memory_order_release);
    return UnavailableError(std::move(message));
  }
  return OkStatus();
}

Status RocksJournal::Scan(uint64_t from, uint64_t to,
                          const std::function<bool(const Record&)>& visit, Damage* damage) const {
  Record record;  // one for the whole scan: its strings keep their capacity
  return ScanViews(
      from, to,
      [&](const RecordView& view) {
        CopyInto(view, record);
        return visit(record);
      },
      damage);
}

Status RocksJournal::ScanViews(uint64_t from, uint64_t to,
                               const std::function<bool(const RecordView&)>& visit,
                               Damage* damage) const {
  Status verified;
  Status scanned = ScanUnverified(
      from, to,
      [&](const UnverifiedRecord& record) {
        RecordView view;
        verified = VerifyRecord(record.seq, record.value, view, damage);
        return verified.ok() && visit(view);
      },
      damage);
  BURROW_RETURN_IF_ERROR(verified);
  return scanned;
}

Status RocksJournal::ScanUnverified(uint64_t from, uint64_t to,
                                    const std::function<bool(const UnverifiedRecord&)>& visit,
                                    Damage* damage) const {
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  uint64_t first = 0;
  uint64_t last = 0;
  std::unique_ptr<rocksdb::Iterator> it;
  std::string upper;
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions read;
  {
    std::shared_lock lock(view_mu_);
    first = FirstSequence();
    last = LastSequence();
    const uint64_t end = std::min(to, last);
    if (end < kMaxSeq) {
      upper = format::RecordKey(end + 1);
      upper_slice = ToSlice(upper);
      read.iterate_upper_bound = &upper_slice;
    }
    // A scan reads each block once, in order (recovery, verify, export): caching its blocks
    // would only evict what point reads (state, snapshots) need, at a cost per block.
    read.fill_cache = false;
    it.reset(db_->NewIterator(read, records_));
  }
  const uint64_t begin = std::max(from, first);
  const uint64_t end = std::min(to, last);
  if (begin > end) return OkStatus();

  const std::string begin_key = format::RecordKey(begin);
  it->Seek(ToSlice(begin_key));
  for (uint64_t expected = begin;; ++expected) {
    if (!it->Valid()) {
      if (!it->status().ok()) return FromRocks(it->status(), "cannot read records");
      const std::string key = format::RecordKey(expected);
      return DamageStatus(
          expected, key,
          fmt::format("gap: expected {}, found the end of the journal (last {})", expected, last),
          damage);
    }
    const std::string_view key = ToView(it->key());
    auto seq = format::ParseRecordKey(key);
    if (!seq) return DamageStatus(0, key, "malformed record key", damage);
    if (*seq != expected) {
      return DamageStatus(expected, format::RecordKey(expected),
                          fmt::format("gap: expected {}, found {}", expected, *seq), damage);
    }
    if (!visit(UnverifiedRecord{*seq, ToView(it->value())})) return OkStatus();
    if (expected == end) return OkStatus();
    it->Next();
  }
}

Status RocksJournal::ScanStored(uint64_t from, uint64_t to,
                                const std::function<bool(const StoredRecord&)>& visit) const {
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  std::unique_ptr<rocksdb::Iterator> it;
  std::string upper;
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions read;
  uint64_t first = 0;
  {
    std::shared_lock lock(view_mu_);
    first = FirstSequence();
    if (to < kMaxSeq) {
      upper = format::RecordKey(to + 1);
      upper_slice = ToSlice(upper);
      read.iterate_upper_bound = &upper_slice;
    }
    it.reset(db_->NewIterator(read, records_));
  }
  const uint64_t begin = std::max(from, first);
  if (begin > to) return OkStatus();
  const std::string begin_key = format::RecordKey(begin);
  StoredRecord stored;
  for (it->Seek(ToSlice(begin_key)); it->Valid(); it->Next()) {
    stored.key.assign(it->key().data(), it->key().size());
    stored.value.assign(it->value().data(), it->value().size());
    stored.intact = false;
    stored.record = Record{};
    stored.damage.clear();
    auto seq = format::ParseRecordKey(stored.key);
    stored.seq = seq.value_or(0);
    if (!seq) {
      stored.damage = "malformed record key";
    } else {
      auto view = format::DecodeRecordValue(*seq, stored.value);
      if (view.ok()) {
        stored.intact = true;
        stored.record.seq = *seq;
        stored.record.stream.assign(view->stream);
        stored.record.payload.assign(view->payload);
      } else {
        stored.damage = view.status().message();
      }
    }
    if (!visit(stored)) return OkStatus();
  }
  return FromRocks(it->status(), "cannot read records");
}

Result<std::vector<Record>> RocksJournal::ReadStream(std::string_view stream, uint64_t from,
                                                     size_t limit) const {
  if (stream.size() > format::kMaxStreamBytes) {
    return InvalidArgumentError(fmt::format("stream of {} bytes exceeds the limit of {}",
                                            stream.size(), format::kMaxStreamBytes));
  }
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  std::vector<Record> out;
  if (limit == 0 || stream.empty()) return out;

  uint64_t first = 0;
  uint64_t last = 0;
  std::vector<rocksdb::Iterator*> raw;
  {
    std::shared_lock lock(view_mu_);
    first = FirstSequence();
    last = LastSequence();
    // One consistent view across the index and the records.
    rocksdb::Status s = db_->NewIterators(rocksdb::ReadOptions(), {streams_, records_}, &raw);
    if (!s.ok()) return FromRocks(s, "cannot read the stream index");
  }
  std::unique_ptr<rocksdb::Iterator> index(raw[0]);
  std::unique_ptr<rocksdb::Iterator> records(raw[1]);

  const std::string prefix = format::StreamKeyPrefix(stream);
  const std::string start = format::StreamKey(stream, std::max(from, first));
  Record record;
  for (index->Seek(ToSlice(start)); index->Valid() && out.size() < limit; index->Next()) {
    const std::string_view key = ToView(index->key());
    if (!StartsWith(key, prefix)) break;
    auto entry = format::ParseStreamKey(key);
    if (!entry || entry->stream != stream) {
      return DamageStatus(0, key, "malformed stream index key", nullptr);
    }
    if (entry->seq > last) break;
    if (entry->seq < first) continue;  // a truncated record whose index entry survived
    const std::string record_key = format::RecordKey(entry->seq);
    records->Seek(ToSlice(record_key));
    if (!records->Valid() || ToView(records->key()) != record_key) {
      if (!records->status().ok()) return FromRocks(records->status(), "cannot read records");
      return DamageStatus(entry->seq, record_key,
                          fmt::format("missing, yet the index of stream '{}' names it", stream),
                          nullptr);
    }
    RecordView view;
    BURROW_RETURN_IF_ERROR(VerifyRecord(entry->seq, ToView(records->value()), view));
    CopyInto(view, record);
    if (record.stream != stream) {
      return DamageStatus(entry->seq, record_key,
                          fmt::format("belongs to stream '{}', yet the index of stream '{}' "
                                      "names it",
                                      record.stream, stream),
                          nullptr);
    }
    out.push_back(record);
  }
  if (!index->status().ok()) return FromRocks(index->status(), "cannot read the stream index");
  return out;
}

Result<std::vector<Record>> RocksJournal::Follow(uint64_t after, std::chrono::milliseconds timeout,
                                                 size_t limit) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (queue_) {
    queue_->WaitForSequenceAbove(after, deadline);
  } else {
    while (true) {
      if (mode_ == OpenMode::kFollower) BURROW_RETURN_IF_ERROR(CatchUp());
      if (LastSequence() > after) break;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(kFollowerPollInterval, deadline - now));
    }
  }
  std::vector<Record> out;
  if (limit == 0 || after == kMaxSeq) return out;
  BURROW_RETURN_IF_ERROR(Scan(
      after + 1, kMaxSeq,
      [&](const Record& r) {
        out.push_back(r);
        return out.size() < limit;
      },
      nullptr));
  return out;
}

Status RocksJournal::CatchUp() {
  if (mode_ == OpenMode::kWriter) return OkStatus();
  if (mode_ == OpenMode::kReadOnly) {
    return FailedPreconditionError(fmt::format(
        "journal {} is opened read-only (a view as of open); open it as a follower to catch up",
        dir_));
  }
  std::unique_lock lock(view_mu_);
  rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return FromRocks(s, fmt::format("cannot catch up with the writer of {}", dir_));
  return LoadView(/*may_finish_creation=*/false);
}

Result<std::string> RocksJournal::GetState(std::string_view key) const {
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), state_, ToSlice(key), &value);
  if (s.IsNotFound()) return NotFoundError(fmt::format("no state key {}", format::Hex(key)));
  if (!s.ok()) return FromRocks(s, "cannot read state");
  auto body = format::DecodeFramedValue(key, ToView(value));
  if (!body.ok()) {
    return DataLossError(
        fmt::format("state key {}: {}", format::Hex(key), body.status().message()));
  }
  return std::string(*body);
}

Status RocksJournal::ScanState(
    std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& visit) const {
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), state_));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    const std::string_view key = ToView(it->key());
    if (!StartsWith(key, prefix)) break;
    auto body = format::DecodeFramedValue(key, ToView(it->value()));
    if (!body.ok()) {
      return DataLossError(
          fmt::format("state key {}: {}", format::Hex(key), body.status().message()));
    }
    if (!visit(key, *body)) return OkStatus();
  }
  return FromRocks(it->status(), "cannot read state");
}

Status RocksJournal::WriteSnapshots(std::vector<Snapshot> snapshots) {
  BURROW_RETURN_IF_ERROR(RequireWriter("write a snapshot"));
  for (const Snapshot& snapshot : snapshots) {
    if (snapshot.stream.size() > format::kMaxStreamBytes) {
      return InvalidArgumentError(fmt::format("stream of {} bytes exceeds the limit of {}",
                                              snapshot.stream.size(), format::kMaxStreamBytes));
    }
    if (snapshot.payload.size() > format::kMaxValueBytes) {
      return InvalidArgumentError(fmt::format("snapshot of {} bytes exceeds the limit of {}",
                                              snapshot.payload.size(), format::kMaxValueBytes));
    }
  }
  if (snapshots.empty()) return OkStatus();
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  // Per stream, the new snapshots by covered_seq (a later one replaces an earlier one).
  std::map<std::string, std::map<uint64_t, const Snapshot*>> by_stream;
  for (const Snapshot& snapshot : snapshots) {
    by_stream[snapshot.stream][snapshot.covered_seq] = &snapshot;
  }

  std::lock_guard lock(snapshot_mu_);
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  for (const auto& [stream, fresh] : by_stream) {
    // The two newest of: the new ones and the valid stored ones. Damaged ones go.
    const std::string prefix = format::StreamKeyPrefix(stream);
    std::vector<uint64_t> stored;
    std::vector<uint64_t> keep;
    for (const auto& [seq, snapshot] : fresh) keep.push_back(seq);
    for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
      const std::string_view key = ToView(it->key());
      if (!StartsWith(key, prefix)) break;
      auto parsed = format::ParseStreamKey(key);
      if (!parsed) return DamageStatus(0, key, "malformed snapshot key", nullptr);
      stored.push_back(parsed->seq);
      if (!fresh.count(parsed->seq) && format::DecodeFramedValue(key, ToView(it->value())).ok()) {
        keep.push_back(parsed->seq);
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "cannot read snapshots");
    std::sort(keep.rbegin(), keep.rend());
    keep.resize(std::min<size_t>(keep.size(), 2));
    const auto kept = [&](uint64_t seq) {
      return std::find(keep.begin(), keep.end(), seq) != keep.end();
    };

    for (uint64_t seq : stored) {  // a kept stored key is left alone or overwritten below
      if (s.ok() && !kept(seq)) s = wb.Delete(snapshots_, format::StreamKey(stream, seq));
    }
    for (const auto& [seq, snapshot] : fresh) {
      if (!kept(seq)) {
        log_->info("journal {}: snapshot of '{}' at {} is older than the two kept; not stored",
                   dir_, stream, seq);
        continue;
      }
      const std::string key = format::StreamKey(stream, seq);
      if (s.ok()) s = wb.Put(snapshots_, key, format::EncodeFramedValue(key, snapshot->payload));
    }
    if (!s.ok()) return FromRocks(s, "cannot build the write batch");
  }
  return FromRocks(db_->Write(WriteOptions(), &wb), "cannot write snapshots");
}

Result<std::vector<Snapshot>> RocksJournal::Snapshots(std::string_view stream,
                                                      std::vector<Damage>* damaged) const {
  if (stream.size() > format::kMaxStreamBytes) {
    return InvalidArgumentError(fmt::format("stream of {} bytes exceeds the limit of {}",
                                            stream.size(), format::kMaxStreamBytes));
  }
  std::vector<Snapshot> out;
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  const std::string prefix = format::StreamKeyPrefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  for (it->SeekForPrev(ToSlice(format::StreamKey(stream, kMaxSeq))); it->Valid() && out.size() < 2;
       it->Prev()) {
    const std::string_view key = ToView(it->key());
    if (!StartsWith(key, prefix)) break;
    auto parsed = format::ParseStreamKey(key);
    if (!parsed) return DamageStatus(0, key, "malformed snapshot key", nullptr);
    auto body = format::DecodeFramedValue(key, ToView(it->value()));
    if (!body.ok()) {
      log_->warn("journal {}: snapshot of '{}' at {} is damaged ({}); skipped", dir_, stream,
                 parsed->seq, body.status().message());
      if (damaged != nullptr) {
        damaged->push_back(Damage{parsed->seq, format::Hex(key),
                                  fmt::format("snapshot {}", body.status().message())});
      }
      continue;
    }
    out.push_back(Snapshot{std::string(stream), parsed->seq, std::string(*body)});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read snapshots");
  return out;
}

Status RocksJournal::ScanSnapshotHeads(
    const std::function<bool(std::string_view, uint64_t)>& visit) const {
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  std::string stream;
  uint64_t newest = 0;
  bool have = false;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto parsed = format::ParseStreamKey(ToView(it->key()));
    if (!parsed) return DamageStatus(0, ToView(it->key()), "malformed snapshot key", nullptr);
    if (have && parsed->stream != stream) {
      if (!visit(stream, newest)) return OkStatus();
    }
    stream.assign(parsed->stream);
    newest = parsed->seq;  // keys ascend within a stream
    have = true;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read snapshots");
  if (have) visit(stream, newest);
  return OkStatus();
}

Status RocksJournal::ScanSnapshots(
    const std::function<bool(std::string_view, std::vector<Snapshot>&, std::vector<Damage>&)>&
        visit) const {
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  // Keys ascend within a stream and each stream's keys are contiguous, so a stream's entries
  // are gathered (key and value, unverified) and judged newest first, as Snapshots() does.
  struct Entry {
    uint64_t seq;
    std::string key;
    std::string value;
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  std::string stream;
  std::vector<Entry> entries;
  std::vector<Snapshot> valid;
  std::vector<Damage> damaged;
  auto finish_stream = [&]() {
    valid.clear();
    damaged.clear();
    for (auto e = entries.rbegin(); e != entries.rend() && valid.size() < 2; ++e) {
      auto body = format::DecodeFramedValue(e->key, e->value);
      if (!body.ok()) {
        log_->warn("journal {}: snapshot of '{}' at {} is damaged ({}); skipped", dir_, stream,
                   e->seq, body.status().message());
        damaged.push_back(Damage{e->seq, format::Hex(e->key),
                                 fmt::format("snapshot {}", body.status().message())});
        continue;
      }
      valid.push_back(Snapshot{stream, e->seq, std::string(*body)});
    }
    entries.clear();
    return visit(stream, valid, damaged);
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = ToView(it->key());
    auto parsed = format::ParseStreamKey(key);
    if (!parsed) return DamageStatus(0, key, "malformed snapshot key", nullptr);
    if (!entries.empty() && parsed->stream != stream) {
      if (!finish_stream()) return OkStatus();
    }
    if (entries.empty()) stream.assign(parsed->stream);
    entries.push_back(Entry{parsed->seq, std::string(key), std::string(ToView(it->value()))});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read snapshots");
  if (!entries.empty()) finish_stream();
  return OkStatus();
}

Status RocksJournal::DeleteSnapshots(std::string_view stream) {
  BURROW_RETURN_IF_ERROR(RequireWriter("delete snapshots"));
  if (stream.size() > format::kMaxStreamBytes) {
    return InvalidArgumentError(fmt::format("stream of {} bytes exceeds the limit of {}",
                                            stream.size(), format::kMaxStreamBytes));
  }
  // The instance first, then snapshot_mu_, as WriteSnapshots takes them (TSan reported the
  // opposite order here as a lock-order inversion).
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  std::lock_guard lock(snapshot_mu_);
  const std::string prefix = format::StreamKeyPrefix(stream);
  rocksdb::WriteBatch wb;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), snapshots_));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    if (!StartsWith(ToView(it->key()), prefix)) break;
    rocksdb::Status s = wb.Delete(snapshots_, it->key());
    if (!s.ok()) return FromRocks(s, "cannot build the write batch");
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read snapshots");
  if (wb.Count() == 0) return OkStatus();
  return FromRocks(db_->Write(WriteOptions(), &wb), "cannot delete snapshots");
}

Status RocksJournal::Truncate(uint64_t below) {
  BURROW_RETURN_IF_ERROR(RequireWriter("truncate"));
  BURROW_ASSIGN_OR_RETURN(DbLock db_lock, UseDb());
  std::unique_lock lock(view_mu_);
  const uint64_t first = FirstSequence();
  const uint64_t last = LastSequence();
  if (below > last + 1) {
    return InvalidArgumentError(
        fmt::format("cannot truncate below {}: the newest record is {}", below, last));
  }
  if (below <= first) return OkStatus();

  rocksdb::WriteBatch wb;
  rocksdb::Status s = wb.DeleteRange(records_, format::RecordKey(0), format::RecordKey(below));
  // The stream index: one range deletion per stream that has entries below `below`, found by
  // skipping from stream to stream (one seek per stream, not one step per entry).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_));
  it->SeekToFirst();
  while (s.ok() && it->Valid()) {
    auto entry = format::ParseStreamKey(ToView(it->key()));
    if (!entry) return DamageStatus(0, ToView(it->key()), "malformed stream index key", nullptr);
    const std::string stream(entry->stream);
    if (entry->seq < below) {
      // Starts at sequence 0: see StreamHintPrefix.
      s = wb.DeleteRange(streams_, format::StreamKey(stream, 0), format::StreamKey(stream, below));
    }
    const std::string stream_end = format::StreamKey(stream, kMaxSeq);
    it->Seek(ToSlice(stream_end));
    if (it->Valid() && ToView(it->key()) == stream_end) it->Next();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read the stream index");
  std::string body;
  format::PutFixed64(&body, below);
  if (s.ok()) {
    s = wb.Put(meta_, ToSlice(format::kFirstSequenceKey),
               format::EncodeFramedValue(format::kFirstSequenceKey, body));
  }
  if (!s.ok()) return FromRocks(s, "cannot build the write batch");

  rocksdb::WriteOptions options;
  options.sync = true;  // truncation is rare; always durable
  BURROW_RETURN_IF_ERROR(FromRocks(db_->Write(options, &wb), "cannot truncate"));
  first_seq_.store(below, std::memory_order_release);
  log_->info("journal {}: truncated below {}", dir_, below);
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& dir, const Options& options) {
  std::shared_ptr<spdlog::logger> log = options.logger;
  if (!log) log = std::make_shared<spdlog::logger>("burrow.journal");  // no sinks: drops all
  rocksdb::Env* env = options.env != nullptr ? options.env : rocksdb::Env::Default();
  auto journal = std::make_unique<RocksJournal>(dir, options, std::move(log));
  BURROW_RETURN_IF_ERROR(journal->Init(options, env));
  return std::unique_ptr<Journal>(std::move(journal));
}

}  // namespace burrow::journal
