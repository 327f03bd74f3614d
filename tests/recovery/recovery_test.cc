#include "recovery/recovery.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "engine/machine/machine.h"
#include "schema/codec.h"
#include "tests/journal/journal_test_util.h"

namespace burrow::recovery {
namespace {

using host::ErrorCode;
using machine::DrainMode;
using machine::DrainPhase;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

host::PeerIngressArgs Ingress(bool keep_alive, std::string transport = "t1",
                              DrainMode mode = DrainMode::kPersistentHost) {
  return host::PeerIngressArgs{keep_alive, std::move(transport), std::nullopt, mode};
}

// A journal directory that can be "crashed" and recovered: shutting the host down without a
// checkpoint journals nothing (tasks stop, authorities stay Running), which is exactly what a
// crash between two commands leaves behind.
class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  virtual host::HostOptions Options() {
    host::HostOptions options;
    options.respawn_initial = 10ms;
    options.respawn_max = 50ms;
    options.checkpoint_every_records = 0;  // no checkpoint, not even at shutdown
    options.snapshot_every_records = 0;
    options.enable_test_hooks = true;
    return options;
  }

  void OpenJournal() {
    journal::Options options;
    options.durability = journal::Durability::kNone;
    auto opened = journal::Journal::Open(dir_.Sub("data"), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    journal_ = std::move(opened).value();
  }
  void Open(host::HostOptions options) {
    OpenJournal();
    auto recovered = Recover(*journal_, options);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    host_ = std::move(recovered->host);
    report_ = recovered->report;
  }
  void Open() { Open(Options()); }
  void Close() {
    host_.reset();
    journal_.reset();
  }
  void Restart() {
    Close();
    Open();
  }

  host::SessionView View(const std::string& id) {
    auto view = host_->Inspect(id);
    EXPECT_TRUE(view.ok()) << (view.ok() ? "" : view.error().reason);
    return view.ok() ? view.value() : host::SessionView{};
  }
  void Ok(const host::Reply<host::Done>& reply) {
    ASSERT_TRUE(reply.ok()) << host::Name(reply.error().code) << ": " << reply.error().reason;
  }
  // The decoded records of one session, in order.
  std::vector<schema::RecordEnvelope> RecordsOf(const std::string& id) {
    auto records = journal_->ReadStream(id, 0, 1'000'000);
    EXPECT_TRUE(records.ok()) << records.status();
    std::vector<schema::RecordEnvelope> out;
    for (const auto& r : *records) {
      auto decoded = schema::DecodeRecord(r.seq, r.payload);
      EXPECT_TRUE(decoded.ok()) << decoded.status();
      if (decoded.ok()) out.push_back(std::move(decoded).value());
    }
    return out;
  }

  journal::testing::TempDir dir_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<host::Host> host_;
  Report report_;
};

TEST_F(RecoveryTest, AnEmptyJournalRecoversToNoSessionsAndWritesAMarker) {
  EXPECT_TRUE(host_->Sessions().value().empty());
  EXPECT_EQ(report_.sessions_rebuilt, 0u);
  EXPECT_EQ(journal_->LastSequence(), 1u) << "the recovery marker";
}

TEST_F(RecoveryTest, ARunningDrainIsRespawnedWithANewIncarnationAndItsTransport) {
  Ok(host_->Register("s"));
  ASSERT_TRUE(host_->SetPeerIngress("s", Ingress(true, "t7")).value());
  EXPECT_EQ(View("s").task.incarnation, 1u);
  Restart();
  EXPECT_EQ(report_.start.drains_started, 1u);
  host::SessionView view = View("s");
  EXPECT_EQ(view.state.drain_phase, DrainPhase::kRunning);
  EXPECT_TRUE(view.task.running);
  EXPECT_EQ(view.task.incarnation, 2u);
  EXPECT_EQ(view.state.ingress_transport_id, "t7");
  auto records = RecordsOf("s");
  auto* started = std::get_if<schema::DrainTaskStarted>(&records.back().payload);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->cause, schema::TaskCause::kRecovery);
  EXPECT_EQ(started->transport_id, "t7");
  // The respawned task serves the same ingress: re-asserting it spawns nothing.
  auto again = host_->SetPeerIngress("s", Ingress(true, "t7"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value());
}

TEST_F(RecoveryTest, RunningDrainsAreRestartedTogetherInOneAppend) {
  constexpr int kDrains = 12;
  for (int i = 0; i < kDrains; ++i) {
    const std::string id = "s" + std::to_string(i);
    Ok(host_->Register(id));
    ASSERT_TRUE(host_->SetPeerIngress(id, Ingress(true, "t" + std::to_string(i))).value());
  }
  Ok(host_->Register("stopped"));
  Close();
  journal::Options options;
  options.durability = journal::Durability::kNone;
  std::vector<journal::GroupWritten> groups;
  options.on_group_written = [&](const journal::GroupWritten& group) { groups.push_back(group); };
  auto opened = journal::Journal::Open(dir_.Sub("data"), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  journal_ = std::move(opened).value();
  auto recovered = Recover(*journal_, Options());
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  host_ = std::move(recovered->host);
  EXPECT_EQ(recovered->report.start.drains_started, static_cast<uint64_t>(kDrains));
  // The restarts' append, then the recovery marker's.
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].batches, 1u);
  EXPECT_EQ(groups[0].records, static_cast<size_t>(kDrains));
  for (int i = 0; i < kDrains; ++i) {
    const std::string id = "s" + std::to_string(i);
    host::SessionView view = View(id);
    EXPECT_TRUE(view.task.running) << id;
    EXPECT_EQ(view.task.incarnation, 2u) << id;
    auto records = RecordsOf(id);
    auto* started = std::get_if<schema::DrainTaskStarted>(&records.back().payload);
    ASSERT_NE(started, nullptr) << id;
    EXPECT_EQ(started->cause, schema::TaskCause::kRecovery);
    EXPECT_EQ(started->transport_id, "t" + std::to_string(i));
  }
  EXPECT_FALSE(View("stopped").task.running);
}

TEST_F(RecoveryTest, AStoppedDrainStaysStopped) {
  Ok(host_->Register("s"));
  ASSERT_TRUE(host_->SetPeerIngress("s", Ingress(true)).value());
  Ok(host_->Abort("s"));
  Restart();
  EXPECT_EQ(report_.start.drains_started, 0u);
  host::SessionView view = View("s");
  EXPECT_EQ(view.state.drain_phase, DrainPhase::kStopped);
  EXPECT_FALSE(view.task.running);
  EXPECT_EQ(view.task.incarnation, 1u);
}

TEST_F(RecoveryTest, ADestroyedSessionStaysDestroyed) {
  Ok(host_->Register("s"));
  Ok(host_->Destroy("s"));
  Restart();
  EXPECT_EQ(View("s").state.phase, machine::Phase::kDestroyed);
  auto again = host_->Register("s");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kDestroyed);
}

