// Short real runs of every scenario: they pass on a correct host, and they report what they
// measured. (The checkers' ability to fail is drill_checks_test.cc; the fault model's is
// tests/journal/journal_fault_test.cc.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/journal/journal_test_util.h"
#include "tools/drill/drill.h"

namespace burrow::drill {
namespace {

using ::testing::IsEmpty;

ScenarioReport RunShort(Scenario scenario, uint64_t rounds,
                        journal::Durability durability = journal::Durability::kSync) {
  journal::testing::TempDir dir;
  Options options;
  options.rounds = rounds;
  options.seed = 7;
  options.data_dir = dir.Sub("drill");
  options.burrow_binary = BURROW_BINARY;
  options.durability = durability;
  return RunScenario(scenario, options);
}

std::vector<std::string> Whats(const ScenarioReport& report) {
  std::vector<std::string> out;
  for (const Violation& v : report.violations) out.push_back(v.what);
  return out;
}

TEST(DrillScenariosTest, Kill9KillsTheRealBinaryAndFindsNothingWrong) {
  ScenarioReport report = RunShort(Scenario::kKill9, 2);
  EXPECT_THAT(Whats(report), IsEmpty());
  EXPECT_EQ(report.rounds, 2u);
  EXPECT_EQ(report.restarts, 2u);
  EXPECT_EQ(report.recovery_ms.size(), 2u);
  EXPECT_GT(report.records, 0u);
}

TEST(DrillScenariosTest, PowerlossInSyncModeLosesNothingAcknowledged) {
  ScenarioReport report = RunShort(Scenario::kPowerloss, 3);
  EXPECT_THAT(Whats(report), IsEmpty());
  EXPECT_EQ(report.restarts, 3u);
  EXPECT_EQ(report.figures.count("lost_acknowledged"), 0u);
}

TEST(DrillScenariosTest, PowerlossInNoneModeReportsWhatItLostWithoutAViolation) {
  ScenarioReport report = RunShort(Scenario::kPowerloss, 3, journal::Durability::kNone);
  EXPECT_THAT(Whats(report), IsEmpty());
  ASSERT_EQ(report.figures.count("lost_acknowledged"), 1u);
  EXPECT_GT(report.figures.at("lost_acknowledged"), 0u)
      << "nothing is fsynced in none mode: a power cut must lose acknowledged records";
}

TEST(DrillScenariosTest, TornTailTearsUnsyncedBytesAndRecoveryDiscardsThem) {
  ScenarioReport report = RunShort(Scenario::kTornTail, 4);
  EXPECT_THAT(Whats(report), IsEmpty());
  EXPECT_GT(report.figures["cuts_inside_a_sync"], 0u);
}

TEST(DrillScenariosTest, IoErrorsGetUnavailableAndTheHostCarriesOn) {
  ScenarioReport report = RunShort(Scenario::kIoErrors, 4);
  EXPECT_THAT(Whats(report), IsEmpty());
  EXPECT_EQ(report.figures["unavailable_commands"], 4u);
  EXPECT_EQ(report.figures["carried_on_without_restart"], 4u);
}

TEST(DrillScenariosTest, CorruptionIsRefusedOrCaughtNeverSilent) {
  ScenarioReport report = RunShort(Scenario::kCorruption, 4);
  EXPECT_THAT(Whats(report), IsEmpty());
  EXPECT_EQ(report.rounds, 4u);
  EXPECT_EQ(report.figures["outcome_start_refused"] +
                report.figures["outcome_started_verify_caught"] +
                report.figures["outcome_started_state_intact"] +
                report.figures["outcome_started_last_wal_record_discarded_and_reported"],
            4u);
}

TEST(DrillReportTest, TheJsonLineCarriesTheContractFieldsAndEachViolationsSeedAndRound) {
  ScenarioReport report;
  report.scenario = "kill9";
  report.seed = 99;
  report.rounds = 3;
  report.acknowledged = 10;
  report.violations.push_back(Violation{2, "lost"});
  nlohmann::json json = ToJson(report);
  EXPECT_EQ(json["scenario"], "kill9");
  EXPECT_EQ(json["rounds"], 3);
  EXPECT_EQ(json["acknowledged"], 10);
  ASSERT_EQ(json["violations"].size(), 1u);
  EXPECT_EQ(json["violations"][0]["seed"], 99);
  EXPECT_EQ(json["violations"][0]["round"], 2);
  EXPECT_THAT(HumanSummary(report), ::testing::HasSubstr("[seed 99 round 2] lost"));
  EXPECT_THAT(HumanSummary(report), ::testing::HasSubstr("--seed 99"));
}

}  // namespace
}  // namespace burrow::drill
