#include "tools/drill/target.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/write_all.h"
#include "tools/eval_protocol.h"

namespace burrow::drill {

using nlohmann::json;

namespace {
// A child that does not answer within this long is reported (recovery of a drill-sized journal
// takes milliseconds; the bound only keeps a hung child from hanging the drill).
constexpr std::chrono::milliseconds kChildTimeout{60'000};

}  // namespace

Result<std::unique_ptr<ChildHost>> ChildHost::Start(const std::string& binary,
                                                    const std::string& data_dir,
                                                    const std::string& stderr_path) {
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return UnavailableError(std::strerror(errno));
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return UnavailableError(std::strerror(errno));
  }
  const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t pid = fork();
  if (pid < 0) return UnavailableError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    execl(binary.c_str(), binary.c_str(), "eval", "--data", data_dir.c_str(), "--log-level",
          "error", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  if (err_fd >= 0) close(err_fd);
  auto child = std::unique_ptr<ChildHost>(new ChildHost());
  child->pid_ = pid;
  child->in_fd_ = to_child[1];
  child->out_fd_ = from_child[0];
  return child;
}

ChildHost::~ChildHost() {
  if (pid_ > 0) Kill();
  if (in_fd_ >= 0) close(in_fd_);
  if (out_fd_ >= 0) close(out_fd_);
}

bool ChildHost::Send(const json& request) {
  if (in_fd_ < 0) return false;
  return WriteAll(in_fd_, request.dump() + "\n");
}

std::optional<std::string> ChildHost::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{.fd = out_fd_, .events = POLLIN, .revents = 0};
    int ready = poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char chunk[65536];
    ssize_t n = read(out_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // the child is gone
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

std::optional<json> ChildHost::Call(const json& request) {
  if (!Send(request)) return std::nullopt;
  std::optional<std::string> line = ReadLine(kChildTimeout);
  if (!line) return std::nullopt;
  json response = json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (response.is_discarded()) return std::nullopt;
  return response;
}

bool ChildHost::Kill() {
  if (pid_ <= 0) return false;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

int ChildHost::Stop() {
  if (pid_ <= 0) return -1;
  close(in_fd_);
  in_fd_ = -1;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<InProcessHost>> InProcessHost::Open(const std::string& dir,
                                                           const journal::Options& journal_options,
                                                           const host::HostOptions& host_options) {
  const auto start = std::chrono::steady_clock::now();
  auto out = std::unique_ptr<InProcessHost>(new InProcessHost());
  BURROW_ASSIGN_OR_RETURN(out->journal_, journal::Journal::Open(dir, journal_options));
  BURROW_ASSIGN_OR_RETURN(recovery::Recovered recovered,
                          recovery::Recover(*out->journal_, host_options));
  out->host_ = std::move(recovered.host);
  out->report_ = recovered.report;
  out->open_time_ = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  return out;
}

InProcessHost::~InProcessHost() {
  host_.reset();
  journal_.reset();
}

std::optional<json> InProcessHost::Call(const json& request) {
  return tools::HandleRequest(*host_, request);
}

}  // namespace burrow::drill
