// Host::Submit: the single-input lifecycle commands without a blocked caller. Each is decided as
// its blocking command decides it, becomes durable in a group's one journal batch, is published,
// and only then answered; a session's commands are decided in the order they were submitted.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/host/host.h"
#include "tests/engine/host/host_test_util.h"

namespace burrow::host {
namespace {

using namespace std::chrono_literals;
using machine::Phase;
using machine::RunOutcome;

machine::Input Start(std::string run) { return machine::StartRun{std::move(run)}; }
machine::Input Finish(std::string run) {
  return machine::FinishRun{std::move(run), RunOutcome::kCommitted};
}

// Collects Submit's answers by a caller-chosen key.
class Answers {
 public:
  Host::SubmitCallback For(std::string key) {
    return [this, key = std::move(key)](Reply<Done> reply) {
      std::lock_guard lock(mu_);
      answers_.emplace_back(key, std::move(reply));
      cv_.notify_all();
    };
  }
  // The answers once there are `n` (or after 20 s, however many came), in arrival order.
  std::vector<std::pair<std::string, Reply<Done>>> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 20s, [&] { return answers_.size() >= n; });
    return answers_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, Reply<Done>>> answers_;
};

class SubmitTest : public testing::HostTest {
 protected:
  Phase PhaseOf(const std::string& id) {
    auto view = host_->Inspect(id);
    EXPECT_TRUE(view.ok());
    return view.ok() ? view.value().state.phase : Phase::kDestroyed;
  }
  // The host's authorities equal a replay of the journal.
  void ExpectHostEqualsReplay(const std::vector<std::string>& ids) {
    std::map<std::string, SessionImage> replayed = Replay();
    for (const std::string& id : ids) {
      auto view = host_->Inspect(id);
      ASSERT_TRUE(view.ok());
      EXPECT_EQ(view.value().state, replayed[id].state) << id;
    }
  }
};

TEST_F(SubmitTest, ASessionsCommandsAreDecidedInTheOrderSubmittedAndEachAnsweredOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) {
    ids.push_back("s" + std::to_string(i));
    ASSERT_TRUE(host_->Register(ids.back()).ok());
  }
  // Four commands per session, queued at once: each is valid only after the one before it, so a
  // command decided out of order (or against a state its predecessor had not yet left) is
  // rejected.
  Answers answers;
  const uint64_t before = journal_->LastSequence();
  for (int round = 0; round < 2; ++round) {
    const std::string run = "r" + std::to_string(round);
    for (const std::string& id : ids) {
      ASSERT_TRUE(host_->Submit(id, Start(run), answers.For(id + "/start/" + run)).ok());
      ASSERT_TRUE(host_->Submit(id, Finish(run), answers.For(id + "/finish/" + run)).ok());
    }
  }
  const auto got = answers.WaitFor(64);
  ASSERT_EQ(got.size(), 64u);
  std::map<std::string, std::vector<std::string>> order;  // per session, in answer order
  for (const auto& [key, reply] : got) {
    EXPECT_TRUE(reply.ok()) << key << ": " << (reply.ok() ? "" : reply.error().reason);
    order[key.substr(0, key.find('/'))].push_back(key.substr(key.find('/') + 1));
  }
  for (const std::string& id : ids) {
    EXPECT_EQ(order[id],
              (std::vector<std::string>{"start/r0", "finish/r0", "start/r1", "finish/r1"}));
    EXPECT_EQ(PhaseOf(id), Phase::kIdle);
  }
  EXPECT_EQ(journal_->LastSequence(), before + 64);  // one record each, nothing else
  ExpectHostEqualsReplay(ids);
}

TEST_F(SubmitTest, OneSessionsLongQueueRunsInOrderNextToOtherSessions) {
  ASSERT_TRUE(host_->Register("busy").ok());
  ASSERT_TRUE(host_->Register("other").ok());
  Answers answers;
  constexpr int kRuns = 1500;  // 3,000 commands queued on one session at once
  for (int i = 0; i < kRuns; ++i) {
    const std::string run = "r" + std::to_string(i);
    ASSERT_TRUE(host_->Submit("busy", Start(run), answers.For("busy")).ok());
    ASSERT_TRUE(host_->Submit("busy", Finish(run), answers.For("busy")).ok());
  }
  ASSERT_TRUE(host_->Submit("other", Start("x"), answers.For("other")).ok());
  const auto got = answers.WaitFor(2 * kRuns + 1);
  ASSERT_EQ(got.size(), 2u * kRuns + 1);
  for (const auto& [key, reply] : got) {
    ASSERT_TRUE(reply.ok()) << key << ": " << reply.error().reason;
  }
  EXPECT_EQ(PhaseOf("busy"), Phase::kIdle);
  EXPECT_EQ(PhaseOf("other"), Phase::kRunning);
  ExpectHostEqualsReplay({"busy", "other"});
}

