// The journal state keys the host writes (documented in journal/FORMAT.md, "Host state").
// Private to engine/host (and read by recovery and tools through these same functions).
//
// Every key starts with a one-byte tag and the session id as u16 big-endian length + bytes, so
// that one session's keys form a contiguous prefix that no other session's keys share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace burrow::host::keys {

// 'i' | session | u64 BE index  → an inbox entry (EncodeInboxEntry)
std::string Inbox(std::string_view session, uint64_t index);
// 'i' | session: every inbox entry of the session
std::string InboxPrefix(std::string_view session);
// 'm' | session | message_id  → u64 BE inbox index (deduplication of posts)
std::string MessageId(std::string_view session, std::string_view message_id);
std::string MessageIdPrefix(std::string_view session);
// 'c' | session  → u64 BE number of messages delivered (the delivered stream's cursor)
std::string Cursor(std::string_view session);

std::string EncodeU64(uint64_t v);
Result<uint64_t> DecodeU64(std::string_view bytes);

struct InboxEntry {
  std::string message_id;
  std::string from;
  std::string body;
};
// u32 LE len | message_id | u32 LE len | from | body. No checksum of its own: the journal
// checksums every state value together with its key.
std::string EncodeInboxEntry(const InboxEntry& entry);
// Errors: DataLoss (truncated).
Result<InboxEntry> DecodeInboxEntry(std::string_view bytes);

}  // namespace burrow::host::keys
