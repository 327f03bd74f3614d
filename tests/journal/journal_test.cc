#include "journal/journal.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <signal.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "journal/format.h"
#include "tests/journal/journal_test_util.h"

namespace burrow::journal {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::RawDb;
using testing::TempDir;

Batch OneRecord(std::string stream, std::string payload) {
  Batch batch;
  batch.records.push_back({std::move(stream), std::move(payload)});
  return batch;
}

std::unique_ptr<Journal> OpenOrDie(const std::string& dir, Options options = {}) {
  auto journal = Journal::Open(dir, options);
  EXPECT_TRUE(journal.ok()) << journal.status();
  return journal.ok() ? std::move(*journal) : nullptr;
}

Options ReaderOptions(OpenMode mode) {
  Options options;
  options.mode = mode;
  return options;
}

std::vector<Record> ScanAll(const Journal& journal, Status* status = nullptr) {
  std::vector<Record> records;
  Status s = journal.Scan(0, UINT64_MAX, [&](const Record& r) {
    records.push_back(r);
    return true;
  });
  if (status != nullptr) {
    *status = s;
  } else {
    EXPECT_TRUE(s.ok()) << s;
  }
  return records;
}

std::vector<uint64_t> Seqs(const std::vector<Record>& records) {
  std::vector<uint64_t> seqs;
  for (const auto& r : records) seqs.push_back(r.seq);
  return seqs;
}

// Appends `n` single-record batches to `stream` with payloads "<stream>-<i>".
void AppendN(Journal& journal, const std::string& stream, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(journal.Append(OneRecord(stream, stream + "-" + std::to_string(i))).ok());
  }
}

class JournalTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.Sub("journal"); }
  TempDir tmp_;
};

// ---------------------------------------------------------------------------------------------
// Appending and reading

TEST_F(JournalTest, NewJournalIsEmpty) {
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->LastSequence(), 0u);
  EXPECT_EQ(journal->FirstSequence(), 1u);
  EXPECT_TRUE(ScanAll(*journal).empty());
}

TEST_F(JournalTest, AppendAssignsContiguousSequencesFromOne) {
  auto journal = OpenOrDie(Dir());
  Batch batch;
  batch.records = {{"a", "one"}, {"b", "two"}, {"", "three"}};
  auto first = journal->Append(batch);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1u);
  auto next = journal->Append(OneRecord("a", "four"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 4u);
  EXPECT_EQ(journal->LastSequence(), 4u);

  const auto records = ScanAll(*journal);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(Seqs(records), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(records[0].stream, "a");
  EXPECT_EQ(records[0].payload, "one");
  EXPECT_EQ(records[2].stream, "");
  EXPECT_EQ(records[3].payload, "four");
}

TEST_F(JournalTest, BatchWithoutRecordsConsumesNoSequence) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 2);
  Batch empty;
  auto r = journal->Append(empty);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  Batch state_only;
  state_only.state_puts.push_back({"k", "v"});
  r = journal->Append(state_only);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(journal->LastSequence(), 2u);
  EXPECT_EQ(*journal->GetState("k"), "v");
}

TEST_F(JournalTest, BinaryPayloadsAndStreamsSurviveReopen) {
  const std::string payload("\0\x01\xff payload \0", 13);
  const std::string stream("s\0\xfe", 3);
  {
    auto journal = OpenOrDie(Dir());
    ASSERT_TRUE(journal->Append(OneRecord(stream, payload)).ok());
    ASSERT_TRUE(journal->Append(OneRecord("other", std::string(100000, 'z'))).ok());
  }
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->LastSequence(), 2u);
  const auto records = ScanAll(*journal);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].stream, stream);
  EXPECT_EQ(records[0].payload, payload);
  EXPECT_EQ(records[1].payload, std::string(100000, 'z'));
  auto next = journal->Append(OneRecord("a", "x"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 3u);
}

TEST_F(JournalTest, ScanHonoursItsRangeAndStopsWhenTheVisitorSaysSo) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 10);
  std::vector<uint64_t> seen;
  ASSERT_TRUE(journal
                  ->Scan(3, 6,
                         [&](const Record& r) {
                           seen.push_back(r.seq);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 4, 5, 6}));
  seen.clear();
  ASSERT_TRUE(journal
                  ->Scan(2, 100,
                         [&](const Record& r) {
                           seen.push_back(r.seq);
                           return seen.size() < 3;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3, 4}));
  seen.clear();
  ASSERT_TRUE(journal
                  ->Scan(11, 20,
                         [&](const Record& r) {
                           seen.push_back(r.seq);
                           return true;
                         })
                  .ok());
  EXPECT_TRUE(seen.empty());
}

TEST_F(JournalTest, ScanViewsSeesExactlyWhatScanSees) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 4);
  AppendN(*journal, "", 2);  // records without a stream
  AppendN(*journal, "b", 3);
  std::vector<std::tuple<uint64_t, std::string, std::string>> copied;
  std::vector<std::tuple<uint64_t, std::string, std::string>> viewed;
  ASSERT_TRUE(journal
                  ->Scan(2, 8,
                         [&](const Record& r) {
                           copied.emplace_back(r.seq, r.stream, r.payload);
                           return true;
                         })
                  .ok());
  ASSERT_TRUE(journal
                  ->ScanViews(2, 8,
                              [&](const RecordView& r) {
                                viewed.emplace_back(r.seq, r.stream, r.payload);
                                return true;
                              })
                  .ok());
  EXPECT_EQ(copied.size(), 7u);
  EXPECT_EQ(viewed, copied);
  viewed.clear();
  ASSERT_TRUE(journal
                  ->ScanViews(1, 100,
                              [&](const RecordView& r) {
                                viewed.emplace_back(r.seq, r.stream, r.payload);
                                return viewed.size() < 2;
                              })
                  .ok());
  EXPECT_EQ(viewed.size(), 2u);
}

TEST_F(JournalTest, ReadStreamReturnsOnlyThatStreamInOrder) {
  auto journal = OpenOrDie(Dir());
  // Streams that are prefixes of one another, or differ only after a NUL, stay apart.
  const std::vector<std::string> streams = {"a", "ab", std::string("a\0", 2), "b"};
  for (int round = 0; round < 5; ++round) {
    for (const auto& s : streams) {
      ASSERT_TRUE(journal->Append(OneRecord(s, s + "#" + std::to_string(round))).ok());
    }
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    auto records = journal->ReadStream(streams[i], 0, 100);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 5u);
    for (int round = 0; round < 5; ++round) {
      EXPECT_EQ((*records)[round].stream, streams[i]);
      EXPECT_EQ((*records)[round].payload, streams[i] + "#" + std::to_string(round));
      EXPECT_EQ((*records)[round].seq, 1 + i + 4 * static_cast<uint64_t>(round));
    }
  }
  auto from = journal->ReadStream("ab", 7, 2);
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(Seqs(*from), (std::vector<uint64_t>{10, 14}));
  EXPECT_TRUE(journal->ReadStream("nobody", 0, 10)->empty());
  EXPECT_TRUE(journal->ReadStream("a", 0, 0)->empty());
  EXPECT_EQ(journal->ReadStream(std::string(kMaxStreamBytes + 1, 's'), 0, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(JournalTest, StateIsWrittenInTheSameBatchAsRecords) {
  auto journal = OpenOrDie(Dir());
  Batch batch;
  batch.records.push_back({"s", "r"});
  batch.state_puts = {{"inbox/s/1", "m1"}, {"inbox/s/2", "m2"}, {"inbox/t/1", "x"}, {"gone", "1"}};
  ASSERT_TRUE(journal->Append(batch).ok());
  Batch second;
  second.state_puts = {{"gone", "2"}};
  second.state_deletes = {"gone", "never-existed"};  // deletes apply after puts
  ASSERT_TRUE(journal->Append(second).ok());

  EXPECT_EQ(*journal->GetState("inbox/s/2"), "m2");
  EXPECT_EQ(journal->GetState("gone").status().code(), StatusCode::kNotFound);
  std::vector<std::pair<std::string, std::string>> seen;
  ASSERT_TRUE(journal
                  ->ScanState("inbox/s/",
                              [&](std::string_view k, std::string_view v) {
                                seen.emplace_back(k, v);
                                return true;
                              })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"inbox/s/1", "m1"},
                                                                    {"inbox/s/2", "m2"}}));
}