TEST_F(RecoveryTest, DeliveredMessagesAreNotDeliveredAgainAndPendingOnesAreDeliveredOnce) {
  Ok(host_->Register("s"));
  ASSERT_TRUE(host_->SetPeerIngress("s", Ingress(true)).value());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(host_->Post("s", {"m" + std::to_string(i), "p", "b"}).ok());
  ASSERT_EQ(host_->AwaitDelivered("s", 3, 10s).value(), 3u);
  Ok(host_->Abort("s"));
  for (int i = 3; i < 6; ++i)
    ASSERT_TRUE(host_->Post("s", {"m" + std::to_string(i), "p", "b"}).ok());
  Restart();
  EXPECT_EQ(View("s").delivered, 3u);
  EXPECT_EQ(View("s").inbox_pending, 3u);
  ASSERT_TRUE(host_->SetPeerIngress("s", Ingress(true)).value());
  ASSERT_EQ(host_->AwaitDelivered("s", 6, 10s).value(), 6u);
  auto delivered = host_->Delivered("s").value();
  ASSERT_EQ(delivered.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(delivered[i].message_id, "m" + std::to_string(i));
  // The dedup index survived too.
  EXPECT_TRUE(host_->Post("s", {"m1", "p", "b"}).value().duplicate);
}

TEST_F(RecoveryTest, ARespawnableDrainWithPendingMessagesGoesToTheSupervisorAndDelivers) {
  Close();
  host::HostOptions slow = Options();
  slow.respawn_initial = 60s;  // no respawn before the "crash"
  Open(slow);
  Ok(host_->Register("s"));
  ASSERT_TRUE(host_->SetPeerIngress("s", Ingress(true)).value());
  Ok(host_->FailNextInboxRead("s"));
  ASSERT_TRUE(host_->Post("s", {"m0", "p", "b"}).ok());
  ASSERT_TRUE(host_->Wait("s", 10s).value());
  EXPECT_EQ(View("s").state.drain_phase, DrainPhase::kExitedRespawnable);
  Restart();
  EXPECT_EQ(report_.start.respawns_scheduled, 1u);
  ASSERT_EQ(host_->AwaitDelivered("s", 1, 10s).value(), 1u);
  EXPECT_EQ(View("s").task.incarnation, 2u);
  EXPECT_EQ(View("s").state.drain_phase, DrainPhase::kRunning);
}

TEST_F(RecoveryTest, AnUnregisterACrashInterruptedIsCompletedWithForcedFlags) {
  Ok(host_->Register("s"));
  Ok(host_->AttachRuntime("s", {"r1", 3, 1, std::nullopt}));
  ASSERT_TRUE(host_->SetPeerIngress("s", Ingress(false)).ok());
  ASSERT_TRUE(host_->Post("s", {"m0", "p", "b"}).ok());
  Close();
  // Write what a crash between unregister's two steps leaves: BeginUnregisterSession durable.
  OpenJournal();
  auto rebuilt = Rebuild(*journal_);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  const host::SessionImage& image = rebuilt->sessions.at("s").image;
  machine::Input begin =
      machine::BeginUnregisterSession{"s",
                                      {image.state.runtime_id, image.state.fence_token,
                                       image.state.generation, image.state.epoch_id}};
  auto decision = machine::Apply(image.state, begin);
  auto& accepted = std::get<machine::Accepted>(decision);
  schema::RecordEnvelope envelope;
  envelope.session_id = "s";
  envelope.session_seq = image.session_seq + 1;
  envelope.payload = schema::TransitionRecord{begin, std::string(accepted.transition),
                                              accepted.effects, machine::Digest(accepted.next)};
  journal::Batch batch;
  batch.records.push_back({"s", schema::EncodeRecord(envelope)});
  ASSERT_TRUE(journal_->Append(std::move(batch)).ok());
  journal_.reset();

  Open();
  EXPECT_EQ(report_.start.unregisters_finished, 1u);
  EXPECT_TRUE(host_->Sessions().value().empty());
  auto records = RecordsOf("s");
  ASSERT_GE(records.size(), 4u);
  std::vector<machine::Input> tail;
  for (size_t i = records.size() - 4; i < records.size(); ++i) {
    tail.push_back(std::get<schema::TransitionRecord>(records[i].payload).input);
  }
  EXPECT_EQ(tail[0], machine::Input(machine::RuntimeLoopStoppedForUnregister{"s", true}));
  EXPECT_EQ(tail[1], machine::Input(machine::CommsDrainExitedForUnregister{"s", true}));
  EXPECT_EQ(tail[2], machine::Input(machine::CompletionWaitersResolvedForUnregister{"s"}));
  EXPECT_TRUE(std::holds_alternative<machine::UnregisterSession>(tail[3]));
  // The inbox went with it, and the id starts fresh.
  Ok(host_->Register("s"));
  EXPECT_EQ(View("s").inbox_pending, 0u);
  Restart();
  EXPECT_EQ(report_.start.unregisters_finished, 0u);
  EXPECT_EQ(host_->Sessions().value(), std::vector<std::string>{"s"});
}

// ---------------------------------------------------------------------------------------------
// Snapshots, checkpoints, truncation

class SnapshotRecoveryTest : public RecoveryTest {
 protected:
  host::HostOptions Options() override {
    host::HostOptions options = RecoveryTest::Options();
    options.snapshot_every_records = 4;
    return options;
  }
};

TEST_F(SnapshotRecoveryTest, RecoveryStartsFromTheNewestSnapshotAndReplaysOnlyTheTail) {
  Ok(host_->Register("s"));
  for (int i = 0; i < 9; ++i) Ok(host_->Register("s"));  // each an accepted no-op record
  host::SessionView before = View("s");
  Restart();
  EXPECT_EQ(report_.snapshots_loaded, 1u);
  EXPECT_LT(report_.records_replayed, 4u);
  EXPECT_EQ(View("s").state, before.state);
}

TEST_F(SnapshotRecoveryTest, ADamagedNewestSnapshotFallsBackToTheOlderOne) {
  Ok(host_->Register("s"));
  for (int i = 0; i < 9; ++i) Ok(host_->Register("s"));  // each an accepted no-op record
  host::SessionView before = View("s");
  Close();
  {
    journal::testing::RawDb raw(dir_.Sub("data"));
    std::vector<std::string> keys = raw.Keys("snapshots");
    ASSERT_EQ(keys.size(), 2u);
    std::string value = raw.Get("snapshots", keys.back());  // the newest (largest covered_seq)
    value[value.size() / 2] ^= 0x40;
    raw.Put("snapshots", keys.back(), value);
  }
  Open();
  ASSERT_EQ(report_.snapshots_damaged.size(), 1u);
  EXPECT_EQ(report_.snapshots_loaded, 1u);
  EXPECT_GE(report_.records_replayed, 4u) << "the older snapshot means a longer replay";
  EXPECT_EQ(View("s").state, before.state);
  EXPECT_THAT(report_.Summary(), HasSubstr("fell back"));
}

TEST_F(SnapshotRecoveryTest, ADamagedRecordInTheMiddleRefusesTheStartNamingIt) {
  Ok(host_->Register("s"));
  for (int i = 0; i < 5; ++i) Ok(host_->Register("s"));
  Close();
  {
    journal::testing::RawDb raw(dir_.Sub("data"));
    std::string key(8, '\0');
    key[7] = 3;  // record 3
    std::string value = raw.Get("records", key);
    value[value.size() - 3] ^= 0x01;
    raw.Put("records", key, value);
  }
  OpenJournal();
  auto recovered = Recover(*journal_, Options());
  ASSERT_FALSE(recovered.ok());
  EXPECT_EQ(recovered.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(recovered.status().message(), HasSubstr("record 3"));
  EXPECT_THAT(recovered.status().message(), HasSubstr("checksum"));
}

TEST_F(SnapshotRecoveryTest, CheckpointsBoundWhatRecoveryReplays) {
  Close();
  host::HostOptions options = Options();
  options.checkpoint_every_records = 0;
  Open(options);
  for (int s = 0; s < 20; ++s) Ok(host_->Register("s" + std::to_string(s)));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) {
      Ok(host_->Register("s" + std::to_string(i % 20)));
    }
    auto checkpoint = host_->Checkpoint();
    ASSERT_TRUE(checkpoint.ok());
  }
  std::map<std::string, machine::State> before;
  const std::vector<std::string> ids = host_->Sessions().value();
  for (const auto& id : ids) before[id] = View(id).state;
  uint64_t first = journal_->FirstSequence();
  EXPECT_GT(first, 1u) << "the journal was truncated";
  Restart();
  EXPECT_LE(report_.records_scanned, report_.last_seq - first + 1);
  EXPECT_EQ(report_.sessions_rebuilt, 20u);
  for (const auto& [id, state] : before) EXPECT_EQ(View(id).state, state) << id;
}

