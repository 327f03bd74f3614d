#include "journal/wal_check.h"

#include <fmt/format.h>
#include <rocksdb/env.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/crc32c.h"

namespace burrow::journal {
namespace {

constexpr size_t kBlockSize = 32768;
constexpr size_t kHeaderSize = 7;
// Physical record types (RocksDB db/log_format.h). Only a Full or First record starts a logical
// record (a write batch); Middle and Last continue one.
constexpr uint8_t kFullType = 1;
constexpr uint8_t kFirstType = 2;
constexpr uint8_t kLastKnownType = 10;
constexpr uint8_t kRecyclableFullType = 5;
constexpr uint8_t kRecyclableFirstType = 6;

uint32_t Fixed32(const char* p) {
  return static_cast<uint32_t>(static_cast<uint8_t>(p[0])) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3])) << 24;
}

enum class Parsed { kIntact, kDamaged, kZero, kPadding };

// The physical record at `pos` of `data`; *next is where the following one starts when intact.
Parsed ParseAt(const std::string& data, size_t pos, size_t* next, uint8_t* type_out) {
  const size_t block_left = kBlockSize - pos % kBlockSize;
  if (block_left < kHeaderSize) return Parsed::kPadding;
  if (data.size() - pos < kHeaderSize) {
    const bool zeros = std::all_of(data.begin() + static_cast<long>(pos), data.end(),
                                   [](char c) { return c == 0; });
    return zeros ? Parsed::kZero : Parsed::kDamaged;
  }
  const char* h = data.data() + pos;
  const uint32_t stored = Fixed32(h);
  const size_t length = static_cast<uint8_t>(h[4]) | static_cast<size_t>(static_cast<uint8_t>(h[5]))
                                                         << 8;
  const uint8_t type = static_cast<uint8_t>(h[6]);
  *type_out = type;
  if (type == 0 && length == 0 && stored == 0) return Parsed::kZero;  // preallocated, unwritten
  if (type == 0 || type > kLastKnownType || kHeaderSize + length > block_left ||
      pos + kHeaderSize + length > data.size()) {
    return Parsed::kDamaged;
  }
  uint32_t crc = crc32c::Value(h + 6, 1);
  crc = crc32c::Extend(crc, h + kHeaderSize, length);
  if (crc32c::Unmask(stored) != crc) return Parsed::kDamaged;
  *next = pos + kHeaderSize + length;
  return Parsed::kIntact;
}

bool StartsLogicalRecord(uint8_t type) {
  return type == kFullType || type == kFirstType || type == kRecyclableFullType ||
         type == kRecyclableFirstType;
}

// The first intact record that starts a logical record at or after `from`: block starts first
// (a record never spans a block without a new header), then every offset of the damaged block.
std::optional<size_t> FindIntactStartAfter(const std::string& data, size_t from) {
  for (size_t block = (from / kBlockSize + 1) * kBlockSize; block < data.size();
       block += kBlockSize) {
    size_t next = 0;
    uint8_t type = 0;
    if (ParseAt(data, block, &next, &type) == Parsed::kIntact && StartsLogicalRecord(type)) {
      // Within the damaged block there may be one earlier: look there too.
      for (size_t pos = from; pos < block; ++pos) {
        if (ParseAt(data, pos, &next, &type) == Parsed::kIntact && StartsLogicalRecord(type)) {
          return pos;
        }
      }
      return block;
    }
  }
  const size_t block_end = std::min(data.size(), (from / kBlockSize + 1) * kBlockSize);
  for (size_t pos = from; pos < block_end; ++pos) {
    size_t next = 0;
    uint8_t type = 0;
    if (ParseAt(data, pos, &next, &type) == Parsed::kIntact && StartsLogicalRecord(type)) {
      return pos;
    }
  }
  return std::nullopt;
}

struct FileScan {
  std::optional<size_t> damage_at;
  std::optional<size_t> intact_after;
  bool has_records = false;
};

FileScan Scan(const std::string& data) {
  FileScan scan;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t next = 0;
    uint8_t type = 0;
    switch (ParseAt(data, pos, &next, &type)) {
      case Parsed::kIntact:
        scan.has_records = true;
        pos = next;
        break;
      case Parsed::kPadding:
      case Parsed::kZero:
        pos = (pos / kBlockSize + 1) * kBlockSize;
        break;
      case Parsed::kDamaged:
        scan.damage_at = pos;
        scan.intact_after = FindIntactStartAfter(data, pos + 1);
        return scan;
    }
  }
  return scan;
}

Result<std::string> ReadWhole(rocksdb::Env* env, const std::string& path) {
  std::unique_ptr<rocksdb::SequentialFile> file;
  rocksdb::Status s = env->NewSequentialFile(path, &file, rocksdb::EnvOptions());
  if (!s.ok()) return UnavailableError(fmt::format("cannot read {}: {}", path, s.ToString()));
  std::string out;
  std::string scratch(1 << 20, '\0');
  for (;;) {
    rocksdb::Slice chunk;
    s = file->Read(scratch.size(), &chunk, scratch.data());
    if (!s.ok()) return UnavailableError(fmt::format("cannot read {}: {}", path, s.ToString()));
    if (chunk.empty()) return out;
    out.append(chunk.data(), chunk.size());
  }
}

}  // namespace

Result<WalCheck> CheckWalFiles(rocksdb::Env* env, const std::string& dir) {
  std::vector<std::string> children;
  rocksdb::Status s = env->GetChildren(dir, &children);
  if (!s.ok()) return UnavailableError(fmt::format("cannot list {}: {}", dir, s.ToString()));
  std::vector<std::pair<uint64_t, std::string>> wals;  // by log number
  for (const std::string& name : children) {
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".log") != 0) continue;
    const std::string digits = name.substr(0, name.size() - 4);
    if (digits.empty() ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    wals.emplace_back(std::stoull(digits), name);
  }
  std::sort(wals.begin(), wals.end());

  WalCheck out;
  std::optional<std::string> damaged_file;
  size_t damaged_at = 0;
  for (const auto& [number, name] : wals) {
    BURROW_ASSIGN_OR_RETURN(std::string data, ReadWhole(env, dir + "/" + name));
    FileScan scan = Scan(data);
    if (damaged_file) {
      if (scan.has_records) {
        return DataLossError(fmt::format(
            "WAL {} of {} is damaged at offset {} and the later WAL {} holds intact records: "
            "this is not a torn tail, and replaying would silently drop acknowledged records",
            *damaged_file, dir, damaged_at, name));
      }
      continue;
    }
    if (!scan.damage_at) continue;
    if (scan.intact_after) {
      return DataLossError(fmt::format(
          "WAL {} of {} is damaged at offset {} (a record whose checksum or length is wrong) and "
          "holds an intact record after it at offset {}: this is not a torn tail, and replaying "
          "would silently drop acknowledged records",
          name, dir, *scan.damage_at, *scan.intact_after));
    }
    damaged_file = name;
    damaged_at = *scan.damage_at;
    out.discarded_tail =
        Damage{0, fmt::format("{}@{}", name, *scan.damage_at),
               fmt::format("the last record of WAL {} (offset {} of {} bytes) is damaged or "
                           "incomplete: a write torn by a crash, or damage to the last batch",
                           name, *scan.damage_at, data.size())};
  }
  return out;
}

}  // namespace burrow::journal