TEST_F(JournalTest, InvalidBatchesAreRefusedAndWriteNothing) {
  auto journal = OpenOrDie(Dir());
  Batch long_stream = OneRecord(std::string(kMaxStreamBytes + 1, 's'), "p");
  EXPECT_EQ(journal->Append(long_stream).status().code(), StatusCode::kInvalidArgument);
  Batch empty_key = OneRecord("s", "p");
  empty_key.state_puts.push_back({"", "v"});
  EXPECT_EQ(journal->Append(empty_key).status().code(), StatusCode::kInvalidArgument);
  Batch empty_delete = OneRecord("s", "p");
  empty_delete.state_deletes.push_back("");
  EXPECT_EQ(journal->Append(empty_delete).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(journal->LastSequence(), 0u);
  EXPECT_TRUE(ScanAll(*journal).empty());
  ASSERT_TRUE(journal->Append(OneRecord(std::string(kMaxStreamBytes, 's'), "p")).ok());
}

// ---------------------------------------------------------------------------------------------
// Group commit

// Each thread appends its own numbered records; afterwards the sequences handed out must be
// exactly 1..N, and each sequence must hold the record whose Append returned it.
void AppendFromThreads(Journal& journal, int threads, int per_thread) {
  std::vector<std::vector<uint64_t>> got(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      got[t].reserve(per_thread);
      for (int i = 0; i < per_thread; ++i) {
        auto seq = journal.Append(OneRecord("t" + std::to_string(t), std::to_string(i)));
        ASSERT_TRUE(seq.ok()) << seq.status();
        got[t].push_back(*seq);
      }
    });
  }
  for (auto& w : workers) w.join();

  const uint64_t total = static_cast<uint64_t>(threads) * per_thread;
  std::vector<std::pair<int, int>> owner(total + 1, {-1, -1});
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < per_thread; ++i) {
      const uint64_t seq = got[t][i];
      ASSERT_GE(seq, 1u);
      ASSERT_LE(seq, total);
      ASSERT_EQ(owner[seq].first, -1) << "sequence " << seq << " handed out twice";
      owner[seq] = {t, i};
      if (i > 0) {
        ASSERT_GT(seq, got[t][i - 1]) << "a thread's appends went backwards";
      }
    }
  }
  EXPECT_EQ(journal.LastSequence(), total);
  uint64_t expected = 1;
  Status s = journal.Scan(1, total, [&](const Record& r) {
    EXPECT_EQ(r.seq, expected);
    EXPECT_EQ(r.stream, "t" + std::to_string(owner[r.seq].first));
    EXPECT_EQ(r.payload, std::to_string(owner[r.seq].second));
    ++expected;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(expected, total + 1);
}

TEST_F(JournalTest, SixteenThreadsTimesTenThousandAppendsAreGapFree) {
  Options options;
  options.durability = Durability::kNone;
  auto journal = OpenOrDie(Dir(), options);
  AppendFromThreads(*journal, 16, 10000);
}

TEST_F(JournalTest, SixteenThreadsOfSyncedAppendsAreGapFreeAndSurviveReopen) {
  {
    auto journal = OpenOrDie(Dir());
    AppendFromThreads(*journal, 16, 40);
  }
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->LastSequence(), 640u);
  EXPECT_EQ(ScanAll(*journal).size(), 640u);
}

// ---------------------------------------------------------------------------------------------
// Crash safety: a writer killed with SIGKILL mid-way loses no acknowledged batch.

struct Ack {
  uint64_t first = 0;
  int n = 0;
  std::string thread;
  std::string batch;
};

// With "sync", 4 threads call Append; with "async", 4 chains of AppendAsync run on the journal's
// completion thread (crash_child.cc).
class KilledWriterTest : public JournalTest, public ::testing::WithParamInterface<const char*> {};

INSTANTIATE_TEST_SUITE_P(AppendAndAppendAsync, KilledWriterTest,
                         ::testing::Values("sync", "async"));

TEST_P(KilledWriterTest, LosesNoAcknowledgedBatchAndLeavesNoPartialOne) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string dir = Dir();
    execl(BURROW_JOURNAL_CRASH_CHILD, BURROW_JOURNAL_CRASH_CHILD, dir.c_str(), "4", GetParam(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);

  std::vector<Ack> acks;
  char line[256];
  bool opened = false;
  bool second_writer_checked = false;
  while (acks.size() < 300 && std::fgets(line, sizeof(line), in) != nullptr) {
    if (std::string(line) == "open\n") {
      opened = true;
      continue;
    }
    Ack ack;
    char thread[32];
    char batch[32];
    ASSERT_EQ(std::sscanf(line, "ack %lu %d %31s %31s", &ack.first, &ack.n, thread, batch), 4)
        << line;
    ack.thread = thread;
    ack.batch = batch;
    acks.push_back(ack);
    if (!second_writer_checked && acks.size() == 20) {
      // The child holds the directory: a second writer (another process) is refused.
      auto second = Journal::Open(Dir(), Options{});
      EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
      EXPECT_THAT(second.status().message(), HasSubstr("another writer holds " + Dir()));
      second_writer_checked = true;
    }
  }
  kill(pid, SIGKILL);
  // Lines already in the pipe were acknowledged before the kill.
  while (std::fgets(line, sizeof(line), in) != nullptr) {
    Ack ack;
    char thread[32];
    char batch[32];
    if (std::sscanf(line, "ack %lu %d %31s %31s", &ack.first, &ack.n, thread, batch) == 4) {
      ack.thread = thread;
      ack.batch = batch;
      acks.push_back(ack);
    }
  }
  std::fclose(in);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(opened) << "the child never opened the journal";
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "the child ended before the kill, status " << wstatus;
  ASSERT_GE(acks.size(), 300u);
  EXPECT_TRUE(second_writer_checked);

  auto journal = OpenOrDie(Dir());
  // Scan verifies checksums and contiguity from 1 to LastSequence().
  const auto records = ScanAll(*journal);
  ASSERT_EQ(records.size(), journal->LastSequence());
  ASSERT_EQ(journal->FirstSequence(), 1u);

  // Every stored batch is complete: its n records are consecutive, r0 .. r(n-1).
  std::map<std::string, uint64_t> batch_first;  // "t1/b7" -> first seq
  for (size_t i = 0; i < records.size();) {
    const std::string& p = records[i].payload;  // t<t>/b<i>/r<j>/<n>
    const auto r_pos = p.find("/r");
    const std::string id = p.substr(0, r_pos);
    const int n = std::stoi(p.substr(p.rfind('/') + 1));
    ASSERT_EQ(p.substr(r_pos), "/r0/" + std::to_string(n)) << "batch starts mid-way at " << i + 1;
    ASSERT_LE(i + n, records.size()) << "partial batch " << id << " at the tail";
    for (int j = 0; j < n; ++j) {
      ASSERT_EQ(records[i + j].payload, id + "/r" + std::to_string(j) + "/" + std::to_string(n));
    }
    batch_first[id] = records[i].seq;
    i += n;
  }
  // Every acknowledged batch is there, at the sequence the child was told.
  for (const Ack& ack : acks) {
    const std::string id = ack.thread + "/" + ack.batch;
    ASSERT_TRUE(batch_first.count(id)) << "acknowledged batch " << id << " was lost";
    EXPECT_EQ(batch_first[id], ack.first) << id;
  }
  // The state written with each batch is there too: at least the last acknowledged one.
  std::map<std::string, int> last_acked;
  for (const Ack& ack : acks) {
    last_acked[ack.thread] = std::max(last_acked[ack.thread], std::stoi(ack.batch.substr(1)));
  }
  for (const auto& [thread, batch] : last_acked) {
    auto state = journal->GetState(thread);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_GE(std::stoi(*state), batch);
  }
}

