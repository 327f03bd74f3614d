// The RPC server (rpc.h): a kj event loop on its own thread accepts connections, hands each one
// a Gate, and runs host commands on worker threads, or on the loop itself when the server is idle
// (Dispatch). Finished commands come back to the loop in batches: a worker appends its result to
// a shared list and wakes the loop only if the list was empty, so the commands of one group
// commit cost one cross-thread wake-up, not one each.
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <fmt/format.h>
#include <kj/async-io.h>
#include <kj/compat/http.h>
#include <kj/debug.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/rpc/convert.h"
#include "engine/rpc/rpc.h"
#include "schema/host.capnp.h"

namespace burrow::rpc {
namespace {

// A subscriber that has this many event calls unanswered is too slow: it is dropped rather
// than let its queue grow without bound.
constexpr uint64_t kMaxOutstandingEvents = 4096;
// A connection that presented a wrong token is closed this long after the refusal is sent.
constexpr auto kRefusedCloseDelay = 50 * kj::MILLISECONDS;

host::Error Unavailable(std::string reason) {
  return host::Error{host::ErrorCode::kUnavailable, std::move(reason), {}};
}
host::Error InvalidArgument(std::string reason) {
  return host::Error{host::ErrorCode::kInvalidArgument, std::move(reason), {}};
}

template <typename T>
std::string_view ResultName(const host::Reply<T>& reply) {
  return reply.ok() ? std::string_view("ok") : host::Name(reply.error().code);
}

bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  // Time depends only on the expected token's length, never on where the first difference is.
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

// The commands that may run on the loop thread when the server is idle: those that decide,
// commit (one fsync) and publish, and nothing more. Not those that can block for long: wait and
// await_delivered, and the ones that stop a drain task and join it (for up to
// HostOptions::join_timeout): destroy, unregister, set_peer_ingress, notify_drain_exited,
// abort, abort_all. A command missing here (a new one) runs on a worker, which is always safe.
bool MayRunOnLoop(std::string_view command) {
  static constexpr std::string_view kQuick[] = {
      "register", "attach_runtime",       "ensure_executor",   "start_run", "finish_run", "retire",
      "reset",    "stop_runtime",         "runtime_exited",    "post",      "delivered",  "inspect",
      "sessions", "fail_next_inbox_read", "fail_next_appends", "subscribe"};
  for (std::string_view quick : kQuick) {
    if (command == quick) return true;
  }
  return false;
}

// Threads that run host commands. Grows while every thread is busy (host commands block on
// fsync, `wait` on a task), up to `max_threads`; beyond that, jobs queue.
class WorkerPool {
 public:
  explicit WorkerPool(size_t max_threads) : max_threads_(max_threads) {}
  ~WorkerPool() { Close(); }

  void Submit(kj::Function<void()> job) {
    {
      std::unique_lock lock(mu_);
      jobs_.push_back(kj::mv(job));
      if (idle_ == 0 && threads_.size() < max_threads_) {
        threads_.emplace_back([this] { Work(); });
        return;
      }
    }
    // Outside the lock, so the woken worker does not wake only to wait for it.
    cv_.notify_one();
  }

