// The host over Cap'n Proto RPC (engine/rpc): a real server on a real journal, reached through
// real sockets by rpc::RemoteHost and by raw bytes.
#include "engine/rpc/rpc.h"

#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/host/host.h"
#include "journal/journal.h"
#include "recovery/recovery.h"
#include "tests/journal/journal_test_util.h"
#include "tools/eval_protocol.h"

namespace burrow::rpc {
namespace {

using journal::testing::TempDir;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr char kToken[] = "0123456789abcdef-a-test-token";

// A journal, a recovered host and (optionally) a server on it, all in one data directory.
class Served {
 public:
  explicit Served(std::string dir) : dir_(std::move(dir)) { Open(); }
  ~Served() { Close(); }

  void Open() {
    journal::Options options;
    options.durability = journal::Durability::kNone;
    auto journal = journal::Journal::Open(dir_, options);
    ASSERT_TRUE(journal.ok()) << journal.status();
    journal_ = std::move(*journal);
    events_ = std::make_unique<EventHub>(&metrics_);
    host::HostOptions host_options;
    host_options.observer = events_.get();
    host_options.enable_test_hooks = true;
    auto recovered = recovery::Recover(*journal_, host_options);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    host_ = std::move(recovered->host);
  }

  Status Serve(ServerOptions options) {
    options.events = events_.get();
    options.metrics = &metrics_;
    auto server = Server::Start(*host_, std::move(options));
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    return OkStatus();
  }

  void Close() {
    if (server_) server_->Stop();
    server_.reset();
    if (host_) host_->Shutdown();
    host_.reset();
    journal_.reset();
  }

  host::Host& host() { return *host_; }
  Server& server() { return *server_; }
  Metrics& metrics() { return metrics_; }

