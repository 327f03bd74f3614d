// The journal's key/value layout (private to journal/). journal/FORMAT.md is the normative
// description; tests/journal/format_test.cc pins this code to the example bytes printed there.
//
// Every value except the stream index's (which are empty) is *framed*:
//
//   value = masked_crc32c(key ‖ body) as u32 little-endian ‖ body
//
// so a value is checked together with the key it is stored under: a value copied or moved to
// another key fails its check. A record's body is u32 LE stream length ‖ stream ‖ payload.
// Keys that must sort numerically (record sequences) are big-endian; everything else is
// little-endian, as in leveldb. Pure functions; safe for concurrent use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "journal/journal.h"

namespace burrow::journal::format {

// Column families. RocksDB's mandatory "default" family is left empty.
inline constexpr char kRecordsFamily[] = "records";
inline constexpr char kStreamsFamily[] = "streams";
inline constexpr char kStateFamily[] = "state";
inline constexpr char kSnapshotsFamily[] = "snapshots";
inline constexpr char kMetaFamily[] = "meta";

// Meta keys.
inline constexpr std::string_view kFormatVersionKey = "format_version";  // body: u32 LE
inline constexpr std::string_view kFirstSequenceKey = "first_sequence";  // body: u64 LE

// Limits checked at append time (InvalidArgument beyond them); see journal.h.
inline constexpr size_t kMaxStreamBytes = journal::kMaxStreamBytes;  // fits the u16 prefix
inline constexpr size_t kMaxValueBytes = journal::kMaxValueBytes;

inline constexpr size_t kCrcBytes = 4;
inline constexpr size_t kRecordHeaderBytes = 8;  // crc + stream length

// ---------------------------------------------------------------------------------------------
// Fixed-width integers.

void PutFixed32(std::string* dst, uint32_t v);  // little-endian
void PutFixed64(std::string* dst, uint64_t v);  // little-endian
uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);
void PutBigEndian64(std::string* dst, uint64_t v);
uint64_t DecodeBigEndian64(const char* p);

// ---------------------------------------------------------------------------------------------
// Records family: key = u64 BE sequence; body = u32 LE stream length ‖ stream ‖ payload.

std::string RecordKey(uint64_t seq);
std::optional<uint64_t> ParseRecordKey(std::string_view key);

// The first kRecordHeaderBytes of a record value (crc, stream length); the value is this header
// followed by `stream` and `payload`. Lets the writer hand RocksDB the parts without copying.
std::array<char, kRecordHeaderBytes> RecordHeader(uint64_t seq, std::string_view stream,
                                                  std::string_view payload);
std::string EncodeRecordValue(uint64_t seq, std::string_view stream, std::string_view payload);

struct RecordView {  // points into the decoded value
  std::string_view stream;
  std::string_view payload;
};
// Checks the value stored under RecordKey(seq). DataLoss "checksum mismatch", "value too
// short ...", "stream length ... exceeds ..." (the message does not name the sequence: the
// caller does).
Result<RecordView> DecodeRecordValue(uint64_t seq, std::string_view value);

// ---------------------------------------------------------------------------------------------
// Framed values (state, snapshots, meta): masked crc32c(key ‖ body) u32 LE ‖ body.

std::array<char, kCrcBytes> FrameHeader(std::string_view key, std::string_view body);
std::string EncodeFramedValue(std::string_view key, std::string_view body);
// The body of a value stored under `key`. DataLoss "checksum mismatch" / "value too short".
Result<std::string_view> DecodeFramedValue(std::string_view key, std::string_view value);

// ---------------------------------------------------------------------------------------------
// Stream-keyed families (stream index, snapshots): u16 BE stream length ‖ stream ‖ u64 BE seq.
// The length prefix keeps each stream's keys contiguous and ordered by sequence.

std::string StreamKeyPrefix(std::string_view stream);
std::string StreamKey(std::string_view stream, uint64_t seq);
struct StreamKeyView {
  std::string_view stream;  // points into the parsed key
  uint64_t seq = 0;
};
std::optional<StreamKeyView> ParseStreamKey(std::string_view key);

// Lowercase hex, for Damage::key_hex and messages.
std::string Hex(std::string_view bytes);

}  // namespace burrow::journal::format
