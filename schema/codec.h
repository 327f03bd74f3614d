// Conversion between schema/records.h values and their Cap'n Proto bytes.
//
// Encoded bytes are a flat (unpacked) Cap'n Proto message. Decoding copies the input into
// word-aligned memory first (RocksDB values are not aligned) and validates it: a malformed
// message, an unknown union member or a newer record version is DataLoss, never a crash.
// Safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "schema/records.h"

namespace burrow::schema {

std::string EncodeRecord(const RecordEnvelope& record);
// `seq` is the journal's sequence of the record; it is copied into the result.
Result<RecordEnvelope> DecodeRecord(uint64_t seq, std::string_view bytes);

std::string EncodeSnapshot(const AuthoritySnapshot& snapshot);
Result<AuthoritySnapshot> DecodeSnapshot(std::string_view bytes);

// Payload kind names for people and filters: "Transition", "InboxAppended", ...
std::string_view PayloadKindName(const Payload& payload);

}  // namespace burrow::schema
