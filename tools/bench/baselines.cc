// The baselines: the device floor, RocksDB used naively and batched, and SQLite.
#include <fcntl.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "tools/bench/workloads.h"

namespace burrow::bench {
namespace {

Status ErrnoError(std::string_view what, const std::string& path) {
  return UnavailableError(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// ---- fdatasync: the device floor ----------------------------------------------------------

class FdatasyncProducer : public Producer {
 public:
  FdatasyncProducer(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    record_ = RecordValue();
    record_.resize(kRawRecordBytes, '\n');
  }
  ~FdatasyncProducer() override { close(fd_); }

  Status Op() override {
    size_t written = 0;
    while (written < record_.size()) {
      const ssize_t n = write(fd_, record_.data() + written, record_.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("write", path_);
      written += static_cast<size_t>(n);
    }
    if (fdatasync(fd_) != 0) return ErrnoError("fdatasync", path_);
    return OkStatus();
  }

 private:
  const int fd_;
  const std::string path_;
  std::string record_;
};

class FdatasyncWorkload : public Workload {
 public:
  Status Open(const std::string& dir, int /*producers*/) override {
    dir_ = dir;
    return OkStatus();
  }
  Result<std::unique_ptr<Producer>> NewProducer(int index) override {
    std::string path = fmt::format("{}/producer-{}.log", dir_, index);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError("open", path);
    return std::unique_ptr<Producer>(new FdatasyncProducer(fd, std::move(path)));
  }

 private:
  std::string dir_;
};

// ---- RocksDB, one synced write per record or per batch ------------------------------------

class RocksDbProducer : public Producer {
 public:
  RocksDbProducer(rocksdb::DB* db, int index, int records_per_op)
      : db_(db), index_(index), records_per_op_(records_per_op) {
    options_.sync = true;
  }

  Status Op() override {
    rocksdb::Status status;
    if (records_per_op_ == 1) {
      status = db_->Put(options_, RecordKey(index_, next_++), RecordValue());
    } else {
      rocksdb::WriteBatch batch;
      for (int i = 0; i < records_per_op_; ++i) {
        status = batch.Put(RecordKey(index_, next_++), RecordValue());
        if (!status.ok()) break;
      }
      if (status.ok()) status = db_->Write(options_, &batch);
    }
    if (!status.ok()) return UnavailableError("rocksdb write: " + status.ToString());
    return OkStatus();
  }

 private:
  rocksdb::DB* const db_;
  const uint64_t index_;
  const int records_per_op_;
  rocksdb::WriteOptions options_;
  uint64_t next_ = 0;
};

class RocksDbWorkload : public Workload {
 public:
  explicit RocksDbWorkload(int records_per_op) : records_per_op_(records_per_op) {}

  Status Open(const std::string& dir, int /*producers*/) override {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status status = rocksdb::DB::Open(options, dir + "/rocksdb", &db);
    if (!status.ok()) return UnavailableError("rocksdb open: " + status.ToString());
    db_.reset(db);
    return OkStatus();
  }
  Result<std::unique_ptr<Producer>> NewProducer(int index) override {
    return std::unique_ptr<Producer>(new RocksDbProducer(db_.get(), index, records_per_op_));
  }
  uint64_t records_per_op() const override { return static_cast<uint64_t>(records_per_op_); }

 private:
  const int records_per_op_;
  std::unique_ptr<rocksdb::DB> db_;
};

// ---- SQLite WAL, synchronous=FULL ---------------------------------------------------------

Status SqliteError(sqlite3* db, std::string_view what) {
  return UnavailableError(
      fmt::format("sqlite {}: {}", what, db ? sqlite3_errmsg(db) : "no memory"));
}

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

Result<SqliteDb> OpenSqlite(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), "open " + path);
  // Concurrent writers queue for the write lock instead of failing.
  if (sqlite3_busy_timeout(db.get(), 10'000) != SQLITE_OK) return SqliteError(db.get(), "busy");
  // synchronous is per connection: FULL fsyncs the WAL at every commit.
  if (sqlite3_exec(db.get(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db.get(), "PRAGMA synchronous");
  }
  return db;
}

Result<Statement> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) return SqliteError(db, sql);
  return Statement(raw);
}

class SqliteProducer : public Producer {
 public:
  SqliteProducer(SqliteDb db, Statement begin, Statement insert, Statement commit, int index)
      : db_(std::move(db)),
        begin_(std::move(begin)),
        insert_(std::move(insert)),
        commit_(std::move(commit)),
        index_(index) {}

  Status Op() override {
    // BEGIN IMMEDIATE takes the write lock up front (waiting under busy_timeout), so a
    // transaction never has to upgrade a read lock, which SQLite can refuse without waiting.
    if (Step(begin_.get()) != SQLITE_DONE) return SqliteError(db_.get(), "BEGIN IMMEDIATE");
    const std::string key = RecordKey(index_, next_++);
    const std::string& value = RecordValue();
    sqlite3_bind_blob(insert_.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(insert_.get(), 2, value.data(), static_cast<int>(value.size()),
                      SQLITE_STATIC);
    if (Step(insert_.get()) != SQLITE_DONE) {
      Status error = SqliteError(db_.get(), "INSERT");
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return error;
    }
    if (Step(commit_.get()) != SQLITE_DONE) {
      Status error = SqliteError(db_.get(), "COMMIT");
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return error;
    }
    return OkStatus();
  }

 private:
  static int Step(sqlite3_stmt* statement) {
    const int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    return rc;
  }

  SqliteDb db_;
  Statement begin_;
  Statement insert_;
  Statement commit_;
  const uint64_t index_;
  uint64_t next_ = 0;
};

class SqliteWorkload : public Workload {
 public:
  Status Open(const std::string& dir, int /*producers*/) override {
    path_ = dir + "/bench.sqlite";
    BURROW_ASSIGN_OR_RETURN(SqliteDb db, OpenSqlite(path_));
    // journal_mode=WAL is stored in the database file, so every later connection uses it.
    const char* kSchema =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE records (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;";
    if (sqlite3_exec(db.get(), kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqliteError(db.get(), "schema");
    }
    return OkStatus();
  }
  Result<std::unique_ptr<Producer>> NewProducer(int index) override {
    BURROW_ASSIGN_OR_RETURN(SqliteDb db, OpenSqlite(path_));
    BURROW_ASSIGN_OR_RETURN(Statement begin, Prepare(db.get(), "BEGIN IMMEDIATE"));
    BURROW_ASSIGN_OR_RETURN(Statement insert,
                            Prepare(db.get(), "INSERT INTO records (k, v) VALUES (?1, ?2)"));
    BURROW_ASSIGN_OR_RETURN(Statement commit, Prepare(db.get(), "COMMIT"));
    return std::unique_ptr<Producer>(new SqliteProducer(
        std::move(db), std::move(begin), std::move(insert), std::move(commit), index));
  }

 private:
  std::string path_;
};

}  // namespace

const std::string& RecordValue() {
  static const std::string* const value = [] {
    auto* bytes = new std::string(kValueBytes, '\0');
    std::mt19937_64 random(0x6275727277);  // fixed: every run writes the same bytes
    for (char& c : *bytes) c = static_cast<char>(random());
    return bytes;
  }();
  return *value;
}

std::string RecordKey(uint64_t producer, uint64_t counter) {
  std::string key(kKeyBytes, '\0');
  for (int i = 0; i < 8; ++i) {
    key[i] = static_cast<char>(producer >> (56 - 8 * i));
    key[8 + i] = static_cast<char>(counter >> (56 - 8 * i));
  }
  return key;
}

WorkloadSpec FdatasyncFloor() {
  return {"fdatasync", [] { return std::make_unique<FdatasyncWorkload>(); }};
}

WorkloadSpec NaiveRocksDb() {
  return {"naive_rocksdb", [] { return std::make_unique<RocksDbWorkload>(1); }};
}

WorkloadSpec RawBatchedRocksDb() {
  return {"raw_batched_rocksdb",
          [] { return std::make_unique<RocksDbWorkload>(kRecordsPerBatch); }};
}

WorkloadSpec SqliteWal() {
  return {"sqlite", [] { return std::make_unique<SqliteWorkload>(); }};
}

}  // namespace burrow::bench
