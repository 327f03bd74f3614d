// The journal after a failed write (journal.h, Append): nothing of the failed batch is applied,
// reads keep working, and once the disk works again the journal reopens itself, proves it holds
// exactly the acknowledged records — undoing a failed write whose bytes reached the WAL anyway —
// and carries on. Faults come from the drills' FileSystem (tools/drill/fault_fs.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "journal/journal.h"
#include "tests/journal/journal_test_util.h"
#include "tools/drill/fault_fs.h"

namespace burrow::journal {
namespace {

using drill::FaultFileSystem;
using drill::IoErrorKind;
using drill::IoOp;
using ::testing::HasSubstr;

Batch Record(std::string payload, std::vector<StatePut> puts = {}) {
  Batch batch;
  batch.records.push_back({"s", std::move(payload)});
  batch.state_puts = std::move(puts);
  return batch;
}

std::vector<std::string> Payloads(const Journal& journal) {
  std::vector<std::string> out;
  EXPECT_TRUE(journal
                  .Scan(0, UINT64_MAX,
                        [&](const journal::Record& r) {
                          out.push_back(r.payload);
                          return true;
                        })
                  .ok());
  return out;
}

class JournalWriteFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logger_ = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
    Options options;
    options.env = env_.get();
    options.logger = logger_;
    auto opened = Journal::Open(dir_.Sub("j"), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    journal_ = std::move(opened).value();
    ASSERT_TRUE(journal_->Append(Record("one", {{"old", "before"}})).ok());
    ASSERT_TRUE(journal_->Append(Record("two")).ok());
  }

  std::unique_ptr<Journal> ReopenFromDisk() {
    journal_.reset();
    auto opened = Journal::Open(dir_.Sub("j"), Options{});
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  testing::TempDir dir_;
  std::shared_ptr<FaultFileSystem> fs_ = std::make_shared<FaultFileSystem>();
  std::unique_ptr<rocksdb::Env> env_ = FaultFileSystem::MakeEnv(fs_);
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(JournalWriteFailureTest, AFailedSyncWhoseBytesLandedIsUndoneWhenTheJournalReopens) {
  // EIO on the WAL sync: the batch's bytes are in the file, RocksDB calls the write failed
  // (fatal to its own Resume), and a reopen would replay them.
  fs_->InjectWalErrors(IoErrorKind::kEio, IoOp::kSync, 1);
  auto failed = journal_->Append(Record("lost", {{"old", "overwritten"}, {"new", "v"}}));
  ASSERT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(journal_->LastSequence(), 2u);
  EXPECT_EQ(*journal_->GetState("old"), "before");

  auto next = journal_->Append(Record("three"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 3u);
  EXPECT_THAT(log_.str(), HasSubstr("had reached the WAL; they were removed again"))
      << "the landed-bytes path was not exercised";
  EXPECT_EQ(Payloads(*journal_), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(*journal_->GetState("old"), "before");
  EXPECT_EQ(journal_->GetState("new").status().code(), StatusCode::kNotFound);

  auto reopened = ReopenFromDisk();
  EXPECT_EQ(Payloads(*reopened), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(*reopened->GetState("old"), "before");
  EXPECT_EQ(reopened->GetState("new").status().code(), StatusCode::kNotFound);
}

TEST_F(JournalWriteFailureTest, NoSpaceOnAppendIsUnavailableAndTheJournalCarriesOn) {
  fs_->InjectWalErrors(IoErrorKind::kEnospc, IoOp::kAppend, 1);
  auto failed = journal_->Append(Record("lost", {{"new", "v"}}));
  ASSERT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("No space"));
  auto next = journal_->Append(Record("three"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 3u);
  auto reopened = ReopenFromDisk();
  EXPECT_EQ(Payloads(*reopened), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(reopened->GetState("new").status().code(), StatusCode::kNotFound);
}

TEST_F(JournalWriteFailureTest, WhileTheDiskKeepsFailingAppendsFailAndReadsWork) {
  fs_->InjectWalErrors(IoErrorKind::kEio, IoOp::kAppend, 1'000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(journal_->Append(Record("lost")).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(Payloads(*journal_), (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(*journal_->GetState("old"), "before");
    auto stream = journal_->ReadStream("s", 0, 10);
    ASSERT_TRUE(stream.ok()) << stream.status();
    EXPECT_EQ(stream->size(), 2u);
  }
  fs_->ClearErrors();
  auto next = journal_->Append(Record("three"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 3u);
}

}  // namespace
}  // namespace burrow::journal
