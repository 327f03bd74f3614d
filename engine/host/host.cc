// The host's commands (SPEC §3). Every command: decide in memory (a Step) → one durable journal
// batch → publish → side effects. Drain tasks and the respawn supervisor are in drain.cc.
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "engine/host/host_impl.h"
#include "engine/host/state_keys.h"
#include "journal/journal.h"
#include "schema/codec.h"

namespace burrow::host {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// SPEC §3: NotReady{state} for an unknown session carries state "destroyed" (an unregistered
// session is gone for good; a never-registered one is indistinguishable from it).
Error NotReady() { return Error{ErrorCode::kNotReady, "session is unknown", "destroyed"}; }
Error InvalidArgument(std::string reason) {
  return Error{ErrorCode::kInvalidArgument, std::move(reason), {}};
}
Error Unavailable(const Status& status) {
  return Error{ErrorCode::kUnavailable, status.ToString(), {}};
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Ids (session, runtime, run, transport, mob, message, peer) are non-empty UTF-8 of at most
// kMaxIdBytes bytes.
std::optional<Error> CheckId(std::string_view field, std::string_view value) {
  if (value.empty()) return InvalidArgument(fmt::format("{} must not be empty", field));
  if (value.size() > kMaxIdBytes) {
    return InvalidArgument(
        fmt::format("{} is {} bytes; at most {} are allowed", field, value.size(), kMaxIdBytes));
  }
  if (!ValidUtf8(value)) return InvalidArgument(fmt::format("{} is not valid UTF-8", field));
  return std::nullopt;
}

constexpr size_t kMaxReasonBytes = 4096;

// The argument checks of the lifecycle commands that decide one input with no task effect
// (RunSingle's), and the refusal of any other input (Submit takes only these).
std::optional<Error> CheckSingleInput(std::string_view id, const machine::Input& input) {
  auto names_session = [&](const std::string& named) -> std::optional<Error> {
    if (named == id) return std::nullopt;
    return InvalidArgument(fmt::format("{} names session '{}', not '{}'",
                                       machine::Name(machine::KindOf(input)), named, id));
  };
  if (const auto* bind = std::get_if<machine::PrepareBindings>(&input)) {
    if (auto bad = names_session(bind->session_id)) return bad;
    if (auto bad = CheckId("runtime", bind->runtime_id)) return bad;
    if (bind->epoch_id) return CheckId("epoch", *bind->epoch_id);
    return std::nullopt;
  }
  if (const auto* ensure = std::get_if<machine::EnsureSessionWithExecutor>(&input)) {
    return names_session(ensure->session_id);
  }
  if (const auto* start = std::get_if<machine::StartRun>(&input)) {
    return CheckId("run", start->run_id);
  }
  if (const auto* finish = std::get_if<machine::FinishRun>(&input)) {
    return CheckId("run", finish->run_id);
  }
  if (const auto* stop = std::get_if<machine::StopRuntimeExecutor>(&input)) {
    if (stop->reason.size() > kMaxReasonBytes || !ValidUtf8(stop->reason)) {
      return InvalidArgument(
          fmt::format("reason must be UTF-8 of at most {} bytes", kMaxReasonBytes));
    }
    return std::nullopt;
  }
  if (std::holds_alternative<machine::Retire>(input) ||
      std::holds_alternative<machine::Reset>(input) ||
      std::holds_alternative<machine::RuntimeExecutorExited>(input)) {
    return std::nullopt;
  }
  return InvalidArgument(fmt::format(
      "{} is not a single-input lifecycle command (its command has effects of its own): call the "
      "command instead",
      machine::Name(machine::KindOf(input))));
}

// Submitted commands run in groups of at most this many (one journal batch each).
constexpr size_t kSubmitGroup = 512;

}  // namespace

Reply<Done> Host::Submit(std::string_view, machine::Input, SubmitCallback) {
  return InvalidArgument("this host takes no submitted commands: call the command instead");
}

std::string_view Name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotReady:
      return "NotReady";
    case ErrorCode::kDestroyed:
      return "Destroyed";
    case ErrorCode::kValidationFailed:
      return "ValidationFailed";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::unique_ptr<Host> Host::Create(journal::Journal* journal, HostOptions options,
                                   std::vector<RecoveredSession> sessions) {
  return std::make_unique<HostImpl>(journal, std::move(options), std::move(sessions));
}

std::unique_ptr<Host> Host::CreateRecovered(journal::Journal* journal, HostOptions options,
                                            std::map<std::string, RecoveredSession> sessions) {
  return std::make_unique<HostImpl>(journal, std::move(options), std::move(sessions));
}

HostImpl::HostImpl(journal::Journal* journal, HostOptions options)
    : owned_clock_(options.clock ? nullptr : std::make_unique<SystemClock>()),
      clock_(options.clock ? options.clock : owned_clock_.get()),
      journal_(journal),
      options_(std::move(options)),
      log_(options_.logger ? options_.logger
                           : std::make_shared<spdlog::logger>(
                                 "burrow.host", std::make_shared<spdlog::sinks::null_sink_mt>())) {}

HostImpl::HostImpl(journal::Journal* journal, HostOptions options,
                   std::vector<RecoveredSession> sessions)
    : HostImpl(journal, std::move(options)) {
  sessions_.reserve(sessions.size());
  for (auto& recovered : sessions) Adopt(recovered);
  sessions.clear();
  StartThreads();
}

HostImpl::HostImpl(journal::Journal* journal, HostOptions options,
                   std::map<std::string, RecoveredSession> sessions)
    : HostImpl(journal, std::move(options)) {
  sessions_.reserve(sessions.size());
  for (auto& [id, recovered] : sessions) Adopt(recovered);
  sessions.clear();
  StartThreads();
}

void HostImpl::Adopt(RecoveredSession& recovered) {
  if (recovered.image.removed) return;
  // Copied, not moved: the host's sessions get fresh allocations, packed together, and every
  // block recovery allocated is freed with `sessions`. (Moving kept recovery's id strings
  // alive, scattered over pages its freed temporaries otherwise emptied, so the heap could not
  // give those pages back.)
  auto s = std::make_shared<Session>(std::string(recovered.image.session_id));
  s->snapshot_session_seq = recovered.image.session_seq;
  s->snapshots = SnapshotGenerations(recovered.snapshots);
  s->first_seq = recovered.first_seq;
  s->image.Store(recovered.image);
  s->created = true;
  sessions_.insert(std::move(s));
}

void HostImpl::StartThreads() {
  last_checkpoint_seq_ = journal_->LastSequence();
  supervisor_ = std::thread([this] { SupervisorLoop(); });
  checkpointer_ = std::thread([this] { CheckpointLoop(); });
}

HostImpl::~HostImpl() { Shutdown(); }

int64_t HostImpl::NowMicros() { return clock_->NowMicros(); }

Step HostImpl::NewStep(const Session& s) { return Step(s.image.Load(s.id), NowMicros()); }

void HostImpl::Publish(Session& s, const Step& step) {
  const bool changed = options_.observer != nullptr && s.image.state != step.image().state;
  s.image.Store(step.image());
  if (changed) options_.observer->StateChanged(s.id, s.image.state);
}

Reply<HostImpl::Locked> HostImpl::Acquire(std::string_view id) {
  if (shut_down_) return Error{ErrorCode::kUnavailable, "the host is shutting down", {}};
  return AcquireAny(id);
}

Reply<HostImpl::Locked> HostImpl::AcquireAny(std::string_view id) {
  for (;;) {
    std::shared_ptr<Session> s;
    {
      std::shared_lock<std::shared_mutex> registry(registry_mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return NotReady();
      s = *it;
    }
    Lock lock(s->mu);
    if (s->removed) {
      // Unregistered while we waited; a re-registration may have put a new one in its place.
      std::shared_lock<std::shared_mutex> registry(registry_mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end() || *it == s) return NotReady();
      continue;
    }
    if (!s->created) return NotReady();
    return Locked{std::move(s), std::move(lock)};
  }
}

Error HostImpl::Classify(const Step& step, const Step::Staged& staged,
                         const machine::Input& input) {
  if (staged.verdict == Step::Verdict::kInternal) {
    log_->critical("invariant violated on session '{}' by {}: {}", step.image().session_id,
                   machine::Name(machine::KindOf(input)), staged.reason);
    return Error{ErrorCode::kInternal, staged.reason, {}};
  }
  if (step.image().state.phase == machine::Phase::kDestroyed) {
    return Error{ErrorCode::kDestroyed, staged.reason, {}};
  }
  return Error{ErrorCode::kValidationFailed, staged.reason, {}};
}

Status HostImpl::Commit(Session& s, Step& step) {
  Status status = step.Commit(*journal_);
  if (!status.ok()) {
    log_->warn("session '{}': journal append failed, nothing applied: {}", s.id, status.ToString());
    return status;
  }
  Committed(s, step);
  return OkStatus();
}

void HostImpl::Committed(Session& s, const Step& step) {
  Publish(s, step);
  const uint64_t every = options_.snapshot_every_records;
  if (every > 0 && !s.removed && s.image.session_seq - s.snapshot_session_seq >= every) {
    journal::Snapshot snapshot{s.id, s.image.last_seq,
                               schema::EncodeSnapshot(SnapshotOfSession(s))};
    Status written = journal_->WriteSnapshots({std::move(snapshot)});
    if (written.ok()) {
      s.snapshot_session_seq = s.image.session_seq;
      s.snapshots.Note(s.image.last_seq);
    } else {
      // Only recovery time suffers; the next due snapshot or checkpoint tries again.
      log_->warn("session '{}': snapshot failed: {}", s.id, written.ToString());
    }
  }
  const uint64_t checkpoint_every = options_.checkpoint_every_records;
  // A checkpoint on another thread may already cover this record (last_checkpoint_seq_ beyond
  // last_seq): then nothing is due, and the unsigned difference must not wrap to "overdue".
  const uint64_t checkpointed = last_checkpoint_seq_.load();
  if (checkpoint_every > 0 && s.image.last_seq > checkpointed &&
      s.image.last_seq - checkpointed >= checkpoint_every) {
    {
      std::lock_guard<std::mutex> lock(checkpointer_mu_);
      checkpoint_wanted_ = true;
    }
    checkpointer_cv_.notify_one();
  }
}

Reply<Done> HostImpl::CommitAndPublish(Session& s, Step& step) {
  Status status = Commit(s, step);
  if (!status.ok()) return Unavailable(status);
  return Done{};
}

bool HostImpl::TaskLive(const Session& s) {
  if (!s.task || s.task->end_recorded) return false;
  std::lock_guard<std::mutex> done(s.task->done_mu);
  return !s.task->done;
}

bool HostImpl::EndRecordedTask(Session& s) {
  s.task->end_recorded = true;
  return CancelAndJoin(s);
}

void HostImpl::Wake(Session& s) {
  Activity* w = s.activity();
  if (w == nullptr) return;  // no task and no await_delivered caller ever: nobody to wake
  {
    std::lock_guard<std::mutex> wake(w->mu);
    ++w->generation;
  }
  w->cv.notify_all();
}

bool HostImpl::StageEndOfLiveTask(Step& step, Session& s, schema::TaskCause cause) {
  if (!TaskLive(s)) return false;
  step.AddEvent(schema::DrainTaskEnded{s.task->incarnation, cause});
  return true;
}

Reply<Done> HostImpl::RunSingle(std::string_view id, const machine::Input& input) {
  if (auto bad = CheckSingleInput(id, input)) return *bad;
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  Step step = NewStep(s);
  Step::Staged staged = step.Stage(input);
  if (staged.verdict != Step::Verdict::kAccepted) return Classify(step, staged, input);
  return CommitAndPublish(s, step);
}

// ---------------------------------------------------------------------------------------------
// Submitted commands

Reply<Done> HostImpl::Submit(std::string_view id, machine::Input input, SubmitCallback done) {
  if (auto bad = CheckSingleInput(id, input)) return *bad;
  if (auto bad = CheckId("session", id)) return *bad;
  std::lock_guard lock(submit_mu_);
  if (submit_stop_) return Error{ErrorCode::kUnavailable, "the host is shutting down", {}};
  submitted_.push_back({std::string(id), std::move(input), std::move(done)});
  // The thread sleeps only when nothing is queued, so only the first command needs to wake it.
  if (submitted_.size() == 1) submit_cv_.notify_one();
  if (!submitter_.joinable()) submitter_ = std::thread([this] { SubmitLoop(); });
  return Done{};
}

void HostImpl::SubmitLoop() {
  std::vector<Submitted> group;
  std::unique_lock lock(submit_mu_);
  for (;;) {
    submit_cv_.wait(lock, [&] { return submit_stop_ || !submitted_.empty(); });
    // After Shutdown began, what is still queued runs too: Acquire refuses it (Unavailable).
    if (submitted_.empty()) return;
    TakeSubmittedGroup(group);
    lock.unlock();
    RunSubmittedGroup(group);
    group.clear();
    lock.lock();
  }
}

void HostImpl::TakeSubmittedGroup(std::vector<Submitted>& group) {
  std::unordered_set<std::string_view> sessions;  // views of the ids in `group`
  std::deque<Submitted> later;                    // a session's commands behind one taken
  group.reserve(std::min(submitted_.size(), kSubmitGroup));  // no reallocation: views stay valid
  // The scan is bounded too: a caller queueing thousands of commands on one session must not
  // make every group look at all of them.
  while (!submitted_.empty() && group.size() < kSubmitGroup &&
         group.size() + later.size() < 4 * kSubmitGroup) {
    Submitted& next = submitted_.front();
    if (sessions.contains(next.session)) {
      later.push_back(std::move(next));
    } else {
      group.push_back(std::move(next));
      sessions.insert(group.back().session);
    }
    submitted_.pop_front();
  }
  // What was passed over goes back in front, in its order: each session's order is kept.
  while (!later.empty()) {
    submitted_.push_front(std::move(later.back()));
    later.pop_back();
  }
}

void HostImpl::RunSubmittedGroup(std::vector<Submitted>& group) {
  std::vector<std::optional<Reply<Done>>> results(group.size());
  // The sessions are locked in id order, as Start locks its sessions: two threads that hold
  // several session locks never wait on each other in a cycle.
  std::vector<size_t> order(group.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return group[a].session < group[b].session; });
  std::vector<Locked> locked;  // held until the group's steps are published
  std::vector<Step> steps;
  std::vector<size_t> command_of_step;
  for (size_t i : order) {
    auto acquired = Acquire(group[i].session);
    if (!acquired.ok()) {
      results[i] = acquired.error();
      continue;
    }
    Step step = NewStep(*acquired.value().session);
    Step::Staged staged = step.Stage(group[i].input);
    if (staged.verdict != Step::Verdict::kAccepted) {
      results[i] = Classify(step, staged, group[i].input);
      continue;  // a rejection writes nothing; the session is unlocked here
    }
    locked.push_back(std::move(acquired.value()));
    steps.push_back(std::move(step));
    command_of_step.push_back(i);
  }
  const Status status = Step::CommitTogether(*journal_, steps);
  if (!status.ok()) {
    log_->warn("{} submitted commands: journal append failed, nothing applied: {}", steps.size(),
               status.ToString());
  }
  for (size_t k = 0; k < steps.size(); ++k) {
    if (status.ok()) {
      Committed(*locked[k].session, steps[k]);
      results[command_of_step[k]] = Done{};
    } else {
      results[command_of_step[k]] = Unavailable(status);
    }
  }
  locked.clear();
  for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(*results[i]));
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

Reply<Done> HostImpl::Register(std::string_view id) {
  if (auto bad = CheckId("session", id)) return *bad;
  for (;;) {
    if (shut_down_) return Error{ErrorCode::kUnavailable, "the host is shutting down", {}};
    std::shared_ptr<Session> s;
    {
      std::unique_lock<std::shared_mutex> registry(registry_mu_);
      auto it = sessions_.find(id);
      if (it != sessions_.end() && !(*it)->removed) {
        s = *it;
      } else {
        if (it != sessions_.end()) sessions_.erase(it);  // a removed session's successor
        s = std::make_shared<Session>(std::string(id));
        sessions_.insert(s);
      }
    }
    Lock lock(s->mu);
    if (s->removed) continue;  // a failed creation or an unregister won the race; look again
    if (s->created) {
      Step step = NewStep(*s);
      machine::Input input = machine::RegisterSession{std::string(id)};
      Step::Staged staged = step.Stage(input);
      if (staged.verdict != Step::Verdict::kAccepted) return Classify(step, staged, input);
      return CommitAndPublish(*s, step);
    }
    // A new authority: Initialize and RegisterSession in one step.
    SessionImage fresh;
    fresh.session_id = std::string(id);
    Step step(fresh, NowMicros());
    for (machine::Input input : {machine::Input(machine::Initialize{}),
                                 machine::Input(machine::RegisterSession{fresh.session_id})}) {
      Step::Staged staged = step.Stage(input);
      BURROW_CHECK(staged.verdict == Step::Verdict::kAccepted, "a fresh authority refused {}: {}",
                   machine::Name(machine::KindOf(input)), staged.reason);
    }
    Status status = step.Commit(*journal_);
    if (!status.ok()) {
      s->removed = true;
      std::unique_lock<std::shared_mutex> registry(registry_mu_);
      auto it = sessions_.find(s->id);
      if (it != sessions_.end() && *it == s) sessions_.erase(it);
      return Unavailable(status);
    }
    Publish(*s, step);
    s->first_seq = step.first_seq();
    s->created = true;
    return Done{};
  }
}

Reply<Done> HostImpl::AttachRuntime(std::string_view id, const AttachRuntimeArgs& args) {
  return RunSingle(id, machine::PrepareBindings{std::string(id), args.runtime_id, args.fence_token,
                                                args.generation, args.epoch_id});
}

Reply<Done> HostImpl::EnsureExecutor(std::string_view id) {
  return RunSingle(id, machine::EnsureSessionWithExecutor{std::string(id)});
}

Reply<Done> HostImpl::StartRun(std::string_view id, std::string_view run_id) {
  return RunSingle(id, machine::StartRun{std::string(run_id)});
}

Reply<Done> HostImpl::FinishRun(std::string_view id, std::string_view run_id,
                                machine::RunOutcome outcome) {
  return RunSingle(id, machine::FinishRun{std::string(run_id), outcome});
}

Reply<Done> HostImpl::Retire(std::string_view id) { return RunSingle(id, machine::Retire{}); }

Reply<Done> HostImpl::Reset(std::string_view id) { return RunSingle(id, machine::Reset{}); }

Reply<Done> HostImpl::StopRuntime(std::string_view id, std::string_view reason) {
  return RunSingle(id, machine::StopRuntimeExecutor{std::string(reason)});
}

Reply<Done> HostImpl::RuntimeExited(std::string_view id) {
  return RunSingle(id, machine::RuntimeExecutorExited{});
}

Reply<Done> HostImpl::Destroy(std::string_view id) {
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  Step step = NewStep(s);
  machine::Input input = machine::Destroy{};
  Step::Staged staged = step.Stage(input);
  if (staged.verdict != Step::Verdict::kAccepted) return Classify(step, staged, input);
  bool end_task = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) return committed;
  ++s.respawn_token;
  if (end_task) {
    EndRecordedTask(s);
  }
  return Done{};
}

