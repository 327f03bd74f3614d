// `burrow serve`: the durable runtime host over Cap'n Proto RPC (SPEC.md §8, docs/SERVE.md).
// Opens the journal, recovers it (before anyone can connect), then serves the host on a Unix
// socket or a TCP address until SIGTERM or SIGINT, and stops gracefully: no new connections,
// in-flight commands finish, drain tasks stop without journaling anything (the next start
// respawns them).
//
// Exit status: 0 after a graceful stop; 1 when the journal cannot be opened or recovered, or the
// listener cannot be set up; 2 for bad flags (CLI11).
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/host/host.h"
#include "engine/rpc/rpc.h"
#include "journal/journal.h"
#include "recovery/recovery.h"
#include "tools/commands.h"
#include "tools/host_flags.h"

namespace burrow::tools {
namespace {

struct ServeFlags {
  std::string data_dir = "./burrow-data";
  std::string listen;  // default: unix:<data_dir>/burrow.sock
  std::string token_file;
  bool allow_remote = false;
  std::string metrics_listen;
  uint64_t shutdown_grace_ms = 10'000;
  HostFlags host{.log_level = "info"};
};

int Fail(std::string_view what, const Status& status) {
  fmt::print(stderr, "burrow serve: {}: {}\n", what, status.ToString());
  return 1;
}

int RunServe(const ServeFlags& flags) {
  // Block the termination signals before any thread starts (RocksDB's, the server's): they are
  // then taken only by sigwait below, never at an arbitrary point of some thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto logger = std::make_shared<spdlog::logger>(
      "burrow", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::level::from_str(flags.host.log_level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%f%z %l %v");

  rpc::ServerOptions server_options;
  {
    std::string listen =
        flags.listen.empty() ? "unix:" + flags.data_dir + "/burrow.sock" : flags.listen;
    Result<rpc::Address> address = rpc::ParseAddress(listen);
    if (!address.ok()) return Fail("--listen", address.status());
    server_options.listen = *address;
  }
  if (!flags.token_file.empty()) {
    Result<std::string> token = rpc::ReadTokenFile(flags.token_file);
    if (!token.ok()) return Fail("--token-file", token.status());
    server_options.token = *token;
  }
  if (server_options.listen.kind == rpc::Address::Kind::kTcp && !server_options.token) {
    fmt::print(stderr, "burrow serve: a TCP listener requires --token-file\n");
    return 1;
  }
  auto metrics = std::make_unique<rpc::Metrics>();
  if (!flags.metrics_listen.empty()) {
    Result<rpc::Address> address = rpc::ParseAddress(flags.metrics_listen);
    if (!address.ok()) return Fail("--metrics-listen", address.status());
    server_options.metrics_listen = *address;
  }
  server_options.allow_remote = flags.allow_remote;
  server_options.shutdown_grace = std::chrono::milliseconds(flags.shutdown_grace_ms);
  server_options.metrics = metrics.get();
  server_options.logger = logger;
  auto events = std::make_unique<rpc::EventHub>(metrics.get());
  server_options.events = events.get();

  journal::Options journal_options;
  journal_options.mode = journal::OpenMode::kWriter;
  journal_options.durability = DurabilityOf(flags.host);
  journal_options.logger = logger;
  rpc::Metrics* sink = metrics.get();
  journal_options.on_group_written = [sink](const journal::GroupWritten& g) {
    sink->GroupWritten(g);
  };
  Result<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Open(flags.data_dir, journal_options);
  if (!journal.ok()) {
    return Fail(fmt::format("cannot open the journal in '{}'", flags.data_dir), journal.status());
  }

  host::HostOptions host_options = HostOptionsOf(flags.host, logger);
  host_options.observer = events.get();
  // Recovery runs before the listener exists: nobody can connect to a host that is not whole.
  Result<recovery::Recovered> recovered = recovery::Recover(**journal, host_options);
  if (!recovered.ok()) {
    return Fail(fmt::format("cannot recover the journal in '{}'", flags.data_dir),
                recovered.status());
  }
  metrics->SetRecoveryDuration(recovered->report.duration);
  std::unique_ptr<host::Host> host = std::move(recovered->host);
  events->Seed(*host);

  Result<std::unique_ptr<rpc::Server>> server = rpc::Server::Start(*host, server_options);
  if (!server.ok()) {
    host->Shutdown();
    return Fail("cannot serve", server.status());
  }
  logger->info("burrow serve: listening on {}{}", (*server)->address().ToString(),
               (*server)->metrics_address() ? fmt::format(", metrics on http://{}/metrics",
                                                          (*server)->metrics_address()->ToString())
                                            : std::string());

  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  logger->info("received SIG{}; stopping gracefully", sigabbrev_np(received));
  (*server)->Stop();
  server->reset();
  host->Shutdown();
  host.reset();
  journal->reset();
  logger->info("stopped");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "serve",
      "The durable runtime host over Cap'n Proto RPC (schema/host.capnp): recovers the journal "
      "in the data directory, then serves every command of SPEC.md §3 on a Unix socket (mode "
      "0600) or a loopback TCP address (token required). SIGTERM/SIGINT stop it gracefully: no "
      "new connections, in-flight commands finish, drain tasks stop without journaling anything "
      "so the next start respawns them. Exits 0 after a graceful stop, 1 when the journal cannot "
      "be opened or recovered or the listener cannot be set up.");
  cmd->footer(
      "Addresses: unix:PATH, HOST:PORT, [IPV6]:PORT, or :PORT (127.0.0.1). A TCP listener needs\n"
      "--token-file (at least 16 bytes; a client presents it with `burrow eval --connect ADDR\n"
      "--token-file F`); a non-loopback HOST also needs --allow-remote. Prometheus metrics:\n"
      "GET /metrics on --metrics-listen (docs/SERVE.md lists them).\n"
      "\n"
      "Examples:\n"
      "  burrow serve --data ./burrow-data\n"
      "      (listens on unix:./burrow-data/burrow.sock)\n"
      "  burrow serve --data /var/lib/burrow --listen unix:/run/burrow.sock \\\n"
      "      --metrics-listen 127.0.0.1:9464\n"
      "  head -c 32 /dev/urandom | base64 > token && chmod 600 token\n"
      "  burrow serve --data ./burrow-data --listen 127.0.0.1:7411 --token-file token\n"
      "  echo '{\"cmd\":\"sessions\"}' | burrow eval --connect 127.0.0.1:7411 --token-file token");
  auto flags = std::make_shared<ServeFlags>();
  cmd->add_option("--data", flags->data_dir,
                  "Data directory holding the journal (created when missing)")
      ->capture_default_str();
  cmd->add_option("--listen", flags->listen,
                  "Where to serve: unix:PATH or HOST:PORT (default: unix:DATA/burrow.sock)");
  cmd->add_option("--token-file", flags->token_file,
                  "File holding the token clients must present (required for TCP)");
  cmd->add_flag("--allow-remote", flags->allow_remote,
                "Allow a TCP listener on a non-loopback address");
  cmd->add_option("--metrics-listen", flags->metrics_listen,
                  "HOST:PORT serving Prometheus text on GET /metrics (off by default)");
  AddHostOptions(cmd, flags->host,
                 "Accept the failNextInboxRead and failNextAppends calls (fault injection for "
                 "tests)");
  cmd->add_option("--shutdown-grace-ms", flags->shutdown_grace_ms,
                  "On SIGTERM/SIGINT, how long in-flight commands may take to finish before the "
                  "host shuts down anyway")
      ->check(CLI::Range(uint64_t{0}, uint64_t{3'600'000}))
      ->capture_default_str();
  cmd->callback([flags, &exit_code] { exit_code = RunServe(*flags); });
}

}  // namespace burrow::tools
