#include "tools/bench/recovery_bench.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "journal/journal.h"
#include "recovery/recovery.h"

namespace burrow::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The column family that holds the journal's records (journal/FORMAT.md, "Column families").
constexpr char kRecordsFamily[] = "records";

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Result<std::unique_ptr<journal::Journal>> OpenWriter(const std::string& dir) {
  journal::Options options;
  options.create_if_missing = false;
  return journal::Journal::Open(dir, options);
}

}  // namespace

Result<ReplayFigures> TimeRebuild(const std::string& dir) {
  BURROW_ASSIGN_OR_RETURN(std::unique_ptr<journal::Journal> journal, OpenWriter(dir));
  const auto start = Clock::now();
  BURROW_ASSIGN_OR_RETURN(recovery::Rebuilt rebuilt, recovery::Rebuild(*journal));
  ReplayFigures figures;
  figures.seconds = SecondsSince(start);
  figures.records = rebuilt.records_replayed;
  figures.scanned = rebuilt.records_scanned;
  figures.records_per_s = figures.seconds > 0 ? figures.records / figures.seconds : 0;
  return figures;
}

Result<ReplayFigures> TimeRawScan(const std::string& dir) {
  rocksdb::DBOptions db_options;
  std::vector<std::string> families;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &families);
  if (!s.ok()) return UnavailableError("list column families: " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  size_t records_index = families.size();
  for (size_t i = 0; i < families.size(); ++i) {
    descriptors.emplace_back(families[i], rocksdb::ColumnFamilyOptions());
    if (families[i] == kRecordsFamily) records_index = i;
  }
  if (records_index == families.size()) {
    return NotFoundError(fmt::format("{} has no '{}' column family", dir, kRecordsFamily));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return UnavailableError("open read-only: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);

  ReplayFigures figures;
  const auto start = Clock::now();
  uint64_t bytes = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), handles[records_index]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      ++figures.records;
    }
    if (!it->status().ok()) return UnavailableError("scan: " + it->status().ToString());
  }
  figures.seconds = SecondsSince(start);
  figures.scanned = figures.records;
  figures.records_per_s = figures.seconds > 0 ? figures.records / figures.seconds : 0;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    (void)db->DestroyColumnFamilyHandle(handle);
  }
  if (bytes == 0 && figures.records > 0) return InternalError("scanned records without bytes");
  return figures;
}

Result<RestartFigures> TimeRestart(const std::string& dir) {
  RestartFigures figures;
  const auto start = Clock::now();
  BURROW_ASSIGN_OR_RETURN(std::unique_ptr<journal::Journal> journal, OpenWriter(dir));
  figures.open_s = SecondsSince(start);
  const auto recover_start = Clock::now();
  BURROW_ASSIGN_OR_RETURN(recovery::Recovered recovered,
                          recovery::Recover(*journal, host::HostOptions{}));
  figures.recover_s = SecondsSince(recover_start);
  figures.total_s = SecondsSince(start);
  figures.sessions = recovered.report.sessions_rebuilt;
  figures.snapshots_loaded = recovered.report.snapshots_loaded;
  figures.records_replayed = recovered.report.records_replayed;
  figures.records_scanned = recovered.report.records_scanned;
  recovered.host.reset();  // clean shutdown, not timed
  return figures;
}

Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, error);
  if (error) return UnavailableError(fmt::format("copy {} to {}: {}", from, to, error.message()));
  return OkStatus();
}

}  // namespace burrow::bench
