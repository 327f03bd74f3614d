// A fault-injecting RocksDB FileSystem for the drills (private to tools/drill; the journal tests
// use it too).
//
// It wraps a real FileSystem and keeps, per file written through it, how many bytes were appended
// and how many of those a Sync/Fsync made durable (RangeSync gives no credit: sync_file_range
// does not make data durable). A file created through it counts as durable only once a
// directory fsync of its directory (or a rename in that directory, see below) has happened.
//
// Faults:
//   * CutPower(): from then on every write, sync, create, rename and delete fails with IOError
//     ("power is off"), as if the machine had stopped. ArmPowerCutAtWalSync(n) cuts power *inside*
//     the n-th WAL sync from now, after the bytes were written but before they were synced: the
//     command in flight gets an error and its bytes are an unsynced tail.
//   * DropUnsyncedData(), after the database using the FileSystem is closed: what the disk holds
//     after the cut. Unsynced tails are truncated away; new files whose directory was never
//     fsynced are deleted. With a `tear` generator, the unsynced tail of each WAL file (*.log) is
//     instead cut at a random offset and some of its kept bytes are garbled: a torn write. Only
//     bytes that were never synced are touched, so nothing acknowledged in sync mode is damaged.
//   * InjectWalErrors(kind, op, n): the next n WAL appends (or syncs) fail with EIO
//     (IOStatus::IOError) or ENOSPC (IOStatus::NoSpace). A failed append writes nothing; a failed
//     sync leaves the bytes written but unsynced (the outcome of a real failed fsync is unknown).
//
// Simplifications (documented in docs/DRILLS.md): renames and deletions are durable at once, and
// a rename counts as a directory fsync of its directory (RocksDB fsyncs the directory right
// after renaming CURRENT, so the window it hides is one syscall wide).
//
// Thread-safety: safe for concurrent use (RocksDB calls it from its own threads).
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

namespace burrow::drill {

enum class IoErrorKind : uint8_t { kEio, kEnospc };
enum class IoOp : uint8_t { kAppend, kSync };

struct DropReport {
  uint64_t files_truncated = 0;
  uint64_t files_deleted = 0;
  uint64_t bytes_dropped = 0;
  uint64_t bytes_torn = 0;  // unsynced bytes kept, some of them garbled (tear mode)
};

class FaultFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFileSystem(
      std::shared_ptr<rocksdb::FileSystem> base = rocksdb::FileSystem::Default());

  // An Env over this FileSystem, for journal::Options::env (the FileSystem must outlive it).
  static std::unique_ptr<rocksdb::Env> MakeEnv(const std::shared_ptr<FaultFileSystem>& fs);

  const char* Name() const override { return "BurrowDrillFaultFileSystem"; }

  void CutPower();
  void ArmPowerCutAtWalSync(int nth);
  bool powered_off() const;

  void InjectWalErrors(IoErrorKind kind, IoOp op, int count);
  void ClearErrors();
  uint64_t errors_injected() const;

  // Call only after the database that used this FileSystem is closed.
  DropReport DropUnsyncedData(std::mt19937_64* tear = nullptr);

  // Tracking, called by the file wrappers.
  rocksdb::IOStatus BeforeWrite(const std::string& path, IoOp op);
  void Appended(const std::string& path, uint64_t bytes);
  void Synced(const std::string& path);
  void Truncated(const std::string& path, uint64_t size);
  void Resized(const std::string& path);  // after a positioned write: the real size
  void DirSynced(const std::string& dir);

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

 private:
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool created_here = false;  // created through this FileSystem
    bool dir_synced = false;    // its directory entry is durable
  };
  rocksdb::IOStatus Wrap(const std::string& fname, bool created, uint64_t size,
                         std::unique_ptr<rocksdb::FSWritableFile>* result);

  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  bool powered_off_ = false;
  int cut_at_wal_sync_ = 0;  // 0 = not armed
  int error_count_ = 0;
  IoErrorKind error_kind_ = IoErrorKind::kEio;
  IoOp error_op_ = IoOp::kAppend;
  uint64_t errors_injected_ = 0;
};

// A RocksDB write-ahead log file: <number>.log.
bool IsWalFile(const std::string& path);

}  // namespace burrow::drill