TEST_F(SnapshotRecoveryTest, AnUnregisteredSessionDoesNotComeBackAfterTruncation) {
  Ok(host_->Register("gone"));
  for (int i = 0; i < 5; ++i) Ok(host_->Register("gone"));
  Ok(host_->Register("kept"));
  Ok(host_->Unregister("gone"));
  ASSERT_TRUE(host_->Checkpoint().ok());
  ASSERT_TRUE(host_->Checkpoint().ok());
  Restart();
  EXPECT_EQ(host_->Sessions().value(), std::vector<std::string>{"kept"});
}

// A stream whose snapshots cannot be loaded (here: one that does not decode) is stale unless the
// replay rebuilds a live session for it.
TEST_F(SnapshotRecoveryTest, UnloadableSnapshotsAreStaleUnlessTheirSessionLives) {
  Ok(host_->Register("kept"));
  const uint64_t seq = journal_->LastSequence();
  ASSERT_TRUE(journal_->WriteSnapshot(journal::Snapshot{"ghost", seq, "not a snapshot"}).ok());
  ASSERT_TRUE(journal_->WriteSnapshot(journal::Snapshot{"kept", seq, "not a snapshot"}).ok());
  auto rebuilt = Rebuild(*journal_);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->snapshots_loaded, 0u);
  EXPECT_EQ(rebuilt->snapshots_damaged.size(), 2u);
  EXPECT_EQ(rebuilt->stale_snapshot_streams, std::vector<std::string>{"ghost"});
}