Reply<Done> HostImpl::Unregister(std::string_view id) {
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  const std::string& sid = s.id;
  auto binding = [](const machine::State& st) {
    return machine::BindingObservation{st.runtime_id, st.fence_token, st.generation, st.epoch_id};
  };

  // Step 1: open the obligations (already Draining: a retry of an interrupted unregister).
  Step begin = NewStep(s);
  if (s.image.state.registration_phase != machine::RegistrationPhase::kDraining) {
    machine::Input input = machine::BeginUnregisterSession{sid, binding(s.image.state)};
    Step::Staged staged = begin.Stage(input);
    if (staged.verdict != Step::Verdict::kAccepted) return Classify(begin, staged, input);
  }
  bool end_task = StageEndOfLiveTask(begin, s, schema::TaskCause::kCancelled);
  auto committed = CommitAndPublish(s, begin);
  if (!committed.ok()) return committed;
  ++s.respawn_token;
  bool joined = true;
  if (end_task) {
    joined = EndRecordedTask(s);
  }

  // Step 2: the host has no runtime loop or completion waiters of its own, so those close at
  // once, not forced; the comms drain is forced when its task had to be abandoned.
  return FinishUnregisterLocked(locked.value(), false, !joined);
}

Reply<Done> HostImpl::FinishUnregisterLocked(Locked& locked, bool runtime_loop_forced,
                                             bool comms_drain_forced) {
  Session& s = *locked.session;
  const std::string& sid = s.id;
  Step finish = NewStep(s);
  const machine::State& st = s.image.state;
  std::vector<machine::Input> inputs;
  if (st.unregister_runtime_loop_pending) {
    inputs.push_back(machine::RuntimeLoopStoppedForUnregister{sid, runtime_loop_forced});
  }
  if (st.unregister_comms_drain_pending) {
    inputs.push_back(machine::CommsDrainExitedForUnregister{sid, comms_drain_forced});
  }
  if (st.unregister_waiters_pending) {
    inputs.push_back(machine::CompletionWaitersResolvedForUnregister{sid});
  }
  inputs.push_back(machine::UnregisterSession{
      sid, machine::BindingObservation{st.runtime_id, st.fence_token, st.generation, st.epoch_id}});
  for (const auto& input : inputs) {
    Step::Staged staged = finish.Stage(input);
    if (staged.verdict != Step::Verdict::kAccepted) return Classify(finish, staged, input);
  }
  for (uint64_t i = 0; i < s.image.inbox_count; ++i) finish.Delete(keys::Inbox(sid, i));
  Status scanned =
      journal_->ScanState(keys::MessageIdPrefix(sid), [&](std::string_view key, std::string_view) {
        finish.Delete(std::string(key));
        return true;
      });
  if (!scanned.ok()) return Unavailable(scanned);
  finish.Delete(keys::Cursor(sid));
  auto committed = CommitAndPublish(s, finish);
  if (!committed.ok()) return committed;

  // Its snapshots would resurrect it once the UnregisterSession record is truncated. Deleted
  // before the id is free for a new life; if this fails, recovery and the next checkpoint
  // delete the snapshots of sessions that no longer exist.
  Status deleted = journal_->DeleteSnapshots(sid);
  if (!deleted.ok()) log_->warn("session '{}': snapshots not deleted: {}", sid, deleted.ToString());
  s.removed = true;
  {
    std::unique_lock<std::shared_mutex> registry(registry_mu_);
    auto it = sessions_.find(sid);
    if (it != sessions_.end() && *it == locked.session) sessions_.erase(it);
  }
  Wake(s);
  return Done{};
}

