// Golden bytes: journal/FORMAT.md's example must be exactly what the code writes, and decode
// back to the documented inputs. The document is read at test time (BURROW_SOURCE_DIR), so
// editing either side alone fails here.
#include "journal/format.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "base/crc32c.h"
#include "journal/journal.h"
#include "schema/codec.h"
#include "tests/journal/journal_test_util.h"

namespace burrow::journal {
namespace {

// The hex bytes of the fenced block that follows "<!-- golden: NAME -->" in FORMAT.md; text
// after '#' on a line is commentary.
std::string Golden(const std::string& name) {
  std::ifstream in(std::string(BURROW_SOURCE_DIR) + "/journal/FORMAT.md");
  EXPECT_TRUE(in.good()) << "cannot read FORMAT.md";
  std::string line;
  const std::string marker = "<!-- golden: " + name + " -->";
  while (std::getline(in, line) && line != marker) {
  }
  EXPECT_EQ(line, marker) << "no golden block " << name;
  while (std::getline(in, line) && line.rfind("```", 0) != 0) {
  }
  std::string bytes;
  while (std::getline(in, line) && line.rfind("```", 0) != 0) {
    std::istringstream words(line.substr(0, line.find('#')));
    std::string word;
    while (words >> word) {
      EXPECT_EQ(word.size(), 2u) << "bad hex byte '" << word << "' in " << name;
      bytes.push_back(static_cast<char>(std::stoi(word, nullptr, 16)));
    }
  }
  EXPECT_FALSE(bytes.empty()) << "golden block " << name << " is empty";
  return bytes;
}

// The documented inputs of the example.
constexpr uint64_t kSeq = 2;
const char kStream[] = "session-1";

schema::RecordEnvelope ExampleRecord() {
  schema::RecordEnvelope record;
  record.session_id = "session-1";
  record.session_seq = 2;
  record.incarnation = 0;
  record.wall_time_us = 1764000000000000;
  record.payload = schema::TransitionRecord{
      machine::RegisterSession{"session-1"}, "RegisterSession", {}, 0x0123456789abcdefull};
  return record;
}

TEST(FormatTest, RecordKeyIsTheDocumentedBytes) {
  EXPECT_EQ(format::Hex(format::RecordKey(kSeq)), format::Hex(Golden("record-key")));
  EXPECT_EQ(format::ParseRecordKey(Golden("record-key")), kSeq);
}

TEST(FormatTest, RecordValueIsTheDocumentedBytes) {
  const std::string value =
      format::EncodeRecordValue(kSeq, kStream, schema::EncodeRecord(ExampleRecord()));
  EXPECT_EQ(format::Hex(value), format::Hex(Golden("record-value")));
}

TEST(FormatTest, DocumentedRecordValueDecodesToTheDocumentedInputs) {
  const std::string golden = Golden("record-value");
  auto view = format::DecodeRecordValue(kSeq, golden);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->stream, kStream);
  auto record = schema::DecodeRecord(kSeq, view->payload);
  ASSERT_TRUE(record.ok()) << record.status();
  auto expected = ExampleRecord();
  expected.seq = kSeq;
  EXPECT_EQ(*record, expected);
}

TEST(FormatTest, ChecksumIsTheDocumentedFormula) {
  // masked crc32c(key ‖ value[4..]) stored as u32 LE, computed here from the document's words
  // rather than through format.cc.
  const std::string key = Golden("record-key");
  const std::string value = Golden("record-value");
  const std::string covered = key + value.substr(4);
  const uint32_t masked = crc32c::Mask(crc32c::Value(covered));
  const std::string stored = value.substr(0, 4);
  EXPECT_EQ(static_cast<uint8_t>(stored[0]), masked & 0xff);
  EXPECT_EQ(static_cast<uint8_t>(stored[1]), (masked >> 8) & 0xff);
  EXPECT_EQ(static_cast<uint8_t>(stored[2]), (masked >> 16) & 0xff);
  EXPECT_EQ(static_cast<uint8_t>(stored[3]), masked >> 24);
}

TEST(FormatTest, DocumentedValueUnderAnotherKeyFailsItsChecksum) {
  auto view = format::DecodeRecordValue(kSeq + 1, Golden("record-value"));
  EXPECT_EQ(view.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(view.status().message(), "checksum mismatch");
}

TEST(FormatTest, StreamKeyIsTheDocumentedBytes) {
  EXPECT_EQ(format::Hex(format::StreamKey(kStream, kSeq)), format::Hex(Golden("stream-key")));
  const std::string golden = Golden("stream-key");
  auto parsed = format::ParseStreamKey(golden);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->stream, kStream);
  EXPECT_EQ(parsed->seq, kSeq);
}

TEST(FormatTest, FormatVersionMetaIsTheDocumentedBytes) {
  std::string body;
  format::PutFixed32(&body, kFormatVersion);
  EXPECT_EQ(format::Hex(format::EncodeFramedValue(format::kFormatVersionKey, body)),
            format::Hex(Golden("meta-format-version")));
}

// The journal itself writes the documented bytes (not just the format functions).
TEST(FormatTest, AJournalStoresTheDocumentedBytes) {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  {
    auto journal = Journal::Open(dir, Options{});
    ASSERT_TRUE(journal.ok()) << journal.status();
    schema::RecordEnvelope initialize;
    initialize.session_id = "session-1";
    initialize.session_seq = 1;
    initialize.payload = schema::TransitionRecord{machine::Initialize{}, "Initialize", {}, 1};
    Batch first;
    first.records.push_back({kStream, schema::EncodeRecord(initialize)});
    auto first_seq = (*journal)->Append(first);
    ASSERT_TRUE(first_seq.ok()) << first_seq.status();
    ASSERT_EQ(*first_seq, 1u);
    Batch example;
    example.records.push_back({kStream, schema::EncodeRecord(ExampleRecord())});
    auto example_seq = (*journal)->Append(example);
    ASSERT_TRUE(example_seq.ok()) << example_seq.status();
    ASSERT_EQ(*example_seq, kSeq);
  }
  testing::RawDb raw(dir);
  EXPECT_EQ(format::Hex(raw.Get("records", Golden("record-key"))),
            format::Hex(Golden("record-value")));
  const auto stream_keys = raw.Keys("streams");
  ASSERT_EQ(stream_keys.size(), 2u);
  EXPECT_EQ(format::Hex(stream_keys[1]), format::Hex(Golden("stream-key")));
  EXPECT_EQ(raw.Get("streams", Golden("stream-key")), "");
  EXPECT_EQ(format::Hex(raw.Get("meta", std::string(format::kFormatVersionKey))),
            format::Hex(Golden("meta-format-version")));
}

}  // namespace
}  // namespace burrow::journal