// ---------------------------------------------------------------------------------------------
// Damage is reported as DataLoss naming the sequence.

class DamageTest : public JournalTest {
 protected:
  void SetUp() override {
    auto journal = OpenOrDie(Dir());
    for (int i = 1; i <= 6; ++i) {
      ASSERT_TRUE(journal->Append(OneRecord(i % 2 ? "odd" : "even", "p" + std::to_string(i))).ok());
    }
  }
};

TEST_F(DamageTest, FlippedByteInARecordIsDataLossNamingItsSequence) {
  {
    RawDb raw(Dir());
    std::string value = raw.Get("records", format::RecordKey(4));
    value[value.size() - 1] ^= 0x20;
    raw.Put("records", format::RecordKey(4), value);
  }
  auto journal = OpenOrDie(Dir());
  Damage damage;
  std::vector<uint64_t> seen;
  Status s = journal->Scan(
      1, 6,
      [&](const Record& r) {
        seen.push_back(r.seq);
        return true;
      },
      &damage);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("record 4"));
  EXPECT_THAT(s.message(), HasSubstr("checksum mismatch"));
  EXPECT_EQ(damage.seq, 4u);
  EXPECT_EQ(damage.key_hex, "0000000000000004");
  EXPECT_EQ(damage.what, "checksum mismatch");
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));  // records before the damage were fine
  Damage viewed_damage;
  Status viewed = journal->ScanViews(
      1, 6, [](const RecordView&) { return true; }, &viewed_damage);
  EXPECT_EQ(viewed.code(), StatusCode::kDataLoss);
  EXPECT_EQ(viewed.message(), s.message());
  EXPECT_EQ(viewed_damage.seq, 4u);

  auto stream = journal->ReadStream("even", 0, 10);
  EXPECT_EQ(stream.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(stream.status().message(), HasSubstr("record 4"));
  auto followed = journal->Follow(2, 0ms, 10);
  EXPECT_EQ(followed.status().code(), StatusCode::kDataLoss);
  // The undamaged stream still reads.
  EXPECT_EQ(journal->ReadStream("odd", 0, 10)->size(), 3u);
}

TEST_F(DamageTest, ScanStoredDescribesEveryDamagedRecordAndGoesOn) {
  {
    RawDb raw(Dir());
    std::string value = raw.Get("records", format::RecordKey(2));
    value[value.size() - 1] ^= 0x20;
    raw.Put("records", format::RecordKey(2), value);
    raw.Delete("records", format::RecordKey(4));
  }
  Options reader;
  reader.mode = OpenMode::kReadOnly;
  auto journal = OpenOrDie(Dir(), reader);
  std::vector<uint64_t> seen;
  std::vector<uint64_t> intact;
  Status s = journal->ScanStored(1, 6, [&](const StoredRecord& stored) {
    seen.push_back(stored.seq);
    EXPECT_EQ(stored.key, format::RecordKey(stored.seq));
    if (stored.intact) {
      intact.push_back(stored.seq);
      EXPECT_EQ(stored.record.payload, "p" + std::to_string(stored.seq));
      EXPECT_EQ(stored.value,
                format::EncodeRecordValue(stored.seq, stored.record.stream, stored.record.payload));
    } else {
      EXPECT_EQ(stored.damage, "checksum mismatch");
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 5, 6}));  // the caller sees the gap at 4
  EXPECT_EQ(intact, (std::vector<uint64_t>{1, 3, 5, 6}));
  // Stops when asked, and honours the range.
  seen.clear();
  Status stopped = journal->ScanStored(3, 5, [&](const StoredRecord& stored) {
    seen.push_back(stored.seq);
    return stored.seq < 3;
  });
  ASSERT_TRUE(stopped.ok()) << stopped;
  EXPECT_EQ(seen, (std::vector<uint64_t>{3}));
}

TEST_F(DamageTest, FlippedByteInTheStreamFieldIsDataLoss) {
  {
    RawDb raw(Dir());
    std::string value = raw.Get("records", format::RecordKey(2));
    value[format::kRecordHeaderBytes] ^= 0x01;  // first byte of the stream
    raw.Put("records", format::RecordKey(2), value);
  }
  auto journal = OpenOrDie(Dir());
  Damage damage;
  EXPECT_EQ(journal
                ->Scan(
                    1, 6, [](const Record&) { return true; }, &damage)
                .code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(damage.seq, 2u);
}

// ScanUnverified hands every value over as stored, damaged or not; VerifyRecord then finds
// exactly what Scan would have.
TEST_F(DamageTest, ScanUnverifiedLeavesTheChecksumToVerifyRecordWhichFindsWhatScanFinds) {
  {
    RawDb raw(Dir());
    std::string value = raw.Get("records", format::RecordKey(4));
    value[value.size() - 1] ^= 0x20;
    raw.Put("records", format::RecordKey(4), value);
  }
  auto journal = OpenOrDie(Dir());
  Damage scan_damage;
  Status scanned = journal->Scan(
      1, 6, [](const Record&) { return true; }, &scan_damage);
  ASSERT_EQ(scanned.code(), StatusCode::kDataLoss);

  std::vector<std::tuple<uint64_t, std::string, std::string>> verified;
  std::vector<uint64_t> seen;
  Status verify_error;
  Damage verify_damage;
  ASSERT_TRUE(journal
                  ->ScanUnverified(1, 6,
                                   [&](const UnverifiedRecord& r) {
                                     seen.push_back(r.seq);
                                     EXPECT_EQ(r.ClaimedStream(), r.seq % 2 ? "odd" : "even");
                                     RecordView view;
                                     Status s = VerifyRecord(r.seq, r.value, view, &verify_damage);
                                     if (!s.ok()) {
                                       verify_error = s;
                                       return true;
                                     }
                                     EXPECT_EQ(
                                         r.ClaimedPayloadOffset(),
                                         static_cast<size_t>(view.payload.data() - r.value.data()));
                                     verified.emplace_back(view.seq, view.stream, view.payload);
                                     return true;
                                   })
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));  // the damaged one included
  EXPECT_EQ(verify_error.code(), StatusCode::kDataLoss);
  EXPECT_EQ(verify_error.message(), scanned.message());
  EXPECT_EQ(verify_damage.seq, 4u);
  EXPECT_EQ(verify_damage.key_hex, scan_damage.key_hex);
  EXPECT_EQ(verify_damage.what, "checksum mismatch");
  ASSERT_EQ(verified.size(), 5u);
  EXPECT_EQ(verified[0], std::make_tuple(uint64_t{1}, std::string("odd"), std::string("p1")));
  EXPECT_EQ(verified[3], std::make_tuple(uint64_t{5}, std::string("odd"), std::string("p5")));
}