// ---------------------------------------------------------------------------------------------
// Peer ingress and drains

Reply<bool> HostImpl::SetPeerIngress(std::string_view id, const PeerIngressArgs& args) {
  if (args.mob_id && !args.transport_id) {
    return InvalidArgument("a mob needs a transport: mob given without transport");
  }
  if (auto bad = CheckId("session", id)) return *bad;
  if (args.transport_id) {
    if (auto bad = CheckId("transport", *args.transport_id)) return *bad;
  }
  if (args.mob_id) {
    if (auto bad = CheckId("mob", *args.mob_id)) return *bad;
  }
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  if (s.image.state.phase == machine::Phase::kDestroyed) {
    return Error{ErrorCode::kDestroyed, "the session is destroyed", {}};
  }

  Step step = NewStep(s);
  // Stages `input`; on rejection commits what the step had accepted and returns the error.
  std::optional<Error> failure;
  auto stage = [&](const machine::Input& input) {
    Step::Staged staged = step.Stage(input);
    if (staged.verdict == Step::Verdict::kAccepted) return true;
    failure = Classify(step, staged, input);
    return false;
  };
  auto commit_partial = [&]() -> Reply<bool> {
    if (failure->code != ErrorCode::kInternal) {
      auto committed = CommitAndPublish(s, step);
      if (!committed.ok()) return committed.error();
    }
    return *failure;
  };

  if (!stage(machine::SetPeerIngressContext{args.keep_alive})) return commit_partial();
  if (args.transport_id) {
    bool ok = args.mob_id ? stage(machine::AttachMobIngress{*args.transport_id, *args.mob_id})
                          : stage(machine::AttachSessionIngress{*args.transport_id});
    if (!ok) return commit_partial();
  } else if (!args.keep_alive) {
    if (!stage(machine::DetachIngress{})) return commit_partial();
  }

  if (!args.keep_alive) {
    // Behave as abort, in the same step.
    machine::DrainPhase drain = step.image().state.drain_phase;
    if (drain == machine::DrainPhase::kRunning ||
        drain == machine::DrainPhase::kExitedRespawnable) {
      Step::Staged staged = step.Stage(machine::StopDrain{});
      if (staged.verdict == Step::Verdict::kInternal) {
        return Classify(step, staged, machine::StopDrain{});
      }
    }
    bool end_task = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
    auto committed = CommitAndPublish(s, step);
    if (!committed.ok()) return committed.error();
    ++s.respawn_token;
    if (end_task) {
      EndRecordedTask(s);
    }
    return false;
  }

  const machine::State& st = step.image().state;
  bool owns = args.transport_id && st.ingress_owner != machine::IngressOwner::kUnattached &&
              st.ingress_transport_id == args.transport_id;
  std::shared_ptr<DrainTask> task;
  bool end_old = false;
  if (owns) {
    bool can_spawn = st.drain_phase != machine::DrainPhase::kRunning;
    if (can_spawn) {
      Step::Staged staged = step.Stage(machine::SpawnDrain{args.mode});
      if (staged.verdict == Step::Verdict::kInternal) {
        return Classify(step, staged, machine::SpawnDrain{args.mode});
      }
      if (staged.verdict == Step::Verdict::kAccepted) {
        end_old = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
        task = PrepareTask(step, *args.transport_id, args.mode, schema::TaskCause::kCommand);
      }
    } else if (!TaskLive(s) || s.task->transport_id != *args.transport_id) {
      // Running, but no task runs for it or its task serves another transport: replace the
      // task (no transition). The mode stays the one the drain was spawned with.
      end_old = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
      task = PrepareTask(step, *args.transport_id, *st.drain_mode, schema::TaskCause::kReplaced);
    }
  }
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) return committed.error();
  if (!task) return false;
  ++s.respawn_token;
  if (end_old) {
    EndRecordedTask(s);
  }
  LaunchTask(locked.value().session, std::move(task));
  return true;
}

