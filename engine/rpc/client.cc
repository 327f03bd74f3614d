// The RPC client (rpc.h), in one of two modes:
//   * Connect: a kj event loop on its own thread owns the connection; callers on any thread hand
//     it calls through kj::Executor::executeSync and block until the answer is back.
//   * ConnectOnThisThread: the connection's event loop belongs to the caller's thread and runs
//     inside each call (promise.wait), so a command costs no thread hand-off on the client side.
// GCC 12 reports std::variant inside kj::_::ExceptionOr<host::Reply<T>> as maybe used
// uninitialized at -O2: a false positive (ExceptionOr only reads the value it set).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <fmt/format.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "base/check.h"
#include "engine/rpc/convert.h"
#include "engine/rpc/rpc.h"
#include "schema/host.capnp.h"

namespace burrow::rpc {
namespace {

host::Error Unavailable(std::string reason) {
  return host::Error{host::ErrorCode::kUnavailable, std::move(reason), {}};
}

template <typename Outcome>
host::Reply<host::Done> DoneFrom(Outcome outcome) {
  if (outcome.isError()) return FromWire(outcome.getError());
  return host::Done{};
}

template <typename Outcome>
host::Reply<bool> BoolFrom(Outcome outcome) {
  if (outcome.isError()) return FromWire(outcome.getError());
  return outcome.getOk();
}

// Forwards a subscription's events to the caller's observer, on the connection's thread.
class EventsImpl final : public wire::SessionEvents::Server {
 public:
  EventsImpl(std::string session, host::Observer& observer)
      : session_(std::move(session)), observer_(observer) {}

  kj::Promise<void> stateChanged(StateChangedContext context) override {
    observer_.StateChanged(session_, FromWire(context.getParams().getState()));
    return kj::READY_NOW;
  }
  kj::Promise<void> delivered(DeliveredContext context) override {
    std::vector<host::Message> messages;
    for (auto m : context.getParams().getMessages()) messages.push_back(FromWire(m));
    observer_.Delivered(session_, messages);
    return kj::READY_NOW;
  }

 private:
  const std::string session_;
  host::Observer& observer_;
};

class RemoteHostImpl final : public RemoteHost {
 public:
  RemoteHostImpl(Address address, ConnectOptions options, bool on_this_thread)
      : on_this_thread_(on_this_thread),
        address_(std::move(address)),
        options_(std::move(options)),
        log_(options_.logger ? options_.logger
                             : std::make_shared<spdlog::logger>(
                                   "burrow.rpc", std::make_shared<spdlog::sinks::null_sink_mt>())) {
  }

  ~RemoteHostImpl() noexcept override { Shutdown(); }

  Status Begin() {
    if (on_this_thread_) {
      owner_ = std::this_thread::get_id();
      io_ = kj::heap<kj::AsyncIoContext>(kj::setupAsyncIo());
      Status status = Establish(*io_);
      if (!status.ok()) io_ = nullptr;
      return status;
    }
    std::promise<Status> ready;
    std::future<Status> started = ready.get_future();
    thread_ = std::thread([this, &ready] { Loop(ready); });
    Status status = started.get();
    if (!status.ok()) thread_.join();
    return status;
  }

  host::Reply<host::StartReport> Start() override { return host::StartReport{}; }
  host::Reply<host::CheckpointReport> Checkpoint() override {
    return Unavailable("checkpoints are not available over RPC: the server takes its own");
  }