TEST_F(SnapshotRecoveryTest, SnapshotsOfSessionsThatNoLongerExistAreDeletedOnRecovery) {
  Ok(host_->Register("gone"));
  for (int i = 0; i < 5; ++i) Ok(host_->Register("gone"));  // a snapshot of "gone"
  Ok(host_->Register("kept"));
  for (int i = 0; i < 5; ++i) Ok(host_->Register("kept"));  // a snapshot of "kept"
  auto gone_snapshots = journal_->Snapshots("gone");
  ASSERT_TRUE(gone_snapshots.ok()) << gone_snapshots.status();
  ASSERT_FALSE(gone_snapshots->empty());
  const journal::Snapshot leftover = gone_snapshots->front();
  Ok(host_->Unregister("gone"));
  // A crash after the unregister committed but before its snapshots were deleted.
  ASSERT_TRUE(journal_->WriteSnapshot(leftover).ok());
  auto rebuilt = Rebuild(*journal_);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->stale_snapshot_streams, std::vector<std::string>{"gone"});
  Restart();
  EXPECT_EQ(report_.stale_snapshots_deleted, 1u);
  EXPECT_EQ(host_->Sessions().value(), std::vector<std::string>{"kept"});
  auto after = journal_->Snapshots("gone");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->empty());
  auto kept = journal_->Snapshots("kept");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->empty());
}