Reply<Done> HostImpl::NotifyDrainExited(std::string_view id, machine::DrainExitReason reason) {
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) {
    if (locked.error().code == ErrorCode::kNotReady) return Done{};  // a benign straggler
    return locked.error();
  }
  Session& s = *locked.value().session;
  Step step = NewStep(s);
  machine::Input input = machine::NotifyDrainExited{reason};
  Step::Staged staged = step.Stage(input);
  if (staged.verdict != Step::Verdict::kAccepted) return Classify(step, staged, input);
  // The report came from a client, not from the task: end the task that still runs.
  bool end_task = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) return committed;
  if (end_task) {
    EndRecordedTask(s);
  }
  ScheduleRespawnIfDue(s);
  return Done{};
}

Reply<Done> HostImpl::AbortLocked(Session& s) {
  Step step = NewStep(s);
  machine::DrainPhase drain = s.image.state.drain_phase;
  if (drain == machine::DrainPhase::kRunning || drain == machine::DrainPhase::kExitedRespawnable) {
    machine::Input input = machine::StopDrain{};
    Step::Staged staged = step.Stage(input);
    if (staged.verdict == Step::Verdict::kInternal) return Classify(step, staged, input);
    if (staged.verdict == Step::Verdict::kRejected) return Done{};  // task untouched
  }
  bool end_task = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) return committed;
  ++s.respawn_token;  // a pending respawn is cancelled too
  if (end_task) {
    EndRecordedTask(s);
  }
  return Done{};
}