  void Shutdown() override {
    if (on_this_thread_) {
      closed_ = true;
      if (io_.get() == nullptr) return;
      BURROW_CHECK(std::this_thread::get_id() == owner_,
                   "a RemoteHost of ConnectOnThisThread used on another thread");
      Disconnect();
      io_ = nullptr;
      return;
    }
    {
      std::lock_guard lock(stop_mu_);
      closed_ = true;
      if (stop_fulfiller_.get() != nullptr) {
        stop_fulfiller_->fulfill();
        stop_fulfiller_ = nullptr;
      }
    }
    std::lock_guard join(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  host::Reply<host::Done> Register(std::string_view session) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.registerSessionRequest();
      request.setSession(Text(session));
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<host::Done> AttachRuntime(std::string_view session,
                                        const host::AttachRuntimeArgs& args) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.attachRuntimeRequest();
      request.setSession(Text(session));
      request.setRuntimeId(Text(args.runtime_id));
      request.setFenceToken(args.fence_token);
      ToWire(args.generation, request.initGeneration());
      ToWire(args.epoch_id, request.initEpochId());
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

#define BURROW_SIMPLE_CALL(Method, request_name)                                  \
  host::Reply<host::Done> Method(std::string_view session) override {             \
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {                   \
      auto request = h.request_name();                                            \
      request.setSession(Text(session));                                          \
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); }); \
    });                                                                           \
  }
  BURROW_SIMPLE_CALL(EnsureExecutor, ensureExecutorRequest)
  BURROW_SIMPLE_CALL(Retire, retireRequest)
  BURROW_SIMPLE_CALL(Reset, resetRequest)
  BURROW_SIMPLE_CALL(RuntimeExited, runtimeExitedRequest)
  BURROW_SIMPLE_CALL(Destroy, destroyRequest)
  BURROW_SIMPLE_CALL(Unregister, unregisterRequest)
  BURROW_SIMPLE_CALL(Abort, abortRequest)
  BURROW_SIMPLE_CALL(FailNextInboxRead, failNextInboxReadRequest)
#undef BURROW_SIMPLE_CALL

  host::Reply<host::Done> StartRun(std::string_view session, std::string_view run_id) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.startRunRequest();
      request.setSession(Text(session));
      request.setRunId(Text(run_id));
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<host::Done> FinishRun(std::string_view session, std::string_view run_id,
                                    machine::RunOutcome outcome) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.finishRunRequest();
      request.setSession(Text(session));
      request.setRunId(Text(run_id));
      request.setOutcome(ToWire(outcome));
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<host::Done> StopRuntime(std::string_view session, std::string_view reason) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.stopRuntimeRequest();
      request.setSession(Text(session));
      request.setReason(Text(reason));
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<bool> SetPeerIngress(std::string_view session,
                                   const host::PeerIngressArgs& args) override {
    return Call<bool>([&](wire::RuntimeHost::Client& h) {
      auto request = h.setPeerIngressRequest();
      request.setSession(Text(session));
      request.setKeepAlive(args.keep_alive);
      ToWire(args.transport_id, request.initTransportId());
      ToWire(args.mob_id, request.initMobId());
      request.setMode(ToWire(args.mode));
      return request.send().then([](auto r) { return BoolFrom(r.getResult()); });
    });
  }

  host::Reply<host::Done> NotifyDrainExited(std::string_view session,
                                            machine::DrainExitReason reason) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.notifyDrainExitedRequest();
      request.setSession(Text(session));
      request.setReason(ToWire(reason));
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<host::Done> AbortAll() override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      return h.abortAllRequest().send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<bool> Wait(std::string_view session,
                         std::optional<std::chrono::milliseconds> timeout) override {
    return Call<bool>([&](wire::RuntimeHost::Client& h) {
      auto request = h.waitRequest();
      request.setSession(Text(session));
      std::optional<uint64_t> ms;
      if (timeout.has_value()) ms = static_cast<uint64_t>(timeout->count());
      ToWire(ms, request.initTimeoutMs());
      return request.send().then([](auto r) { return BoolFrom(r.getResult()); });
    });
  }

  host::Reply<host::PostResult> Post(std::string_view session,
                                     const host::PostArgs& args) override {
    return Call<host::PostResult>([&](wire::RuntimeHost::Client& h) {
      auto request = h.postRequest();
      request.setSession(Text(session));
      request.setMessageId(Text(args.message_id));
      request.setFrom(Text(args.from));
      request.setBody(Data(args.body));
      return request.send().then([](auto r) -> host::Reply<host::PostResult> {
        auto outcome = r.getResult();
        if (outcome.isError()) return FromWire(outcome.getError());
        return host::PostResult{outcome.getDuplicate()};
      });
    });
  }

  host::Reply<std::vector<host::Message>> Delivered(std::string_view session) override {
    return Call<std::vector<host::Message>>([&](wire::RuntimeHost::Client& h) {
      auto request = h.deliveredRequest();
      request.setSession(Text(session));
      return request.send().then([](auto r) -> host::Reply<std::vector<host::Message>> {
        auto outcome = r.getResult();
        if (outcome.isError()) return FromWire(outcome.getError());
        std::vector<host::Message> messages;
        for (auto m : outcome.getOk()) messages.push_back(FromWire(m));
        return messages;
      });
    });
  }