TEST_F(DamageTest, ADamagedHeaderClaimsOnlyBytesOfItsValue) {
  {
    RawDb raw(Dir());
    std::string value = raw.Get("records", format::RecordKey(2));
    for (size_t i = format::kCrcBytes; i < format::kRecordHeaderBytes; ++i) value[i] = '\xff';
    raw.Put("records", format::RecordKey(2), value);
    raw.Put("records", format::RecordKey(3), std::string(3, 'x'));  // shorter than a header
  }
  auto journal = OpenOrDie(Dir());
  std::vector<std::string> errors;
  ASSERT_TRUE(journal
                  ->ScanUnverified(2, 3,
                                   [&](const UnverifiedRecord& r) {
                                     const std::string_view claimed = r.ClaimedStream();
                                     if (!claimed.empty()) {
                                       EXPECT_GE(claimed.data(), r.value.data());
                                       EXPECT_LE(claimed.data() + claimed.size(),
                                                 r.value.data() + r.value.size());
                                     }
                                     EXPECT_LE(r.ClaimedPayloadOffset(), r.value.size());
                                     RecordView view;
                                     errors.emplace_back(
                                         VerifyRecord(r.seq, r.value, view).message());
                                     return true;
                                   })
                  .ok());
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], HasSubstr("record 2"));
  EXPECT_THAT(errors[0], HasSubstr("checksum mismatch"));
  EXPECT_THAT(errors[1], HasSubstr("record 3"));
  EXPECT_THAT(errors[1], HasSubstr("too short"));
}

TEST_F(DamageTest, ScanUnverifiedStillFindsGaps) {
  {
    RawDb raw(Dir());
    raw.Delete("records", format::RecordKey(3));
  }
  auto journal = OpenOrDie(Dir());
  Damage damage;
  std::vector<uint64_t> seen;
  Status s = journal->ScanUnverified(
      1, 6,
      [&](const UnverifiedRecord& r) {
        seen.push_back(r.seq);
        return true;
      },
      &damage);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("gap: expected 3, found 4"));
  EXPECT_EQ(damage.seq, 3u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
}

TEST_F(DamageTest, RecordCopiedToAnotherSequenceIsDataLoss) {
  {
    RawDb raw(Dir());
    raw.Put("records", format::RecordKey(5), raw.Get("records", format::RecordKey(3)));
  }
  auto journal = OpenOrDie(Dir());
  Damage damage;
  Status s = journal->Scan(
      1, 6, [](const Record&) { return true; }, &damage);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(damage.seq, 5u);
  EXPECT_EQ(damage.what, "checksum mismatch");
}

TEST_F(DamageTest, MissingRecordIsAGap) {
  {
    RawDb raw(Dir());
    raw.Delete("records", format::RecordKey(3));
  }
  auto journal = OpenOrDie(Dir());
  Damage damage;
  Status s = journal->Scan(
      1, 6, [](const Record&) { return true; }, &damage);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("gap: expected 3, found 4"));
  EXPECT_EQ(damage.seq, 3u);
  EXPECT_EQ(damage.what, "gap: expected 3, found 4");

  // The index of "odd" names 3, which is gone.
  auto stream = journal->ReadStream("odd", 0, 10);
  EXPECT_EQ(stream.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(stream.status().message(), HasSubstr("record 3"));
}

TEST_F(DamageTest, DamagedStateValueIsDataLoss) {
  {
    auto journal = OpenOrDie(Dir());
    Batch batch;
    batch.state_puts.push_back({"inbox/1", "message"});
    ASSERT_TRUE(journal->Append(batch).ok());
  }
  {
    RawDb raw(Dir());
    std::string value = raw.Get("state", "inbox/1");
    value[5] ^= 0x40;
    raw.Put("state", "inbox/1", value);
  }
  auto journal = OpenOrDie(Dir());
  auto state = journal->GetState("inbox/1");
  EXPECT_EQ(state.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(state.status().message(), HasSubstr("checksum mismatch"));
  Status s = journal->ScanState("inbox/", [](std::string_view, std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
}

TEST_F(JournalTest, UnknownFormatVersionIsRefused) {
  OpenOrDie(Dir()).reset();
  {
    RawDb raw(Dir());
    std::string body;
    format::PutFixed32(&body, 2);
    raw.Put("meta", std::string(format::kFormatVersionKey),
            format::EncodeFramedValue(format::kFormatVersionKey, body));
  }
  for (OpenMode mode : {OpenMode::kWriter, OpenMode::kReadOnly, OpenMode::kFollower}) {
    auto journal = Journal::Open(Dir(), ReaderOptions(mode));
    EXPECT_EQ(journal.status().code(), StatusCode::kDataLoss);
    EXPECT_THAT(journal.status().message(), HasSubstr("unknown format version 2"));
  }
}

TEST_F(JournalTest, DamagedFormatVersionIsRefused) {
  OpenOrDie(Dir()).reset();
  {
    RawDb raw(Dir());
    std::string value = raw.Get("meta", std::string(format::kFormatVersionKey));
    value[4] ^= 0x01;
    raw.Put("meta", std::string(format::kFormatVersionKey), value);
  }
  auto journal = Journal::Open(Dir(), Options{});
  EXPECT_EQ(journal.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(journal.status().message(), HasSubstr("damaged meta record format_version"));
}

TEST_F(JournalTest, DirectoryThatIsNotAJournalIsRefused) {
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, Dir(), &db).ok());
    delete db;
  }
  auto journal = Journal::Open(Dir(), Options{});
  EXPECT_EQ(journal.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(journal.status().message(), HasSubstr("not a Burrow journal"));
}

// ---------------------------------------------------------------------------------------------
// Open modes

TEST_F(JournalTest, SecondWriterInTheSameProcessIsRefusedWithUnavailable) {
  auto first = OpenOrDie(Dir());
  auto second = Journal::Open(Dir(), Options{});
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("another writer holds " + Dir()));
  first.reset();
  EXPECT_TRUE(Journal::Open(Dir(), Options{}).ok());
}

TEST_F(JournalTest, MissingJournalIsNotFoundUnlessTheWriterMayCreateIt) {
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kFollower}) {
    EXPECT_EQ(Journal::Open(Dir(), ReaderOptions(mode)).status().code(), StatusCode::kNotFound);
  }
  Options no_create;
  no_create.create_if_missing = false;
  EXPECT_EQ(Journal::Open(Dir(), no_create).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Journal::Open(Dir(), Options{}).ok());
  EXPECT_TRUE(Journal::Open(Dir(), no_create).ok());
}