Reply<Done> HostImpl::Abort(std::string_view id) {
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  return AbortLocked(*locked.value().session);
}

Reply<Done> HostImpl::AbortAll() {
  for (const std::string& id : SessionIds()) {
    auto locked = Acquire(id);
    if (!locked.ok()) continue;
    machine::DrainPhase drain = locked.value().session->image.state.drain_phase;
    if (drain != machine::DrainPhase::kRunning &&
        drain != machine::DrainPhase::kExitedRespawnable) {
      continue;
    }
    auto aborted = AbortLocked(*locked.value().session);
    if (!aborted.ok()) {
      log_->warn("abort_all: session '{}': {}", id, aborted.error().reason);
    }
  }
  return Done{};
}

Reply<bool> HostImpl::Wait(std::string_view id, std::optional<std::chrono::milliseconds> timeout) {
  if (auto bad = CheckId("session", id)) return *bad;
  std::shared_ptr<DrainTask> task;
  {
    auto locked = Acquire(id);
    if (!locked.ok()) return locked.error();
    task = locked.value().session->task;
  }
  if (!task) return true;
  {
    std::unique_lock<std::mutex> done(task->done_mu);
    auto ended = [&] { return task->done; };
    if (timeout) {
      if (!task->done_cv.wait_for(done, *timeout, ended)) return false;
    } else {
      task->done_cv.wait(done, ended);
    }
  }
  // Safety net: the task ended without reporting (e.g. its report could not be journaled).
  auto locked = Acquire(id);
  if (!locked.ok()) return true;
  Session& s = *locked.value().session;
  if (s.task != task || task->end_recorded ||
      s.image.state.drain_phase != machine::DrainPhase::kRunning) {
    return true;
  }
  Step step = NewStep(s);
  machine::Input input = machine::NotifyDrainExited{machine::DrainExitReason::kFailed};
  Step::Staged staged = step.Stage(input);
  if (staged.verdict != Step::Verdict::kAccepted) return Classify(step, staged, input);
  step.AddEvent(schema::DrainTaskEnded{task->incarnation, schema::TaskCause::kFailed});
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) return committed.error();
  task->end_recorded = true;
  ScheduleRespawnIfDue(s);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The durable inbox

