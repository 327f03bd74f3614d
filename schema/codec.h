// Conversion between schema/records.h values and their Cap'n Proto bytes.
//
// Encoded bytes are a flat (unpacked) Cap'n Proto message (schema/journal.capnp), written as one
// segment. Decoding copies the input into word-aligned memory first (RocksDB values are not
// aligned) and validates it: a malformed or truncated message, trailing bytes, an unknown union
// member or enumerant, or a version outside 1..kRecordVersion is DataLoss, never a crash and
// never an exception (the codec catches kj::Exception at its boundary; see codec.cc).
// Safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "schema/records.h"

namespace burrow::schema {

// Writes kRecordVersion whatever `record.version` says, and never `record.seq` (the sequence
// lives in the journal's key).
std::string EncodeRecord(const RecordEnvelope& record);
// `seq` is the journal's sequence of the record; it is copied into the result and named in
// the DataLoss message ("record 42: ...").
Result<RecordEnvelope> DecodeRecord(uint64_t seq, std::string_view bytes);

// DecodeRecord for many records in a row (recovery's replay): one word-aligned buffer, grown
// as needed and reused, and `out` filled in place so its strings and vectors keep their
// capacity. Bytes that already start on an 8-byte boundary are read where they are (recovery
// lays its batches out so); others are copied into the aligned buffer first. Same checks and
// errors as DecodeRecord; on error `out` is unspecified. Not safe for concurrent use (one per
// thread).
class RecordDecoder {
 public:
  Status Decode(uint64_t seq, std::string_view bytes, RecordEnvelope& out);

 private:
  std::vector<uint64_t> words_;  // the aligned copy of unaligned bytes (capnp::word is 8 bytes)
};

// Writes kRecordVersion into the message (snapshots are versioned like records).
std::string EncodeSnapshot(const AuthoritySnapshot& snapshot);
// Errors: DataLoss ("snapshot: ...").
Result<AuthoritySnapshot> DecodeSnapshot(std::string_view bytes);

// Payload kind names for people and filters: "Transition", "InboxAppended", ...
std::string_view PayloadKindName(const Payload& payload);

}  // namespace burrow::schema
