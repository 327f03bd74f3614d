// The Host implementation's private parts: sessions, drain tasks, the respawn supervisor.
// Nothing outside engine/host includes this file.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/host/host.h"
#include "engine/host/step.h"

namespace burrow::host {

using SteadyClock = std::chrono::steady_clock;

// One drain task: a thread that moves inbox messages into the delivered stream (SPEC §4).
struct DrainTask {
  uint64_t incarnation = 0;
  std::string transport_id;
  machine::DrainMode mode = machine::DrainMode::kPersistentHost;
  SteadyClock::time_point started;
  // Set (before the session's wake-up is signalled) when the host ends the task; a cancelled
  // task exits without reporting anything.
  std::atomic<bool> cancelled{false};
  // Guarded by the session's mu: a DrainTaskEnded record for this task is durable (or being
  // committed in the current step), so no further end may be recorded or reported for it.
  bool end_recorded = false;

  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;  // guarded by done_mu; set as the thread's very last act

  std::thread thread;  // joined by the host's reaper or by Shutdown, never by the task
};

// What only a session with a drain task, a respawn or an await_delivered caller needs: its
// wake-up machinery (so `post` can wake a drain and `await_delivered` can wait without holding
// the session's mu) and its respawn backoff. Allocated on first need: an idle session costs one
// null pointer instead of ~110 bytes.
struct Activity {
  explicit Activity(uint64_t delivered_count) : delivered(delivered_count) {}
  std::mutex mu;
  std::condition_variable cv;
  uint64_t generation = 0;                     // guarded by mu; bumped by post and by cancellation
  uint64_t delivered = 0;                      // guarded by mu; the published delivered count
  std::chrono::milliseconds respawn_delay{0};  // guarded by the SESSION's mu
};

// What a Session keeps of its SessionImage: all of it but the id, which Session::id holds (one
// heap copy of the id instead of two, and 32 bytes less per session).
struct StoredImage {
  machine::State state;
  uint64_t last_seq = 0;
  uint64_t session_seq = 0;
  uint64_t incarnation = 0;
  uint64_t inbox_count = 0;
  uint64_t delivered_count = 0;
  bool removed = false;

  void Store(const SessionImage& image) {
    state = image.state;
    last_seq = image.last_seq;
    session_seq = image.session_seq;
    incarnation = image.incarnation;
    inbox_count = image.inbox_count;
    delivered_count = image.delivered_count;
    removed = image.removed;
  }
  SessionImage Load(const std::string& session_id) const {
    // Designated, so that a reordering of SessionImage's fields fails to compile.
    return SessionImage{.session_id = session_id,
                        .state = state,
                        .last_seq = last_seq,
                        .session_seq = session_seq,
                        .incarnation = incarnation,
                        .inbox_count = inbox_count,
                        .delivered_count = delivered_count,
                        .removed = removed};
  }
};
// Fails when SessionImage gains a field: add it to StoredImage (and to Store and Load) too.
static_assert(sizeof(SessionImage) == sizeof(std::string) + sizeof(StoredImage),
              "StoredImage must mirror SessionImage field for field");

// covered_seq of a session's stored snapshots, newest first; the journal keeps at most two.
// Inline rather than a std::vector: no heap block per session.
class SnapshotGenerations {
 public:
  SnapshotGenerations() = default;
  explicit SnapshotGenerations(const std::vector<uint64_t>& newest_first) {
    for (uint64_t covered : newest_first) Note(covered);
  }
  // Adds a generation (ignored when already known) and keeps the two newest.
  void Note(uint64_t covered_seq) {
    for (uint8_t i = 0; i < count_; ++i) {
      if (seqs_[i] == covered_seq) return;
    }
    if (count_ < seqs_.size()) {
      seqs_[count_++] = covered_seq;
    } else if (covered_seq > seqs_[1]) {
      seqs_[1] = covered_seq;
    } else {
      return;
    }
    if (count_ == 2 && seqs_[1] > seqs_[0]) std::swap(seqs_[0], seqs_[1]);
  }
  size_t size() const { return count_; }
  uint64_t operator[](size_t i) const { return seqs_[i]; }