Reply<PostResult> HostImpl::Post(std::string_view id, const PostArgs& args) {
  if (auto bad = CheckId("session", id)) return *bad;
  if (auto bad = CheckId("message_id", args.message_id)) return *bad;
  if (auto bad = CheckId("from", args.from)) return *bad;
  if (args.body.size() > kMaxBodyBytes) {
    return InvalidArgument(
        fmt::format("body is {} bytes; at most {} are allowed", args.body.size(), kMaxBodyBytes));
  }
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  const machine::State& st = s.image.state;
  if (st.phase == machine::Phase::kDestroyed) {
    return Error{ErrorCode::kDestroyed, "the session is destroyed", {}};
  }
  if (st.ingress_owner == machine::IngressOwner::kUnattached) {
    return Error{ErrorCode::kValidationFailed,
                 fmt::format("post rejected in {}: ingress is Unattached", machine::Name(st.phase)),
                 {}};
  }
  std::string id_key = keys::MessageId(s.id, args.message_id);
  auto existing = journal_->GetState(id_key);
  if (existing.ok()) return PostResult{true};
  if (existing.status().code() != StatusCode::kNotFound) return Unavailable(existing.status());

  Step step = NewStep(s);
  uint64_t index = s.image.inbox_count;
  step.AddEvent(schema::InboxAppended{args.message_id, args.from, args.body, index});
  step.Put(keys::Inbox(s.id, index),
           keys::EncodeInboxEntry({args.message_id, args.from, args.body}));
  step.Put(std::move(id_key), keys::EncodeU64(index));
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) return committed.error();
  Wake(s);
  return PostResult{false};
}

