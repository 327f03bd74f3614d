// The journal under the drills' fault model (tools/drill/fault_fs.h): power cuts keep exactly
// what was synced, a write torn by a cut is discarded, and damage in the WAL is told apart from
// a torn tail (journal/wal_check.h): damage before the last record refuses the open, damage in
// the last record is discarded and reported.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <set>

#include "journal/journal.h"
#include "tests/journal/journal_test_util.h"
#include "tools/drill/fault_fs.h"

namespace burrow::journal {
namespace {

using drill::FaultFileSystem;
using ::testing::HasSubstr;

Batch One(int i) {
  Batch batch;
  batch.records.push_back({"s", "record " + std::to_string(i)});
  return batch;
}

class JournalFaultModelTest : public ::testing::Test {
 protected:
  std::unique_ptr<Journal> Open(const std::string& dir, rocksdb::Env* env = nullptr,
                                Durability durability = Durability::kSync) {
    Options options;
    options.env = env;
    options.durability = durability;
    auto opened = Journal::Open(dir, options);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }
  // A copy of the directory of a journal that is open and idle: what a crash leaves (every
  // acknowledged batch synced, the WAL not yet flushed into SSTs).
  std::string CrashImage(int records) {
    auto journal = Open(tmp_.Sub("live"));
    for (int i = 0; i < records; ++i) EXPECT_TRUE(journal->Append(One(i)).ok());
    std::filesystem::copy(tmp_.Sub("live"), tmp_.Sub("image"),
                          std::filesystem::copy_options::recursive);
    return tmp_.Sub("image");
  }
  static std::string NewestWal(const std::string& dir) {
    std::string newest;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".log") && name != "LOG" && entry.path().string() > newest) {
        newest = entry.path().string();
      }
    }
    return newest;
  }
  static void Flip(const std::string& path, uint64_t at) {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    unsigned char byte = 0;
    ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(at)), 1);
    byte ^= 0x20;
    ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(at)), 1);
    ::close(fd);
  }

  testing::TempDir tmp_;
};

TEST_F(JournalFaultModelTest, APowerCutKeepsEverySyncedRecord) {
  auto fs = std::make_shared<FaultFileSystem>();
  auto env = FaultFileSystem::MakeEnv(fs);
  auto journal = Open(tmp_.Sub("j"), env.get());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(journal->Append(One(i)).ok());
  fs->CutPower();
  journal.reset();
  fs->DropUnsyncedData();
  EXPECT_EQ(Open(tmp_.Sub("j"))->LastSequence(), 5u);
}

// AppendAsync calls back only once a batch is synced: with chains of appends in flight, a cut
// inside a WAL sync loses none that was acknowledged (the group being synced fails instead).
TEST_F(JournalFaultModelTest, APowerCutInsideASyncLosesNoAcknowledgedAppendAsync) {
  auto fs = std::make_shared<FaultFileSystem>();
  auto env = FaultFileSystem::MakeEnv(fs);
  auto journal = Open(tmp_.Sub("j"), env.get());
  constexpr int kChains = 8;
  std::mutex mu;
  std::condition_variable cv;
  std::set<uint64_t> acknowledged;  // guarded by mu
  int ended = 0;                    // chains that got an error; guarded by mu
  std::function<void(int)> start = [&](int i) {
    const Status queued = journal->AppendAsync(One(i), [&, i](Result<uint64_t> seq) {
      std::lock_guard lock(mu);
      if (seq.ok()) acknowledged.insert(*seq);
      if (!seq.ok() || fs->powered_off()) {
        ++ended;
        cv.notify_all();
        return;
      }
      start(i + kChains);  // AppendAsync from a callback only queues: no lock is taken twice
    });
    ASSERT_TRUE(queued.ok()) << queued;
  };
  fs->ArmPowerCutAtWalSync(25);
  for (int i = 0; i < kChains; ++i) start(i);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return ended == kChains; }));
  }
  ASSERT_TRUE(fs->powered_off());
  journal.reset();
  fs->DropUnsyncedData();

  auto reopened = Open(tmp_.Sub("j"));
  ASSERT_GT(acknowledged.size(), 0u);
  EXPECT_GE(reopened->LastSequence(), *acknowledged.rbegin());
  std::set<uint64_t> stored;
  ASSERT_TRUE(reopened
                  ->Scan(1, UINT64_MAX,
                         [&](const Record& r) {
                           stored.insert(r.seq);
                           return true;
                         })
                  .ok());
  for (uint64_t seq : acknowledged) EXPECT_TRUE(stored.count(seq)) << "acknowledged " << seq;
}

