#include "journal/format.h"

#include <fmt/format.h>

#include <cstring>

#include "base/crc32c.h"

namespace burrow::journal::format {

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(buf, sizeof(buf));
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(buf, sizeof(buf));
}

uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

void PutBigEndian64(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
  dst->append(buf, sizeof(buf));
}

uint64_t DecodeBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

namespace {

void EncodeFixed32Into(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t Extend(uint32_t crc, std::string_view bytes) {
  return crc32c::Extend(crc, bytes.data(), bytes.size());
}

// RecordKey(seq)'s bytes, without a string: the checksums cover the key, and replay verifies
// millions of records.
std::array<char, 8> RecordKeyBytes(uint64_t seq) {
  std::array<char, 8> key;
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xff);
  return key;
}

}  // namespace

std::string RecordKey(uint64_t seq) {
  std::string key;
  PutBigEndian64(&key, seq);
  return key;
}

std::optional<uint64_t> ParseRecordKey(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return DecodeBigEndian64(key.data());
}

std::array<char, kRecordHeaderBytes> RecordHeader(uint64_t seq, std::string_view stream,
                                                  std::string_view payload) {
  std::array<char, kRecordHeaderBytes> header{};
  EncodeFixed32Into(header.data() + kCrcBytes, static_cast<uint32_t>(stream.size()));
  const std::array<char, 8> key = RecordKeyBytes(seq);
  uint32_t crc = crc32c::Value(key.data(), key.size());
  crc = Extend(crc, std::string_view(header.data() + kCrcBytes, kRecordHeaderBytes - kCrcBytes));
  crc = Extend(crc, stream);
  crc = Extend(crc, payload);
  EncodeFixed32Into(header.data(), crc32c::Mask(crc));
  return header;
}

std::string EncodeRecordValue(uint64_t seq, std::string_view stream, std::string_view payload) {
  const auto header = RecordHeader(seq, stream, payload);
  std::string value;
  value.reserve(header.size() + stream.size() + payload.size());
  value.append(header.data(), header.size());
  value.append(stream);
  value.append(payload);
  return value;
}

Result<RecordView> DecodeRecordValue(uint64_t seq, std::string_view value) {
  if (value.size() < kRecordHeaderBytes) {
    return DataLossError(fmt::format("value too short ({} bytes, the header alone is {})",
                                     value.size(), kRecordHeaderBytes));
  }
  const std::array<char, 8> key = RecordKeyBytes(seq);
  const uint32_t actual = Extend(crc32c::Value(key.data(), key.size()), value.substr(kCrcBytes));
  if (crc32c::Unmask(DecodeFixed32(value.data())) != actual) {
    return DataLossError("checksum mismatch");
  }
  const uint32_t stream_size = DecodeFixed32(value.data() + kCrcBytes);
  if (stream_size > value.size() - kRecordHeaderBytes) {
    return DataLossError(fmt::format("stream length {} exceeds the {} bytes after the header",
                                     stream_size, value.size() - kRecordHeaderBytes));
  }
  RecordView view;
  view.stream = value.substr(kRecordHeaderBytes, stream_size);
  view.payload = value.substr(kRecordHeaderBytes + stream_size);
  return view;
}

std::array<char, kCrcBytes> FrameHeader(std::string_view key, std::string_view body) {
  std::array<char, kCrcBytes> header{};
  EncodeFixed32Into(header.data(), crc32c::Mask(Extend(Extend(0, key), body)));
  return header;
}

std::string EncodeFramedValue(std::string_view key, std::string_view body) {
  const auto header = FrameHeader(key, body);
  std::string value;
  value.reserve(header.size() + body.size());
  value.append(header.data(), header.size());
  value.append(body);
  return value;
}

Result<std::string_view> DecodeFramedValue(std::string_view key, std::string_view value) {
  if (value.size() < kCrcBytes) {
    return DataLossError(fmt::format("value too short ({} bytes)", value.size()));
  }
  const std::string_view body = value.substr(kCrcBytes);
  if (crc32c::Unmask(DecodeFixed32(value.data())) != Extend(Extend(0, key), body)) {
    return DataLossError("checksum mismatch");
  }
  return body;
}

std::string StreamKeyPrefix(std::string_view stream) {
  std::string prefix;
  prefix.reserve(2 + stream.size() + 8);
  prefix.push_back(static_cast<char>((stream.size() >> 8) & 0xff));
  prefix.push_back(static_cast<char>(stream.size() & 0xff));
  prefix.append(stream);
  return prefix;
}

std::string StreamKey(std::string_view stream, uint64_t seq) {
  std::string key = StreamKeyPrefix(stream);
  PutBigEndian64(&key, seq);
  return key;
}

std::optional<StreamKeyView> ParseStreamKey(std::string_view key) {
  if (key.size() < 2 + 8) return std::nullopt;
  const size_t stream_size =
      (size_t{static_cast<uint8_t>(key[0])} << 8) | static_cast<uint8_t>(key[1]);
  if (key.size() != 2 + stream_size + 8) return std::nullopt;
  return StreamKeyView{key.substr(2, stream_size), DecodeBigEndian64(key.data() + 2 + stream_size)};
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace burrow::journal::format
