#include "engine/host/state_keys.h"

#include <cstring>

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
  std::string out;
  out.reserve(8 + entry.message_id.size() + entry.from.size() + entry.body.size());
  PutU32Le(out, static_cast<uint32_t>(entry.message_id.size()));
  out.append(entry.message_id);
  PutU32Le(out, static_cast<uint32_t>(entry.from.size()));
  out.append(entry.from);
  out.append(entry.body);
  return out;
}

Result<InboxEntry> DecodeInboxEntry(std::string_view bytes) {
  InboxEntry entry;
  std::string_view rest = bytes;
  for (std::string* field : {&entry.message_id, &entry.from}) {
    if (rest.size() < 4) return DataLossError("inbox entry truncated");
    uint32_t length = GetU32Le(rest);
    rest.remove_prefix(4);
    if (rest.size() < length) return DataLossError("inbox entry truncated");
    *field = rest.substr(0, length);
    rest.remove_prefix(length);
  }
  entry.body = rest;
  return entry;
}

}  // namespace burrow::host::keys
