// Drain tasks (SPEC §4), the respawn supervisor, Start and Shutdown.
//
// A task is a thread. It takes the session's lock only to journal deliveries or its own exit
// report, and re-checks under that lock that it is still the session's current task before
// journaling anything, so a stale or abandoned task can never deliver or stop a fresh one.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/host/host_impl.h"
#include "engine/host/state_keys.h"
#include "journal/journal.h"

namespace burrow::host {
namespace {

// Deliveries journaled per batch: one fsync covers up to this many messages.
constexpr uint64_t kDeliveryBatch = 64;
// How often a task waiting for its session's lock re-checks its cancellation.
constexpr auto kLockPoll = std::chrono::milliseconds(5);

bool IsRespawnable(const machine::State& st) {
  return st.drain_phase == machine::DrainPhase::kExitedRespawnable &&
         st.drain_mode == machine::DrainMode::kPersistentHost && st.keep_alive &&
         st.ingress_owner != machine::IngressOwner::kUnattached;
}

}  // namespace

std::shared_ptr<DrainTask> HostImpl::PrepareTask(Step& step, const std::string& transport_id,
                                                 machine::DrainMode mode, schema::TaskCause cause) {
  auto task = std::make_shared<DrainTask>();
  task->incarnation = step.image().incarnation + 1;
  task->transport_id = transport_id;
  task->mode = mode;
  step.AddEvent(schema::DrainTaskStarted{task->incarnation, cause, transport_id});
  return task;
}

void HostImpl::LaunchTask(const std::shared_ptr<Session>& s, std::shared_ptr<DrainTask> task) {
  // Caller holds s->mu and has committed the task's start record.
  ReapFinishedTasks();
  task->started = SteadyClock::now();
  s->task = task;
  s->EnsureActivity();  // before the thread starts: DrainLoop waits on it
  std::lock_guard<std::mutex> tasks(tasks_mu_);
  if (tasks_closed_) {
    // Shutting down: the start is durable and the drain Running, so the next start respawns it.
    std::lock_guard<std::mutex> done(task->done_mu);
    task->done = true;
    return;
  }
  task->thread = std::thread([this, s, task] { DrainLoop(s, task); });
  tasks_.emplace_back(s, std::move(task));
}

void HostImpl::ReapFinishedTasks() {
  std::vector<std::shared_ptr<DrainTask>> finished;
  {
    std::lock_guard<std::mutex> tasks(tasks_mu_);
    auto done = [](const auto& entry) {
      std::lock_guard<std::mutex> d(entry.second->done_mu);
      return entry.second->done;
    };
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (done(*it)) {
        finished.push_back(std::move(it->second));
        it = tasks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // `done` is the thread's last act, so these joins return at once.
  for (auto& task : finished) task->thread.join();
}

bool HostImpl::CancelAndJoin(Session& s) {
  std::shared_ptr<DrainTask> task = s.task;
  if (!task) return true;
  task->cancelled = true;
  Wake(s);
  std::unique_lock<std::mutex> done(task->done_mu);
  if (task->done_cv.wait_for(done, options_.join_timeout, [&] { return task->done; })) return true;
  log_->warn("session '{}': drain task {} did not stop within {} ms; abandoned", s.id,
             task->incarnation, options_.join_timeout.count());
  return false;
}

HostImpl::Lock HostImpl::LockUnlessCancelled(Session& s, DrainTask& task) {
  Lock lock(s.mu, std::defer_lock);
  while (!task.cancelled) {
    if (lock.try_lock_for(kLockPoll)) {
      if (!task.cancelled) return lock;
      lock.unlock();
    }
  }
  return Lock();
}

void HostImpl::DrainLoop(std::shared_ptr<Session> s, std::shared_ptr<DrainTask> task) {
  const bool idles_out = task->mode != machine::DrainMode::kPersistentHost;
  Activity& w = *s->activity();  // created by LaunchTask before this thread started
  auto deadline = SteadyClock::now() + options_.drain_idle_timeout;
  for (;;) {
    uint64_t generation;
    {
      // Register for wake-ups before reading the inbox, so a post that lands in between is
      // never missed.
      std::lock_guard<std::mutex> wake(w.mu);
      generation = w.generation;
    }
    DrainProgress progress = DeliverPending(*s, *task);
    if (progress == DrainProgress::kEnd) break;
    if (progress == DrainProgress::kDelivered) {
      deadline = SteadyClock::now() + options_.drain_idle_timeout;
      continue;
    }
    bool woken;
    {
      std::unique_lock<std::mutex> wake(w.mu);
      auto changed = [&] { return w.generation != generation || task->cancelled; };
      if (idles_out) {
        woken = w.cv.wait_until(wake, deadline, changed);
      } else {
        w.cv.wait(wake, changed);
        woken = true;
      }
    }
    if (task->cancelled) break;
    if (woken) continue;
    // Idle timeout: report it ourselves, unless a message slipped in meanwhile.
    Lock lock = LockUnlessCancelled(*s, *task);
    if (!lock.owns_lock()) break;
    if (s->task != task || s->removed) break;
    if (s->image.delivered_count < s->image.inbox_count) continue;
    ReportExitLocked(*s, *task, machine::DrainExitReason::kIdleTimeout,
                     schema::TaskCause::kIdleTimeout);
    break;
  }
  std::lock_guard<std::mutex> done(task->done_mu);
  task->done = true;
  task->done_cv.notify_all();
}

HostImpl::DrainProgress HostImpl::DeliverPending(Session& s, DrainTask& task) {
  Lock lock = LockUnlessCancelled(s, task);
  if (!lock.owns_lock()) return DrainProgress::kEnd;
  if (s.task.get() != &task || task.end_recorded || s.removed) {
    log_->info("session '{}': stale drain task {} stops", s.id, task.incarnation);
    return DrainProgress::kEnd;
  }
  const uint64_t from = s.image.delivered_count;
  const uint64_t to = std::min(s.image.inbox_count, from + kDeliveryBatch);
  if (from == to) return DrainProgress::kIdle;

  Step step = NewStep(s);
  Status failure;
  std::vector<Message> delivered;  // for the observer
  for (uint64_t index = from; index < to && failure.ok(); ++index) {
    if (s.fail_next_inbox_read.exchange(false)) {
      failure = UnavailableError("injected inbox read failure (test hook)");
      break;
    }
    auto value = journal_->GetState(keys::Inbox(s.id, index));
    if (!value.ok()) {
      failure = value.status();
      break;
    }
    auto entry = keys::DecodeInboxEntry(*value);
    if (!entry.ok()) {
      failure = entry.status();
      break;
    }
    step.AddEvent(schema::MessageDelivered{entry->message_id, index, task.incarnation});
    if (options_.observer != nullptr) {
      delivered.push_back(Message{entry->message_id, entry->from, entry->body});
    }
  }
  if (failure.ok()) {
    step.Put(keys::Cursor(s.id), keys::EncodeU64(to));
    failure = Commit(s, step);
  }
  if (!failure.ok()) {
    log_->warn("session '{}': drain task {} failed: {}", s.id, task.incarnation,
               failure.ToString());
    ReportExitLocked(s, task, machine::DrainExitReason::kFailed, schema::TaskCause::kFailed);
    return DrainProgress::kEnd;
  }
  if (options_.observer != nullptr) options_.observer->Delivered(s.id, delivered);
  Activity& w = s.EnsureActivity();  // exists already: LaunchTask made it
  {
    std::lock_guard<std::mutex> wake(w.mu);
    w.delivered = s.image.delivered_count;
  }
  w.cv.notify_all();
  return DrainProgress::kDelivered;
}

void HostImpl::ReportExitLocked(Session& s, DrainTask& task, machine::DrainExitReason reason,
                                schema::TaskCause cause) {
  if (s.task.get() != &task || task.end_recorded) {
    log_->info("session '{}': exit report of stale drain task {} dropped", s.id, task.incarnation);
    return;
  }
  Step step = NewStep(s);
  machine::Input input = machine::NotifyDrainExited{reason};
  Step::Staged staged = step.Stage(input);
  if (staged.verdict != Step::Verdict::kAccepted) {
    log_->error("session '{}': drain task {} exit report refused: {}", s.id, task.incarnation,
                staged.reason);
    return;
  }
  step.AddEvent(schema::DrainTaskEnded{task.incarnation, cause});
  Status status = Commit(s, step);
  if (!status.ok()) {
    // The drain stays Running in the authority; `wait`'s safety net or the next start's
    // recovery deals with it.
    log_->error("session '{}': drain task {} exit could not be journaled: {}", s.id,
                task.incarnation, status.ToString());
    return;
  }
  task.end_recorded = true;
  if (SteadyClock::now() - task.started >= options_.respawn_reset_after) {
    s.EnsureActivity().respawn_delay = std::chrono::milliseconds(0);  // ran healthy long enough
  }
  ScheduleRespawnIfDue(s);
}

// ---------------------------------------------------------------------------------------------
// Respawn supervisor

void HostImpl::ScheduleRespawnIfDue(Session& s) {
  if (!IsRespawnable(s.image.state)) return;
  std::chrono::milliseconds& backoff = s.EnsureActivity().respawn_delay;
  std::chrono::milliseconds delay = backoff.count() == 0 ? options_.respawn_initial : backoff;
  backoff = std::min(delay * 2, options_.respawn_max);
  uint64_t token = ++s.respawn_token;
  {
    std::lock_guard<std::mutex> lock(supervisor_mu_);
    respawns_.emplace(SteadyClock::now() + delay, std::make_pair(s.id, token));
  }
  supervisor_cv_.notify_all();
}

void HostImpl::SupervisorLoop() {
  std::unique_lock<std::mutex> lock(supervisor_mu_);
  while (!supervisor_stop_) {
    if (respawns_.empty()) {
      supervisor_cv_.wait(lock);
      continue;
    }
    auto first = respawns_.begin();
    if (SteadyClock::now() < first->first) {
      supervisor_cv_.wait_until(lock, first->first);
      continue;
    }
    auto [id, token] = first->second;
    respawns_.erase(first);
    lock.unlock();
    RespawnDue(id, token);
    lock.lock();
  }
}

void HostImpl::RespawnDue(const std::string& id, uint64_t token) {
  auto locked = Acquire(id);
  if (!locked.ok()) return;
  Session& s = *locked.value().session;
  if (s.respawn_token != token || !IsRespawnable(s.image.state)) return;
  Step step = NewStep(s);
  Step::Staged staged = step.Stage(machine::SpawnDrain{machine::DrainMode::kPersistentHost});
  if (staged.verdict != Step::Verdict::kAccepted) {
    log_->warn("session '{}': respawn refused: {}", s.id, staged.reason);
    return;
  }
  bool end_old = StageEndOfLiveTask(step, s, schema::TaskCause::kCancelled);
  auto task = PrepareTask(step, *s.image.state.ingress_transport_id,
                          machine::DrainMode::kPersistentHost, schema::TaskCause::kRespawn);
  auto committed = CommitAndPublish(s, step);
  if (!committed.ok()) {
    ScheduleRespawnIfDue(s);  // try again after a longer backoff
    return;
  }
  ++s.respawn_token;
  if (end_old) {
    EndRecordedTask(s);
  }
  log_->info("session '{}': drain respawned as task {}", s.id, task->incarnation);
  LaunchTask(locked.value().session, std::move(task));
}

// ---------------------------------------------------------------------------------------------
// Start and shutdown

std::vector<std::shared_ptr<Session>> HostImpl::SessionsDueAtStart() {
  // One pass over the registry and a plain lock per session: almost every recovered session
  // needs nothing here, and a lookup by id for each one (Acquire over SessionIds()' sorted copy of
  // every id) was ~1/6 of a 100,000-session restart.
  std::vector<std::shared_ptr<Session>> all;
  {
    std::shared_lock<std::shared_mutex> registry(registry_mu_);
    all.reserve(sessions_.size());
    for (const auto& s : sessions_) all.push_back(s);
  }
  std::vector<std::shared_ptr<Session>> due;
  for (std::shared_ptr<Session>& s : all) {
    Lock lock(s->mu);
    if (!s->created || s->removed) continue;
    const machine::State& st = s->image.state;
    if (st.registration_phase == machine::RegistrationPhase::kDraining ||
        (st.drain_phase == machine::DrainPhase::kRunning && !TaskLive(*s)) || IsRespawnable(st)) {
      due.push_back(std::move(s));
    }
  }
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
  return due;
}

Reply<StartReport> HostImpl::Start() {
  StartReport report;
  std::vector<Locked> running;  // locked until their tasks are launched
  for (const std::shared_ptr<Session>& due : SessionsDueAtStart()) {
    auto locked = Acquire(due->id);
    if (!locked.ok()) continue;
    Session& s = *locked.value().session;
    const machine::State& st = s.image.state;
    if (st.registration_phase == machine::RegistrationPhase::kDraining) {
      // The crash ended the runtime loop and the comms drain: their obligations close forced.
      auto finished = FinishUnregisterLocked(locked.value(), true, true);
      if (!finished.ok()) return finished.error();
      ++report.unregisters_finished;
    } else if (st.drain_phase == machine::DrainPhase::kRunning && !TaskLive(s)) {
      running.push_back(std::move(locked.value()));
    } else if (IsRespawnable(st)) {
      ScheduleRespawnIfDue(s);
      ++report.respawns_scheduled;
    }
  }
  auto restarted = RestartDrains(running);
  if (!restarted.ok()) return restarted.error();
  report.drains_started = running.size();
  return report;
}

Reply<Done> HostImpl::RestartDrains(std::vector<Locked>& running) {
  // Start records per append: one fsync for many tasks, with the batch's memory bounded.
  constexpr size_t kStartsPerAppend = 4096;
  for (size_t from = 0; from < running.size(); from += kStartsPerAppend) {
    const size_t to = std::min(running.size(), from + kStartsPerAppend);
    std::vector<Step> steps;
    std::vector<std::shared_ptr<DrainTask>> tasks;
    steps.reserve(to - from);
    tasks.reserve(to - from);
    for (size_t i = from; i < to; ++i) {
      Session& s = *running[i].session;
      const machine::State& st = s.image.state;
      steps.push_back(NewStep(s));
      tasks.push_back(PrepareTask(steps.back(), st.ingress_transport_id.value_or(""),
                                  *st.drain_mode, schema::TaskCause::kRecovery));
    }
    Status committed = Step::CommitTogether(*journal_, steps);
    if (!committed.ok()) {
      log_->warn("journal append of {} drain restarts failed, nothing applied: {}", to - from,
                 committed.ToString());
      return Error{ErrorCode::kUnavailable, committed.ToString(), {}};
    }
    for (size_t i = from; i < to; ++i) {
      Committed(*running[i].session, steps[i - from]);
      LaunchTask(running[i].session, std::move(tasks[i - from]));
    }
  }
  return Done{};
}

void HostImpl::Shutdown() {
  if (shut_down_.exchange(true)) return;
  // Submitted commands first: what is queued gets Unavailable (Acquire refuses it now), and so
  // does any Submit from here on.
  std::thread submitter;
  {
    std::lock_guard<std::mutex> lock(submit_mu_);
    submit_stop_ = true;
    submitter = std::move(submitter_);
  }
  submit_cv_.notify_one();
  if (submitter.joinable()) submitter.join();
  {
    std::lock_guard<std::mutex> lock(supervisor_mu_);
    supervisor_stop_ = true;
  }
  supervisor_cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();

  // Stop every task without journaling anything: the authorities stay Running.
  std::vector<std::pair<std::shared_ptr<Session>, std::shared_ptr<DrainTask>>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    tasks_closed_ = true;
    tasks.swap(tasks_);
  }
  for (auto& [s, task] : tasks) {
    task->cancelled = true;
    Wake(*s);
  }
  for (auto& [s, task] : tasks) task->thread.join();
  // Wake whoever waits on a session (await_delivered) so it sees the shutdown.
  {
    std::shared_lock<std::shared_mutex> registry(registry_mu_);
    for (const auto& s : sessions_) {
      Activity* w = s->activity();
      if (w == nullptr) continue;  // nobody ever waited on it
      { std::lock_guard<std::mutex> wake(w->mu); }
      w->cv.notify_all();
    }
  }

  {
    std::lock_guard<std::mutex> lock(checkpointer_mu_);
    checkpointer_stop_ = true;
  }
  checkpointer_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  // A clean shutdown leaves a fresh checkpoint, so the next start replays almost nothing.
  if (options_.checkpoint_every_records > 0) {
    auto checkpoint = Checkpoint();
    if (!checkpoint.ok()) {
      log_->warn("shutdown checkpoint failed: {}", checkpoint.error().reason);
    }
  }
}

}  // namespace burrow::host