TEST_F(JournalTest, ReaderModesRefuseEveryWrite) {
  {
    auto journal = OpenOrDie(Dir());
    AppendN(*journal, "a", 3);
  }
  for (OpenMode mode : {OpenMode::kReadOnly, OpenMode::kFollower}) {
    auto journal = OpenOrDie(Dir(), ReaderOptions(mode));
    EXPECT_EQ(journal->Append(OneRecord("a", "x")).status().code(),
              StatusCode::kFailedPrecondition);
    EXPECT_EQ(journal->WriteSnapshot(Snapshot{"a", 1, "s"}).code(),
              StatusCode::kFailedPrecondition);
    EXPECT_EQ(journal->DeleteSnapshots("a").code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(journal->Truncate(2).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(journal->LastSequence(), 3u);
    EXPECT_EQ(ScanAll(*journal).size(), 3u);
  }
  // Nothing was written.
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->LastSequence(), 3u);
  EXPECT_EQ(journal->FirstSequence(), 1u);
}

TEST_F(JournalTest, FollowerSeesALiveWritersRecordsAfterCatchUp) {
  auto writer = OpenOrDie(Dir());
  AppendN(*writer, "a", 5);
  Batch with_state = OneRecord("b", "b-0");
  with_state.state_puts.push_back({"k", "v1"});
  ASSERT_TRUE(writer->Append(with_state).ok());

  auto follower = OpenOrDie(Dir(), ReaderOptions(OpenMode::kFollower));
  auto reader = OpenOrDie(Dir(), ReaderOptions(OpenMode::kReadOnly));
  EXPECT_EQ(follower->LastSequence(), 6u);
  EXPECT_EQ(reader->LastSequence(), 6u);
  EXPECT_EQ(*follower->GetState("k"), "v1");

  AppendN(*writer, "a", 4);
  Batch more_state;
  more_state.state_puts.push_back({"k", "v2"});
  ASSERT_TRUE(writer->Append(more_state).ok());
  EXPECT_EQ(follower->LastSequence(), 6u);  // a view until CatchUp
  ASSERT_TRUE(follower->CatchUp().ok());
  EXPECT_EQ(follower->LastSequence(), 10u);
  EXPECT_EQ(Seqs(ScanAll(*follower)), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(follower->ReadStream("a", 0, 100)->size(), 9u);
  EXPECT_EQ(*follower->GetState("k"), "v2");

  // The read-only journal keeps its view as of open.
  EXPECT_EQ(reader->CatchUp().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(reader->LastSequence(), 6u);
  EXPECT_EQ(ScanAll(*reader).size(), 6u);
  EXPECT_EQ(*reader->GetState("k"), "v1");
}

TEST_F(JournalTest, FollowerFollowsALiveWriter) {
  auto writer = OpenOrDie(Dir());
  AppendN(*writer, "a", 2);
  auto follower = OpenOrDie(Dir(), ReaderOptions(OpenMode::kFollower));
  std::thread appender([&] {
    std::this_thread::sleep_for(50ms);
    AppendN(*writer, "a", 3);
  });
  auto records = follower->Follow(2, 10s, 100);
  appender.join();
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_FALSE(records->empty());
  EXPECT_EQ(records->front().seq, 3u);
  EXPECT_EQ(records->front().payload, "a-0");
}

// ---------------------------------------------------------------------------------------------
// Follow (writer mode)

TEST_F(JournalTest, FollowSeesRecordsAppendedByAnotherThread) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 3);
  std::thread appender([&] {
    std::this_thread::sleep_for(30ms);
    Batch batch;
    batch.records = {{"b", "x"}, {"b", "y"}};
    ASSERT_TRUE(journal->Append(batch).ok());
  });
  auto records = journal->Follow(3, 10s, 100);
  appender.join();
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(Seqs(*records), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ((*records)[1].payload, "y");
}

TEST_F(JournalTest, FollowReturnsExistingRecordsAtOnceAndHonoursTheLimit) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 10);
  const auto start = std::chrono::steady_clock::now();
  auto records = journal->Follow(4, 10s, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(Seqs(*records), (std::vector<uint64_t>{5, 6, 7}));
}

TEST_F(JournalTest, FollowTimesOutWithNothing) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 2);
  const auto start = std::chrono::steady_clock::now();
  auto records = journal->Follow(2, 50ms, 10);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

// ---------------------------------------------------------------------------------------------
// Snapshots

TEST_F(JournalTest, SnapshotsAreReadBackNewestFirstAndOnlyTwoAreKept) {
  {
    auto journal = OpenOrDie(Dir());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 10, "at-10"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"t", 12, "t-at-12"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 20, "at-20"}).ok());
    auto two = journal->Snapshots("s");
    ASSERT_TRUE(two.ok());
    ASSERT_EQ(two->size(), 2u);
    EXPECT_EQ((*two)[0].covered_seq, 20u);
    EXPECT_EQ((*two)[0].payload, "at-20");
    EXPECT_EQ((*two)[1].covered_seq, 10u);
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 30, "at-30"}).ok());
    // Replacing one with the same covered_seq keeps two.
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 30, "at-30-again"}).ok());
  }
  auto journal = OpenOrDie(Dir());
  auto snapshots = journal->Snapshots("s");
  ASSERT_TRUE(snapshots.ok());
  ASSERT_EQ(snapshots->size(), 2u);
  EXPECT_EQ((*snapshots)[0].covered_seq, 30u);
  EXPECT_EQ((*snapshots)[0].payload, "at-30-again");
  EXPECT_EQ((*snapshots)[0].stream, "s");
  EXPECT_EQ((*snapshots)[1].covered_seq, 20u);
  EXPECT_EQ(journal->Snapshots("t")->size(), 1u);
  EXPECT_TRUE(journal->Snapshots("nobody")->empty());
  journal.reset();
  RawDb raw(Dir());
  EXPECT_EQ(raw.Keys("snapshots").size(), 3u);  // s@20, s@30, t@12: the rest is deleted
}

TEST_F(JournalTest, SnapshotOlderThanTheTwoKeptIsNotStored) {
  auto journal = OpenOrDie(Dir());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 20, "a"}).ok());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 30, "b"}).ok());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 5, "old"}).ok());
  auto snapshots = journal->Snapshots("s");
  ASSERT_EQ(snapshots->size(), 2u);
  EXPECT_EQ((*snapshots)[0].covered_seq, 30u);
  EXPECT_EQ((*snapshots)[1].covered_seq, 20u);
}

TEST_F(JournalTest, WriteSnapshotsStoresManyStreamsInOneWrite) {
  {
    auto journal = OpenOrDie(Dir());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"a", 1, "a1"}).ok());
    ASSERT_TRUE(journal
                    ->WriteSnapshots({Snapshot{"a", 5, "a5"}, Snapshot{"b", 2, "b2"},
                                      Snapshot{"a", 7, "a7"}, Snapshot{"c", 3, "first"},
                                      Snapshot{"c", 3, "second"}})
                    .ok());
    // One invalid snapshot: nothing of the call is written.
    EXPECT_EQ(journal
                  ->WriteSnapshots({Snapshot{"d", 1, "d1"},
                                    Snapshot{std::string(kMaxStreamBytes + 1, 'x'), 1, ""}})
                  .code(),
              StatusCode::kInvalidArgument);
    ASSERT_TRUE(journal->WriteSnapshots({}).ok());
  }
  auto journal = OpenOrDie(Dir());
  auto a = journal->Snapshots("a");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u);  // a@7 and a@5 are the two newest; a@1 is gone
  EXPECT_EQ((*a)[0].payload, "a7");
  EXPECT_EQ((*a)[1].payload, "a5");
  EXPECT_EQ(journal->Snapshots("b")->at(0).payload, "b2");
  ASSERT_EQ(journal->Snapshots("c")->size(), 1u);
  EXPECT_EQ(journal->Snapshots("c")->at(0).payload, "second");
  EXPECT_TRUE(journal->Snapshots("d")->empty());
  journal.reset();
  RawDb raw(Dir());
  EXPECT_EQ(raw.Keys("snapshots").size(), 4u);
}