// ---------------------------------------------------------------------------------------------
// Replay runs in lanes (sessions split by stream over threads); what it finds must not depend on
// which lane finishes first.

class ParallelReplayTest : public RecoveryTest {
 protected:
  static constexpr int kSessions = 64;
  static std::string Id(int i) { return "session-" + std::to_string(i); }

  void SetUp() override {
    RecoveryTest::SetUp();
    for (int i = 0; i < kSessions; ++i) Ok(host_->Register(Id(i)));
    for (int i = 0; i < kSessions; ++i) Ok(host_->StartRun(Id(i), "run"));
  }
  // Appends a record of `id` that skips a per-session sequence: checksum-valid, refused by Fold.
  uint64_t AppendGap(const std::string& id) {
    schema::RecordEnvelope record = RecordsOf(id).back();
    record.session_seq += 2;
    journal::Batch batch;
    batch.records.push_back({id, schema::EncodeRecord(record)});
    auto appended = journal_->Append(std::move(batch));
    EXPECT_TRUE(appended.ok()) << appended.status();
    return journal_->LastSequence();
  }
  static std::string RecordKey(uint64_t seq) {
    std::string key(8, '\0');
    for (int i = 0; i < 8; ++i) key[7 - i] = static_cast<char>(seq >> (8 * i));
    return key;
  }
  void DamageChecksum(uint64_t seq) {
    journal::testing::RawDb raw(dir_.Sub("data"));
    const std::string key = RecordKey(seq);
    std::string value = raw.Get("records", key);
    value[value.size() - 3] ^= 0x01;
    raw.Put("records", key, value);
  }
  // Rebuilds a few times: the same error every time.
  std::string RebuildError() {
    std::string first;
    for (int round = 0; round < 5; ++round) {
      auto rebuilt = Rebuild(*journal_);
      EXPECT_FALSE(rebuilt.ok());
      if (rebuilt.ok()) return "";
      EXPECT_EQ(rebuilt.status().code(), StatusCode::kDataLoss);
      if (round == 0) first = std::string(rebuilt.status().message());
      EXPECT_EQ(rebuilt.status().message(), first) << "round " << round;
    }
    return first;
  }
};

