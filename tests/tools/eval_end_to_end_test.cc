// `burrow eval` end to end: the real binary on a fresh data directory, driven through its stdin
// and stdout exactly as a script would drive it (SPEC.md §8.1).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef BURROW_BINARY
#error "BURROW_BINARY must name the burrow executable"
#endif

namespace burrow::tools {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Generous bounds: they only keep a broken binary from hanging the suite.
constexpr milliseconds kResponseTimeout{20'000};
constexpr milliseconds kExitTimeout{20'000};
// "Promptly" for a shutdown on SIGTERM/SIGINT.
constexpr milliseconds kPromptExit{5'000};

// A running `burrow` child with pipes on stdin and stdout; stderr goes to a file.
class BurrowProcess {
 public:
  BurrowProcess(const std::vector<std::string>& args, const std::filesystem::path& stderr_path)
      : stderr_path_(stderr_path) {
    int in[2];
    int out[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(err, 0);
    std::vector<std::string> argv_storage = {BURROW_BINARY};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    EXPECT_GT(pid_, 0);
    close(in[0]);
    close(out[1]);
    close(err);
    stdin_ = in[1];
    stdout_ = out[0];
  }

  ~BurrowProcess() {
    CloseStdin();
    if (stdout_ >= 0) close(stdout_);
    if (pid_ > 0 && !exit_status_.has_value()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void Send(std::string_view text) {
    while (!text.empty()) {
      ssize_t n = write(stdin_, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0) << "writing to burrow's stdin: " << std::strerror(errno);
      text.remove_prefix(static_cast<size_t>(n));
    }
  }

  void CloseStdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }

  // The next line of stdout (without its newline); nullopt at EOF or after `timeout`.
  std::optional<std::string> ReadLine(milliseconds timeout = kResponseTimeout) {
    auto deadline = steady_clock::now() + timeout;
    for (;;) {
      if (size_t newline = buffer_.find('\n'); newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd fd = {.fd = stdout_, .events = POLLIN, .revents = 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(stdout_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Sends one request line and returns the parsed response line.
  json Request(const json& request) {
    Send(request.dump() + "\n");
    std::optional<std::string> line = ReadLine();
    if (!line.has_value()) {
      ADD_FAILURE() << "no response to " << request.dump() << "; stderr: " << Stderr();
      return json();
    }
    return json::parse(*line);
  }

  // The exit code, or nullopt when the process has not exited within `timeout` or was killed by
  // a signal.
  std::optional<int> WaitExit(milliseconds timeout = kExitTimeout) {
    auto deadline = steady_clock::now() + timeout;
    while (!exit_status_.has_value()) {
      int status = 0;
      pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_status_ = status;
        break;
      }
      if (steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(5));
    }
    if (!WIFEXITED(*exit_status_)) return std::nullopt;
    return WEXITSTATUS(*exit_status_);
  }

  std::string Stderr() const {
    std::ifstream in(stderr_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path stderr_path_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string buffer_;
  std::optional<int> exit_status_;
};

class EvalEndToEndTest : public testing::Test {
 protected:
  void SetUp() override {
    // A child that dies must fail the test, not kill it through SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    std::string pattern = (std::filesystem::temp_directory_path() / "burrow-eval-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    data_ = root_ / "data";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<BurrowProcess> StartEval(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"eval", "--data", data_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<BurrowProcess>(args, root_ / ("stderr-" + std::to_string(++runs_)));
  }

  // Runs eval over `script` to EOF and returns its stdout lines; expects exit code 0.
  std::vector<std::string> RunScript(std::string_view script, std::vector<std::string> extra = {}) {
    auto eval = StartEval(std::move(extra));
    eval->Send(script);
    eval->CloseStdin();
    std::vector<std::string> lines;
    while (std::optional<std::string> line = eval->ReadLine()) lines.push_back(*line);
    EXPECT_EQ(eval->WaitExit(), 0) << eval->Stderr();
    return lines;
  }

  std::filesystem::path root_;
  std::filesystem::path data_;
  int runs_ = 0;
};

json Ok(json result = json::object()) {
  result["ok"] = true;
  return result;
}

TEST_F(EvalEndToEndTest, PostedMessagesAreDeliveredByTheDrainAndShownByInspect) {
  auto eval = StartEval();
  EXPECT_EQ(eval->Request({{"cmd", "register"}, {"session", "s1"}, {"id", 1}}), Ok({{"id", 1}}));
  EXPECT_EQ(eval->Request({{"cmd", "attach_runtime"},
                           {"session", "s1"},
                           {"runtime", "r1"},
                           {"fence", 1},
                           {"generation", 1}}),
            Ok());
  EXPECT_EQ(eval->Request({{"cmd", "set_peer_ingress"},
                           {"session", "s1"},
                           {"keep_alive", true},
                           {"transport", "t1"}}),
            Ok({{"spawned", true}}));
  json post = {{"cmd", "post"}, {"session", "s1"}, {"from", "peer"}};
  post["message_id"] = "m1";
  post["body"] = "first";
  EXPECT_EQ(eval->Request(post), Ok({{"duplicate", false}}));
  post["message_id"] = "m2";
  post["body"] = "second";
  EXPECT_EQ(eval->Request(post), Ok({{"duplicate", false}}));
  EXPECT_EQ(eval->Request(post), Ok({{"duplicate", true}}));
  EXPECT_EQ(
      eval->Request(
          {{"cmd", "await_delivered"}, {"session", "s1"}, {"count", 2}, {"timeout_ms", 10'000}}),
      Ok({{"delivered", 2}}));
  EXPECT_EQ(eval->Request({{"cmd", "delivered"}, {"session", "s1"}}), json::parse(R"({
      "ok": true,
      "messages": [{"message_id": "m1", "from": "peer", "body": "first"},
                   {"message_id": "m2", "from": "peer", "body": "second"}]})"));
  EXPECT_EQ(eval->Request({{"cmd", "inspect"}, {"session", "s1"}}), json::parse(R"({
      "ok": true,
      "state": {
        "phase": "Attached",
        "session_id": "s1",
        "runtime_id": "r1",
        "epoch_id": null,
        "fence_token": 1,
        "generation": 1,
        "current_run_id": null,
        "pre_run_phase": null,
        "stop_deferred": false,
        "registration_phase": "Queuing",
        "unregister_runtime_loop_pending": false,
        "unregister_comms_drain_pending": false,
        "unregister_waiters_pending": false,
        "unregister_retains_snapshot": false,
        "runtime_loop_forced_abort": false,
        "comms_drain_forced_abort": false,
        "drain_phase": "Running",
        "drain_mode": "PersistentHost",
        "ingress_owner": "SessionOwned",
        "ingress_transport_id": "t1",
        "ingress_mob_id": null,
        "keep_alive": true
      },
      "task": {"running": true, "incarnation": 1},
      "inbox_pending": 0,
      "delivered": 2})"));
  EXPECT_EQ(eval->Request({{"cmd", "sessions"}}), Ok({{"sessions", {"s1"}}}));
  eval->CloseStdin();
  EXPECT_EQ(eval->ReadLine(), std::nullopt);
  EXPECT_EQ(eval->WaitExit(), 0) << eval->Stderr();
}

TEST_F(EvalEndToEndTest, MalformedLinesGetInvalidArgumentAndTheStreamGoesOn) {
  std::vector<std::string> lines = RunScript(
      "{\"cmd\":\"register\",\"session\":\"s1\",\"id\":1}\n"
      "this is not json\n"
      "{\"cmd\":\"frobnicate\",\"id\":\"x\"}\n"
      "[1,2]\n"
      "\n"
      "   \n"
      "{\"cmd\":\"attach_runtime\",\"session\":\"s1\",\"runtime\":\"r\",\"fence\":-1,\"id\":3}\n"
      "{\"cmd\":\"sessions\",\"id\":4}\n"
      // The last line has no newline: it is still a request.
      "{\"cmd\":\"inspect\",\"session\":\"nobody\",\"id\":5}");
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(json::parse(lines[0]), Ok({{"id", 1}}));
  json bad_json = json::parse(lines[1]);
  EXPECT_EQ(bad_json["ok"], false);
  EXPECT_EQ(bad_json["error"]["code"], "InvalidArgument");
  EXPECT_FALSE(bad_json.contains("id"));
  EXPECT_EQ(json::parse(lines[2]), json::parse(R"({"ok": false, "id": "x",
      "error": {"code": "InvalidArgument", "reason": "unknown cmd 'frobnicate'"}})"));
  EXPECT_EQ(json::parse(lines[3]), json::parse(R"({"ok": false,
      "error": {"code": "InvalidArgument",
                "reason": "a request must be a JSON object, got an array"}})"));
  EXPECT_EQ(json::parse(lines[4]), json::parse(R"({"ok": false, "id": 3,
      "error": {"code": "InvalidArgument",
                "reason": "field 'fence' must be an unsigned integer, got -1"}})"));
  EXPECT_EQ(json::parse(lines[5]), Ok({{"id", 4}, {"sessions", {"s1"}}}));
  json not_ready = json::parse(lines[6]);
  EXPECT_EQ(not_ready["id"], 5);
  EXPECT_EQ(not_ready["error"]["code"], "NotReady") << not_ready;
}

TEST_F(EvalEndToEndTest, ErrorsAreDataAndEvalStillExitsZero) {
  std::vector<std::string> lines = RunScript(
      "{\"cmd\":\"inspect\",\"session\":\"nobody\",\"id\":1}\n"
      "{\"cmd\":\"register\",\"session\":\"s1\"}\n"
      "{\"cmd\":\"start_run\",\"session\":\"s1\",\"run\":\"r1\"}\n"
      "{\"cmd\":\"start_run\",\"session\":\"s1\",\"run\":\"r2\"}\n"
      "{\"cmd\":\"destroy\",\"session\":\"s1\"}\n"
      "{\"cmd\":\"register\",\"session\":\"s1\"}\n");
  ASSERT_EQ(lines.size(), 6u);
  json not_ready = json::parse(lines[0]);
  EXPECT_EQ(not_ready["id"], 1);
  EXPECT_EQ(not_ready["error"]["code"], "NotReady");
  EXPECT_TRUE(not_ready["error"]["state"].is_string()) << not_ready;
  EXPECT_EQ(json::parse(lines[1]), Ok());
  EXPECT_EQ(json::parse(lines[2]), Ok());
  json rejected = json::parse(lines[3]);
  EXPECT_EQ(rejected["error"]["code"], "ValidationFailed") << rejected;
  EXPECT_TRUE(rejected["error"]["reason"].is_string()) << rejected;
  EXPECT_EQ(json::parse(lines[4]), Ok());
  EXPECT_EQ(json::parse(lines[5])["error"]["code"], "Destroyed") << lines[5];
}

TEST_F(EvalEndToEndTest, SigtermWhileBlockedOnStdinExitsZeroPromptly) {
  auto eval = StartEval({"--durability", "none"});
  EXPECT_EQ(eval->Request({{"cmd", "register"}, {"session", "s1"}}), Ok());
  EXPECT_EQ(eval->Request({{"cmd", "set_peer_ingress"},
                           {"session", "s1"},
                           {"keep_alive", true},
                           {"transport", "t1"}}),
            Ok({{"spawned", true}}));
  // eval is now blocked reading stdin, with a drain task running.
  auto sent = steady_clock::now();
  ASSERT_EQ(kill(eval->pid(), SIGTERM), 0);
  EXPECT_EQ(eval->WaitExit(kPromptExit), 0) << eval->Stderr();
  EXPECT_LT(steady_clock::now() - sent, kPromptExit);
}

TEST_F(EvalEndToEndTest, SigtermDuringAWaitWithoutTimeoutExitsZeroPromptly) {
  auto eval = StartEval({"--durability", "none"});
  EXPECT_EQ(eval->Request({{"cmd", "register"}, {"session", "s1"}}), Ok());
  EXPECT_EQ(eval->Request({{"cmd", "set_peer_ingress"},
                           {"session", "s1"},
                           {"keep_alive", true},
                           {"transport", "t1"}}),
            Ok({{"spawned", true}}));
  // A PersistentHost drain never ends by itself: this wait blocks until shutdown.
  eval->Send(R"({"cmd":"wait","session":"s1","id":"w"})"
             "\n");
  EXPECT_EQ(eval->ReadLine(milliseconds(300)), std::nullopt);
  auto sent = steady_clock::now();
  ASSERT_EQ(kill(eval->pid(), SIGTERM), 0);
  EXPECT_EQ(eval->WaitExit(kPromptExit), 0) << eval->Stderr();
  EXPECT_LT(steady_clock::now() - sent, kPromptExit);
}

TEST_F(EvalEndToEndTest, SigintWhileBlockedOnStdinExitsZeroPromptly) {
  auto eval = StartEval({"--durability", "none"});
  EXPECT_EQ(eval->Request({{"cmd", "sessions"}}), Ok({{"sessions", json::array()}}));
  ASSERT_EQ(kill(eval->pid(), SIGINT), 0);
  EXPECT_EQ(eval->WaitExit(kPromptExit), 0) << eval->Stderr();
}

TEST_F(EvalEndToEndTest, ASecondEvalRecoversTheSessionsAndRespawnsTheRunningDrain) {
  RunScript(
      "{\"cmd\":\"register\",\"session\":\"s1\"}\n"
      "{\"cmd\":\"set_peer_ingress\",\"session\":\"s1\",\"keep_alive\":true,"
      "\"transport\":\"t1\"}\n"
      "{\"cmd\":\"post\",\"session\":\"s1\",\"message_id\":\"m1\",\"from\":\"p\","
      "\"body\":\"one\"}\n"
      "{\"cmd\":\"await_delivered\",\"session\":\"s1\",\"count\":1,\"timeout_ms\":5000}\n");
  std::vector<std::string> lines = RunScript(
      "{\"cmd\":\"inspect\",\"session\":\"s1\"}\n"
      "{\"cmd\":\"post\",\"session\":\"s1\",\"message_id\":\"m2\",\"from\":\"p\","
      "\"body\":\"two\"}\n"
      "{\"cmd\":\"await_delivered\",\"session\":\"s1\",\"count\":2,\"timeout_ms\":5000}\n"
      "{\"cmd\":\"delivered\",\"session\":\"s1\"}\n");
  ASSERT_EQ(lines.size(), 4u);
  json inspect = json::parse(lines[0]);
  EXPECT_EQ(inspect["state"]["drain_phase"], "Running") << lines[0];
  EXPECT_EQ(inspect["state"]["ingress_transport_id"], "t1") << lines[0];
  EXPECT_EQ(inspect["task"]["running"], true) << lines[0];
  EXPECT_EQ(inspect["task"]["incarnation"], 2) << lines[0];
  EXPECT_EQ(inspect["delivered"], 1) << lines[0];
  EXPECT_EQ(json::parse(lines[2])["delivered"], 2) << lines[2];
  json delivered = json::parse(lines[3])["messages"];
  ASSERT_EQ(delivered.size(), 2u) << lines[3];
  EXPECT_EQ(delivered[0]["message_id"], "m1");
  EXPECT_EQ(delivered[1]["message_id"], "m2");
}

TEST_F(EvalEndToEndTest, EmptyDataDirectoryFromAnEarlierRunIsServed) {
  EXPECT_TRUE(RunScript("").empty());
  EXPECT_EQ(RunScript("{\"cmd\":\"sessions\"}\n"),
            std::vector<std::string>{R"({"ok":true,"sessions":[]})"});
}

TEST_F(EvalEndToEndTest, DataDirectoryHeldByAnotherEvalIsRefusedWithExitOne) {
  auto first = StartEval();
  EXPECT_EQ(first->Request({{"cmd", "sessions"}}), Ok({{"sessions", json::array()}}));
  auto second = StartEval();
  second->CloseStdin();
  EXPECT_EQ(second->WaitExit(), 1);
  EXPECT_NE(second->Stderr().find("cannot open the journal"), std::string::npos)
      << second->Stderr();
  first->CloseStdin();
  EXPECT_EQ(first->WaitExit(), 0) << first->Stderr();
}

TEST_F(EvalEndToEndTest, UnopenableDataDirectoryExitsOne) {
  std::ofstream(root_ / "a-file") << "not a directory";
  auto eval = std::make_unique<BurrowProcess>(
      std::vector<std::string>{"eval", "--data", (root_ / "a-file").string()}, root_ / "stderr");
  eval->CloseStdin();
  EXPECT_EQ(eval->WaitExit(), 1);
  EXPECT_NE(eval->Stderr().find("cannot open the journal"), std::string::npos) << eval->Stderr();
}

TEST_F(EvalEndToEndTest, TestHooksAreRefusedWithoutTheFlag) {
  std::vector<std::string> lines = RunScript("{\"cmd\":\"fail_next_appends\",\"count\":1}\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0])["error"]["code"], "InvalidArgument") << lines[0];
}

TEST_F(EvalEndToEndTest, FailNextAppendsMakesTheNextCommandUnavailableWithTheFlag) {
  std::vector<std::string> lines = RunScript(
      "{\"cmd\":\"fail_next_appends\",\"count\":1}\n"
      "{\"cmd\":\"register\",\"session\":\"s1\"}\n"
      "{\"cmd\":\"register\",\"session\":\"s1\"}\n"
      "{\"cmd\":\"sessions\"}\n",
      {"--enable-test-hooks"});
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(json::parse(lines[0]), Ok());
  EXPECT_EQ(json::parse(lines[1])["error"]["code"], "Unavailable") << lines[1];
  EXPECT_EQ(json::parse(lines[2]), Ok());
  EXPECT_EQ(json::parse(lines[3]), Ok({{"sessions", {"s1"}}}));
}

TEST_F(EvalEndToEndTest, HelpNamesEveryOption) {
  auto help =
      std::make_unique<BurrowProcess>(std::vector<std::string>{"eval", "--help"}, root_ / "stderr");
  help->CloseStdin();
  std::string text;
  while (std::optional<std::string> line = help->ReadLine()) text += *line + "\n";
  EXPECT_EQ(help->WaitExit(), 0);
  for (const char* option :
       {"--data", "--drain-idle-timeout-ms", "--durability", "--enable-test-hooks", "--log-level",
        "--connect", "--token-file", "Examples:"}) {
    EXPECT_NE(text.find(option), std::string::npos) << option << " missing from\n" << text;
  }
}

// `burrow serve` + `burrow eval --connect`: the same requests, over RPC.
TEST_F(EvalEndToEndTest, EvalConnectedToServeRunsTheScriptAndServeStopsCleanlyOnSigterm) {
  const std::string socket = (root_ / "s.sock").string();
  BurrowProcess serve(
      {"serve", "--data", data_.string(), "--listen", "unix:" + socket, "--durability", "none"},
      root_ / "serve-stderr");
  auto deadline = steady_clock::now() + kResponseTimeout;
  while (!std::filesystem::exists(socket) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(std::filesystem::exists(socket)) << serve.Stderr();

  auto eval = std::make_unique<BurrowProcess>(
      std::vector<std::string>{"eval", "--connect", "unix:" + socket}, root_ / "connect-stderr");
  EXPECT_EQ(eval->Request({{"cmd", "register"}, {"session", "s1"}, {"id", 1}}), Ok({{"id", 1}}));
  EXPECT_EQ(eval->Request({{"cmd", "set_peer_ingress"},
                           {"session", "s1"},
                           {"keep_alive", true},
                           {"transport", "t1"}}),
            Ok({{"spawned", true}}));
  EXPECT_EQ(eval->Request({{"cmd", "post"},
                           {"session", "s1"},
                           {"message_id", "m1"},
                           {"from", "p"},
                           {"body", "one"}}),
            Ok({{"duplicate", false}}));
  EXPECT_EQ(
      eval->Request(
          {{"cmd", "await_delivered"}, {"session", "s1"}, {"count", 1}, {"timeout_ms", 5'000}}),
      Ok({{"delivered", 1}}));
  EXPECT_EQ(eval->Request({{"cmd", "frobnicate"}})["error"]["code"], "InvalidArgument");
  EXPECT_EQ(eval->Request({{"cmd", "inspect"}, {"session", "nobody"}})["error"]["code"],
            "NotReady");
  eval->CloseStdin();
  EXPECT_EQ(eval->WaitExit(), 0) << eval->Stderr();

  auto sent = steady_clock::now();
  ASSERT_EQ(kill(serve.pid(), SIGTERM), 0);
  EXPECT_EQ(serve.WaitExit(kPromptExit), 0) << serve.Stderr();
  EXPECT_LT(steady_clock::now() - sent, kPromptExit);
  EXPECT_FALSE(std::filesystem::exists(socket));

  // The stop journaled nothing: the next start respawns the drain.
  std::vector<std::string> lines = RunScript("{\"cmd\":\"inspect\",\"session\":\"s1\"}\n");
  ASSERT_EQ(lines.size(), 1u);
  json inspect = json::parse(lines[0]);
  EXPECT_EQ(inspect["state"]["drain_phase"], "Running") << lines[0];
  EXPECT_EQ(inspect["task"]["incarnation"], 2) << lines[0];
  EXPECT_EQ(inspect["delivered"], 1) << lines[0];
}

TEST_F(EvalEndToEndTest, EvalConnectToNothingExitsOne) {
  auto eval = StartEval();
  eval.reset();
  auto connect = std::make_unique<BurrowProcess>(
      std::vector<std::string>{"eval", "--connect", "unix:" + (root_ / "none.sock").string()},
      root_ / "stderr-none");
  connect->CloseStdin();
  EXPECT_EQ(connect->WaitExit(), 1);
  EXPECT_NE(connect->Stderr().find("cannot connect"), std::string::npos) << connect->Stderr();
}

TEST_F(EvalEndToEndTest, ServeRefusesTcpWithoutATokenAndHasHelp) {
  BurrowProcess serve({"serve", "--data", data_.string(), "--listen", "127.0.0.1:0"},
                      root_ / "serve-stderr");
  EXPECT_EQ(serve.WaitExit(), 1);
  EXPECT_NE(serve.Stderr().find("token"), std::string::npos) << serve.Stderr();
  auto help =
      std::make_unique<BurrowProcess>(std::vector<std::string>{"serve", "--help"}, root_ / "h");
  help->CloseStdin();
  std::string text;
  while (std::optional<std::string> line = help->ReadLine()) text += *line + "\n";
  EXPECT_EQ(help->WaitExit(), 0);
  for (const char* option : {"--data", "--listen", "--token-file", "--allow-remote",
                             "--metrics-listen", "--shutdown-grace-ms", "Examples:"}) {
    EXPECT_NE(text.find(option), std::string::npos) << option << " missing from\n" << text;
  }
}

}  // namespace
}  // namespace burrow::tools