TEST_F(SubmitTest, RefusalsComeAtOnceAndRejectionsWriteNothing) {
  ASSERT_TRUE(host_->Register("s").ok());
  Answers answers;
  // Inputs whose commands have effects of their own, and bad arguments: refused at once.
  EXPECT_EQ(host_->Submit("s", machine::Destroy{}, answers.For("destroy")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(host_->Submit("s", Start(""), answers.For("empty run")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(host_->Submit("", Start("r"), answers.For("empty session")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(host_->Submit("s", machine::EnsureSessionWithExecutor{"other"}, answers.For("other"))
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  // Decided and rejected (or unknown): answered through `done`, nothing written.
  const uint64_t before = journal_->LastSequence();
  ASSERT_TRUE(host_->Submit("s", Finish("never started"), answers.For("rejected")).ok());
  ASSERT_TRUE(host_->Submit("ghost", Start("r"), answers.For("unknown")).ok());
  const auto got = answers.WaitFor(2);
  ASSERT_EQ(got.size(), 2u) << "a refused Submit must not answer through done";
  std::map<std::string, ErrorCode> codes;
  for (const auto& [key, reply] : got) {
    ASSERT_FALSE(reply.ok()) << key;
    codes[key] = reply.error().code;
  }
  EXPECT_EQ(codes["rejected"], ErrorCode::kValidationFailed);
  EXPECT_EQ(codes["unknown"], ErrorCode::kNotReady);
  EXPECT_EQ(journal_->LastSequence(), before);
  // The blocking command gives the same answer.
  EXPECT_EQ(host_->FinishRun("s", "never started", RunOutcome::kCommitted).error().code,
            ErrorCode::kValidationFailed);
}

TEST_F(SubmitTest, AFailedAppendFailsItsGroupAndAppliesNothingOfIt) {
  std::vector<std::string> ids = {"a", "b", "c", "d"};
  for (const std::string& id : ids) ASSERT_TRUE(host_->Register(id).ok());
  ASSERT_TRUE(host_->FailNextAppends(1).ok());
  Answers answers;
  for (const std::string& id : ids)
    ASSERT_TRUE(host_->Submit(id, Start("r"), answers.For(id)).ok());
  const auto got = answers.WaitFor(ids.size());
  ASSERT_EQ(got.size(), ids.size());
  int failed = 0;
  for (const auto& [id, reply] : got) {
    if (reply.ok()) {
      EXPECT_EQ(PhaseOf(id), Phase::kRunning) << id;
    } else {
      ++failed;
      EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable) << id;
      EXPECT_EQ(PhaseOf(id), Phase::kIdle) << id << ": a failed step must not be published";
    }
  }
  EXPECT_GE(failed, 1);  // at least the first group (which holds the first command) failed
  ExpectHostEqualsReplay(ids);
}

TEST_F(SubmitTest, ShutdownAnswersEverySubmittedCommandAndRefusesNewOnes) {
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back("s" + std::to_string(i));
    ASSERT_TRUE(host_->Register(ids.back()).ok());
  }
  std::atomic<int> accepted{0};
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  // Each session submits its next command from its last one's answer, until the host refuses.
  std::function<void(size_t, int)> submit = [&](size_t i, int n) {
    const std::string run = "r" + std::to_string(n / 2);
    auto queued =
        host_->Submit(ids[i], n % 2 == 0 ? Start(run) : Finish(run), [&, i, n](Reply<Done> reply) {
          ++answered;
          if (reply.ok()) submit(i, n + 1);
          // else: refused during shutdown; the chain ends
        });
    if (queued.ok()) {
      ++accepted;
    } else {
      EXPECT_EQ(queued.error().code, ErrorCode::kUnavailable);
      ++refused;
    }
  };
  for (size_t i = 0; i < ids.size(); ++i) submit(i, 0);
  std::this_thread::sleep_for(50ms);
  host_->Shutdown();
  EXPECT_EQ(answered.load(), accepted.load()) << "every accepted command is answered once";
  EXPECT_GT(accepted.load(), static_cast<int>(ids.size()));
  EXPECT_EQ(host_->Submit(ids[0], Start("late"), [](Reply<Done>) { FAIL(); }).error().code,
            ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace burrow::host