TEST_F(JournalTest, DamagedSnapshotIsSkippedAndReported) {
  {
    auto journal = OpenOrDie(Dir());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 10, "older"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 20, "newer"}).ok());
  }
  {
    RawDb raw(Dir());
    const std::string key = format::StreamKey("s", 20);
    std::string value = raw.Get("snapshots", key);
    value.back() ^= 0x01;
    raw.Put("snapshots", key, value);
  }
  auto journal = OpenOrDie(Dir());
  std::vector<Damage> damaged;
  auto snapshots = journal->Snapshots("s", &damaged);
  ASSERT_TRUE(snapshots.ok()) << snapshots.status();
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ((*snapshots)[0].covered_seq, 10u);
  EXPECT_EQ((*snapshots)[0].payload, "older");
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_EQ(damaged[0].seq, 20u);
  EXPECT_EQ(damaged[0].key_hex, format::Hex(format::StreamKey("s", 20)));
  EXPECT_THAT(damaged[0].what, HasSubstr("checksum mismatch"));

  // The next snapshot keeps the newest *valid* older one and drops the damaged one.
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 30, "newest"}).ok());
  damaged.clear();
  snapshots = journal->Snapshots("s", &damaged);
  ASSERT_EQ(snapshots->size(), 2u);
  EXPECT_EQ((*snapshots)[0].covered_seq, 30u);
  EXPECT_EQ((*snapshots)[1].covered_seq, 10u);
  EXPECT_TRUE(damaged.empty());
}

TEST_F(JournalTest, ScanSnapshotsGivesEveryStreamWhatSnapshotsGives) {
  {
    auto journal = OpenOrDie(Dir());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 10, "older"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"s", 20, "newer"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"a", 3, "a3"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"a", 5, "a5"}).ok());
    ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"bb", 7, "b7"}).ok());
  }
  {
    RawDb raw(Dir());
    const std::string key = format::StreamKey("s", 20);
    std::string value = raw.Get("snapshots", key);
    value.back() ^= 0x01;
    raw.Put("snapshots", key, value);
  }
  auto journal = OpenOrDie(Dir());
  std::vector<std::string> order;
  int streams = 0;
  ASSERT_TRUE(journal
                  ->ScanSnapshots([&](std::string_view stream, std::vector<Snapshot>& snapshots,
                                      std::vector<Damage>& damaged) {
                    ++streams;
                    order.emplace_back(stream);
                    std::vector<Damage> expected_damage;
                    auto expected = journal->Snapshots(stream, &expected_damage);
                    EXPECT_TRUE(expected.ok());
                    EXPECT_EQ(snapshots.size(), expected->size()) << stream;
                    for (size_t i = 0; i < snapshots.size() && i < expected->size(); ++i) {
                      EXPECT_EQ(snapshots[i].stream, (*expected)[i].stream);
                      EXPECT_EQ(snapshots[i].covered_seq, (*expected)[i].covered_seq);
                      EXPECT_EQ(snapshots[i].payload, (*expected)[i].payload);
                    }
                    EXPECT_EQ(damaged.size(), expected_damage.size()) << stream;
                    for (size_t i = 0; i < damaged.size() && i < expected_damage.size(); ++i) {
                      EXPECT_EQ(damaged[i].seq, expected_damage[i].seq);
                      EXPECT_EQ(damaged[i].key_hex, expected_damage[i].key_hex);
                      EXPECT_EQ(damaged[i].what, expected_damage[i].what);
                    }
                    return true;
                  })
                  .ok());
  EXPECT_EQ(order, (std::vector<std::string>{"a", "s", "bb"}));
  // It stops when told to.
  streams = 0;
  ASSERT_TRUE(journal
                  ->ScanSnapshots([&](std::string_view, std::vector<Snapshot>&,
                                      std::vector<Damage>&) { return ++streams < 2; })
                  .ok());
  EXPECT_EQ(streams, 2);
}

