// The drills' checkers catch what they exist to catch: each test plants one violation (a lost
// acknowledged post, a double delivery, a gap, a state that differs from the replay, a Running
// drain without a task, an Unavailable command that changed something, ...) and asserts the
// checker reports it. A checker that cannot fail is no checker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/journal/journal_test_util.h"
#include "tools/drill/checks.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace burrow::drill {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

class DrillChecksTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    journal::Options journal_options;
    journal_options.durability = journal::Durability::kNone;  // speed; nothing here cuts power
    host::HostOptions host_options;
    host_options.checkpoint_every_records = 0;
    auto opened = InProcessHost::Open(Dir(), journal_options, host_options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    host_ = std::move(opened).value();
    // A session with a running drain and two delivered messages.
    Run({{"cmd", "register"}, {"session", "s"}});
    Run({{"cmd", "set_peer_ingress"}, {"session", "s"}, {"keep_alive", true}, {"transport", "t1"}});
    Run({{"cmd", "post"}, {"session", "s"}, {"message_id", "m1"}, {"from", "p"}, {"body", "b"}});
    Run({{"cmd", "post"}, {"session", "s"}, {"message_id", "m2"}, {"from", "p"}, {"body", "b"}});
  }

  std::string Dir() const { return tmp_.Sub("journal"); }

  json Run(const json& request) {
    json response = *host_->Call(request);
    EXPECT_TRUE(response.value("ok", false)) << request.dump() << " → " << response.dump();
    ledger_.Record(request, response);
    return response;
  }

  Observed Look() {
    Result<Observed> observed = Observe(*host_, 5s);
    EXPECT_TRUE(observed.ok()) << observed.status();
    return observed.ok() ? *observed : Observed{};
  }

  std::unique_ptr<journal::Journal> ReadOnly() {
    journal::Options options;
    options.mode = journal::OpenMode::kReadOnly;
    auto opened = journal::Journal::Open(Dir(), options);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return std::move(opened).value();
  }

  journal::testing::TempDir tmp_;
  std::unique_ptr<InProcessHost> host_;
  Ledger ledger_;
};

TEST_F(DrillChecksTest, ATruthfulHostPassesEveryCheck) {
  EXPECT_THAT(CheckAll(*host_, Dir(), ledger_, CheckOptions{}), IsEmpty());
  EXPECT_EQ(Look().sessions.at("s").delivered_ids, (std::vector<std::string>{"m1", "m2"}));
}

TEST_F(DrillChecksTest, AnAcknowledgedPostThatIsNotInTheJournalIsReportedLost) {
  ledger_.Record({{"cmd", "post"}, {"session", "s"}, {"message_id", "m-ghost"}},
                 {{"ok", true}, {"duplicate", false}});
  std::vector<std::string> out = CheckAll(*host_, Dir(), ledger_, CheckOptions{});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], HasSubstr("have no record in the journal"));
  EXPECT_THAT(out[0], HasSubstr("m-ghost"));
  EXPECT_THAT(out[1], HasSubstr("acknowledged post m-ghost is lost"));
}

TEST_F(DrillChecksTest, AnAcknowledgedTransitionThatIsNotInTheJournalIsReported) {
  ledger_.Record({{"cmd", "start_run"}, {"session", "s"}, {"run", "never-started"}},
                 {{"ok", true}});
  std::vector<std::string> out;
  CheckAcknowledged(*ReadOnly(), ledger_, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], HasSubstr("never-started"));
}

TEST_F(DrillChecksTest, AcknowledgedCommandsAreMatchedInOrderAndOnlyOnce) {
  // Two acknowledged registers need two RegisterSession records after the last check.
  EXPECT_THAT(CheckAll(*host_, Dir(), ledger_, CheckOptions{}), IsEmpty());
  Run({{"cmd", "register"}, {"session", "s"}});
  ledger_.Record({{"cmd", "register"}, {"session", "s"}}, {{"ok", true}});
  std::vector<std::string> out;
  CheckAcknowledged(*ReadOnly(), ledger_, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], HasSubstr("1 acknowledged command(s) have no record"));
}

TEST_F(DrillChecksTest, UnderDurabilityNoneALostRecordIsCountedNotReported) {
  ledger_.Record({{"cmd", "post"}, {"session", "s"}, {"message_id", "m-ghost"}},
                 {{"ok", true}, {"duplicate", false}});
  uint64_t lost = 0;
  CheckOptions options;
  options.lost = &lost;
  EXPECT_THAT(CheckAll(*host_, Dir(), ledger_, options), IsEmpty());
  EXPECT_EQ(lost, 2u) << "its record and the message itself";
}

TEST_F(DrillChecksTest, AMessageDeliveredTwiceIsReported) {
  Observed live = Look();
  live.sessions.at("s").delivered_ids.push_back("m1");
  std::vector<std::string> out;
  CheckDelivery(*ReadOnly(), ledger_, live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("message m1 was delivered twice")));
}

TEST_F(DrillChecksTest, AMessageDeliveredThatWasNeverPostedIsReported) {
  Observed live = Look();
  live.sessions.at("s").delivered_ids.push_back("m-alien");
  std::vector<std::string> out;
  CheckDelivery(*ReadOnly(), ledger_, live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("m-alien was delivered but never acknowledged")));
}