  // Runs the queued jobs, then joins every thread.
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return !jobs_.empty() || closed_; });
      --idle_;
      if (jobs_.empty()) return;  // closed
      {
        kj::Function<void()> job = kj::mv(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
      }  // the job's captures are destroyed before the lock is taken again
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<kj::Function<void()>> jobs_;
  std::vector<std::thread> threads_;  // guarded by mu_ for growth; joined by Close
  size_t idle_ = 0;
  bool closed_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// EventHub: the host side (any thread) queues events of watched sessions; the server's loop
// thread pumps them to subscribers.

struct Event {
  std::string session;
  std::optional<machine::State> state;  // a state change, else a delivery
  std::vector<host::Message> messages;
};

struct EventHub::Impl {
  Metrics* metrics = nullptr;

  std::mutex mu;
  std::unordered_map<std::string, int> watched;  // session → subscribers
  std::deque<Event> queue;
  kj::Own<const kj::CrossThreadPromiseFulfiller<void>> wake;  // set by the pump while it waits

  std::mutex drains_mu;
  std::unordered_map<std::string, bool> drain_running;  // guarded by drains_mu
  uint64_t drains_running = 0;                          // guarded by drains_mu

  void Push(Event event) {
    kj::Own<const kj::CrossThreadPromiseFulfiller<void>> to_wake;
    {
      std::lock_guard lock(mu);
      if (watched.find(event.session) == watched.end()) return;
      queue.push_back(std::move(event));
      to_wake = kj::mv(wake);
    }
    if (to_wake.get() != nullptr) to_wake->fulfill();
  }

  void NoteDrain(std::string_view session, bool running) {
    std::lock_guard lock(drains_mu);
    auto [it, inserted] = drain_running.try_emplace(std::string(session), false);
    if (it->second != running) {
      drains_running += running ? 1 : -1;
      it->second = running;
    }
    if (!running) drain_running.erase(it);
    if (metrics != nullptr) metrics->SetDrainsRunning(drains_running);
  }
};

EventHub::EventHub(Metrics* metrics) : impl_(std::make_unique<Impl>()) { impl_->metrics = metrics; }
EventHub::~EventHub() = default;

void EventHub::Seed(host::Host& host) {
  const host::Reply<std::vector<std::string>> sessions = host.Sessions();
  if (!sessions.ok()) return;  // an embedded host always lists its sessions
  for (const std::string& session : sessions.value()) {
    host::Reply<host::SessionView> view = host.Inspect(session);
    if (view.ok()) {
      impl_->NoteDrain(session, view.value().state.drain_phase == machine::DrainPhase::kRunning);
    }
  }
  if (impl_->metrics != nullptr) {
    std::lock_guard lock(impl_->drains_mu);
    impl_->metrics->SetDrainsRunning(impl_->drains_running);
  }
}

void EventHub::StateChanged(std::string_view session, const machine::State& state) {
  impl_->NoteDrain(
      session, state.session_id.has_value() && state.drain_phase == machine::DrainPhase::kRunning);
  impl_->Push(Event{std::string(session), state, {}});
}

void EventHub::Delivered(std::string_view session, std::span<const host::Message> messages) {
  impl_->Push(Event{std::string(session), std::nullopt, {messages.begin(), messages.end()}});
}

namespace {

// ---------------------------------------------------------------------------------------------

class ServerImpl;

// A command finished by a worker, to be answered on the loop thread.
class Completion {
 public:
  virtual ~Completion() noexcept(false) = default;  // kj::Own may throw
  virtual void Answer() = 0;                        // loop thread only
};

template <typename T>
class CompletionOf final : public Completion {
 public:
  explicit CompletionOf(kj::Own<kj::PromiseFulfiller<void>> fulfiller)
      : fulfiller_(kj::mv(fulfiller)) {}
  // A worker sets the reply before handing the completion to the loop (which orders the two
  // through the completion list's mutex).
  std::optional<host::Reply<T>> reply;
  void Answer() override { fulfiller_->fulfill(); }

 private:
  kj::Own<kj::PromiseFulfiller<void>> fulfiller_;  // created and destroyed on the loop thread
};

struct Subscriber {
  std::string session;
  wire::SessionEvents::Client events;
  uint64_t outstanding = 0;
  bool dead = false;
};

class ServerImpl final : public Server, public kj::TaskSet::ErrorHandler {
 public:
  ServerImpl(host::Host& host, ServerOptions options)
      : host_(host),
        options_(std::move(options)),
        log_(options_.logger ? options_.logger
                             : std::make_shared<spdlog::logger>(
                                   "burrow.rpc", std::make_shared<spdlog::sinks::null_sink_mt>())),
        pool_(options_.max_workers) {}

  ~ServerImpl() noexcept override { Stop(); }

  Status Begin() {
    std::promise<Status> ready;
    std::future<Status> started = ready.get_future();
    thread_ = std::thread([this, &ready] { Loop(ready); });
    Status status = started.get();
    if (!status.ok()) thread_.join();
    return status;
  }

  Address address() const override { return bound_; }
  std::optional<Address> metrics_address() const override { return metrics_bound_; }
  size_t connections() const override { return connection_count_.load(); }
  uint64_t commands_run_on_loop() const override { return ran_on_loop_.load(); }

  void Stop() override {
    {
      std::lock_guard lock(stop_mu_);
      if (stop_fulfiller_.get() != nullptr) {
        stop_fulfiller_->fulfill();
        stop_fulfiller_ = nullptr;
      }
    }
    std::lock_guard join(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  // Runs `work(host)` and answers through `fill` on the loop thread: on the loop thread itself
  // when the server is idle (see ServerOptions::run_idle_commands_on_loop), else on a worker.
  // `waits`: the command may block indefinitely (wait, await_delivered); it always goes to a
  // worker, and a graceful stop does not wait for those, the host's Shutdown ends them.
  template <typename T, typename Work, typename Fill>
  kj::Promise<void> Dispatch(std::string_view command, bool waits, Work work, Fill fill) {
    if (stopping_) return Refuse<T>(command, fill);
    const uint64_t ticket = ++dispatched_;
    if (waits || !MayRunOnLoop(command) || !options_.run_idle_commands_on_loop ||
        commands_in_flight_ != 0 || candidate_pending_) {
      return OnWorker<T>(command, waits, kj::mv(work), kj::mv(fill));
    }
    // Idle as far as this call can tell; but other calls may arrive in the same turn (a burst,
    // e.g. those that queued while an earlier command held the loop). Decide once the loop has
    // run everything it has and is about to wait for I/O: if nothing else was dispatched
    // meanwhile and nothing is in flight, run here; otherwise the burst goes to the workers
    // together (the later calls at once, since a candidate is pending), where its commands
    // share one group commit.
    return kj::evalLast(
        [this, ticket, command, work = kj::mv(work), fill = kj::mv(fill),
         pending = CandidatePending(candidate_pending_)]() mutable -> kj::Promise<void> {
          pending.Clear();
          if (stopping_) return Refuse<T>(command, fill);
          if (dispatched_ != ticket || commands_in_flight_ != 0) {
            return OnWorker<T>(command, false, kj::mv(work), kj::mv(fill));
          }
          ++commands_in_flight_;
          ++jobs_in_flight_;
          host::Reply<T> reply = work(host_);
          Count(command, reply);
          --commands_in_flight_;
          --jobs_in_flight_;
          ++ran_on_loop_;
          fill(reply);
          return kj::READY_NOW;
        });
  }

  // Sets a flag while a command waits to learn whether it may run on the loop; clears it when
  // that is decided, or when the call is cancelled (its client went away) before.
  class CandidatePending {
   public:
    explicit CandidatePending(bool& flag) : flag_(&flag) { flag = true; }
    CandidatePending(CandidatePending&& other) noexcept : flag_(other.flag_) {
      other.flag_ = nullptr;
    }
    CandidatePending(const CandidatePending&) = delete;
    CandidatePending& operator=(const CandidatePending&) = delete;
    CandidatePending& operator=(CandidatePending&&) = delete;
    ~CandidatePending() { Clear(); }
    void Clear() {
      if (flag_ != nullptr) *flag_ = false;
      flag_ = nullptr;
    }

   private:
    bool* flag_;
  };

  template <typename T, typename Fill>
  kj::Promise<void> Refuse(std::string_view command, Fill& fill) {
    host::Reply<T> refused = Unavailable("the server is shutting down");
    Count(command, refused);
    fill(refused);
    return kj::READY_NOW;
  }

  // Runs `work(host)` on a worker; the answer comes back to the loop with the next batch.
  template <typename T, typename Work, typename Fill>
  kj::Promise<void> OnWorker(std::string_view command, bool waits, Work work, Fill fill) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    auto completion = std::make_shared<CompletionOf<T>>(kj::mv(paf.fulfiller));
    ++jobs_in_flight_;
    if (!waits) ++commands_in_flight_;
    pool_.Submit([this, completion, command, waits, work = kj::mv(work)]() mutable {
      completion->reply.emplace(work(host_));
      Count(command, *completion->reply);
      if (!waits) --commands_in_flight_;
      --jobs_in_flight_;
      Finished(kj::mv(completion));
    });
    return paf.promise.then(
        [completion, fill = kj::mv(fill)]() mutable { fill(*completion->reply); });
  }

  // Worker threads: hands a finished command to the loop; only the first of a batch wakes it.
  void Finished(std::shared_ptr<Completion> completion) {
    kj::Own<const kj::CrossThreadPromiseFulfiller<void>> to_wake;
    {
      std::lock_guard lock(finished_mu_);
      finished_.push_back(std::move(completion));
      to_wake = kj::mv(finished_wake_);
    }
    if (to_wake.get() != nullptr) to_wake->fulfill();
  }

  template <typename T>
  void Count(std::string_view command, const host::Reply<T>& reply) {
    if (options_.metrics != nullptr) options_.metrics->CommandDone(command, ResultName(reply));
  }

  bool CheckToken(std::string_view given) const {
    if (!options_.token.has_value()) return true;
    return ConstantTimeEquals(given, *options_.token);
  }

  // Closes a connection shortly (after the refusal reached it).
  void CloseSoon(uint64_t id) {
    tasks_->add(timer_->afterDelay(kRefusedCloseDelay).then([this, id] { Drop(id); }));
  }

  host::Host& host() { return host_; }
  spdlog::logger& log() { return *log_; }
  EventHub* events() { return options_.events; }
  kj::TaskSet& tasks() { return *tasks_; }

  // Subscriptions (loop thread only).
  void AddSubscriber(const std::shared_ptr<Subscriber>& subscriber) {
    subscribers_.emplace(subscriber->session, subscriber);
    std::lock_guard lock(options_.events->impl().mu);
    ++options_.events->impl().watched[subscriber->session];
  }
  void RemoveSubscriber(const std::shared_ptr<Subscriber>& subscriber) {
    auto range = subscribers_.equal_range(subscriber->session);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == subscriber) {
        subscribers_.erase(it);
        break;
      }
    }
    if (options_.events == nullptr) return;
    std::lock_guard lock(options_.events->impl().mu);
    auto& watched = options_.events->impl().watched;
    auto it = watched.find(subscriber->session);
    if (it != watched.end() && --it->second <= 0) watched.erase(it);
  }

 private:
  struct Connection {
    Connection(kj::Own<kj::AsyncIoStream> s, capnp::ReaderOptions reader_options,
               capnp::Capability::Client gate)
        : stream(kj::mv(s)),
          network(*stream, capnp::rpc::twoparty::Side::SERVER, reader_options),
          rpc(capnp::makeRpcServer(network, kj::mv(gate))) {}
    kj::Own<kj::AsyncIoStream> stream;
    capnp::TwoPartyVatNetwork network;
    capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  };

  void taskFailed(kj::Exception&& exception) override {
    log_->warn("rpc: {}", exception.getDescription().cStr());
  }

  void Loop(std::promise<Status>& ready);
  Result<kj::Own<kj::ConnectionReceiver>> Bind(kj::AsyncIoContext& io, const Address& address,
                                               Address& bound);
  kj::Promise<void> AcceptLoop(kj::ConnectionReceiver& listener);
  void Admit(kj::Own<kj::AsyncIoStream> stream);
  void Drop(uint64_t id) {
    if (connections_.erase(id) > 0) --connection_count_;
  }
  kj::Promise<void> Pump();
  kj::Promise<void> AnswerFinished();
  void Deliver(Event& event);
  void WaitUntil(kj::WaitScope& ws, const std::function<bool()>& done,
                 std::chrono::milliseconds bound);

  host::Host& host_;
  const ServerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  WorkerPool pool_;
  std::thread thread_;
  std::mutex join_mu_;
  Address bound_;
  std::optional<Address> metrics_bound_;

  std::mutex stop_mu_;
  kj::Own<const kj::CrossThreadPromiseFulfiller<void>> stop_fulfiller_;  // guarded by stop_mu_

  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> jobs_in_flight_{0};
  std::atomic<uint64_t> commands_in_flight_{0};
  std::atomic<size_t> connection_count_{0};
  std::atomic<uint64_t> ran_on_loop_{0};  // commands run on the loop thread (for logs and tests)

  std::mutex finished_mu_;
  std::vector<std::shared_ptr<Completion>> finished_;                   // guarded by finished_mu_
  kj::Own<const kj::CrossThreadPromiseFulfiller<void>> finished_wake_;  // guarded by finished_mu_

  // --- loop thread only ---
  kj::Timer* timer_ = nullptr;
  kj::Own<kj::TaskSet> tasks_;
  std::map<uint64_t, kj::Own<Connection>> connections_;
  uint64_t next_connection_ = 0;
  uint64_t dispatched_ = 0;  // Dispatch calls so far: tells an idle call whether others followed
  bool candidate_pending_ = false;  // a call waits (evalLast) to learn if it runs on the loop
  std::multimap<std::string, std::shared_ptr<Subscriber>> subscribers_;
};

// ---------------------------------------------------------------------------------------------
// The capabilities

class SubscriptionImpl final : public wire::Subscription::Server {
 public:
  SubscriptionImpl(ServerImpl& server, std::shared_ptr<Subscriber> subscriber)
      : server_(server), subscriber_(std::move(subscriber)) {}
  ~SubscriptionImpl() noexcept(false) { server_.RemoveSubscriber(subscriber_); }

 private:
  ServerImpl& server_;
  std::shared_ptr<Subscriber> subscriber_;
};

template <typename Builder>
void SetOutcome(Builder out, const host::Reply<host::Done>& reply) {
  if (reply.ok()) {
    out.setOk();
  } else {
    ToWire(reply.error(), out.initError());
  }
}

class RuntimeHostImpl final : public wire::RuntimeHost::Server {
 public:
  explicit RuntimeHostImpl(ServerImpl& server) : server_(server) {}

#define BURROW_SIMPLE_COMMAND(method, Context, name, call)                 \
  kj::Promise<void> method(Context context) override {                     \
    std::string session = Str(context.getParams().getSession());           \
    return server_.Dispatch<host::Done>(                                   \
        name, false, [session](host::Host& h) { return h.call(session); }, \
        [context](const host::Reply<host::Done>& r) mutable {              \
          SetOutcome(context.getResults().initResult(), r);                \
        });                                                                \
  }

  BURROW_SIMPLE_COMMAND(registerSession, RegisterSessionContext, "register", Register)
  BURROW_SIMPLE_COMMAND(ensureExecutor, EnsureExecutorContext, "ensure_executor", EnsureExecutor)
  BURROW_SIMPLE_COMMAND(retire, RetireContext, "retire", Retire)
  BURROW_SIMPLE_COMMAND(reset, ResetContext, "reset", Reset)
  BURROW_SIMPLE_COMMAND(runtimeExited, RuntimeExitedContext, "runtime_exited", RuntimeExited)
  BURROW_SIMPLE_COMMAND(destroy, DestroyContext, "destroy", Destroy)
  BURROW_SIMPLE_COMMAND(unregister, UnregisterContext, "unregister", Unregister)
  BURROW_SIMPLE_COMMAND(abort, AbortContext, "abort", Abort)
#undef BURROW_SIMPLE_COMMAND

  kj::Promise<void> attachRuntime(AttachRuntimeContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    host::AttachRuntimeArgs args;
    args.runtime_id = Str(p.getRuntimeId());
    args.fence_token = p.getFenceToken();
    args.generation = FromWire(p.getGeneration());
    args.epoch_id = FromWire(p.getEpochId());
    return Done("attach_runtime", context,
                [session, args](host::Host& h) { return h.AttachRuntime(session, args); });
  }

  kj::Promise<void> startRun(StartRunContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    std::string run = Str(p.getRunId());
    return Done("start_run", context,
                [session, run](host::Host& h) { return h.StartRun(session, run); });
  }

  kj::Promise<void> finishRun(FinishRunContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    std::string run = Str(p.getRunId());
    if (!Known(p.getOutcome())) return Refuse("finish_run", context, "unknown run outcome");
    machine::RunOutcome outcome = FromWire(p.getOutcome());
    return Done("finish_run", context, [session, run, outcome](host::Host& h) {
      return h.FinishRun(session, run, outcome);
    });
  }

  kj::Promise<void> stopRuntime(StopRuntimeContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    std::string reason = Str(p.getReason());
    return Done("stop_runtime", context,
                [session, reason](host::Host& h) { return h.StopRuntime(session, reason); });
  }

  kj::Promise<void> setPeerIngress(SetPeerIngressContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    host::PeerIngressArgs args;
    args.keep_alive = p.getKeepAlive();
    args.transport_id = FromWire(p.getTransportId());
    args.mob_id = FromWire(p.getMobId());
    if (!Known(p.getMode())) {
      return Bool("set_peer_ingress", false, context, [](host::Host&) -> host::Reply<bool> {
        return InvalidArgument("unknown drain mode");
      });
    }
    args.mode = FromWire(p.getMode());
    return Bool("set_peer_ingress", false, context,
                [session, args](host::Host& h) { return h.SetPeerIngress(session, args); });
  }

  kj::Promise<void> notifyDrainExited(NotifyDrainExitedContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    if (!Known(p.getReason())) return Refuse("notify_drain_exited", context, "unknown reason");
    machine::DrainExitReason reason = FromWire(p.getReason());
    return Done("notify_drain_exited", context,
                [session, reason](host::Host& h) { return h.NotifyDrainExited(session, reason); });
  }

  kj::Promise<void> abortAll(AbortAllContext context) override {
    return Done("abort_all", context, [](host::Host& h) { return h.AbortAll(); });
  }

  kj::Promise<void> wait(WaitContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    std::optional<std::chrono::milliseconds> timeout;
    if (auto t = FromWire(p.getTimeoutMs())) timeout = std::chrono::milliseconds(*t);
    return Bool("wait", true, context,
                [session, timeout](host::Host& h) { return h.Wait(session, timeout); });
  }

  kj::Promise<void> post(PostContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    host::PostArgs args{Str(p.getMessageId()), Str(p.getFrom()), Str(p.getBody())};
    return server_.Dispatch<host::PostResult>(
        "post", false, [session, args](host::Host& h) { return h.Post(session, args); },
        [context](const host::Reply<host::PostResult>& r) mutable {
          auto out = context.getResults().initResult();
          if (r.ok()) {
            out.setDuplicate(r.value().duplicate);
          } else {
            ToWire(r.error(), out.initError());
          }
        });
  }

  kj::Promise<void> delivered(DeliveredContext context) override {
    std::string session = Str(context.getParams().getSession());
    return server_.Dispatch<std::vector<host::Message>>(
        "delivered", false, [session](host::Host& h) { return h.Delivered(session); },
        [context](const host::Reply<std::vector<host::Message>>& r) mutable {
          auto out = context.getResults().initResult();
          if (!r.ok()) return ToWire(r.error(), out.initError());
          auto list = out.initOk(static_cast<unsigned>(r.value().size()));
          for (size_t i = 0; i < r.value().size(); ++i) {
            ToWire(r.value()[i], list[static_cast<unsigned>(i)]);
          }
        });
  }

  kj::Promise<void> awaitDelivered(AwaitDeliveredContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    uint64_t count = p.getCount();
    auto timeout = std::chrono::milliseconds(p.getTimeoutMs());
    return server_.Dispatch<uint64_t>(
        "await_delivered", true,
        [session, count, timeout](host::Host& h) {
          return h.AwaitDelivered(session, count, timeout);
        },
        [context](const host::Reply<uint64_t>& r) mutable {
          auto out = context.getResults().initResult();
          if (r.ok()) {
            out.setOk(r.value());
          } else {
            ToWire(r.error(), out.initError());
          }
        });
  }

  kj::Promise<void> inspect(InspectContext context) override {
    std::string session = Str(context.getParams().getSession());
    return server_.Dispatch<host::SessionView>(
        "inspect", false, [session](host::Host& h) { return h.Inspect(session); },
        [context](const host::Reply<host::SessionView>& r) mutable {
          auto out = context.getResults().initResult();
          if (r.ok()) {
            ToWire(r.value(), out.initOk());
          } else {
            ToWire(r.error(), out.initError());
          }
        });
  }

  kj::Promise<void> sessions(SessionsContext context) override {
    return server_.Dispatch<std::vector<std::string>>(
        "sessions", false, [](host::Host& h) { return h.Sessions(); },
        [context](const host::Reply<std::vector<std::string>>& r) mutable {
          if (!r.ok()) return ToWire(r.error(), context.getResults().initError());
          auto list = context.getResults().initSessions(static_cast<unsigned>(r.value().size()));
          for (size_t i = 0; i < r.value().size(); ++i) {
            list.set(static_cast<unsigned>(i), Text(r.value()[i]));
          }
        });
  }

  kj::Promise<void> subscribe(SubscribeContext context) override {
    auto p = context.getParams();
    std::string session = Str(p.getSession());
    if (server_.events() == nullptr) return Refuse("subscribe", context, "subscriptions are off");
    auto subscriber = std::make_shared<Subscriber>(Subscriber{session, p.getEvents(), 0, false});
    ServerImpl& server = server_;
    return server_.Dispatch<host::Done>(
        "subscribe", false,
        [session](host::Host& h) -> host::Reply<host::Done> {
          host::Reply<host::SessionView> view = h.Inspect(session);
          if (!view.ok()) return view.error();
          return host::Done{};
        },
        [context, subscriber, &server](const host::Reply<host::Done>& r) mutable {
          SetOutcome(context.getResults().initResult(), r);
          if (!r.ok()) return;
          server.AddSubscriber(subscriber);
          context.getResults().setSubscription(kj::heap<SubscriptionImpl>(server, subscriber));
        });
  }

  kj::Promise<void> failNextInboxRead(FailNextInboxReadContext context) override {
    std::string session = Str(context.getParams().getSession());
    return Done("fail_next_inbox_read", context,
                [session](host::Host& h) { return h.FailNextInboxRead(session); });
  }

  kj::Promise<void> failNextAppends(FailNextAppendsContext context) override {
    uint32_t count = context.getParams().getCount();
    if (count > static_cast<uint32_t>(INT32_MAX)) {
      return Refuse("fail_next_appends", context, "count is too large");
    }
    return Done("fail_next_appends", context,
                [count](host::Host& h) { return h.FailNextAppends(static_cast<int>(count)); });
  }

 private:
  template <typename Context, typename Work>
  kj::Promise<void> Done(std::string_view name, Context context, Work work) {
    return server_.Dispatch<host::Done>(name, false, std::move(work),
                                        [context](const host::Reply<host::Done>& r) mutable {
                                          SetOutcome(context.getResults().initResult(), r);
                                        });
  }

  template <typename Context, typename Work>
  kj::Promise<void> Bool(std::string_view name, bool waits, Context context, Work work) {
    return server_.Dispatch<bool>(name, waits, std::move(work),
                                  [context](const host::Reply<bool>& r) mutable {
                                    auto out = context.getResults().initResult();
                                    if (r.ok()) {
                                      out.setOk(r.value());
                                    } else {
                                      ToWire(r.error(), out.initError());
                                    }
                                  });
  }

  // Answers InvalidArgument without reaching the host.
  template <typename Context>
  kj::Promise<void> Refuse(std::string_view name, Context context, std::string reason) {
    host::Reply<host::Done> refused = InvalidArgument(std::move(reason));
    server_.Count(name, refused);
    SetOutcome(context.getResults().initResult(), refused);
    return kj::READY_NOW;
  }

  ServerImpl& server_;
};

class GateImpl final : public wire::Gate::Server {
 public:
  GateImpl(ServerImpl& server, uint64_t connection) : server_(server), connection_(connection) {}

  kj::Promise<void> authenticate(AuthenticateContext context) override {
    if (refused_ || !server_.CheckToken(Str(context.getParams().getToken()))) {
      refused_ = true;
      server_.log().warn("rpc: connection {} presented a wrong token; closing it", connection_);
      server_.CloseSoon(connection_);
      return KJ_EXCEPTION(FAILED, "authentication failed");
    }
    context.getResults().setHost(kj::heap<RuntimeHostImpl>(server_));
    return kj::READY_NOW;
  }

 private:
  ServerImpl& server_;
  const uint64_t connection_;
  bool refused_ = false;
};

// ---------------------------------------------------------------------------------------------
// The loop

class MetricsService final : public kj::HttpService {
 public:
  MetricsService(Metrics& metrics, const kj::HttpHeaderTable& table)
      : metrics_(metrics), table_(table) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders&,
                            kj::AsyncInputStream&, Response& response) override {
    kj::HttpHeaders headers(table_);
    if (method != kj::HttpMethod::GET || (url != "/metrics" && url != "/")) {
      headers.set(kj::HttpHeaderId::CONTENT_TYPE, "text/plain");
      kj::StringPtr body = "not found: GET /metrics\n";
      auto stream = response.send(404, "Not Found", headers, body.size());
      auto promise = stream->write(body.begin(), body.size());
      return promise.attach(kj::mv(stream));
    }
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    auto body = kj::heapString(metrics_.Render());
    auto stream = response.send(200, "OK", headers, body.size());
    auto promise = stream->write(body.begin(), body.size());
    return promise.attach(kj::mv(stream), kj::mv(body));
  }

 private:
  Metrics& metrics_;
  const kj::HttpHeaderTable& table_;
};

// A Unix socket created with mode 0600 before anyone can connect: the mode is set between bind
// and listen, and connecting needs listen.
Result<int> ListenUnix(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return UnavailableError(fmt::format("{} exists and is not a socket", path));
    }
    // A stale socket of an earlier server: the journal's writer lock already guarantees that no
    // other server runs on this data directory.
    unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      chmod(path.c_str(), 0600) != 0 || listen(fd, SOMAXCONN) != 0) {
    int error = errno;
    close(fd);
    return UnavailableError(
        fmt::format("cannot listen on unix:{}: {}", path, std::strerror(error)));
  }
  return fd;
}