TEST_F(JournalTest, SnapshotHeadsNameEachStreamsNewestAndDeleteRemovesAStream) {
  auto journal = OpenOrDie(Dir());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"a", 3, "x"}).ok());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"a", 9, "x"}).ok());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"bb", 4, "x"}).ok());
  ASSERT_TRUE(journal->WriteSnapshot(Snapshot{"c", 1, "x"}).ok());
  std::map<std::string, uint64_t> heads;
  ASSERT_TRUE(journal
                  ->ScanSnapshotHeads([&](std::string_view stream, uint64_t seq) {
                    heads[std::string(stream)] = seq;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(heads, (std::map<std::string, uint64_t>{{"a", 9}, {"bb", 4}, {"c", 1}}));

  ASSERT_TRUE(journal->DeleteSnapshots("a").ok());
  EXPECT_TRUE(journal->Snapshots("a")->empty());
  heads.clear();
  int visits = 0;
  ASSERT_TRUE(journal
                  ->ScanSnapshotHeads([&](std::string_view stream, uint64_t seq) {
                    heads[std::string(stream)] = seq;
                    return ++visits < 1;  // stop after the first
                  })
                  .ok());
  EXPECT_EQ(visits, 1);
  EXPECT_EQ(heads.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Truncation

TEST_F(JournalTest, TruncateDeletesOlderRecordsDurably) {
  {
    auto journal = OpenOrDie(Dir());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(journal->Append(OneRecord(i % 2 ? "odd" : "even", std::to_string(i + 1))).ok());
    }
    ASSERT_TRUE(journal->Truncate(6).ok());
    EXPECT_EQ(journal->FirstSequence(), 6u);
    EXPECT_EQ(Seqs(ScanAll(*journal)), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
    EXPECT_EQ(Seqs(*journal->ReadStream("odd", 0, 100)), (std::vector<uint64_t>{6, 8, 10}));
    ASSERT_TRUE(journal->Truncate(3).ok());  // below FirstSequence: nothing to do
    EXPECT_EQ(journal->FirstSequence(), 6u);
  }
  {
    // The stream index entries went with the records.
    RawDb raw(Dir());
    EXPECT_EQ(raw.Keys("streams").size(), 5u);
    EXPECT_EQ(raw.Keys("records").size(), 5u);
  }
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->FirstSequence(), 6u);
  EXPECT_EQ(journal->LastSequence(), 10u);
  EXPECT_EQ(Seqs(ScanAll(*journal)), (std::vector<uint64_t>{6, 7, 8, 9, 10}));
  EXPECT_EQ(Seqs(*journal->ReadStream("even", 0, 100)), (std::vector<uint64_t>{7, 9}));
  auto next = journal->Append(OneRecord("odd", "11"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 11u);
}

// Truncate's range tombstones on the stream index and the index's memtable insert hints must
// stay apart (journal.cc, StreamHintPrefix): RocksDB 7.8.3 asserts, or corrupts its skip list,
// when a hint meant for one list steers an insert into the other. Appends, truncations and
// more appends to the same streams, in one memtable, then every stream read back.
TEST_F(JournalTest, AppendsAfterTruncationKeepTheStreamIndexIntact) {
  auto journal = OpenOrDie(Dir());
  const std::vector<std::string> streams = {"a", "b", "c", "d"};
  std::map<std::string, std::vector<uint64_t>> expected;
  uint64_t seq = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 40; ++i) {
      const std::string& stream = streams[(i * 7 + round) % streams.size()];
      auto appended = journal->Append(OneRecord(stream, std::to_string(i)));
      ASSERT_TRUE(appended.ok()) << appended.status();
      seq = *appended;
      expected[stream].push_back(seq);
    }
    const uint64_t below = seq - 10;
    ASSERT_TRUE(journal->Truncate(below).ok());
    for (auto& [stream, seqs] : expected)
      std::erase_if(seqs, [&](uint64_t s) { return s < below; });
  }
  for (const std::string& stream : streams) {
    EXPECT_EQ(Seqs(*journal->ReadStream(stream, 0, seq)), expected[stream]) << stream;
  }
}

TEST_F(JournalTest, TruncatingEverythingNeverReusesSequences) {
  {
    auto journal = OpenOrDie(Dir());
    AppendN(*journal, "a", 4);
    EXPECT_EQ(journal->Truncate(6).code(), StatusCode::kInvalidArgument);
    ASSERT_TRUE(journal->Truncate(5).ok());
    EXPECT_EQ(journal->FirstSequence(), 5u);
    EXPECT_EQ(journal->LastSequence(), 4u);
    EXPECT_TRUE(ScanAll(*journal).empty());
  }
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->FirstSequence(), 5u);
  EXPECT_EQ(journal->LastSequence(), 4u);
  auto next = journal->Append(OneRecord("a", "again"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 5u);
  EXPECT_EQ(Seqs(ScanAll(*journal)), (std::vector<uint64_t>{5}));
}

TEST_F(JournalTest, FollowerSeesATruncation) {
  auto writer = OpenOrDie(Dir());
  AppendN(*writer, "a", 6);
  auto follower = OpenOrDie(Dir(), ReaderOptions(OpenMode::kFollower));
  ASSERT_TRUE(writer->Truncate(4).ok());
  ASSERT_TRUE(follower->CatchUp().ok());
  EXPECT_EQ(follower->FirstSequence(), 4u);
  EXPECT_EQ(Seqs(ScanAll(*follower)), (std::vector<uint64_t>{4, 5, 6}));
}

// ---------------------------------------------------------------------------------------------
// Failures

TEST_F(JournalTest, FailNextAppendsReturnsUnavailableAndWritesNothing) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 2);
  journal->FailNextAppends(2);
  Batch batch = OneRecord("a", "lost");
  batch.state_puts.push_back({"k", "v"});
  EXPECT_EQ(journal->Append(batch).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(journal->Append(batch).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(journal->LastSequence(), 2u);
  EXPECT_EQ(journal->GetState("k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ScanAll(*journal).size(), 2u);
  auto next = journal->Append(OneRecord("a", "kept"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 3u);  // no sequence was consumed
}

// A file system whose WAL writes fail while armed.
class FailingWalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FailingWalFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
      : FileSystemWrapper(base) {}
  const char* Name() const override { return "FailingWalFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok() && name.size() > 4 && name.substr(name.size() - 4) == ".log") {
      *result = std::make_unique<File>(std::move(*result), &armed);
    }
    return s;
  }

  std::atomic<bool> armed{false};

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, std::atomic<bool>* armed)
        : FSWritableFileOwnerWrapper(std::move(file)), armed_(armed) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (*armed_) return rocksdb::IOStatus::IOError("injected WAL write failure");
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (*armed_) return rocksdb::IOStatus::IOError("injected WAL write failure");
      return target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (*armed_) return rocksdb::IOStatus::IOError("injected WAL sync failure");
      return target()->Sync(options, dbg);
    }

   private:
    std::atomic<bool>* armed_;
  };
};

// A journal over a FailingWalFileSystem (not yet armed) that holds records 1..3.
struct FailingWalJournal {
  explicit FailingWalJournal(const std::string& dir) {
    Options options;
    options.env = env.get();
    journal = OpenOrDie(dir, options);
    AppendN(*journal, "a", 3);
  }
  std::shared_ptr<FailingWalFileSystem> fs =
      std::make_shared<FailingWalFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  std::unique_ptr<Journal> journal;  // closed before the Env it uses
};

TEST_F(JournalTest, FailedWriteIsUnavailableAppliesNothingAndTheJournalCarriesOn) {
  {
    FailingWalJournal failing(Dir());
    auto& journal = failing.journal;
    auto& fs = failing.fs;
    fs->armed = true;
    Batch batch = OneRecord("a", "lost");
    batch.state_puts.push_back({"k", "v"});
    auto failed = journal->Append(batch);
    EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
    // Nothing of it is visible, and while the disk keeps failing so do appends.
    EXPECT_EQ(journal->LastSequence(), 3u);
    EXPECT_EQ(journal->GetState("k").status().code(), StatusCode::kNotFound);
    EXPECT_EQ(ScanAll(*journal).size(), 3u);
    EXPECT_EQ(journal->Append(OneRecord("a", "still failing")).status().code(),
              StatusCode::kUnavailable);
    // Once the disk works again the journal reopens itself and goes on from the acknowledged
    // sequence (journal_write_failure_test.cc covers a failed write whose bytes landed).
    fs->armed = false;
    auto next = journal->Append(OneRecord("a", "after"));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(*next, 4u);
    EXPECT_EQ(journal->GetState("k").status().code(), StatusCode::kNotFound);
  }
  auto journal = OpenOrDie(Dir());
  EXPECT_EQ(journal->LastSequence(), 4u);
  EXPECT_EQ(journal->GetState("k").status().code(), StatusCode::kNotFound);
  auto next = journal->Append(OneRecord("a", "after reopen"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 5u);
}

// ---------------------------------------------------------------------------------------------
// AppendAsync: Append's promises, without a blocked caller.

// Collects AppendAsync completions in the order they come.
class Completions {
 public:
  struct Done {
    int id;
    Result<uint64_t> result;
  };
  // A callback that records `id`'s result.
  Journal::AppendCallback For(int id) {
    return [this, id](Result<uint64_t> result) {
      std::lock_guard lock(mu_);
      done_.push_back({id, std::move(result)});
      cv_.notify_all();
    };
  }
  // The completions once there are `n` of them (or after 20 s, however many came).
  std::vector<Done> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 20s, [&] { return done_.size() >= n; });
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Done> done_;
};

TEST_F(JournalTest, AppendAsyncSequencesBatchesInCallOrderAndCompletesEachOnceInThatOrder) {
  auto journal = OpenOrDie(Dir());
  AppendN(*journal, "a", 2);
  Completions completions;
  std::vector<uint64_t> expected;  // what Append would have returned for each batch
  uint64_t next = 3;
  for (int i = 0; i < 200; ++i) {
    Batch batch;
    const int n = i % 4;  // every fourth batch has no records
    for (int j = 0; j < n; ++j)
      batch.records.push_back({"b", std::to_string(i) + "/" + std::to_string(j)});
    batch.state_puts.push_back({"last", std::to_string(i)});
    expected.push_back(n == 0 ? next - 1 : next);
    next += n;
    ASSERT_TRUE(journal->AppendAsync(std::move(batch), completions.For(i)).ok());
  }
  const auto done = completions.WaitFor(200);
  ASSERT_EQ(done.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(done[i].id, i) << "completions out of order";
    ASSERT_TRUE(done[i].result.ok()) << done[i].result.status();
    EXPECT_EQ(*done[i].result, expected[i]) << "batch " << i;
  }
  EXPECT_EQ(journal->LastSequence(), next - 1);
  EXPECT_EQ(*journal->GetState("last"), "199");
  const auto records = ScanAll(*journal);
  ASSERT_EQ(records.size(), next - 1);
  EXPECT_EQ(records[2].payload, "1/0");  // batch 0 had no records
  EXPECT_EQ(records.back().payload, "199/2");
  // Nothing was left queued: the count above stays after a reopen.
  journal.reset();
  EXPECT_EQ(OpenOrDie(Dir())->LastSequence(), next - 1);
}