 private:
  std::array<uint64_t, 2> seqs_{};
  uint8_t count_ = 0;
};

// Memory matters here: a host holds one Session per idle session (issue 9 budgets <= 1 KiB of
// resident memory each, everything included). The id is held once, in `id` (the registry's key
// is a view of it); whatever only busy sessions need is allocated when they first need it.
struct Session {
  explicit Session(std::string session_id) : id(std::move(session_id)) {}
  ~Session() { delete activity_.load(std::memory_order_relaxed); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Immutable: read without any lock (the registry's key views it).
  const std::string id;

  // Serialises commands and deliveries on this session. Timed, so that a drain task waiting for
  // it can notice its cancellation (the canceller may hold it while joining the task).
  std::timed_mutex mu;
  // --- guarded by mu ---
  StoredImage image;  // the session's image but its id (NewStep hands steps the full image)
  std::shared_ptr<DrainTask> task;    // the newest task (possibly done); null before the first
  uint64_t respawn_token = 0;         // bumped to cancel a pending respawn
  uint64_t snapshot_session_seq = 0;  // image.session_seq when it was last snapshotted
  SnapshotGenerations snapshots;      // of its stored snapshots
  // --- end guarded by mu ---

  // The oldest record of this life still needed (0: unknown). Written once, before `created`;
  // atomic so a checkpoint can read it while holding the registry (lock order: mu, registry).
  std::atomic<uint64_t> first_seq{0};
  // Set (under mu) when UnregisterSession is durable; readers that looked the session up before
  // must treat it as unknown.
  std::atomic<bool> removed{false};
  // Set (under mu) once its first step (Initialize + RegisterSession) is durable.
  std::atomic<bool> created{false};
  std::atomic<bool> fail_next_inbox_read{false};  // test hook

  // The wake-up machinery, created on first need. Caller holds mu (creation happens only under
  // mu, so there is never a second one; once created it lives as long as the session).
  Activity& EnsureActivity() {
    Activity* w = activity_.load();
    if (w == nullptr) {
      w = new Activity(image.delivered_count);
      activity_.store(w);
    }
    return *w;
  }
  // Null when nobody ever waited on this session (so there is nobody to wake). Any thread.
  // Sequentially consistent (the default), like shut_down_: Shutdown sets shut_down_ and then
  // looks for an Activity to wake; await_delivered creates one and then checks shut_down_; at
  // least one of the two sees the other's write.
  Activity* activity() const { return activity_.load(); }

 private:
  std::atomic<Activity*> activity_{nullptr};
};

// The sessions by id: a hash set of the sessions themselves, looked up by id (transparent), so
// the id is stored once (in the Session) and a node is two words plus the link (a map keyed by
// std::string held a second copy of the id and a cached hash: ~60 bytes more per session).
struct SessionIdHash {
  using is_transparent = void;
  size_t operator()(std::string_view id) const noexcept {
    return std::hash<std::string_view>{}(id);
  }
  size_t operator()(const std::shared_ptr<Session>& s) const noexcept { return (*this)(s->id); }
};
struct SessionIdEqual {
  using is_transparent = void;
  static std::string_view IdOf(std::string_view id) { return id; }
  static std::string_view IdOf(const std::shared_ptr<Session>& s) { return s->id; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const noexcept {
    return IdOf(a) == IdOf(b);
  }
};
using SessionRegistry = std::unordered_set<std::shared_ptr<Session>, SessionIdHash, SessionIdEqual>;

class HostImpl final : public Host {
 public:
  HostImpl(journal::Journal* journal, HostOptions options, std::vector<RecoveredSession> sessions);
  HostImpl(journal::Journal* journal, HostOptions options,
           std::map<std::string, RecoveredSession> sessions);
  ~HostImpl() override;

  Reply<StartReport> Start() override;
  Reply<CheckpointReport> Checkpoint() override;
  void Shutdown() override;

  Reply<Done> Register(std::string_view session) override;
  Reply<Done> AttachRuntime(std::string_view session, const AttachRuntimeArgs& args) override;
  Reply<Done> EnsureExecutor(std::string_view session) override;
  Reply<Done> StartRun(std::string_view session, std::string_view run_id) override;
  Reply<Done> FinishRun(std::string_view session, std::string_view run_id,
                        machine::RunOutcome outcome) override;
  Reply<Done> Retire(std::string_view session) override;
  Reply<Done> Reset(std::string_view session) override;
  Reply<Done> StopRuntime(std::string_view session, std::string_view reason) override;
  Reply<Done> RuntimeExited(std::string_view session) override;
  Reply<Done> Destroy(std::string_view session) override;
  Reply<Done> Unregister(std::string_view session) override;
  Reply<bool> SetPeerIngress(std::string_view session, const PeerIngressArgs& args) override;
  Reply<Done> NotifyDrainExited(std::string_view session, machine::DrainExitReason reason) override;
  Reply<Done> Abort(std::string_view session) override;
  Reply<Done> AbortAll() override;
  Reply<bool> Wait(std::string_view session,
                   std::optional<std::chrono::milliseconds> timeout) override;
  Reply<PostResult> Post(std::string_view session, const PostArgs& args) override;
  Reply<std::vector<Message>> Delivered(std::string_view session) override;
  Reply<uint64_t> AwaitDelivered(std::string_view session, uint64_t count,
                                 std::chrono::milliseconds timeout) override;
  Reply<SessionView> Inspect(std::string_view session) override;
  Reply<std::vector<std::string>> Sessions() override { return SessionIds(); }
  Reply<Done> FailNextInboxRead(std::string_view session) override;
  Reply<Done> FailNextAppends(int n) override;
  Reply<Done> Submit(std::string_view session, machine::Input input, SubmitCallback done) override;

 private:
  using Lock = std::unique_lock<std::timed_mutex>;
  struct Locked {
    std::shared_ptr<Session> session;
    Lock lock;
  };

  // --- sessions (host.cc) ---
  // The created, not removed session with this id, locked. Errors: NotReady, Unavailable (after
  // Shutdown).
  Reply<Locked> Acquire(std::string_view id);
  // Acquire, also after Shutdown began (for the shutdown checkpoint).
  Reply<Locked> AcquireAny(std::string_view id);
  // Stages one lifecycle input on a known session as one step; rejection → Destroyed or
  // ValidationFailed.
  Reply<Done> RunSingle(std::string_view id, const machine::Input& input);
  // The submit thread: runs submitted commands, a group at a time, until Shutdown.
  struct Submitted {
    std::string session;
    machine::Input input;
    SubmitCallback done;
  };
  void SubmitLoop();
  // Moves the oldest submitted commands, at most one per session and kSubmitGroup in all, into
  // `group` (a session's later commands stay queued, in order). Caller holds submit_mu_.
  void TakeSubmittedGroup(std::vector<Submitted>& group);
  // Decides every command of `group`, appends the accepted steps as one batch, publishes them,
  // and only then calls each command's `done`.
  void RunSubmittedGroup(std::vector<Submitted>& group);
  // Commits `step`, publishes its image and snapshots the session when it is due. The one
  // path by which anything becomes durable. Errors: Unavailable (nothing applied).
  Status Commit(Session& s, Step& step);
  // Commit's part after the append succeeded: publishes, snapshots when due, asks for a
  // checkpoint when due.
  void Committed(Session& s, const Step& step);
  Reply<Done> CommitAndPublish(Session& s, Step& step);
  // Start's first pass: the created sessions that may need something from Start, by id.
  std::vector<std::shared_ptr<Session>> SessionsDueAtStart();
  // The live sessions' ids, sorted (Sessions() without the Reply: the embedded host always has
  // them).
  std::vector<std::string> SessionIds();
  // Starts a recovery task for each of `running` (locked, drains Running without a live task):
  // their start records are appended together (one append and one fsync per kStartsPerAppend
  // sessions) and no task starts before its record is durable. Errors: Unavailable.
  Reply<Done> RestartDrains(std::vector<Locked>& running);
  // Where truncation may go for this session: recovery needs every record from here on.
  uint64_t TruncationPin(const Session& s) const;
  // The session's snapshot as of its image (the image lacks the id; this fills it in).
  static schema::AuthoritySnapshot SnapshotOfSession(const Session& s);
  // Unregister's second step (also recovery's, for unregisters a crash interrupted): closes the
  // open obligations, unregisters, deletes the inbox and removes the session.
  Reply<Done> FinishUnregisterLocked(Locked& locked, bool runtime_loop_forced,
                                     bool comms_drain_forced);
  void CheckpointLoop();
  Error Classify(const Step& step, const Step::Staged& staged, const machine::Input& input);
  // A step over the session's full image (its stored image lacks the id).
  Step NewStep(const Session& s);
  // Cancels the session's task (if it runs) and joins it, bounded. Returns false when the task
  // had to be abandoned. Caller holds s.mu; the cancellation must already be durable.
  bool CancelAndJoin(Session& s);
  // If the session's task is live and its end not yet recorded, adds DrainTaskEnded{cause} to
  // `step` and returns true: after Commit, call MarkEndRecorded and CancelAndJoin.
  bool StageEndOfLiveTask(Step& step, Session& s, schema::TaskCause cause);
  // After the step that StageEndOfLiveTask filled is durable: marks the end recorded, cancels
  // the task and joins it (bounded). Returns CancelAndJoin's verdict.
  bool EndRecordedTask(Session& s);
  // Bumps the session's wake generation and wakes its drain and await_delivered callers.
  static void Wake(Session& s);
  static bool TaskLive(const Session& s);
  // Shared body of Abort (and of set_peer_ingress with keep_alive false).
  Reply<Done> AbortLocked(Session& s);
  void ScheduleRespawnIfDue(Session& s);

  // --- drains (drain.cc) ---
  // Adds a DrainTaskStarted event for a new task to `step`; after Commit, LaunchTask starts it.
  std::shared_ptr<DrainTask> PrepareTask(Step& step, const std::string& transport_id,
                                         machine::DrainMode mode, schema::TaskCause cause);
  void LaunchTask(const std::shared_ptr<Session>& s, std::shared_ptr<DrainTask> task);
  void DrainLoop(std::shared_ptr<Session> s, std::shared_ptr<DrainTask> task);
  // Delivers what is pending (one journaled batch of up to kDeliveryBatch messages): kIdle when
  // nothing is pending, kEnd when the task must end (cancelled, stale, or failed: a failure is
  // reported from inside).
  enum class DrainProgress { kIdle, kDelivered, kEnd };
  DrainProgress DeliverPending(Session& s, DrainTask& task);
  // Reports the task's own end (idle timeout, failure) as NotifyDrainExited. Caller holds s.mu.
  void ReportExitLocked(Session& s, DrainTask& task, machine::DrainExitReason reason,
                        schema::TaskCause cause);
  Lock LockUnlessCancelled(Session& s, DrainTask& task);
  void ReapFinishedTasks();
  void SupervisorLoop();
  void RespawnDue(const std::string& id, uint64_t token);

  int64_t NowMicros();
  // The constructors' common part: options, clock, logger; no sessions, no threads yet.
  HostImpl(journal::Journal* journal, HostOptions options);
  // The constructors' part: what is not removed of `recovered` becomes the host's sessions.
  void Adopt(RecoveredSession& recovered);
  // And the background threads, once the sessions are in.
  void StartThreads();
  void Publish(Session& s, const Step& step);

  std::unique_ptr<Clock> owned_clock_;  // when options.clock is null
  Clock* clock_;
  journal::Journal* const journal_;
  const HostOptions options_;
  std::shared_ptr<spdlog::logger> log_;

  std::shared_mutex registry_mu_;
  SessionRegistry sessions_;  // guarded by registry_mu_
  std::atomic<bool> shut_down_{false};

  std::mutex tasks_mu_;
  // Every task launched and not yet joined, with its session (Shutdown wakes it there).
  std::vector<std::pair<std::shared_ptr<Session>, std::shared_ptr<DrainTask>>> tasks_;
  bool tasks_closed_ = false;  // guarded by tasks_mu_: Shutdown began, launch nothing more

  // The respawn supervisor: a timer queue of (due, session id, respawn token).
  std::mutex supervisor_mu_;
  std::condition_variable supervisor_cv_;
  std::multimap<SteadyClock::time_point, std::pair<std::string, uint64_t>> respawns_;
  bool supervisor_stop_ = false;
  std::thread supervisor_;

  // Submitted commands (Submit), run by submitter_, which the first Submit starts. One thread:
  // the journal's write of a group (its fsync and memtable inserts) is what a second thread
  // would overlap with, and it cannot (the commit queue writes one group at a time), while
  // halving the groups halves what each fsync carries (`bench commit`: 237-241k/s with one
  // thread, 215-217k/s with two).
  std::mutex submit_mu_;
  std::condition_variable submit_cv_;
  std::deque<Submitted> submitted_;  // guarded by submit_mu_
  bool submit_stop_ = false;         // guarded by submit_mu_: Shutdown began, take nothing more
  std::thread submitter_;            // guarded by submit_mu_

  // Checkpoints: one at a time; the thread runs one when the journal grew enough.
  std::mutex checkpoint_mu_;
  std::mutex checkpointer_mu_;
  std::condition_variable checkpointer_cv_;
  bool checkpoint_wanted_ = false;  // guarded by checkpointer_mu_
  bool checkpointer_stop_ = false;  // guarded by checkpointer_mu_
  std::atomic<uint64_t> last_checkpoint_seq_{0};
  std::thread checkpointer_;
};

}  // namespace burrow::host