TEST_F(DrillChecksTest, PostsOfUnknownOutcomeAreResolvedFromTheJournal) {
  json landed = {
      {"cmd", "post"}, {"session", "s"}, {"message_id", "m-landed"}, {"from", "p"}, {"body", "b"}};
  (void)*host_->Call(landed);
  ledger_.RecordUnknown(landed);
  ledger_.RecordUnknown({{"cmd", "post"}, {"session", "s"}, {"message_id", "m-never"}});
  EXPECT_THAT(CheckAll(*host_, Dir(), ledger_, CheckOptions{}), IsEmpty());
  // m-landed is now acknowledged: losing it later is reported.
  Observed live = Look();
  auto& ids = live.sessions.at("s").delivered_ids;
  ids.erase(std::remove(ids.begin(), ids.end(), "m-landed"), ids.end());
  live.sessions.at("s").inbox_pending = 0;
  std::vector<std::string> out;
  CheckDelivery(*ReadOnly(), ledger_, live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("m-landed is lost")));
}

TEST_F(DrillChecksTest, AStateThatDiffersFromTheReplayIsReported) {
  Observed live = Look();
  live.sessions.at("s").state["phase"] = "Retired";
  std::vector<std::string> out;
  CheckReplay(*ReadOnly(), live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("differs from the replay of its records")));
}

TEST_F(DrillChecksTest, CountsAndIncarnationsThatDifferFromTheReplayAreReported) {
  Observed live = Look();
  live.sessions.at("s").delivered += 1;
  live.sessions.at("s").incarnation += 1;
  std::vector<std::string> out;
  CheckReplay(*ReadOnly(), live, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], HasSubstr("delivered"));
  EXPECT_THAT(out[1], HasSubstr("incarnation"));
}

TEST_F(DrillChecksTest, ASessionMissingFromTheHostOrFromTheReplayIsReported) {
  Observed live = Look();
  live.sessions["intruder"] = live.sessions.at("s");
  std::vector<std::string> out;
  CheckReplay(*ReadOnly(), live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("'intruder' is in the host but not in the journal")));
  out.clear();
  CheckPresence(ledger_, live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("'intruder' exists, but no register")));
}

TEST_F(DrillChecksTest, ARunningDrainWithoutATaskIsReported) {
  Observed live = Look();
  ASSERT_EQ(live.sessions.at("s").state["drain_phase"], "Running");
  std::vector<std::string> out;
  CheckDrains(live, out);
  EXPECT_THAT(out, IsEmpty());
  live.sessions.at("s").task_running = false;
  CheckDrains(live, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("drain is Running but no task runs")));
}

TEST_F(DrillChecksTest, AnAcknowledgedSessionThatIsGoneIsReported) {
  ledger_.Record({{"cmd", "register"}, {"session", "ghost"}}, {{"ok", true}});
  std::vector<std::string> out;
  CheckPresence(ledger_, Look(), out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("'ghost' was registered (acknowledged) and is gone")));
}

TEST_F(DrillChecksTest, AnUnavailableCommandThatChangedSomethingIsReported) {
  const Observed before = Look();
  std::vector<std::string> out;
  CheckNothingApplied("cmd", before, before, 7, 7, out);
  EXPECT_THAT(out, IsEmpty());

  Observed task_stopped = before;
  task_stopped.sessions.at("s").task_running = false;
  CheckNothingApplied("abort", before, task_stopped, 7, 7, out);
  EXPECT_THAT(out, ElementsAre(HasSubstr("task running true → false")));

  out.clear();
  Observed registered = before;
  registered.sessions["new"] = before.sessions.at("s");
  CheckNothingApplied("register", before, registered, 7, 8, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], HasSubstr("'new' appeared"));
  EXPECT_THAT(out[1], HasSubstr("the journal moved from 7 to 8"));
}

TEST_F(DrillChecksTest, AGapInTheJournalIsReported) {
  host_.reset();
  {
    journal::testing::RawDb raw(Dir());
    std::string key(8, '\0');
    key[7] = 3;  // record 3
    raw.Delete("records", key);
  }
  std::vector<std::string> out;
  CheckGapFree(*ReadOnly(), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], HasSubstr("gap: expected 3"));
  EXPECT_EQ(VerifyJournal(Dir()).code(), StatusCode::kDataLoss);
}

TEST_F(DrillChecksTest, VerifyCatchesADamagedRecordAndPassesAnIntactJournal) {
  host_.reset();
  EXPECT_TRUE(VerifyJournal(Dir()).ok());
  {
    journal::testing::RawDb raw(Dir());
    std::string key(8, '\0');
    key[7] = 2;
    std::string value = raw.Get("records", key);
    value[value.size() - 2] ^= 0x10;
    raw.Put("records", key, value);
  }
  Status verified = VerifyJournal(Dir());
  EXPECT_EQ(verified.code(), StatusCode::kDataLoss);
  EXPECT_THAT(verified.message(), HasSubstr("record 2"));
}

TEST(DrillLedgerTest, ExpectationsMirrorTheRequests) {
  auto e = ExpectationOf({{"cmd", "attach_runtime"},
                          {"session", "s"},
                          {"runtime", "r"},
                          {"fence", 2},
                          {"generation", 1}});
  ASSERT_TRUE(e && e->input);
  EXPECT_EQ(*e->input, machine::Input(machine::PrepareBindings{"s", "r", 2, 1, std::nullopt}));
  EXPECT_FALSE(ExpectationOf({{"cmd", "inspect"}, {"session", "s"}}).has_value());
  auto post = ExpectationOf({{"cmd", "post"}, {"session", "s"}, {"message_id", "m"}});
  ASSERT_TRUE(post);
  EXPECT_EQ(post->kind, Expectation::Kind::kInboxAppended);
}

TEST(DrillWorkloadTest, TheSameSeedGivesTheSameRequests) {
  Workload a(42, "x"), b(42, "x"), c(43, "x");
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    json ra = a.Next(), rb = b.Next(), rc = c.Next();
    EXPECT_EQ(ra, rb);
    differs = differs || ra != rc;
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace burrow::drill