TEST_F(JournalTest, AppendAsyncIsRefusedAtOnceWithoutACallback) {
  Completions completions;
  {
    auto journal = OpenOrDie(Dir());
    Batch too_long = OneRecord(std::string(kMaxStreamBytes + 1, 's'), "x");
    EXPECT_EQ(journal->AppendAsync(too_long, completions.For(1)).code(),
              StatusCode::kInvalidArgument);
    Batch empty_key;
    empty_key.state_puts.push_back({"", "v"});
    EXPECT_EQ(journal->AppendAsync(empty_key, completions.For(2)).code(),
              StatusCode::kInvalidArgument);
    journal->FailNextAppends(1);
    EXPECT_EQ(journal->AppendAsync(OneRecord("a", "x"), completions.For(3)).code(),
              StatusCode::kUnavailable);
    ASSERT_TRUE(journal->AppendAsync(OneRecord("a", "kept"), completions.For(4)).ok());
    const auto done = completions.WaitFor(1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].id, 4);
    EXPECT_EQ(*done[0].result, 1u);  // the refused ones consumed no sequence
  }
  auto reader = OpenOrDie(Dir(), ReaderOptions(OpenMode::kReadOnly));
  EXPECT_EQ(reader->AppendAsync(OneRecord("a", "x"), completions.For(5)).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(reader->LastSequence(), 1u);
  EXPECT_EQ(completions.WaitFor(0).size(), 1u);
}

// Chains of appends, each started by the previous one's callback (an event loop's shape), next
// to threads calling Append: one gap-free sequence, and each chain's appends in its own order.
TEST_F(JournalTest, AppendAsyncChainsAndAppendThreadsShareOneGapFreeSequence) {
  Options options;
  options.durability = Durability::kNone;
  auto journal = OpenOrDie(Dir(), options);
  constexpr int kChains = 64;
  constexpr int kThreads = 4;
  constexpr int kPerProducer = 200;
  std::mutex mu;
  std::condition_variable cv;
  int chains_done = 0;
  std::vector<std::vector<uint64_t>> got(kChains + kThreads);
  std::function<void(int, int)> start = [&](int chain, int i) {
    const Status queued =
        journal->AppendAsync(OneRecord("c" + std::to_string(chain), std::to_string(i)),
                             [&, chain, i](Result<uint64_t> seq) {
                               ASSERT_TRUE(seq.ok()) << seq.status();
                               got[chain].push_back(*seq);
                               if (i + 1 < kPerProducer) return start(chain, i + 1);
                               std::lock_guard lock(mu);
                               ++chains_done;
                               cv.notify_all();
                             });
    ASSERT_TRUE(queued.ok()) << queued;
  };
  for (int c = 0; c < kChains; ++c) start(c, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerProducer; ++i) {
        auto seq = journal->Append(OneRecord("t" + std::to_string(t), std::to_string(i)));
        ASSERT_TRUE(seq.ok()) << seq.status();
        got[kChains + t].push_back(*seq);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return chains_done == kChains; }));
  }

  const uint64_t total = (kChains + kThreads) * kPerProducer;
  EXPECT_EQ(journal->LastSequence(), total);
  std::vector<std::pair<size_t, int>> owner(total + 1, {SIZE_MAX, -1});
  for (size_t p = 0; p < got.size(); ++p) {
    ASSERT_EQ(got[p].size(), static_cast<size_t>(kPerProducer)) << "producer " << p;
    for (int i = 0; i < kPerProducer; ++i) {
      const uint64_t seq = got[p][i];
      ASSERT_TRUE(seq >= 1 && seq <= total) << seq;
      ASSERT_EQ(owner[seq].second, -1) << "sequence " << seq << " handed out twice";
      owner[seq] = {p, i};
      if (i > 0) {
        ASSERT_GT(seq, got[p][i - 1]) << "producer " << p << " went backwards";
      }
    }
  }
  // Each sequence holds the record whose append was told it.
  Status s = journal->Scan(1, total, [&](const Record& r) {
    const auto [p, i] = owner[r.seq];
    EXPECT_EQ(r.payload, std::to_string(i)) << "sequence " << r.seq;
    EXPECT_EQ(r.stream, p < kChains ? "c" + std::to_string(p) : "t" + std::to_string(p - kChains));
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST_F(JournalTest, ClosingTheJournalCompletesEveryQueuedAppendAsyncAndRefusesNewOnes) {
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::atomic<int> completed{0};
  std::atomic<int> failed{0};
  std::unique_ptr<Journal> journal = OpenOrDie(Dir());
  Journal* const raw = journal.get();
  // Every callback queues another append until the journal refuses it: closing must end the
  // chains, not wait for them forever.
  std::function<void()> queue_one = [&] {
    const Status queued = raw->AppendAsync(OneRecord("a", "x"), [&](Result<uint64_t> seq) {
      ++completed;
      if (!seq.ok()) ++failed;
      queue_one();  // during the close below too: refused, Unavailable
    });
    if (queued.ok()) {
      ++accepted;
    } else {
      EXPECT_EQ(queued.code(), StatusCode::kUnavailable) << queued;
      ++refused;
    }
  };
  for (int i = 0; i < 100; ++i) queue_one();
  journal.reset();

  EXPECT_EQ(completed.load(), accepted.load()) << "every accepted append completes exactly once";
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(refused.load(), 100) << "each chain ends with one refusal";
  auto reopened = OpenOrDie(Dir());
  EXPECT_EQ(reopened->LastSequence(), static_cast<uint64_t>(accepted.load()));
}

TEST_F(JournalTest, FailedWriteFailsItsAppendAsyncCallsAndTheJournalCarriesOn) {
  FailingWalJournal failing(Dir());
  auto& journal = failing.journal;
  auto& fs = failing.fs;
  fs->armed = true;
  Completions completions;
  Batch batch = OneRecord("a", "lost");
  batch.state_puts.push_back({"k", "v"});
  ASSERT_TRUE(journal->AppendAsync(batch, completions.For(1)).ok());
  auto done = completions.WaitFor(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].result.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(journal->LastSequence(), 3u);
  EXPECT_EQ(journal->GetState("k").status().code(), StatusCode::kNotFound);
  fs->armed = false;
  ASSERT_TRUE(journal->AppendAsync(OneRecord("a", "after"), completions.For(2)).ok());
  done = completions.WaitFor(2);
  ASSERT_EQ(done.size(), 2u);
  ASSERT_TRUE(done[1].result.ok()) << done[1].result.status();
  EXPECT_EQ(*done[1].result, 4u);
  EXPECT_EQ(Seqs(ScanAll(*journal)), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(JournalTest, DurabilityNoneLogsAWarning) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  Options options;
  options.durability = Durability::kNone;
  options.logger = std::make_shared<spdlog::logger>("test", sink);
  auto journal = OpenOrDie(Dir(), options);
  EXPECT_THAT(out.str(), HasSubstr("[warning]"));
  EXPECT_THAT(out.str(), HasSubstr("durability none"));
}

}  // namespace
}  // namespace burrow::journal