TEST_F(JournalFaultModelTest, UnderDurabilityNoneAPowerCutLosesAcknowledgedRecords) {
  auto fs = std::make_shared<FaultFileSystem>();
  auto env = FaultFileSystem::MakeEnv(fs);
  auto journal = Open(tmp_.Sub("j"), env.get(), Durability::kNone);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(journal->Append(One(i)).ok());
  fs->CutPower();
  journal.reset();
  drill::DropReport dropped = fs->DropUnsyncedData();
  EXPECT_GT(dropped.bytes_dropped, 0u);
  EXPECT_LT(Open(tmp_.Sub("j"))->LastSequence(), 5u);
}

TEST_F(JournalFaultModelTest, ANewFileWhoseDirectoryWasNeverSyncedDisappearsAtTheCut) {
  auto fs = std::make_shared<FaultFileSystem>();
  const std::string dir = tmp_.path();
  auto write = [&](const std::string& name, bool sync_dir) {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    ASSERT_TRUE(fs->NewWritableFile(dir + "/" + name, rocksdb::FileOptions(), &file, nullptr).ok());
    ASSERT_TRUE(file->Append("data", rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
    if (sync_dir) {
      std::unique_ptr<rocksdb::FSDirectory> directory;
      ASSERT_TRUE(fs->NewDirectory(dir, rocksdb::IOOptions(), &directory, nullptr).ok());
      ASSERT_TRUE(directory->Fsync(rocksdb::IOOptions(), nullptr).ok());
    }
  };
  write("durable", /*sync_dir=*/true);
  write("unnamed", /*sync_dir=*/false);
  fs->CutPower();
  drill::DropReport dropped = fs->DropUnsyncedData();
  EXPECT_EQ(dropped.files_deleted, 1u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/durable"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/unnamed"));
}

TEST_F(JournalFaultModelTest, AWriteTornByACutInsideItsSyncIsDiscarded) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const std::string dir = tmp_.Sub("j" + std::to_string(seed));
    auto fs = std::make_shared<FaultFileSystem>();
    auto env = FaultFileSystem::MakeEnv(fs);
    auto journal = Open(dir, env.get());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(journal->Append(One(i)).ok());
    fs->ArmPowerCutAtWalSync(1);
    EXPECT_EQ(journal->Append(One(5)).status().code(), StatusCode::kUnavailable);
    journal.reset();
    std::mt19937_64 tear(seed);
    fs->DropUnsyncedData(&tear);
    auto reopened = Open(dir);
    ASSERT_NE(reopened, nullptr) << "seed " << seed;
    // The torn batch is discarded whole, or (torn at its very end, nothing garbled) kept whole.
    EXPECT_GE(reopened->LastSequence(), 5u);
    EXPECT_LE(reopened->LastSequence(), 6u);
  }
}

TEST_F(JournalFaultModelTest, DamageBeforeTheLastWalRecordRefusesTheOpen) {
  const std::string image = CrashImage(40);
  const std::string wal = NewestWal(image);
  Flip(wal, std::filesystem::file_size(wal) / 2);
  auto opened = Journal::Open(image, Options{});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("not a torn tail"));
  EXPECT_THAT(opened.status().message(), HasSubstr(std::filesystem::path(wal).filename().string()));
}

TEST_F(JournalFaultModelTest, DamageInTheLastWalRecordIsDiscardedAndReported) {
  const std::string image = CrashImage(40);
  const std::string wal = NewestWal(image);
  Flip(wal, std::filesystem::file_size(wal) - 3);
  auto journal = Open(image);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->LastSequence(), 39u) << "the last batch is gone, as with a torn write";
  ASSERT_TRUE(journal->DiscardedWalTail().has_value());
  EXPECT_THAT(journal->DiscardedWalTail()->what, HasSubstr("torn by a crash, or damage"));
}

TEST_F(JournalFaultModelTest, AnIntactCrashImageOpensWithNothingDiscarded) {
  auto journal = Open(CrashImage(40));
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->LastSequence(), 40u);
  EXPECT_FALSE(journal->DiscardedWalTail().has_value());
}

}  // namespace
}  // namespace burrow::journal