Result<kj::Own<kj::ConnectionReceiver>> ServerImpl::Bind(kj::AsyncIoContext& io,
                                                         const Address& address, Address& bound) {
  bound = address;
  if (address.kind == Address::Kind::kUnix) {
    BURROW_ASSIGN_OR_RETURN(int fd, ListenUnix(address.path));
    return io.lowLevelProvider->wrapListenSocketFd(
        fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC |
                kj::LowLevelAsyncIoProvider::ALREADY_NONBLOCK);
  }
  kj::Own<kj::ConnectionReceiver> listener;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    auto parsed = io.provider->getNetwork().parseAddress(address.ToString()).wait(io.waitScope);
    listener = parsed->listen();
    bound.port = static_cast<uint16_t>(listener->getPort());
  });
  KJ_IF_MAYBE (e, failure) {
    return UnavailableError(
        fmt::format("cannot listen on {}: {}", address.ToString(), e->getDescription().cStr()));
  }
  return kj::mv(listener);
}

kj::Promise<void> ServerImpl::AcceptLoop(kj::ConnectionReceiver& listener) {
  return listener.accept()
      .then(
          [this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
            Admit(kj::mv(stream));
            return kj::READY_NOW;
          },
          [this](kj::Exception&& e) -> kj::Promise<void> {
            // Out of file descriptors and the like: keep the listener, try again shortly.
            log_->error("rpc: accept failed: {}", e.getDescription().cStr());
            return timer_->afterDelay(100 * kj::MILLISECONDS);
          })
      .then([this, &listener] { return AcceptLoop(listener); });
}