TEST_F(ParallelReplayTest, ReplayOfManySessionsEqualsASequentialFold) {
  for (int i = 0; i < kSessions; i += 3)
    Ok(host_->FinishRun(Id(i), "run", machine::RunOutcome::kCommitted));
  for (int i = 0; i < kSessions; i += 5) Ok(host_->Unregister(Id(i)));
  std::map<std::string, host::SessionImage> expected;
  ASSERT_TRUE(journal_
                  ->Scan(1, journal_->LastSequence(),
                         [&](const journal::Record& r) {
                           auto decoded = schema::DecodeRecord(r.seq, r.payload);
                           EXPECT_TRUE(decoded.ok()) << decoded.status();
                           if (decoded.ok() && !decoded->session_id.empty()) {
                             EXPECT_TRUE(host::Fold(expected[r.stream], *decoded).ok());
                           }
                           return true;
                         })
                  .ok());
  std::erase_if(expected, [](const auto& entry) { return entry.second.removed; });
  auto rebuilt = Rebuild(*journal_);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  ASSERT_EQ(rebuilt->sessions.size(), expected.size());
  for (const auto& [id, image] : expected) {
    ASSERT_TRUE(rebuilt->sessions.contains(id)) << id;
    EXPECT_EQ(rebuilt->sessions.at(id).image, image) << id;
  }
  EXPECT_EQ(rebuilt->records_scanned, journal_->LastSequence());
}

TEST_F(ParallelReplayTest, TheEarliestBadRecordIsNamedWhicheverSessionsItsLanesHold) {
  // Bad records of many sessions, latest sessions first: whichever lanes they land in, the
  // report names the first one in the journal, as a sequential replay would.
  std::vector<uint64_t> bad;
  for (int i = kSessions - 1; i >= 0; i -= 7) bad.push_back(AppendGap(Id(i)));
  std::string error = RebuildError();
  EXPECT_THAT(error, HasSubstr(fmt::format("record {} ", bad.front())));
  EXPECT_THAT(error, HasSubstr(Id(kSessions - 1)));
  EXPECT_THAT(error, HasSubstr("per-session sequence gap"));
}

TEST_F(ParallelReplayTest, ABadRecordBeforeAChecksumFailureIsNamedFirst) {
  const uint64_t bad = AppendGap(Id(5));
  Ok(host_->FinishRun(Id(6), "run", machine::RunOutcome::kCommitted));
  const uint64_t damaged = journal_->LastSequence();
  Close();
  DamageChecksum(damaged);
  OpenJournal();
  std::string error = RebuildError();
  EXPECT_THAT(error, HasSubstr(fmt::format("record {} ", bad)));
  EXPECT_THAT(error, HasSubstr("per-session sequence gap"));
}

TEST_F(ParallelReplayTest, AChecksumFailureBeforeABadRecordIsNamedFirst) {
  Ok(host_->FinishRun(Id(6), "run", machine::RunOutcome::kCommitted));
  const uint64_t damaged = journal_->LastSequence();
  AppendGap(Id(5));
  Close();
  DamageChecksum(damaged);
  OpenJournal();
  std::string error = RebuildError();
  EXPECT_THAT(error, HasSubstr(fmt::format("record {}", damaged)));
  EXPECT_THAT(error, HasSubstr("checksum"));
}

TEST_F(ParallelReplayTest, ARecordWithADamagedHeaderIsNamedWhicheverLaneItReaches) {
  // The scan routes each record to a lane by the stream its header claims, and the lanes verify
  // the checksums: a damaged stream length sends the record to an arbitrary lane (or claims no
  // stream at all), and that lane names it before anything decodes it. A later bad record of
  // another session is not named instead.
  Ok(host_->FinishRun(Id(6), "run", machine::RunOutcome::kCommitted));
  const uint64_t damaged = journal_->LastSequence();
  AppendGap(Id(5));
  Close();
  const std::string key = RecordKey(damaged);
  const std::string original = journal::testing::RawDb(dir_.Sub("data")).Get("records", key);
  ASSERT_EQ(Id(6).size(), 9u);  // the length the header holds
  for (const uint32_t length : {0u, 1u, 3u, 8u, 10u, 0xffffffffu}) {
    std::string value = original;
    for (int i = 0; i < 4; ++i) value[4 + i] = static_cast<char>(length >> (8 * i));
    journal::testing::RawDb(dir_.Sub("data")).Put("records", key, value);
    OpenJournal();
    std::string error = RebuildError();
    EXPECT_THAT(error, HasSubstr(fmt::format("record {} ", damaged))) << length;
    EXPECT_THAT(error, HasSubstr("checksum mismatch")) << length;
    Close();
  }
}

