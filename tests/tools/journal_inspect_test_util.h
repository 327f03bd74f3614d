// A journal written by the real engine (recovery::Recover + host commands), for the tests of
// `burrow journal` (tools/inspect/). Records carry times from a test clock, one second apart.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/host/host.h"
#include "engine/machine/machine.h"
#include "journal/journal.h"
#include "recovery/recovery.h"
#include "tests/journal/journal_test_util.h"

namespace burrow::inspect::testing {

// 2025-11-24T16:00:00Z, advancing one second per reading.
class SteppingClock final : public host::Clock {
 public:
  static constexpr int64_t kStartUs = 1'764'000'000'000'000;
  int64_t NowMicros() override { return kStartUs + 1'000'000 * next_++; }

 private:
  std::atomic<int64_t> next_{0};
};

// What the engine said right after a command: the session's digest and the journal's newest
// sequence then.
struct Moment {
  std::string session;
  uint64_t seq = 0;
  uint64_t digest = 0;
};

class EngineJournal {
 public:
  EngineJournal() : dir_(temp_.Sub("data")) {}
  ~EngineJournal() { Stop(); }

  const std::string& dir() const { return dir_; }
  journal::testing::TempDir& temp() { return temp_; }
  host::Host& host() { return *host_; }
  journal::Journal& writer() { return *journal_; }
  const std::vector<Moment>& moments() const { return moments_; }

  void Start() {
    journal::Options options;
    options.durability = journal::Durability::kNone;
    auto opened = journal::Journal::Open(dir_, options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    journal_ = std::move(opened).value();
    host::HostOptions host_options;
    host_options.checkpoint_every_records = 0;  // checkpoints only when a test asks
    host_options.snapshot_every_records = 0;
    host_options.respawn_initial = std::chrono::milliseconds(10);
    host_options.clock = &clock_;
    auto recovered = recovery::Recover(*journal_, host_options);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    host_ = std::move(recovered->host);
  }

  // Shuts the host down (journaling nothing) and closes the journal.
  void Stop() {
    host_.reset();
    journal_.reset();
  }

  // Notes the engine's digest of `session` and the newest sequence, after a command.
  void Note(const std::string& session) {
    auto view = host_->Inspect(session);
    ASSERT_TRUE(view.ok());
    moments_.push_back({session, journal_->LastSequence(), machine::Digest(view.value().state)});
  }

  // A mixed workload: a session with a runtime and a run, one with a drain delivering two
  // messages, one registered and unregistered.
  void RunWorkload() {
    ASSERT_TRUE(host_->Register("s1").ok());
    Note("s1");
    ASSERT_TRUE(host_->AttachRuntime("s1", {"rt-1", 7, 1, std::nullopt}).ok());
    Note("s1");
    ASSERT_TRUE(host_->StartRun("s1", "run-1").ok());
    Note("s1");
    ASSERT_TRUE(host_->Register("s2").ok());
    Note("s2");
    host::PeerIngressArgs ingress;
    ingress.keep_alive = true;
    ingress.transport_id = "tcp-a";
    ASSERT_TRUE(host_->SetPeerIngress("s2", ingress).ok());
    Note("s2");
    ASSERT_TRUE(host_->Post("s2", {"m1", "peer", "hello"}).ok());
    ASSERT_TRUE(host_->Post("s2", {"m2", "peer", "world"}).ok());
    auto delivered = host_->AwaitDelivered("s2", 2, std::chrono::milliseconds(10'000));
    ASSERT_TRUE(delivered.ok());
    ASSERT_EQ(delivered.value(), 2u);
    ASSERT_TRUE(host_->FinishRun("s1", "run-1", machine::RunOutcome::kCommitted).ok());
    Note("s1");
    ASSERT_TRUE(host_->Register("s3").ok());
    ASSERT_TRUE(host_->Unregister("s3").ok());
    ASSERT_TRUE(host_->Retire("s1").ok());
    Note("s1");
    ASSERT_TRUE(host_->Abort("s2").ok());
    Note("s2");
  }

 private:
  journal::testing::TempDir temp_;
  std::string dir_;
  SteppingClock clock_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<host::Host> host_;
  std::vector<Moment> moments_;
};

}  // namespace burrow::inspect::testing