void ServerImpl::Admit(kj::Own<kj::AsyncIoStream> stream) {
  const uint64_t id = ++next_connection_;
  capnp::ReaderOptions reader_options;
  reader_options.traversalLimitInWords = options_.max_message_bytes / sizeof(capnp::word);
  reader_options.nestingLimit = 16;
  auto connection =
      kj::heap<Connection>(kj::mv(stream), reader_options, kj::heap<GateImpl>(*this, id));
  auto disconnected = connection->network.onDisconnect();
  connections_.emplace(id, kj::mv(connection));
  ++connection_count_;
  // A connection dropped by Drop() first breaks this promise; nothing more to do then.
  tasks_->add(
      disconnected.then([this, id] { Drop(id); }, [this, id](kj::Exception&&) { Drop(id); }));
}

kj::Promise<void> ServerImpl::Pump() {
  EventHub::Impl& hub = options_.events->impl();
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  std::deque<Event> events;
  {
    std::lock_guard lock(hub.mu);
    if (hub.queue.empty()) {
      hub.wake = kj::mv(paf.fulfiller);
    } else {
      events.swap(hub.queue);
    }
  }
  if (events.empty()) return paf.promise.then([this] { return Pump(); });
  for (Event& event : events) Deliver(event);
  return kj::evalLater([this] { return Pump(); });
}