  host::Reply<uint64_t> AwaitDelivered(std::string_view session, uint64_t count,
                                       std::chrono::milliseconds timeout) override {
    return Call<uint64_t>([&](wire::RuntimeHost::Client& h) {
      auto request = h.awaitDeliveredRequest();
      request.setSession(Text(session));
      request.setCount(count);
      request.setTimeoutMs(static_cast<uint64_t>(timeout.count()));
      return request.send().then([](auto r) -> host::Reply<uint64_t> {
        auto outcome = r.getResult();
        if (outcome.isError()) return FromWire(outcome.getError());
        return outcome.getOk();
      });
    });
  }

  host::Reply<host::SessionView> Inspect(std::string_view session) override {
    return Call<host::SessionView>([&](wire::RuntimeHost::Client& h) {
      auto request = h.inspectRequest();
      request.setSession(Text(session));
      return request.send().then([](auto r) -> host::Reply<host::SessionView> {
        auto outcome = r.getResult();
        if (outcome.isError()) return FromWire(outcome.getError());
        return FromWire(outcome.getOk());
      });
    });
  }

  host::Reply<std::vector<std::string>> Sessions() override {
    return Call<std::vector<std::string>>([&](wire::RuntimeHost::Client& h) {
      return h.sessionsRequest().send().then([](auto r) -> host::Reply<std::vector<std::string>> {
        if (r.hasError()) return FromWire(r.getError());
        std::vector<std::string> out;
        for (auto s : r.getSessions()) out.push_back(Str(s));
        return out;
      });
    });
  }

  host::Reply<host::Done> FailNextAppends(int n) override {
    return Call<host::Done>([&](wire::RuntimeHost::Client& h) {
      auto request = h.failNextAppendsRequest();
      request.setCount(n < 0 ? 0u : static_cast<uint32_t>(n));
      return request.send().then([](auto r) { return DoneFrom(r.getResult()); });
    });
  }

  host::Reply<uint64_t> Subscribe(std::string_view session, host::Observer& observer) override {
    return Call<uint64_t>([&](wire::RuntimeHost::Client& h) {
      auto request = h.subscribeRequest();
      request.setSession(Text(session));
      request.setEvents(kj::heap<EventsImpl>(std::string(session), observer));
      return request.send().then([this](auto r) -> host::Reply<uint64_t> {
        if (r.getResult().isError()) return FromWire(r.getResult().getError());
        const uint64_t id = ++next_subscription_;
        subscriptions_.emplace(id, r.getSubscription());
        return id;
      });
    });
  }

  void Unsubscribe(uint64_t subscription) override {
    auto ignored =
        Call<host::Done>([&](wire::RuntimeHost::Client&) -> kj::Promise<host::Reply<host::Done>> {
          subscriptions_.erase(subscription);
          return host::Reply<host::Done>(host::Done{});
        });
    (void)ignored;
  }

 private:
  // Runs `make(host)` on the connection's thread and waits for its answer. Any RPC failure
  // (connection lost, server stopping) is Unavailable.
  template <typename T, typename Make>
  host::Reply<T> Call(Make&& make) {
    ++calls_in_flight_;
    struct Leave {
      std::atomic<uint64_t>& n;
      ~Leave() { --n; }
    } leave{calls_in_flight_};
    if (closed_) return Unavailable("the connection to " + address_.ToString() + " is closed");
    try {
      if (on_this_thread_) {
        BURROW_CHECK(std::this_thread::get_id() == owner_,
                     "a RemoteHost of ConnectOnThisThread used on another thread");
        KJ_IF_MAYBE (h, host_) {
          return make(*h).wait(io_->waitScope);
        }
        return Unavailable("the connection to " + address_.ToString() + " is closed");
      }
      return executor_->executeSync([&]() -> kj::Promise<host::Reply<T>> {
        KJ_IF_MAYBE (h, host_) {
          return make(*h);
        }
        return host::Reply<T>(
            Unavailable("the connection to " + address_.ToString() + " is closed"));
      });
    } catch (const kj::Exception& e) {
      std::string reason =
          fmt::format("RPC to {} failed: {}", address_.ToString(), e.getDescription().cStr());
      log_->warn("{}", reason);  // the caller gets Unavailable; the log says why
      return Unavailable(std::move(reason));
    }
  }

