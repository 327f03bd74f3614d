// tools/inspect/ (`burrow journal`'s logic) against journals written by the real engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "recovery/recovery.h"
#include "schema/codec.h"
#include "tests/journal/journal_test_util.h"
#include "tests/tools/journal_inspect_test_util.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::EngineJournal;
using ::testing::HasSubstr;
using testing::SteppingClock;

std::unique_ptr<journal::Journal> Reader(const std::string& dir, bool follower = false) {
  auto opened = OpenReader(dir, follower);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

std::vector<Entry> SelectAll(const journal::Journal& journal, const SelectOptions& options) {
  std::vector<Entry> out;
  auto summary = Select(journal, options, [&](const Entry& e) { out.push_back(e); });
  EXPECT_TRUE(summary.ok()) << summary.status();
  return out;
}

std::vector<uint64_t> Seqs(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.seq);
  return out;
}

// Every decoded record, for computing expectations independently of the filters under test.
std::vector<schema::RecordEnvelope> AllRecords(const journal::Journal& journal) {
  std::vector<schema::RecordEnvelope> out;
  Status s =
      journal.Scan(journal.FirstSequence(), journal.LastSequence(), [&](const journal::Record& r) {
        auto decoded = schema::DecodeRecord(r.seq, r.payload);
        EXPECT_TRUE(decoded.ok()) << decoded.status();
        if (decoded.ok()) out.push_back(*decoded);
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

bool HasProblem(const VerifyReport& report, uint64_t seq, const std::string& what) {
  for (const Problem& p : report.problems) {
    if (p.seq == seq && p.what.find(what) != std::string::npos) return true;
  }
  return false;
}

std::string ReportText(const VerifyReport& report) { return VerifyReportText(report); }

class JournalInspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_.Start();
    engine_.RunWorkload();
  }
  EngineJournal engine_;
};

// ---------------------------------------------------------------------------------------------
// Opening

TEST(OpenReaderTest, MissingDirectoryIsNotFoundAndIsNotCreated) {
  journal::testing::TempDir temp;
  auto opened = OpenReader(temp.Sub("nope"), false);
  EXPECT_EQ(opened.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(opened.status().message(), HasSubstr("no directory"));
  EXPECT_FALSE(std::filesystem::exists(temp.Sub("nope")));
}

TEST(OpenReaderTest, DirectoryWithoutAJournalIsNotFound) {
  journal::testing::TempDir temp;
  auto opened = OpenReader(temp.path(), false);
  EXPECT_EQ(opened.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(opened.status().message(), HasSubstr("holds no journal"));
  EXPECT_TRUE(std::filesystem::is_empty(temp.path()));
}

TEST(OpenReaderTest, AFileIsInvalidArgument) {
  journal::testing::TempDir temp;
  std::ofstream(temp.Sub("file")) << "x";
  EXPECT_EQ(OpenReader(temp.Sub("file"), false).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Time and kind parsing

TEST(ParseTimeTest, AcceptsRfc3339AndUnixMicros) {
  constexpr int64_t kStart = SteppingClock::kStartUs;  // 2025-11-24T16:00:00Z
  EXPECT_EQ(ParseTime("2025-11-24T16:00:00Z").value(), kStart);
  EXPECT_EQ(ParseTime("2025-11-24t16:00:00.25z").value(), kStart + 250'000);
  EXPECT_EQ(ParseTime("2025-11-24T17:00:00.000001+01:00").value(), kStart + 1);
  EXPECT_EQ(ParseTime("2025-11-24T15:30:00-00:30").value(), kStart);
  EXPECT_EQ(ParseTime("2025-11-24").value(), kStart - 16 * 3600 * int64_t{1'000'000});
  EXPECT_EQ(ParseTime("1764000000000000").value(), kStart);
  EXPECT_EQ(FormatTime(kStart + 5), "2025-11-24T16:00:00.000005Z");
}

TEST(ParseTimeTest, RefusesAnythingElse) {
  for (const char* bad : {"", "yesterday", "2025-11-24T16:00", "2025-13-01", "2025-11-24T16:00:00",
                          "2025-11-24T16:00:00Zjunk", "-5", "12345678901234567890"}) {
    EXPECT_EQ(ParseTime(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseKindTest, AnyCaseGivesTheCanonicalName) {
  EXPECT_EQ(ParseRecordKind("inboxappended").value(), "InboxAppended");
  EXPECT_EQ(ParseInputKind("spawndrain").value(), machine::InputKind::kSpawnDrain);
  EXPECT_EQ(ParseRecordKind("Nope").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseInputKind("Nope").status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// show: filters

TEST_F(JournalInspectTest, ReaderOnALiveHostsDirectorySeesEveryRecord) {
  auto reader = Reader(engine_.dir());
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->LastSequence(), engine_.writer().LastSequence());
  auto all = SelectAll(*reader, {});
  EXPECT_EQ(all.size(), reader->LastSequence() - reader->FirstSequence() + 1);
  for (const Entry& e : all) EXPECT_TRUE(e.envelope.has_value()) << e.damage;
}

TEST_F(JournalInspectTest, FiltersCombineWithAnd) {
  auto reader = Reader(engine_.dir());
  const auto records = AllRecords(*reader);

  SelectOptions options;
  options.filter.sessions = {"s2"};
  options.filter.kinds = {"Transition"};
  std::vector<uint64_t> expected;
  for (const auto& r : records) {
    if (r.session_id == "s2" && std::holds_alternative<schema::TransitionRecord>(r.payload)) {
      expected.push_back(r.seq);
    }
  }
  ASSERT_GE(expected.size(), 4u);
  EXPECT_EQ(Seqs(SelectAll(*reader, options)), expected);

  // Narrowed further by a sequence range: the intersection.
  options.filter.from_seq = expected[1];
  options.filter.to_seq = expected[2];
  EXPECT_EQ(Seqs(SelectAll(*reader, options)), (std::vector<uint64_t>{expected[1], expected[2]}));

  // An input kind of another session's transitions: nothing.
  SelectOptions none;
  none.filter.sessions = {"s2"};
  none.filter.inputs = {machine::InputKind::kStartRun};
  EXPECT_TRUE(SelectAll(*reader, none).empty());
}

TEST_F(JournalInspectTest, RepeatedValuesOfOneFilterMatchAny) {
  auto reader = Reader(engine_.dir());
  SelectOptions options;
  options.filter.inputs = {machine::InputKind::kStartRun, machine::InputKind::kFinishRun};
  auto got = SelectAll(*reader, options);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(RecordJson(*got[0].envelope)["input"]["kind"], "StartRun");
  EXPECT_EQ(RecordJson(*got[1].envelope)["input"]["kind"], "FinishRun");

  SelectOptions kinds;
  kinds.filter.kinds = {"InboxAppended", "MessageDelivered"};
  kinds.filter.sessions = {"s1", "s2"};
  auto messages = SelectAll(*reader, kinds);
  ASSERT_EQ(messages.size(), 4u);
  std::vector<std::string> got_kinds;
  for (const Entry& e : messages) got_kinds.push_back(RecordJson(*e.envelope)["kind"]);
  // A delivery follows its append (the drain journals it after reading the inbox).
  EXPECT_EQ(std::count(got_kinds.begin(), got_kinds.end(), "InboxAppended"), 2);
  EXPECT_EQ(std::count(got_kinds.begin(), got_kinds.end(), "MessageDelivered"), 2);
}

TEST_F(JournalInspectTest, TimeFiltersSelectByWallTime) {
  auto reader = Reader(engine_.dir());
  const auto records = AllRecords(*reader);
  ASSERT_GT(records.size(), 6u);
  const int64_t since = records[2].wall_time_us;
  const int64_t until = records[records.size() - 3].wall_time_us;
  ASSERT_LT(since, until);
  SelectOptions options;
  options.filter.since_us = since;
  options.filter.until_us = until;
  options.filter.sessions = {"s1"};
  std::vector<uint64_t> expected;
  for (const auto& r : records) {
    if (r.wall_time_us >= since && r.wall_time_us <= until && r.session_id == "s1") {
      expected.push_back(r.seq);
    }
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(Seqs(SelectAll(*reader, options)), expected);
  // The same bound given as RFC 3339 text.
  options.filter.since_us = ParseTime(FormatTime(since)).value();
  EXPECT_EQ(Seqs(SelectAll(*reader, options)), expected);
}

TEST_F(JournalInspectTest, LimitAndReverseGiveTheFirstOrTheNewestMatches) {
  auto reader = Reader(engine_.dir());
  SelectOptions options;
  options.filter.sessions = {"s1"};
  const auto all = Seqs(SelectAll(*reader, options));
  ASSERT_GE(all.size(), 5u);
  options.limit = 2;
  EXPECT_EQ(Seqs(SelectAll(*reader, options)), (std::vector<uint64_t>{all[0], all[1]}));
  options.reverse = true;
  EXPECT_EQ(Seqs(SelectAll(*reader, options)),
            (std::vector<uint64_t>{all[all.size() - 1], all[all.size() - 2]}));
  options.limit = 0;
  auto reversed = Seqs(SelectAll(*reader, options));
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(reversed, all);
}

TEST_F(JournalInspectTest, RecordJsonCarriesEveryField) {
  auto reader = Reader(engine_.dir());
  SelectOptions options;
  options.filter.inputs = {machine::InputKind::kPrepareBindings};
  auto got = SelectAll(*reader, options);
  ASSERT_EQ(got.size(), 1u);
  Json json = EntryJson(got[0]);
  EXPECT_EQ(json["seq"], got[0].seq);
  EXPECT_EQ(json["session"], "s1");
  EXPECT_EQ(json["kind"], "Transition");
  EXPECT_EQ(json["input"]["runtime_id"], "rt-1");
  EXPECT_EQ(json["input"]["fence_token"], 7);
  EXPECT_EQ(json["input"]["generation"], 1);
  EXPECT_TRUE(json["input"]["epoch_id"].is_null());
  EXPECT_EQ(json["effects"], Json::array({"RuntimeBound"}));
  EXPECT_EQ(json["state_digest"].get<std::string>().size(), 16u);
  EXPECT_EQ(json["time"], FormatTime(json["wall_time_us"].get<int64_t>()));
  EXPECT_THAT(EntryLine(got[0], {}),
              AllOf(HasSubstr("PrepareBindings{"), HasSubstr("rt-1"), HasSubstr("RuntimeBound")));
  EXPECT_EQ(EntryLine(got[0], {}).find('\x1b'), std::string::npos);
  EXPECT_NE(EntryLine(got[0], {.color = true}).find('\x1b'), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// ls and state

TEST_F(JournalInspectTest, LsListsEverySessionWithItsAuthority) {
  auto reader = Reader(engine_.dir());
  auto rows = ListSessions(*reader);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  const SessionRow& s1 = (*rows)[0];
  const SessionRow& s2 = (*rows)[1];
  const SessionRow& s3 = (*rows)[2];
  EXPECT_EQ(s1.session, "s1");
  EXPECT_TRUE(s1.live);
  EXPECT_EQ(s1.image.state.phase, machine::Phase::kRetired);
  EXPECT_EQ(s2.image.state.drain_phase, machine::DrainPhase::kStopped);
  EXPECT_EQ(s2.image.state.drain_mode, machine::DrainMode::kPersistentHost);
  EXPECT_EQ(s2.image.state.ingress_owner, machine::IngressOwner::kSessionOwned);
  EXPECT_EQ(s3.session, "s3");
  EXPECT_FALSE(s3.live);
  uint64_t s1_records = 0;
  uint64_t s1_last = 0;
  for (const auto& r : AllRecords(*reader)) {
    if (r.session_id == "s1") {
      ++s1_records;
      s1_last = r.seq;
    }
  }
  EXPECT_EQ(s1.records, s1_records);
  EXPECT_EQ(s1.last_seq, s1_last);
}

TEST_F(JournalInspectTest, StateAtEveryTransitionHasTheDigestThatRecordStores) {
  auto reader = Reader(engine_.dir());
  int checked = 0;
  for (const auto& r : AllRecords(*reader)) {
    auto* t = std::get_if<schema::TransitionRecord>(&r.payload);
    if (t == nullptr || std::holds_alternative<machine::UnregisterSession>(t->input)) continue;
    auto state = StateAt(*reader, r.session_id, r.seq);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->digest, t->state_digest) << "record " << r.seq;
    ASSERT_TRUE(state->recorded_digest.has_value());
    EXPECT_EQ(*state->recorded_digest, t->state_digest);
    EXPECT_EQ(state->image.last_seq, r.seq);
    ++checked;
  }
  EXPECT_GT(checked, 15);
}

TEST_F(JournalInspectTest, StateAtMatchesTheEnginesStateAtThatMoment) {
  auto reader = Reader(engine_.dir());
  ASSERT_GE(engine_.moments().size(), 8u);
  for (const testing::Moment& m : engine_.moments()) {
    auto state = StateAt(*reader, m.session, m.seq);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->digest, m.digest) << m.session << " at " << m.seq;
    Json json = SessionStateJson(*state);
    EXPECT_EQ(json["at_seq"], m.seq);
    EXPECT_EQ(json["state"].size(), 22u);  // every field of SPEC §2.2
  }
  // Default: now.
  auto now = StateAt(*reader, "s1", std::nullopt);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->at_seq, reader->LastSequence());
  uint64_t last_s1 = 0;
  for (const testing::Moment& m : engine_.moments()) {
    if (m.session == "s1") last_s1 = m.digest;
  }
  EXPECT_EQ(now->digest, last_s1);
}

TEST_F(JournalInspectTest, StateOfAnUnknownSessionOrSequenceIsNotFound) {
  auto reader = Reader(engine_.dir());
  EXPECT_EQ(StateAt(*reader, "nope", std::nullopt).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(StateAt(*reader, "s1", reader->LastSequence() + 1).status().code(),
            StatusCode::kNotFound);
  // s3 was unregistered: gone now, present in the middle of its life.
  EXPECT_EQ(StateAt(*reader, "s3", std::nullopt).status().code(), StatusCode::kNotFound);
  SelectOptions options;
  options.filter.sessions = {"s3"};
  options.filter.inputs = {machine::InputKind::kRegisterSession};
  auto registered = SelectAll(*reader, options);
  ASSERT_EQ(registered.size(), 1u);
  EXPECT_TRUE(StateAt(*reader, "s3", registered[0].seq).ok());
}

TEST_F(JournalInspectTest, StateAfterACheckpointStartsFromTheSnapshot) {
  ASSERT_TRUE(engine_.host().Checkpoint().ok());
  ASSERT_TRUE(engine_.host().Register("s4").ok());
  ASSERT_TRUE(engine_.host().Reset("s1").ok());
  engine_.Note("s1");
  ASSERT_TRUE(engine_.host().Checkpoint().ok());  // two generations: the journal is truncated
  ASSERT_TRUE(engine_.host().EnsureExecutor("s1").ok());
  engine_.Note("s1");
  auto reader = Reader(engine_.dir());
  ASSERT_GT(reader->FirstSequence(), 1u);
  const testing::Moment& m = engine_.moments().back();
  auto state = StateAt(*reader, "s1", m.seq);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->digest, m.digest);
  EXPECT_TRUE(state->snapshot_seq.has_value());
  auto report = Verify(*reader);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->healthy()) << ReportText(*report);
  EXPECT_GT(report->snapshots_checked, 0u);
}

// ---------------------------------------------------------------------------------------------
// verify

TEST_F(JournalInspectTest, VerifyFindsAnEngineJournalHealthy) {
  auto reader = Reader(engine_.dir());
  auto report = Verify(*reader);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->healthy()) << ReportText(*report);
  EXPECT_EQ(report->format_version, journal::kFormatVersion);
  EXPECT_EQ(report->records_checked, reader->LastSequence() - reader->FirstSequence() + 1);
  EXPECT_GT(report->transitions_replayed, 15u);
  EXPECT_EQ(report->sessions, 3u);
  EXPECT_EQ(VerifyReportJson(*report)["healthy"], true);
}

class VerifyDamageTest : public JournalInspectTest {
 protected:
  // The sequence of the n-th record (0-based) of `session`.
  uint64_t SeqOf(const std::string& session, size_t n) {
    auto reader = Reader(engine_.dir());
    std::vector<uint64_t> seqs;
    for (const auto& r : AllRecords(*reader)) {
      if (r.session_id == session) seqs.push_back(r.seq);
    }
    EXPECT_LT(n, seqs.size());
    return seqs.at(n);
  }

  // Appends, through the journal API, transitions of s1 that the machine accepts (idempotent
  // re-registrations, which change nothing), the i-th with `digest_xors[i]` applied to its true
  // digest. Returns their sequences.
  std::vector<uint64_t> AppendReRegistrations(const std::vector<uint64_t>& digest_xors) {
    auto rebuilt = recovery::Rebuild(engine_.writer());
    EXPECT_TRUE(rebuilt.ok()) << rebuilt.status();
    const host::SessionImage s1 = rebuilt->sessions.at("s1").image;
    std::vector<uint64_t> seqs;
    for (size_t i = 0; i < digest_xors.size(); ++i) {
      schema::RecordEnvelope record;
      record.session_id = "s1";
      record.session_seq = s1.session_seq + 1 + i;
      record.incarnation = s1.incarnation;
      record.wall_time_us = SteppingClock::kStartUs;
      record.payload = schema::TransitionRecord{machine::RegisterSession{"s1"},
                                                "RegisterSessionIdempotent",
                                                {},
                                                machine::Digest(s1.state) ^ digest_xors[i]};
      journal::Batch batch;
      batch.records.push_back({"s1", schema::EncodeRecord(record)});
      auto seq = engine_.writer().Append(std::move(batch));
      EXPECT_TRUE(seq.ok());
      seqs.push_back(seq.value());
    }
    return seqs;
  }

  void FlipByte(uint64_t seq) {
    journal::testing::RawDb raw(engine_.dir());
    std::string key = RecordKey(seq);
    std::string value = raw.Get("records", key);
    value[value.size() / 2] ^= 0x40;
    raw.Put("records", key, value);
  }
  void DeleteRecord(uint64_t seq) {
    journal::testing::RawDb raw(engine_.dir());
    raw.Delete("records", RecordKey(seq));
  }
  static std::string RecordKey(uint64_t seq) {
    std::string key(8, '\0');
    for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(seq >> (8 * (7 - i)));
    return key;
  }

  VerifyReport VerifyNow() {
    auto reader = Reader(engine_.dir());
    auto report = Verify(*reader);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : VerifyReport{};
  }
};

TEST_F(VerifyDamageTest, AFlippedByteIsNamed) {
  const uint64_t seq = SeqOf("s2", 3);
  engine_.Stop();
  FlipByte(seq);
  VerifyReport report = VerifyNow();
  EXPECT_FALSE(report.healthy());
  EXPECT_TRUE(HasProblem(report, seq, "checksum mismatch")) << ReportText(report);
  EXPECT_THAT(ReportText(report), HasSubstr(fmt::format("record {} (key", seq)));
}

TEST_F(VerifyDamageTest, ADeletedRecordIsNamedAsAGap) {
  const uint64_t seq = SeqOf("s1", 2);
  const uint64_t next = SeqOf("s1", 3);
  engine_.Stop();
  DeleteRecord(seq);
  VerifyReport report = VerifyNow();
  EXPECT_TRUE(HasProblem(report, seq, fmt::format("record {} is missing", seq)))
      << ReportText(report);
  // The session's replay notices its own hole too, and says where.
  EXPECT_TRUE(HasProblem(report, next, "per-session sequence gap")) << ReportText(report);
  // show marks the hole in place.
  auto reader = Reader(engine_.dir());
  SelectOptions around;
  around.filter.from_seq = seq - 1;
  around.filter.to_seq = seq + 1;
  auto entries = SelectAll(*reader, around);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].seq, seq);
  EXPECT_THAT(entries[1].damage, HasSubstr("missing (gap"));
}

TEST_F(VerifyDamageTest, AWrongDigestIsNamedAndTheReplayGoesOn) {
  const auto seqs = AppendReRegistrations({/*wrong:*/ 0x1, /*right:*/ 0});
  const uint64_t bad = seqs[0];
  const uint64_t good = seqs[1];
  engine_.Stop();
  VerifyReport report = VerifyNow();
  ASSERT_EQ(report.problems.size(), 1u) << ReportText(report);
  EXPECT_TRUE(HasProblem(report, bad, "state digest mismatch")) << ReportText(report);
  EXPECT_FALSE(HasProblem(report, good, ""));
}

TEST_F(VerifyDamageTest, EveryProblemIsReportedNotOnlyTheFirst) {
  const uint64_t wrong_digest = AppendReRegistrations({0xff})[0];
  const uint64_t flipped = SeqOf("s2", 2);
  const uint64_t deleted = SeqOf("s1", 4);
  engine_.Stop();
  FlipByte(flipped);
  DeleteRecord(deleted);
  VerifyReport report = VerifyNow();
  const std::string text = ReportText(report);
  EXPECT_TRUE(HasProblem(report, flipped, "checksum mismatch")) << text;
  EXPECT_TRUE(HasProblem(report, deleted, "missing")) << text;
  EXPECT_TRUE(HasProblem(report, wrong_digest, "state digest mismatch")) << text;
}

TEST_F(VerifyDamageTest, ADamagedSnapshotIsNamed) {
  ASSERT_TRUE(engine_.host().Checkpoint().ok());
  engine_.Stop();
  std::string key;
  {
    journal::testing::RawDb raw(engine_.dir());
    key = raw.Keys("snapshots").at(0);
    std::string value = raw.Get("snapshots", key);
    value[value.size() / 2] ^= 0x08;
    raw.Put("snapshots", key, value);
  }
  VerifyReport report = VerifyNow();
  ASSERT_EQ(report.problems.size(), 1u) << ReportText(report);
  EXPECT_THAT(report.problems[0].what,
              AllOf(HasSubstr("snapshot of session 's1'"), HasSubstr("checksum mismatch")));
}

TEST_F(VerifyDamageTest, ARecordMissingFromTheStreamIndexIsNamed) {
  const uint64_t seq = SeqOf("s2", 4);
  engine_.Stop();
  {
    journal::testing::RawDb raw(engine_.dir());
    std::string key = std::string("\0\x02s2", 4) + RecordKey(seq);
    raw.Delete("streams", key);
  }
  VerifyReport report = VerifyNow();
  ASSERT_EQ(report.problems.size(), 1u) << ReportText(report);
  EXPECT_TRUE(HasProblem(report, seq, "missing from the stream index")) << ReportText(report);
}

TEST_F(VerifyDamageTest, ShowMarksADamagedRecordInPlaceAndGoesOn) {
  const uint64_t seq = SeqOf("s2", 1);
  engine_.Stop();
  FlipByte(seq);
  auto reader = Reader(engine_.dir());
  std::vector<Entry> entries;
  auto summary = Select(*reader, {}, [&](const Entry& e) { entries.push_back(e); });
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->damaged, 1u);
  EXPECT_EQ(entries.size(), reader->LastSequence() - reader->FirstSequence() + 1);
  for (const Entry& e : entries) {
    EXPECT_EQ(e.envelope.has_value(), e.seq != seq) << e.seq;
  }
  EXPECT_THAT(EntryLine(entries[seq - reader->FirstSequence()], {}),
              HasSubstr("DAMAGED: checksum mismatch"));
  // Exporting a damaged journal is refused, naming the record.
  std::ostringstream out;
  auto exported = Export(*reader, {}, out);
  EXPECT_EQ(exported.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(exported.status().message(), HasSubstr(fmt::format("record {}", seq)));
}

// ---------------------------------------------------------------------------------------------
// follow

TEST_F(JournalInspectTest, FollowSeesRecordsALiveWriterAppends) {
  auto follower = Reader(engine_.dir(), /*follower=*/true);
  ASSERT_NE(follower, nullptr);
  const uint64_t start = follower->LastSequence();
  std::thread writer([&] {
    for (const char* session : {"live-1", "live-2", "live-3"}) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      EXPECT_TRUE(engine_.host().Register(session).ok());
    }
  });
  Filter filter;
  filter.sessions = {"live-2", "live-3"};
  std::vector<Entry> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto last = Follow(
      *follower, filter, start, /*limit=*/4,
      [&] { return std::chrono::steady_clock::now() > deadline; },
      [&](const Entry& e) { seen.push_back(e); });
  writer.join();
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(seen.size(), 4u);
  std::vector<std::string> what;
  for (const Entry& e : seen) {
    ASSERT_TRUE(e.envelope);
    what.push_back(e.envelope->session_id + ":" +
                   std::string(machine::Name(machine::KindOf(
                       std::get<schema::TransitionRecord>(e.envelope->payload).input))));
  }
  EXPECT_THAT(what, ElementsAre("live-2:Initialize", "live-2:RegisterSession", "live-3:Initialize",
                                "live-3:RegisterSession"));
  EXPECT_GT(seen.front().seq, start);
}

TEST_F(JournalInspectTest, FollowStopsWhenAsked) {
  auto follower = Reader(engine_.dir(), /*follower=*/true);
  int polls = 0;
  auto last = Follow(
      *follower, {}, follower->LastSequence(), 0, [&] { return ++polls > 3; },
      [](const Entry&) { ADD_FAILURE() << "nothing was appended"; }, std::chrono::milliseconds(5));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, follower->LastSequence());
}

// ---------------------------------------------------------------------------------------------
// stats

TEST_F(JournalInspectTest, StatsCountWhatTheJournalHolds) {
  ASSERT_TRUE(engine_.host().Checkpoint().ok());
  auto reader = Reader(engine_.dir());
  auto stats = ComputeStats(*reader);
  ASSERT_TRUE(stats.ok()) << stats.status();
  std::map<std::string, uint64_t> kinds;
  std::set<std::string> sessions;
  for (const auto& r : AllRecords(*reader)) {
    ++kinds[std::string(schema::PayloadKindName(r.payload))];
    if (!r.session_id.empty()) sessions.insert(r.session_id);
  }
  EXPECT_EQ(stats->total.records, reader->LastSequence() - reader->FirstSequence() + 1);
  for (const auto& [kind, n] : kinds) EXPECT_EQ(stats->by_kind.at(kind).records, n) << kind;
  EXPECT_EQ(stats->by_kind.size(), kinds.size());
  EXPECT_EQ(stats->by_input.at("Initialize").records, 3u);
  EXPECT_EQ(stats->sessions, sessions.size());
  EXPECT_EQ(stats->first_seq, reader->FirstSequence());
  EXPECT_EQ(stats->snapshot_streams, 2u);  // the live sessions s1 and s2
  EXPECT_EQ(stats->newest_snapshot_seq, reader->LastSequence());
  ASSERT_TRUE(stats->oldest_us && stats->newest_us);
  EXPECT_GT(*stats->newest_us, *stats->oldest_us);
  EXPECT_GT(stats->total.bytes, 8 * stats->total.records);
  EXPECT_EQ(StatsJson(*stats)["records"], stats->total.records);
}

// ---------------------------------------------------------------------------------------------
// export and import

std::string ExportToString(const journal::Journal& journal, const ExportOptions& options = {}) {
  std::ostringstream out;
  auto summary = Export(journal, options, out);
  EXPECT_TRUE(summary.ok()) << summary.status();
  return out.str();
}

Result<ImportSummary> ImportString(const std::string& text, const std::string& dir) {
  std::istringstream in(text);
  return Import(in, dir);
}

void ExpectRoundTrip(EngineJournal& engine) {
  auto reader = Reader(engine.dir());
  const std::string first = ExportToString(*reader);
  const std::string copy = engine.temp().Sub("copy");
  auto imported = ImportString(first, copy);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->first_seq, reader->FirstSequence());
  EXPECT_EQ(imported->last_seq, reader->LastSequence());
  auto copied = Reader(copy);
  ASSERT_NE(copied, nullptr);
  EXPECT_EQ(ExportToString(*copied), first);  // byte-identical
  auto report = Verify(*copied);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->healthy()) << ReportText(*report);
  for (const char* session : {"s1", "s2"}) {
    auto original = StateAt(*reader, session, std::nullopt);
    auto again = StateAt(*copied, session, std::nullopt);
    ASSERT_TRUE(original.ok() && again.ok());
    EXPECT_EQ(original->image, again->image) << session;
  }
  // The copy is a journal the engine can start on.
  journal::Options options;
  options.durability = journal::Durability::kNone;
  copied.reset();
  auto writer = journal::Journal::Open(copy, options);
  ASSERT_TRUE(writer.ok());
  auto recovered = recovery::Recover(**writer, host::HostOptions{});
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  auto delivered = recovered->host->Delivered("s2");
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered.value().size(), 2u);
}

TEST_F(JournalInspectTest, ExportImportExportIsByteIdentical) {
  engine_.Stop();
  ExpectRoundTrip(engine_);
}

TEST_F(JournalInspectTest, ATruncatedJournalRoundTripsWithItsSnapshotsAndFirstSequence) {
  ASSERT_TRUE(engine_.host().Checkpoint().ok());
  ASSERT_TRUE(engine_.host().Reset("s1").ok());
  ASSERT_TRUE(engine_.host().Checkpoint().ok());
  ASSERT_TRUE(engine_.host().EnsureExecutor("s1").ok());
  engine_.Stop();
  {
    auto reader = Reader(engine_.dir());
    ASSERT_GT(reader->FirstSequence(), 1u);
    EXPECT_THAT(ExportToString(*reader), HasSubstr("\"type\":\"snapshot\""));
  }
  ExpectRoundTrip(engine_);
}

TEST_F(JournalInspectTest, ExportLinesHaveTheDocumentedShape) {
  auto reader = Reader(engine_.dir());
  std::istringstream lines(ExportToString(*reader));
  std::string line;
  std::vector<Json> parsed;
  while (std::getline(lines, line)) parsed.push_back(Json::parse(line));
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front()["type"], "header");
  EXPECT_EQ(parsed.front()["export_version"], kExportVersion);
  EXPECT_EQ(parsed.front()["first_seq"], reader->FirstSequence());
  EXPECT_EQ(parsed.back()["type"], "end");
  const Json& record = parsed[1];
  EXPECT_EQ(record["type"], "record");
  auto payload = record["payload_hex"].get<std::string>();
  EXPECT_EQ(payload.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(record["record"]["seq"], record["seq"]);
}

TEST_F(JournalInspectTest, ARangeExportImportsAsAJournalStartingThere) {
  auto reader = Reader(engine_.dir());
  ExportOptions options;
  options.from_seq = 5;
  options.to_seq = 12;
  const std::string text = ExportToString(*reader, options);
  auto imported = ImportString(text, engine_.temp().Sub("range"));
  ASSERT_TRUE(imported.ok()) << imported.status();
  auto copy = Reader(engine_.temp().Sub("range"));
  EXPECT_EQ(copy->FirstSequence(), 5u);
  EXPECT_EQ(copy->LastSequence(), 12u);
  SelectOptions all;
  all.filter.from_seq = 5;
  all.filter.to_seq = 12;
  auto original = SelectAll(*reader, all);
  auto copied = SelectAll(*copy, {});
  ASSERT_EQ(copied.size(), original.size());
  for (size_t i = 0; i < copied.size(); ++i) EXPECT_EQ(copied[i].value, original[i].value);
}

TEST_F(JournalInspectTest, ImportRefusesANonEmptyTarget) {
  auto reader = Reader(engine_.dir());
  auto imported = ImportString(ExportToString(*reader), engine_.dir());
  EXPECT_EQ(imported.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(JournalInspectTest, ImportRefusesBadExportsAndLeavesNothingBehind) {
  auto reader = Reader(engine_.dir());
  const std::string good = ExportToString(*reader);
  const std::string target = engine_.temp().Sub("bad");

  // A session's records alone are not a contiguous journal.
  ExportOptions s1_only;
  s1_only.session = "s1";
  auto imported = ImportString(ExportToString(*reader, s1_only), target);
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("where"));

  // Cut short: no end line.
  imported = ImportString(good.substr(0, good.rfind("{\"type\":\"end\"")), target);
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("no end line"));

  // A decoded record edited by hand disagrees with its payload.
  std::string edited = good;
  size_t at = edited.find("\"run_id\":\"run-1\"");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 16, "\"run_id\":\"run-9\"");
  imported = ImportString(edited, target);
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("disagrees"));

  // Not JSON.
  imported = ImportString(good + "garbage\n", target);
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);

  EXPECT_FALSE(std::filesystem::exists(target));
  for (const auto& entry : std::filesystem::directory_iterator(engine_.temp().path())) {
    EXPECT_EQ(entry.path().filename().string().find(".bad.import-"), std::string::npos)
        << entry.path();
  }
}

}  // namespace
}  // namespace burrow::inspect
