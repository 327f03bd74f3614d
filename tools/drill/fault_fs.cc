#include "tools/drill/fault_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

namespace burrow::drill {
namespace {

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().lexically_normal().string();
}
std::string Normal(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

// Forwards to the real file and reports what happened to the FileSystem's ledger.
class FaultWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritableFile(std::unique_ptr<rocksdb::FSWritableFile> target, std::string path,
                    FaultFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(target)), path_(std::move(path)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kAppend);
    if (!s.ok()) return s;
    s = target()->Append(data, options, dbg);
    if (s.ok()) fs_->Appended(path_, data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kAppend);
    if (!s.ok()) return s;
    s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) fs_->Resized(path_);
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& /*info*/,
                                     rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kAppend);
    if (!s.ok()) return s;
    s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_->Truncated(path_, size);
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kSync);
    if (!s.ok()) return s;
    s = target()->Sync(options, dbg);
    if (s.ok()) fs_->Synced(path_);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kSync);
    if (!s.ok()) return s;
    s = target()->Fsync(options, dbg);
    if (s.ok()) fs_->Synced(path_);
    return s;
  }
  // sync_file_range is not a durability barrier: forwarded, no credit.
  bool IsSyncThreadSafe() const override { return target()->IsSyncThreadSafe(); }

 private:
  const std::string path_;
  FaultFileSystem* const fs_;
};

class FaultDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  FaultDirectory(std::unique_ptr<rocksdb::FSDirectory> target, std::string path,
                 FaultFileSystem* fs)
      : FSDirectoryWrapper(std::move(target)), path_(std::move(path)), fs_(fs) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kSync);
    if (!s.ok()) return s;
    s = FSDirectoryWrapper::Fsync(options, dbg);
    if (s.ok()) fs_->DirSynced(path_);
    return s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& options,
                                        rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& dir_options) override {
    rocksdb::IOStatus s = fs_->BeforeWrite(path_, IoOp::kSync);
    if (!s.ok()) return s;
    s = FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
    if (s.ok()) fs_->DirSynced(path_);
    return s;
  }

 private:
  const std::string path_;
  FaultFileSystem* const fs_;
};

rocksdb::IOStatus PowerOff() { return rocksdb::IOStatus::IOError("drill: power is off"); }

}  // namespace

bool IsWalFile(const std::string& path) {
  // RocksDB names WAL files <number>.log (the info log is LOG, LOG.old.*).
  const std::string name = std::filesystem::path(path).filename().string();
  if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".log") != 0) return false;
  return std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

FaultFileSystem::FaultFileSystem(std::shared_ptr<rocksdb::FileSystem> base)
    : FileSystemWrapper(std::move(base)) {}

std::unique_ptr<rocksdb::Env> FaultFileSystem::MakeEnv(const std::shared_ptr<FaultFileSystem>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

void FaultFileSystem::CutPower() {
  std::lock_guard lock(mu_);
  powered_off_ = true;
}

void FaultFileSystem::ArmPowerCutAtWalSync(int nth) {
  std::lock_guard lock(mu_);
  cut_at_wal_sync_ = nth;
}

bool FaultFileSystem::powered_off() const {
  std::lock_guard lock(mu_);
  return powered_off_;
}

void FaultFileSystem::InjectWalErrors(IoErrorKind kind, IoOp op, int count) {
  std::lock_guard lock(mu_);
  error_kind_ = kind;
  error_op_ = op;
  error_count_ = count;
}

void FaultFileSystem::ClearErrors() {
  std::lock_guard lock(mu_);
  error_count_ = 0;
}

uint64_t FaultFileSystem::errors_injected() const {
  std::lock_guard lock(mu_);
  return errors_injected_;
}

rocksdb::IOStatus FaultFileSystem::BeforeWrite(const std::string& path, IoOp op) {
  std::lock_guard lock(mu_);
  if (powered_off_) return PowerOff();
  if (!IsWalFile(path)) return rocksdb::IOStatus::OK();
  if (op == IoOp::kSync && cut_at_wal_sync_ > 0 && --cut_at_wal_sync_ == 0) {
    powered_off_ = true;  // the bytes were written; the sync never happens
    return PowerOff();
  }
  if (error_count_ > 0 && op == error_op_) {
    --error_count_;
    ++errors_injected_;
    return error_kind_ == IoErrorKind::kEnospc
               ? rocksdb::IOStatus::NoSpace("drill: injected ENOSPC")
               : rocksdb::IOStatus::IOError("drill: injected EIO");
  }
  return rocksdb::IOStatus::OK();
}

void FaultFileSystem::Appended(const std::string& path, uint64_t bytes) {
  std::lock_guard lock(mu_);
  files_[path].size += bytes;
}

void FaultFileSystem::Synced(const std::string& path) {
  std::lock_guard lock(mu_);
  FileState& f = files_[path];
  f.synced = f.size;
}

void FaultFileSystem::Resized(const std::string& path) {
  std::error_code ec;
  const uint64_t real = std::filesystem::file_size(path, ec);
  std::lock_guard lock(mu_);
  if (!ec) files_[path].size = real;
}

void FaultFileSystem::Truncated(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  FileState& f = files_[path];
  f.size = size;
  f.synced = std::min(f.synced, size);
}

void FaultFileSystem::DirSynced(const std::string& dir) {
  std::lock_guard lock(mu_);
  const std::string normal = Normal(dir);
  for (auto& [path, state] : files_) {
    if (DirOf(path) == normal) state.dir_synced = true;
  }
}

rocksdb::IOStatus FaultFileSystem::Wrap(const std::string& fname, bool created, uint64_t size,
                                        std::unique_ptr<rocksdb::FSWritableFile>* result) {
  const std::string path = Normal(fname);
  {
    std::lock_guard lock(mu_);
    FileState state;
    state.size = size;
    state.synced = size;
    state.created_here = created;
    state.dir_synced = !created;
    files_[path] = state;
  }
  *result = std::make_unique<FaultWritableFile>(std::move(*result), path, this);
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus FaultFileSystem::NewWritableFile(const std::string& fname,
                                                   const rocksdb::FileOptions& options,
                                                   std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                   rocksdb::IODebugContext* dbg) {
  if (powered_off()) return PowerOff();
  rocksdb::IOStatus s = target()->NewWritableFile(fname, options, result, dbg);
  if (!s.ok()) return s;
  return Wrap(fname, /*created=*/true, 0, result);
}

rocksdb::IOStatus FaultFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (powered_off()) return PowerOff();
  std::error_code ec;
  const uint64_t size =
      std::filesystem::exists(fname, ec) ? std::filesystem::file_size(fname, ec) : 0;
  rocksdb::IOStatus s = target()->ReopenWritableFile(fname, options, result, dbg);
  if (!s.ok()) return s;
  return Wrap(fname, /*created=*/size == 0, size, result);
}

rocksdb::IOStatus FaultFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (powered_off()) return PowerOff();
  rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, options, result, dbg);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    files_.erase(Normal(old_fname));
  }
  return Wrap(fname, /*created=*/true, 0, result);
}

