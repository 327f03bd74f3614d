#include "engine/host/state_keys.h"

#include <cstring>

#include "base/crc32c.h"

namespace burrow::host::keys {
namespace {

std::string Prefix(char tag, std::string_view session) {
  BURROW_CHECK(session.size() <= 0xffff, "session id of {} bytes", session.size());
  std::string key;
  key.reserve(3 + session.size() + 8);
  key.push_back(tag);
  key.push_back(static_cast<char>(session.size() >> 8));
  key.push_back(static_cast<char>(session.size() & 0xff));
  key.append(session);
  return key;
}

void PutU32Le(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32Le(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

}  // namespace

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
  return out;
}

Result<uint64_t> DecodeU64(std::string_view bytes) {
  if (bytes.size() != 8)
    return DataLossError("expected 8 bytes, found " + std::to_string(bytes.size()));
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string Inbox(std::string_view session, uint64_t index) {
  return InboxPrefix(session) + EncodeU64(index);
}
std::string InboxPrefix(std::string_view session) { return Prefix('i', session); }
std::string MessageId(std::string_view session, std::string_view message_id) {
  return MessageIdPrefix(session).append(message_id);
}
std::string MessageIdPrefix(std::string_view session) { return Prefix('m', session); }
std::string Cursor(std::string_view session) { return Prefix('c', session); }

std::string EncodeInboxEntry(const InboxEntry& entry) {
  std::string out(4, '\0');
  PutU32Le(out, static_cast<uint32_t>(entry.message_id.size()));
  out.append(entry.message_id);
  PutU32Le(out, static_cast<uint32_t>(entry.from.size()));
  out.append(entry.from);
  out.append(entry.body);
  uint32_t crc = crc32c::Mask(crc32c::Value(std::string_view(out).substr(4)));
  std::string crc_bytes;
  PutU32Le(crc_bytes, crc);
  out.replace(0, 4, crc_bytes);
  return out;
}

Result<InboxEntry> DecodeInboxEntry(std::string_view bytes) {
  if (bytes.size() < 12) return DataLossError("inbox entry truncated");
  uint32_t stored = crc32c::Unmask(GetU32Le(bytes));
  std::string_view rest = bytes.substr(4);
  if (crc32c::Value(rest) != stored) return DataLossError("inbox entry checksum mismatch");
  InboxEntry entry;
  uint32_t id_len = GetU32Le(rest);
  rest.remove_prefix(4);
  if (rest.size() < id_len + 4) return DataLossError("inbox entry truncated");
  entry.message_id = rest.substr(0, id_len);
  rest.remove_prefix(id_len);
  uint32_t from_len = GetU32Le(rest);
  rest.remove_prefix(4);
  if (rest.size() < from_len) return DataLossError("inbox entry truncated");
  entry.from = rest.substr(0, from_len);
  rest.remove_prefix(from_len);
  entry.body = rest;
  return entry;
}

}  // namespace burrow::host::keys