Reply<std::vector<Message>> HostImpl::Delivered(std::string_view id) {
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  std::vector<Message> out;
  out.reserve(s.image.delivered_count);
  Status failure;
  Status scanned =
      journal_->ScanState(keys::InboxPrefix(s.id), [&](std::string_view, std::string_view value) {
        if (out.size() >= s.image.delivered_count) return false;
        auto entry = keys::DecodeInboxEntry(value);
        if (!entry.ok()) {
          failure = entry.status();
          return false;
        }
        out.push_back(
            Message{std::move(entry->message_id), std::move(entry->from), std::move(entry->body)});
        return true;
      });
  if (!scanned.ok()) return Unavailable(scanned);
  if (!failure.ok()) return Unavailable(failure.WithContext("inbox of '" + s.id + "'"));
  if (out.size() != s.image.delivered_count) {
    return Error{ErrorCode::kInternal,
                 fmt::format("inbox of '{}' holds {} entries, {} were delivered", s.id, out.size(),
                             s.image.delivered_count),
                 {}};
  }
  return out;
}

Reply<uint64_t> HostImpl::AwaitDelivered(std::string_view id, uint64_t count,
                                         std::chrono::milliseconds timeout) {
  if (auto bad = CheckId("session", id)) return *bad;
  std::shared_ptr<Session> s;
  Activity* w = nullptr;  // lives as long as the session, which `s` keeps alive
  {
    auto locked = Acquire(id);
    if (!locked.ok()) return locked.error();
    s = locked.value().session;
    w = &s->EnsureActivity();
  }
  std::unique_lock<std::mutex> wake(w->mu);
  w->cv.wait_for(wake, timeout, [&] { return w->delivered >= count || s->removed || shut_down_; });
  if (shut_down_ && w->delivered < count) {
    return Error{ErrorCode::kUnavailable, "the host is shutting down", {}};
  }
  return w->delivered;
}