// ---------------------------------------------------------------------------------------------
// Property: recovery from snapshots + tail equals a full replay from the first record, and both
// equal the live states.

std::map<std::string, host::SessionImage> FullReplay(const journal::Journal& journal) {
  std::map<std::string, host::SessionImage> images;
  Status folded;
  Status scanned = journal.Scan(1, journal.LastSequence(), [&](const journal::Record& r) {
    auto decoded = schema::DecodeRecord(r.seq, r.payload);
    folded = decoded.status();
    if (folded.ok() && !decoded->session_id.empty())
      folded = host::Fold(images[r.stream], *decoded);
    return folded.ok();
  });
  RC_ASSERT(scanned.ok());
  RC_ASSERT(folded.ok());
  std::erase_if(images, [](const auto& entry) { return entry.second.removed; });
  return images;
}

// Runs one command decoded from `op` (session, command and argument drawn from its bits).
void RunOp(host::Host& host, uint32_t op) {
  std::string s = "s" + std::to_string(op % 3);
  uint32_t arg = (op >> 8) % 3;
  switch ((op >> 2) % 12) {
    case 0:
      (void)host.Register(s);
      break;
    case 1:
      (void)host.AttachRuntime(s, {"r" + std::to_string(arg % 2), arg + 1, 1, std::nullopt});
      break;
    case 2:
      (void)host.StartRun(s, "run" + std::to_string(arg % 2));
      break;
    case 3:
      (void)host.FinishRun(s, "run" + std::to_string(arg % 2), machine::RunOutcome::kCommitted);
      break;
    case 4:
      (void)host.Retire(s);
      break;
    case 5:
      (void)host.SetPeerIngress(s, Ingress(arg != 0, "t" + std::to_string(arg % 2)));
      break;
    case 6:
      (void)host.Abort(s);
      break;
    case 7:
    case 8:
      (void)host.Post(s, {"m" + std::to_string(op >> 4), "p", "b"});
      break;
    case 9:
      (void)host.Unregister(s);
      break;
    case 10:
      (void)host.Destroy(s);
      break;
    case 11:
      (void)host.RuntimeExited(s);
      break;
  }
}

TEST(RecoveryPropertyTest, SnapshotPlusTailEqualsAFullReplayEqualsTheLiveState) {
  bool held = rc::check([](const std::vector<uint32_t>& ops) {
    journal::testing::TempDir dir;
    journal::Options journal_options;
    journal_options.durability = journal::Durability::kNone;
    auto journal = journal::Journal::Open(dir.Sub("data"), journal_options);
    RC_ASSERT(journal.ok());
    host::HostOptions options;
    options.snapshot_every_records = 3;
    options.checkpoint_every_records = 0;
    auto host = host::Host::Create(journal->get(), options);
    for (uint32_t op : ops) RunOp(*host, op);
    RC_ASSERT(host->AbortAll().ok());  // quiesce: no task changes anything after this

    auto rebuilt = Rebuild(**journal);
    RC_ASSERT(rebuilt.ok());
    auto replayed = FullReplay(**journal);
    std::vector<std::string> live = host->Sessions().value();
    RC_ASSERT(rebuilt->sessions.size() == live.size());
    RC_ASSERT(replayed.size() == live.size());
    for (const std::string& id : live) {
      host::SessionView view = host->Inspect(id).value();
      const host::SessionImage& from_snapshot = rebuilt->sessions.at(id).image;
      const host::SessionImage& from_start = replayed.at(id);
      RC_ASSERT(from_snapshot.state == view.state);
      RC_ASSERT(from_start.state == view.state);
      RC_ASSERT(from_snapshot.delivered_count == view.delivered);
      RC_ASSERT(from_start.delivered_count == view.delivered);
      RC_ASSERT(from_snapshot.inbox_count == from_start.inbox_count);
      RC_ASSERT(from_snapshot.incarnation == view.task.incarnation);
      RC_ASSERT(from_start.incarnation == view.task.incarnation);
    }
  });
  EXPECT_TRUE(held);
}