rocksdb::IOStatus FaultFileSystem::NewDirectory(const std::string& name,
                                                const rocksdb::IOOptions& options,
                                                std::unique_ptr<rocksdb::FSDirectory>* result,
                                                rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> real;
  rocksdb::IOStatus s = target()->NewDirectory(name, options, &real, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<FaultDirectory>(std::move(real), Normal(name), this);
  return s;
}

rocksdb::IOStatus FaultFileSystem::DeleteFile(const std::string& fname,
                                              const rocksdb::IOOptions& options,
                                              rocksdb::IODebugContext* dbg) {
  if (powered_off()) return PowerOff();
  rocksdb::IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    files_.erase(Normal(fname));
  }
  return s;
}

rocksdb::IOStatus FaultFileSystem::RenameFile(const std::string& src, const std::string& target,
                                              const rocksdb::IOOptions& options,
                                              rocksdb::IODebugContext* dbg) {
  if (powered_off()) return PowerOff();
  rocksdb::IOStatus s = target_->RenameFile(src, target, options, dbg);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = files_.find(Normal(src));
  if (it != files_.end()) {
    FileState state = it->second;
    files_.erase(it);
    files_[Normal(target)] = state;
  } else {
    files_.erase(Normal(target));
  }
  // A rename counts as a directory fsync of its directory (see the header).
  const std::string dir = DirOf(Normal(target));
  for (auto& [path, state] : files_) {
    if (DirOf(path) == dir) state.dir_synced = true;
  }
  return s;
}

DropReport FaultFileSystem::DropUnsyncedData(std::mt19937_64* tear) {
  std::lock_guard lock(mu_);
  DropReport report;
  for (auto& [path, state] : files_) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    if (state.created_here && !state.dir_synced) {
      report.bytes_dropped += std::filesystem::file_size(path, ec);
      std::filesystem::remove(path, ec);
      ++report.files_deleted;
      continue;
    }
    const uint64_t real = std::filesystem::file_size(path, ec);
    if (ec || real <= state.synced) continue;
    uint64_t keep = state.synced;
    if (tear != nullptr && IsWalFile(path)) {
      const uint64_t tail = real - state.synced;
      keep = state.synced + (*tear)() % (tail + 1);
      const uint64_t torn = keep - state.synced;
      if (torn > 0) {
        int fd = ::open(path.c_str(), O_WRONLY);
        if (fd >= 0) {
          const int flips = 1 + static_cast<int>((*tear)() % 3);
          for (int i = 0; i < flips; ++i) {
            const uint64_t at = state.synced + (*tear)() % torn;
            const unsigned char garbage = static_cast<unsigned char>(1 + (*tear)() % 255);
            (void)!::pwrite(fd, &garbage, 1, static_cast<off_t>(at));
          }
          ::close(fd);
        }
        report.bytes_torn += torn;
      }
    }
    std::filesystem::resize_file(path, keep, ec);
    report.bytes_dropped += real - keep;
    ++report.files_truncated;
  }
  files_.clear();
  return report;
}

}  // namespace burrow::drill