 private:
  std::string dir_;
  Metrics metrics_;
  std::unique_ptr<EventHub> events_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<host::Host> host_;
  std::unique_ptr<Server> server_;
};

// Every command of SPEC §3, as eval requests: the answers over RPC must equal the answers of an
// embedded host running the same script.
const char* const kScript[] = {
    R"({"cmd":"sessions"})",
    R"({"cmd":"register","session":"s1"})",
    R"({"cmd":"register","session":"s1"})",
    R"({"cmd":"attach_runtime","session":"s1","runtime":"r1","fence":7,"generation":1})",
    R"({"cmd":"attach_runtime","session":"s1","runtime":"r2","fence":7,"epoch":"e"})",
    R"({"cmd":"ensure_executor","session":"s1"})",
    R"({"cmd":"start_run","session":"s1","run":"run-1"})",
    R"({"cmd":"start_run","session":"s1","run":"run-2"})",
    R"({"cmd":"finish_run","session":"s1","run":"run-1","outcome":"Committed"})",
    R"({"cmd":"stop_runtime","session":"s1","reason":"bye"})",
    R"({"cmd":"set_peer_ingress","session":"s1","keep_alive":true,"transport":"t1","mode":"Timed"})",
    R"({"cmd":"set_peer_ingress","session":"s1","keep_alive":true,"transport":"t2","mob":"m"})",
    R"({"cmd":"post","session":"s1","message_id":"m1","from":"peer","body":"one"})",
    R"({"cmd":"post","session":"s1","message_id":"m1","from":"peer","body":"one"})",
    R"({"cmd":"post","session":"s1","message_id":"m2","from":"peer","body":"two \u00e9"})",
    R"({"cmd":"await_delivered","session":"s1","count":2,"timeout_ms":10000})",
    R"({"cmd":"delivered","session":"s1"})",
    R"({"cmd":"inspect","session":"s1"})",
    R"({"cmd":"abort","session":"s1"})",
    R"({"cmd":"wait","session":"s1","timeout_ms":5000})",
    R"({"cmd":"wait","session":"s1"})",
    R"({"cmd":"notify_drain_exited","session":"s1","reason":"Dismissed"})",
    R"({"cmd":"abort_all"})",
    R"({"cmd":"retire","session":"s1"})",
    R"({"cmd":"reset","session":"s1"})",
    R"({"cmd":"runtime_exited","session":"s1"})",
    R"({"cmd":"inspect","session":"s1"})",
    R"({"cmd":"register","session":"s2"})",
    R"({"cmd":"destroy","session":"s2"})",
    R"({"cmd":"register","session":"s2"})",
    R"({"cmd":"post","session":"s2","message_id":"x","from":"p","body":"b"})",
    R"({"cmd":"unregister","session":"s1"})",
    R"({"cmd":"inspect","session":"s1"})",
    R"({"cmd":"start_run","session":"nobody","run":"r"})",
    R"({"cmd":"notify_drain_exited","session":"nobody","reason":"Failed"})",
    R"({"cmd":"fail_next_appends","count":1})",
    R"({"cmd":"register","session":"s3"})",
    R"({"cmd":"register","session":"s3"})",
    R"({"cmd":"sessions"})",
};

class RpcTest : public testing::Test {
 protected:
  void SetUp() override {
    served_ = std::make_unique<Served>(tmp_.Sub("data"));
    ServerOptions options;
    options.listen = Unix();
    options.shutdown_grace = milliseconds(2'000);
    ASSERT_TRUE(served_->Serve(options).ok());
  }

  Address Unix() const { return *ParseAddress("unix:" + tmp_.Sub("sock")); }

  std::unique_ptr<RemoteHost> Connect(std::optional<std::string> token = std::nullopt) {
    ConnectOptions options;
    options.token = std::move(token);
    auto remote = RemoteHost::Connect(served_->server().address(), options);
    EXPECT_TRUE(remote.ok()) << remote.status();
    return remote.ok() ? std::move(*remote) : nullptr;
  }

  // Runs kScript through `remote` and through a fresh embedded host; each answer must be the
  // same. Returns the answers `remote` gave.
  std::vector<std::string> ExpectScriptAnswersAsAnEmbeddedHost(host::Host& remote) {
    Served embedded(tmp_.Sub("embedded"));
    tools::EvalOptions options;
    options.enable_test_hooks = true;
    std::vector<std::string> answers;
    for (const char* line : kScript) {
      answers.push_back(tools::HandleLine(remote, line, options));
      EXPECT_EQ(answers.back(), tools::HandleLine(embedded.host(), line, options)) << line;
    }
    return answers;
  }

  // A raw stream socket connected to the server's Unix socket.
  int RawConnect() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = tmp_.Sub("sock");
    std::memcpy(addr.sun_path, path.data(), path.size());
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  // True when the server closed `fd` within `timeout` (reads drain whatever it sent first).
  static bool ClosedByPeer(int fd, milliseconds timeout = milliseconds(5'000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
    return false;
  }

  void WaitForConnections(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (served_->server().connections() != n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_EQ(served_->server().connections(), n);
  }

  TempDir tmp_;
  std::unique_ptr<Served> served_;
};

TEST_F(RpcTest, EveryCommandAnswersOverTheSocketExactlyAsTheEmbeddedHost) {
  auto remote = Connect();
  ASSERT_NE(remote, nullptr);
  for (const std::string& over_rpc : ExpectScriptAnswersAsAnEmbeddedHost(*remote)) {
    EXPECT_EQ(json::parse(over_rpc).contains("ok"), true) << over_rpc;
  }
  // The commands reached the served host: its metrics counted them by result.
  std::string metrics = served_->metrics().Render();
  EXPECT_NE(metrics.find(R"(burrow_commands_total{command="register",result="ok"})"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(burrow_commands_total{command="start_run",result="NotReady"})"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(burrow_commands_total{command="register",result="Unavailable"})"),
            std::string::npos)
      << metrics;
}

// A client whose event loop runs on the caller's thread answers exactly like the embedded host,
// and several of them, each on its own thread, are served at once.
TEST_F(RpcTest, ClientsOnTheirOwnThreadsAnswerExactlyAsTheEmbeddedHost) {
  std::thread([&] {
    auto remote = RemoteHost::ConnectOnThisThread(served_->server().address(), {});
    ASSERT_TRUE(remote.ok()) << remote.status();
    ExpectScriptAnswersAsAnEmbeddedHost(**remote);
    (*remote)->Shutdown();
    EXPECT_EQ((*remote)->Register("late").error().code, host::ErrorCode::kUnavailable);
  }).join();

  constexpr int kThreads = 8;
  constexpr int kRunsEach = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto remote = RemoteHost::ConnectOnThisThread(served_->server().address(), {});
      ASSERT_TRUE(remote.ok()) << remote.status();
      const std::string session = "own-" + std::to_string(t);
      if (!(*remote)->Register(session).ok()) return;
      for (int r = 0; r < kRunsEach; ++r) {
        const std::string run = "r" + std::to_string(r);
        if ((*remote)->StartRun(session, run).ok() &&
            (*remote)->FinishRun(session, run, machine::RunOutcome::kCommitted).ok()) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRunsEach);
  auto view = served_->host().Inspect("own-3");
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view.value().state.current_run_id.has_value());
  WaitForConnections(0);
}

// At low load a command runs on the server's loop thread (no hand-off to a worker and back);
// commands that may block for long never do.
TEST_F(RpcTest, IdleCommandsRunOnTheLoopThreadAndBlockingOnesOnWorkers) {
  auto remote = Connect();
  ASSERT_NE(remote, nullptr);
  const uint64_t before = served_->server().commands_run_on_loop();
  ASSERT_TRUE(remote->Register("idle").ok());
  for (int r = 0; r < 10; ++r) {
    const std::string run = "r" + std::to_string(r);
    ASSERT_TRUE(remote->StartRun("idle", run).ok());
    ASSERT_TRUE(remote->FinishRun("idle", run, machine::RunOutcome::kCommitted).ok());
  }
  ASSERT_TRUE(remote->Inspect("idle").ok());
  // One at a time, with nothing else in flight: every one of them ran on the loop.
  EXPECT_EQ(served_->server().commands_run_on_loop() - before, 22u);
  const uint64_t quick = served_->server().commands_run_on_loop();
  ASSERT_TRUE(remote->Wait("idle", milliseconds(10)).ok());
  ASSERT_TRUE(remote->Abort("idle").ok());
  ASSERT_TRUE(remote->AwaitDelivered("idle", 0, milliseconds(10)).ok());
  EXPECT_EQ(served_->server().commands_run_on_loop(), quick);
}

// With run_idle_commands_on_loop off, every command goes through a worker and answers the same.
TEST_F(RpcTest, EveryCommandAnswersAlikeWhenEveryCommandRunsOnAWorker) {
  served_.reset();
  served_ = std::make_unique<Served>(tmp_.Sub("workers"));
  ServerOptions server_options;
  server_options.listen = Unix();
  server_options.run_idle_commands_on_loop = false;
  ASSERT_TRUE(served_->Serve(server_options).ok());
  auto remote = Connect();
  ASSERT_NE(remote, nullptr);
  ExpectScriptAnswersAsAnEmbeddedHost(*remote);
  EXPECT_EQ(served_->server().commands_run_on_loop(), 0u);
}

TEST_F(RpcTest, UnixSocketIsOnlyForItsOwner) {
  struct stat st {};
  ASSERT_EQ(stat(tmp_.Sub("sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RpcTest, TcpListenerWithoutATokenIsRefused) {
  Served other(tmp_.Sub("other"));
  ServerOptions options;
  options.listen = *ParseAddress("127.0.0.1:0");
  EXPECT_EQ(other.Serve(options).code(), StatusCode::kInvalidArgument);
  options.token = kToken;
  options.listen = *ParseAddress("192.0.2.1:0");  // not loopback, no --allow-remote
  EXPECT_EQ(other.Serve(options).code(), StatusCode::kInvalidArgument);
}

TEST_F(RpcTest, TcpListenerServesOnlyClientsWithTheToken) {
  Served tcp(tmp_.Sub("tcp"));
  ServerOptions options;
  options.listen = *ParseAddress("127.0.0.1:0");
  options.token = kToken;
  ASSERT_TRUE(tcp.Serve(options).ok());
  const Address address = tcp.server().address();
  ASSERT_NE(address.port, 0);

  for (std::optional<std::string> bad :
       {std::optional<std::string>(), std::optional<std::string>("wrong-token-wrong-token"),
        std::optional<std::string>(std::string(kToken) + "x")}) {
    ConnectOptions connect;
    connect.token = bad;
    auto refused = RemoteHost::Connect(address, connect);
    EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  }
  EXPECT_TRUE(tcp.host().Sessions().value().empty());

  ConnectOptions connect;
  connect.token = kToken;
  auto remote = RemoteHost::Connect(address, connect);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_TRUE((*remote)->Register("s1").ok());
  EXPECT_EQ(tcp.host().Sessions().value(), std::vector<std::string>{"s1"});
  // Refused connections were closed by the server; only the good one remains.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (tcp.server().connections() != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(tcp.server().connections(), 1u);
}

TEST_F(RpcTest, GarbageBytesCloseOnlyTheirConnection) {
  auto good = Connect();
  ASSERT_TRUE(good->Register("s1").ok());
  int fd = RawConnect();
  // A segment table claiming 2^31 segments, then noise.
  std::string garbage = "\xff\xff\xff\x7f" + std::string(64, '\x5a');
  ASSERT_EQ(write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  EXPECT_TRUE(ClosedByPeer(fd));
  close(fd);
  EXPECT_TRUE(good->Register("s2").ok());
  EXPECT_EQ(good->Sessions().value().size(), 2u);
}

TEST_F(RpcTest, OversizedMessageClosesOnlyItsConnection) {
  auto good = Connect();
  int fd = RawConnect();
  // A well-formed message of 8 MiB: beyond the server's 4 MiB limit.
  capnp::MallocMessageBuilder message;
  auto root = message.getRoot<capnp::AnyPointer>();
  root.initAs<capnp::Data>(8 * 1024 * 1024);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = write(fd, bytes.begin() + sent, bytes.size() - sent);
    if (n <= 0) break;  // the server may close before it all arrives
    sent += static_cast<size_t>(n);
  }
  EXPECT_TRUE(ClosedByPeer(fd));
  close(fd);
  EXPECT_TRUE(good->Register("s1").ok());
}

TEST_F(RpcTest, BodyOverTheLimitIsInvalidArgumentAsData) {
  auto remote = Connect();
  ASSERT_TRUE(remote->Register("s1").ok());
  ASSERT_TRUE(remote->SetPeerIngress("s1", {false, "t1", std::nullopt, {}}).ok());
  auto post = remote->Post("s1", {"m1", "p", std::string(host::kMaxBodyBytes + 1, 'x')});
  ASSERT_FALSE(post.ok());
  EXPECT_EQ(post.error().code, host::ErrorCode::kInvalidArgument);
  auto fits = remote->Post("s1", {"m2", "p", std::string(host::kMaxBodyBytes, 'x')});
  EXPECT_TRUE(fits.ok());
}

TEST_F(RpcTest, AClientThatDisconnectsMidCommandLeavesEachCommandWholeOrAbsent) {
  constexpr int kSessions = 64;
  {
    auto setup = Connect();
    for (int i = 0; i < kSessions; ++i) {
      std::string s = "s" + std::to_string(i);
      ASSERT_TRUE(setup->Register(s).ok());
      ASSERT_TRUE(setup->SetPeerIngress(s, {true, "t", std::nullopt, {}}).ok());
    }
  }
  // Unregister (two journaled steps around a drain join) on every session at once, and drop the
  // connection while they are in flight.
  auto doomed = Connect();
  std::vector<std::thread> callers;
  for (int i = 0; i < kSessions; ++i) {
    callers.emplace_back([&, i] { (void)doomed->Unregister("s" + std::to_string(i)); });
  }
  std::this_thread::sleep_for(milliseconds(2));
  doomed->Shutdown();
  for (std::thread& t : callers) t.join();

  // The server finishes what reached it; let it settle, then look.
  auto check = Connect();
  std::vector<std::string> before;
  for (int round = 0; round < 100; ++round) {
    std::this_thread::sleep_for(milliseconds(20));
    auto now = check->Sessions().value();
    if (round > 0 && now == before) break;
    before = now;
  }
  for (int i = 0; i < kSessions; ++i) {
    auto view = check->Inspect("s" + std::to_string(i));
    if (!view.ok()) {
      EXPECT_EQ(view.error().code, host::ErrorCode::kNotReady);  // fully unregistered
      continue;
    }
    // Untouched: registered, not mid-unregister, its drain still running.
    EXPECT_EQ(view.value().state.registration_phase, machine::RegistrationPhase::kQueuing);
    EXPECT_FALSE(view.value().state.unregister_comms_drain_pending);
    EXPECT_EQ(view.value().state.drain_phase, machine::DrainPhase::kRunning);
  }
}

class Recorder : public host::Observer {
 public:
  void StateChanged(std::string_view, const machine::State& state) override {
    std::lock_guard lock(mu_);
    states_.push_back(state);
    cv_.notify_all();
  }
  void Delivered(std::string_view, std::span<const host::Message> messages) override {
    std::lock_guard lock(mu_);
    messages_.insert(messages_.end(), messages.begin(), messages.end());
    cv_.notify_all();
  }
  bool WaitFor(size_t messages, size_t states) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return messages_.size() >= messages && states_.size() >= states; });
  }
  std::vector<host::Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::vector<machine::State> states() {
    std::lock_guard lock(mu_);
    return states_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<machine::State> states_;
  std::vector<host::Message> messages_;
};

TEST_F(RpcTest, SubscriptionDeliversMessagesAndStateChangesInOrder) {
  auto remote = Connect();
  Recorder unused;
  EXPECT_EQ(remote->Subscribe("nobody", unused).error().code, host::ErrorCode::kNotReady);
  ASSERT_TRUE(remote->Register("s1").ok());
  Recorder recorder;
  auto subscription = remote->Subscribe("s1", recorder);
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(remote->SetPeerIngress("s1", {true, "t1", std::nullopt, {}}).ok());
  ASSERT_TRUE(remote->Post("s1", {"m1", "p", "one"}).ok());
  ASSERT_TRUE(remote->Post("s1", {"m2", "p", "two"}).ok());
  ASSERT_TRUE(recorder.WaitFor(2, 1));
  EXPECT_EQ(recorder.messages(),
            (std::vector<host::Message>{{"m1", "p", "one"}, {"m2", "p", "two"}}));
  EXPECT_EQ(recorder.states().back().drain_phase, machine::DrainPhase::kRunning);
  EXPECT_EQ(recorder.states().back().ingress_transport_id, "t1");

  remote->Unsubscribe(subscription.value());
  const size_t seen = recorder.states().size();
  ASSERT_TRUE(remote->StartRun("s1", "r1").ok());
  ASSERT_TRUE(remote->Inspect("s1").ok());
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(recorder.states().size(), seen);
}

TEST_F(RpcTest, GracefulStopFinishesInFlightCommandsAndLeavesDrainsForRecovery) {
  auto remote = Connect();
  ASSERT_TRUE(remote->Register("s1").ok());
  ASSERT_TRUE(remote->SetPeerIngress("s1", {true, "t1", std::nullopt, {}}).ok());
  // A wait without timeout blocks until the host shuts down; it must not hold the stop.
  std::atomic<bool> waited{false};
  std::thread waiter([&] {
    (void)remote->Wait("s1", std::nullopt);
    waited = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  auto started = std::chrono::steady_clock::now();
  served_->Close();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  waiter.join();
  EXPECT_TRUE(waited);
  EXPECT_EQ(remote->Register("s2").error().code, host::ErrorCode::kUnavailable);
  // A list it cannot get is an error, never an empty list (s1 still exists).
  const host::Reply<std::vector<std::string>> listed = remote->Sessions();
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, host::ErrorCode::kUnavailable);

  // Nothing was journaled for the stop: recovery respawns the drain.
  served_->Open();
  auto view = served_->host().Inspect("s1");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view.value().state.drain_phase, machine::DrainPhase::kRunning);
  EXPECT_TRUE(view.value().task.running);
  EXPECT_EQ(view.value().task.incarnation, 2u);
}

TEST_F(RpcTest, AThousandConcurrentConnectionsAreServed) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 2'200) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max;

  constexpr int kClients = 1'000;
  std::vector<std::unique_ptr<RemoteHost>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Connect());
    ASSERT_NE(clients.back(), nullptr) << i;
  }
  WaitForConnections(kClients);
  // Every one of them is served while all are open, concurrently.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kClients; i += 8) {
        if (clients[i]->Register("s" + std::to_string(i)).ok()) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_EQ(served_->host().Sessions().value().size(), static_cast<size_t>(kClients));
  clients.clear();
  WaitForConnections(0);
}

// GET `path` from 127.0.0.1:`port` and return the whole response (headers and body).
std::string HttpGet(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5'000) <= 0) break;
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
    // The server keeps the connection open: stop once Content-Length bytes of body are in.
    const size_t end = response.find("\r\n\r\n");
    const size_t length = response.find("Content-Length: ");
    if (end != std::string::npos && length != std::string::npos &&
        response.size() >= end + 4 + std::stoul(response.substr(length + 16))) {
      break;
    }
  }
  close(fd);
  return response;
}

TEST_F(RpcTest, MetricsEndpointServesPrometheusText) {
  Served metered(tmp_.Sub("metered"));
  ServerOptions options;
  options.listen = *ParseAddress("unix:" + tmp_.Sub("metered.sock"));
  options.metrics_listen = *ParseAddress("127.0.0.1:0");
  ASSERT_TRUE(metered.Serve(options).ok());
  ASSERT_TRUE(metered.server().metrics_address().has_value());
  const uint16_t port = metered.server().metrics_address()->port;
  auto remote = RemoteHost::Connect(metered.server().address(), {});
  ASSERT_TRUE(remote.ok());
  ASSERT_TRUE((*remote)->Register("s1").ok());
  ASSERT_TRUE((*remote)->SetPeerIngress("s1", {true, "t1", std::nullopt, {}}).ok());
  EXPECT_EQ((*remote)->StartRun("nobody", "r").error().code, host::ErrorCode::kNotReady);

  std::string response = HttpGet(port, "/metrics");
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_NE(response.find("text/plain; version=0.0.4"), std::string::npos) << response;
  for (const char* line :
       {R"(burrow_commands_total{command="register",result="ok"} 1)",
        R"(burrow_commands_total{command="start_run",result="NotReady"} 1)",
        "burrow_drains_running 1", "burrow_journal_batch_records_count",
        "burrow_journal_fsync_seconds_bucket{le=\"+Inf\"}", "burrow_recovery_duration_seconds"}) {
    EXPECT_NE(response.find(line), std::string::npos) << line << "\n" << response;
  }
  EXPECT_EQ(HttpGet(port, "/other").rfind("HTTP/1.1 404", 0), 0u);
}

TEST(AddressTest, ParsesEveryForm) {
  EXPECT_EQ(ParseAddress("unix:/tmp/x.sock")->path, "/tmp/x.sock");
  EXPECT_EQ(ParseAddress("127.0.0.1:80")->port, 80);
  EXPECT_EQ(ParseAddress(":7411")->host, "127.0.0.1");
  EXPECT_EQ(ParseAddress("[::1]:9")->host, "::1");
  EXPECT_TRUE(ParseAddress("[::1]:9")->IsLoopback());
  EXPECT_FALSE(ParseAddress("0.0.0.0:9")->IsLoopback());
  EXPECT_EQ(ParseAddress("[::1]:9")->ToString(), "[::1]:9");
  for (const char* bad : {"unix:", "nohost", "h:99999", "h:", "h:1x", "::1:80", "[::1]80"}) {
    EXPECT_EQ(ParseAddress(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TokenFileTest, ShortTokensAreRefusedAndOneNewlineIsStripped) {
  TempDir tmp;
  std::ofstream(tmp.Sub("short")) << "abc\n";
  EXPECT_EQ(ReadTokenFile(tmp.Sub("short")).status().code(), StatusCode::kInvalidArgument);
  std::ofstream(tmp.Sub("good")) << kToken << "\n";
  EXPECT_EQ(*ReadTokenFile(tmp.Sub("good")), kToken);
  EXPECT_EQ(ReadTokenFile(tmp.Sub("missing")).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace burrow::rpc