// ---------------------------------------------------------------------------------------------
// SIGKILL under a seeded load, round after round on the same directory.

struct ChildRun {
  std::vector<std::string> lines;
};

// Runs the crash child until it has acknowledged `acks` commands, then kills it with SIGKILL.
ChildRun RunAndKill(const std::string& dir, uint64_t seed, int acks) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::string seed_arg = std::to_string(seed);
    execl(BURROW_RECOVERY_CRASH_CHILD, BURROW_RECOVERY_CRASH_CHILD, dir.c_str(), seed_arg.c_str(),
          "1000000", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  ChildRun run;
  FILE* out = fdopen(fds[0], "r");
  char buffer[512];
  int seen = 0;
  while (seen < acks && std::fgets(buffer, sizeof buffer, out) != nullptr) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    run.lines.push_back(line);
    if (line.rfind("ack ", 0) == 0) ++seen;
  }
  kill(pid, SIGKILL);
  // Whatever it wrote before dying still counts (a line is written before its ack matters).
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    run.lines.push_back(line);
  }
  std::fclose(out);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  return run;
}

TEST(RecoveryCrashTest, SigkillUnderLoadLosesNothingAcknowledgedAndDeliversOnce) {
  journal::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  // Acknowledged posts that no acknowledged unregister has since deleted, per session.
  std::map<std::string, std::vector<std::string>> expected;
  for (int round = 0; round < 4; ++round) {
    ChildRun run = RunAndKill(data, 7 + round, 150 + 40 * round);
    std::map<long, std::vector<std::string>> tries;
    std::optional<std::vector<std::string>> in_flight;
    for (const std::string& line : run.lines) {
      std::istringstream in(line);
      std::string word;
      long n;
      in >> word >> n;
      if (word == "try") {
        std::vector<std::string> parts;
        for (std::string p; in >> p;) parts.push_back(p);
        tries[n] = parts;
        in_flight = parts;
      } else if (word == "ack") {
        const auto& parts = tries.at(n);
        if (parts[0] == "post") expected[parts[1]].push_back(parts[2]);
        if (parts[0] == "unregister") expected.erase(parts[1]);
        in_flight.reset();
      }
    }
    // Restart in-process and check the promise.
    journal::Options journal_options;
    auto journal = journal::Journal::Open(data, journal_options);
    ASSERT_TRUE(journal.ok()) << journal.status();
    host::HostOptions options;
    options.checkpoint_every_records = 0;
    auto recovered = Recover(**journal, options);
    ASSERT_TRUE(recovered.ok()) << "round " << round << ": " << recovered.status();
    host::Host& host = *recovered->host;
    for (auto& [session, ids] : expected) {
      auto view = host.Inspect(session);
      if (!view.ok()) {
        // Only an unacknowledged unregister of this very session may have removed it.
        ASSERT_TRUE(in_flight && (*in_flight)[0] == "unregister" && (*in_flight)[1] == session)
            << "round " << round << ": session " << session << " lost";
        ids.clear();
        continue;
      }
      for (const std::string& id : ids) {
        auto again = host.Post(session, {id, "peer", "body"});
        ASSERT_TRUE(again.ok());
        EXPECT_TRUE(again.value().duplicate)
            << "round " << round << ": acknowledged post " << id << " of " << session << " is lost";
      }
      auto delivered = host.Delivered(session).value();
      std::set<std::string> unique;
      for (const auto& m : delivered) {
        EXPECT_TRUE(unique.insert(m.message_id).second) << m.message_id << " delivered twice";
      }
    }
    std::erase_if(expected, [](const auto& e) { return e.second.empty(); });
    // Every authority equals the replay of its records (digests are checked on every record).
    EXPECT_TRUE(Rebuild(**journal).ok());
  }
}

}  // namespace
}  // namespace burrow::recovery