// ---------------------------------------------------------------------------------------------
// Views and hooks

Reply<SessionView> HostImpl::Inspect(std::string_view id) {
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  Session& s = *locked.value().session;
  SessionView view;
  view.session_id = s.id;
  view.state = s.image.state;
  if (s.task) {
    std::lock_guard<std::mutex> done(s.task->done_mu);
    view.task.running = !s.task->done;
  }
  view.task.incarnation = s.image.incarnation;
  view.inbox_pending = s.image.inbox_count - s.image.delivered_count;
  view.delivered = s.image.delivered_count;
  return view;
}

std::vector<std::string> HostImpl::SessionIds() {
  std::vector<std::string> ids;
  {
    std::shared_lock<std::shared_mutex> registry(registry_mu_);
    ids.reserve(sessions_.size());
    for (const auto& s : sessions_) {
      if (s->created && !s->removed) ids.push_back(s->id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Reply<Done> HostImpl::FailNextInboxRead(std::string_view id) {
  if (!options_.enable_test_hooks) return InvalidArgument("test hooks are disabled");
  if (auto bad = CheckId("session", id)) return *bad;
  auto locked = Acquire(id);
  if (!locked.ok()) return locked.error();
  locked.value().session->fail_next_inbox_read = true;
  return Done{};
}

Reply<Done> HostImpl::FailNextAppends(int n) {
  if (!options_.enable_test_hooks) return InvalidArgument("test hooks are disabled");
  if (n < 0) return InvalidArgument("count must not be negative");
  journal_->FailNextAppends(n);
  return Done{};
}

}  // namespace burrow::host