// Answers every finished command, then waits for the next batch. Each answer's completion (and
// so its fulfiller) is destroyed here, on the loop thread.
kj::Promise<void> ServerImpl::AnswerFinished() {
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  std::vector<std::shared_ptr<Completion>> batch;
  {
    std::lock_guard lock(finished_mu_);
    if (finished_.empty()) {
      finished_wake_ = kj::mv(paf.fulfiller);
    } else {
      batch.swap(finished_);
    }
  }
  if (batch.empty()) return paf.promise.then([this] { return AnswerFinished(); });
  for (const std::shared_ptr<Completion>& completion : batch) completion->Answer();
  batch.clear();
  return kj::evalLater([this] { return AnswerFinished(); });
}

void ServerImpl::Deliver(Event& event) {
  auto range = subscribers_.equal_range(event.session);
  std::vector<std::shared_ptr<Subscriber>> targets;
  for (auto it = range.first; it != range.second; ++it) targets.push_back(it->second);
  for (const std::shared_ptr<Subscriber>& subscriber : targets) {
    if (subscriber->dead) continue;
    if (subscriber->outstanding >= kMaxOutstandingEvents) {
      log_->warn("rpc: a subscriber of session '{}' fell {} events behind; dropping it",
                 subscriber->session, subscriber->outstanding);
      subscriber->dead = true;
      RemoveSubscriber(subscriber);
      continue;
    }
    kj::Promise<void> sent = nullptr;
    if (event.state.has_value()) {
      auto request = subscriber->events.stateChangedRequest();
      ToWire(*event.state, request.initState());
      sent = request.send().ignoreResult();
    } else {
      auto request = subscriber->events.deliveredRequest();
      auto list = request.initMessages(static_cast<unsigned>(event.messages.size()));
      for (size_t i = 0; i < event.messages.size(); ++i) {
        ToWire(event.messages[i], list[static_cast<unsigned>(i)]);
      }
      sent = request.send().ignoreResult();
    }
    ++subscriber->outstanding;
    tasks_->add(sent.then([subscriber] { --subscriber->outstanding; },
                          [this, subscriber](kj::Exception&&) {
                            // The subscriber went away: stop sending to it.
                            if (!subscriber->dead) {
                              subscriber->dead = true;
                              RemoveSubscriber(subscriber);
                            }
                          }));
  }
}