  void Loop(std::promise<Status>& ready);
  // Connects and authenticates on the current thread's event loop `io`.
  Status Establish(kj::AsyncIoContext& io);
  // Drops the connection (on its loop's thread): pending calls fail with DISCONNECTED.
  void Disconnect() {
    subscriptions_.clear();
    host_ = nullptr;
    rpc_ = nullptr;
    network_ = nullptr;
    stream_ = nullptr;
  }

  const bool on_this_thread_;
  const Address address_;
  const ConnectOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::thread thread_;
  std::mutex join_mu_;
  kj::Own<const kj::Executor> executor_;

  std::mutex stop_mu_;
  kj::Own<const kj::CrossThreadPromiseFulfiller<void>> stop_fulfiller_;  // guarded by stop_mu_
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> calls_in_flight_{0};

  // --- on_this_thread_ only: the caller's thread and its event loop ---
  std::thread::id owner_;
  kj::Own<kj::AsyncIoContext> io_;

  // --- connection thread only (the owner's, on_this_thread_) ---
  kj::Own<kj::AsyncIoStream> stream_;
  kj::Own<capnp::TwoPartyVatNetwork> network_;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc_;
  kj::Maybe<wire::RuntimeHost::Client> host_;
  std::map<uint64_t, wire::Subscription::Client> subscriptions_;
  uint64_t next_subscription_ = 0;
};

Status RemoteHostImpl::Establish(kj::AsyncIoContext& io) {
  auto& timer = io.provider->getTimer();
  const auto timeout = options_.connect_timeout.count() * kj::MILLISECONDS;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    auto address = io.provider->getNetwork().parseAddress(address_.ToString()).wait(io.waitScope);
    stream_ = timer.timeoutAfter(timeout, address->connect()).wait(io.waitScope);
    capnp::ReaderOptions reader_options;
    // The server is trusted; its answers (e.g. a long delivered list) may be large.
    reader_options.traversalLimitInWords = uint64_t{1} << 40;
    network_ = kj::heap<capnp::TwoPartyVatNetwork>(*stream_, capnp::rpc::twoparty::Side::CLIENT,
                                                   reader_options);
    rpc_ = kj::heap(capnp::makeRpcClient(*network_));
    capnp::MallocMessageBuilder vat_id_message;
    auto vat_id = vat_id_message.initRoot<capnp::rpc::twoparty::VatId>();
    vat_id.setSide(capnp::rpc::twoparty::Side::SERVER);
    auto gate = rpc_->bootstrap(vat_id).castAs<wire::Gate>();
    auto request = gate.authenticateRequest();
    request.setToken(Data(options_.token.value_or("")));
    auto response = timer.timeoutAfter(timeout, request.send()).wait(io.waitScope);
    host_ = response.getHost();
  });
  KJ_IF_MAYBE (e, failure) {
    Disconnect();
    return UnavailableError(
        fmt::format("cannot connect to {}: {}", address_.ToString(), e->getDescription().cStr()));
  }
  return OkStatus();
}

void RemoteHostImpl::Loop(std::promise<Status>& ready) {
  auto io = kj::setupAsyncIo();
  executor_ = kj::getCurrentThreadExecutor().addRef();
  Status established = Establish(io);
  if (!established.ok()) {
    ready.set_value(std::move(established));
    return;
  }
  auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    std::lock_guard lock(stop_mu_);
    stop_fulfiller_ = kj::mv(stop.fulfiller);
  }
  ready.set_value(OkStatus());
  stop.promise.wait(io.waitScope);

  Disconnect();
  auto& timer = io.provider->getTimer();
  while (calls_in_flight_ > 0) timer.afterDelay(1 * kj::MILLISECONDS).wait(io.waitScope);
}

}  // namespace

Result<std::unique_ptr<RemoteHost>> RemoteHost::Connect(const Address& address,
                                                        const ConnectOptions& options) {
  auto client = std::make_unique<RemoteHostImpl>(address, options, /*on_this_thread=*/false);
  BURROW_RETURN_IF_ERROR(client->Begin());
  return std::unique_ptr<RemoteHost>(std::move(client));
}

Result<std::unique_ptr<RemoteHost>> RemoteHost::ConnectOnThisThread(const Address& address,
                                                                    const ConnectOptions& options) {
  auto client = std::make_unique<RemoteHostImpl>(address, options, /*on_this_thread=*/true);
  BURROW_RETURN_IF_ERROR(client->Begin());
  return std::unique_ptr<RemoteHost>(std::move(client));
}

}  // namespace burrow::rpc