void ServerImpl::WaitUntil(kj::WaitScope& ws, const std::function<bool()>& done,
                           std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    timer_->afterDelay(2 * kj::MILLISECONDS).wait(ws);
  }
}

void ServerImpl::Loop(std::promise<Status>& ready) {
  auto io = kj::setupAsyncIo();
  timer_ = &io.provider->getTimer();
  tasks_ = kj::heap<kj::TaskSet>(*this);

  auto listener = Bind(io, options_.listen, bound_);
  if (!listener.ok()) {
    ready.set_value(listener.status());
    return;
  }
  kj::Own<kj::HttpHeaderTable> table;
  kj::Own<MetricsService> metrics_service;
  kj::Own<kj::HttpServer> http;
  kj::Own<kj::ConnectionReceiver> metrics_listener;
  kj::Maybe<kj::Promise<void>> serving_metrics;
  if (options_.metrics_listen.has_value()) {
    Address bound;
    auto m = Bind(io, *options_.metrics_listen, bound);
    if (!m.ok()) {
      ready.set_value(m.status());
      return;
    }
    metrics_listener = kj::mv(*m);
    metrics_bound_ = bound;
    table = kj::heap<kj::HttpHeaderTable>();
    metrics_service = kj::heap<MetricsService>(*options_.metrics, *table);
    http = kj::heap<kj::HttpServer>(*timer_, *table, *metrics_service);
    serving_metrics =
        http->listenHttp(*metrics_listener).eagerlyEvaluate([this](kj::Exception&& e) {
          log_->error("metrics endpoint stopped: {}", e.getDescription().cStr());
        });
  }

  auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    std::lock_guard lock(stop_mu_);
    stop_fulfiller_ = kj::mv(stop.fulfiller);
  }
  kj::Maybe<kj::Promise<void>> answering = AnswerFinished().eagerlyEvaluate(nullptr);
  kj::Maybe<kj::Promise<void>> accepting = AcceptLoop(**listener).eagerlyEvaluate(nullptr);
  kj::Maybe<kj::Promise<void>> pumping;
  if (options_.events != nullptr) pumping = Pump().eagerlyEvaluate(nullptr);
  log_->info("serving on {}", bound_.ToString());
  ready.set_value(OkStatus());

  stop.promise.wait(io.waitScope);

  // Graceful stop: stop accepting, refuse new calls, let in-flight commands finish, then shut the
  // host down (ending waits and stopping drains without journaling), answer, and disconnect.
  accepting = nullptr;
  *listener = nullptr;
  stopping_ = true;
  log_->info("stopping: {} connections, {} commands in flight", connection_count_.load(),
             commands_in_flight_.load());
  WaitUntil(
      io.waitScope, [this] { return commands_in_flight_ == 0; }, options_.shutdown_grace);
  if (commands_in_flight_ > 0) {
    log_->warn("{} commands still in flight after {} ms; shutting the host down anyway",
               commands_in_flight_.load(), options_.shutdown_grace.count());
  }
  auto host_down = kj::newPromiseAndCrossThreadFulfiller<void>();
  const kj::CrossThreadPromiseFulfiller<void>* host_down_fulfiller = host_down.fulfiller.get();
  std::thread shutdown([this, host_down_fulfiller] {
    host_.Shutdown();
    host_down_fulfiller->fulfill();
  });
  host_down.promise.wait(io.waitScope);
  shutdown.join();
  WaitUntil(
      io.waitScope, [this] { return jobs_in_flight_ == 0; }, std::chrono::minutes(10));
  // Let the last answers reach their connections.
  timer_->afterDelay(20 * kj::MILLISECONDS).wait(io.waitScope);

  if (options_.events != nullptr) {
    std::lock_guard lock(options_.events->impl().mu);
    options_.events->impl().wake = nullptr;
    options_.events->impl().queue.clear();
  }
  pumping = nullptr;
  serving_metrics = nullptr;
  http = nullptr;
  metrics_listener = nullptr;
  connections_.clear();
  subscribers_.clear();
  connection_count_ = 0;
  tasks_ = nullptr;
  pool_.Close();
  // Commands that finished after the last answers went out: nobody waits for them any more, but
  // their fulfillers belong to this thread.
  answering = nullptr;
  {
    std::lock_guard lock(finished_mu_);
    finished_wake_ = nullptr;
    finished_.clear();
  }
  if (options_.listen.kind == Address::Kind::kUnix) unlink(options_.listen.path.c_str());
  log_->info("stopped ({} commands ran on the loop thread)", ran_on_loop_.load());
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(host::Host& host, ServerOptions options) {
  if (options.listen.kind == Address::Kind::kTcp) {
    if (!options.token.has_value()) {
      return InvalidArgumentError("a TCP listener requires a token (--token-file)");
    }
    if (!options.listen.IsLoopback() && !options.allow_remote) {
      return InvalidArgumentError(
          fmt::format("{} is not a loopback address; pass --allow-remote to listen on it",
                      options.listen.ToString()));
    }
  }
  if (options.token.has_value() && options.token->size() < kMinTokenBytes) {
    return InvalidArgumentError(fmt::format("the token must be at least {} bytes", kMinTokenBytes));
  }
  if (options.metrics_listen.has_value() && options.metrics == nullptr) {
    return InvalidArgumentError("a metrics endpoint needs a Metrics object");
  }
  if (options.max_workers == 0) return InvalidArgumentError("max_workers must be at least 1");
  auto server = std::make_unique<ServerImpl>(host, std::move(options));
  BURROW_RETURN_IF_ERROR(server->Begin());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace burrow::rpc
