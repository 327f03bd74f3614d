// A host under a seeded load, for the SIGKILL test: recovers the journal in argv[1] (sync
// durability), then runs `ops` seeded commands on a few sessions. Before each command it prints
// "try <n> <what> <session> [<message_id>]" and after an acknowledged one "ack <n>", flushing
// each line, until it is killed (or runs out of ops).
#include <cstdio>
#include <random>
#include <string>

#include "recovery/recovery.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DIR SEED OPS\n", argv[0]);
    return 2;
  }
  burrow::journal::Options options;
  auto journal = burrow::journal::Journal::Open(argv[1], options);
  if (!journal.ok()) {
    std::fprintf(stderr, "open: %s\n", journal.status().ToString().c_str());
    return 1;
  }
  burrow::host::HostOptions host_options;
  host_options.snapshot_every_records = 50;     // exercise snapshots under the kill
  host_options.checkpoint_every_records = 400;  // and truncation
  auto recovered = burrow::recovery::Recover(**journal, host_options);
  if (!recovered.ok()) {
    std::fprintf(stderr, "recover: %s\n", recovered.status().ToString().c_str());
    return 1;
  }
  auto& host = *recovered->host;
  std::mt19937_64 rng(std::stoull(argv[2]));
  const long ops = std::stol(argv[3]);
  for (long n = 0; n < ops; ++n) {
    std::string s = "s" + std::to_string(rng() % 6);
    bool ok = false;
    auto say = [&](const char* what, const std::string& extra = "") {
      std::printf("try %ld %s %s %s\n", n, what, s.c_str(), extra.c_str());
      std::fflush(stdout);
    };
    switch (rng() % 8) {
      case 0:
        say("register");
        ok = host.Register(s).ok();
        break;
      case 1:
        say("ingress");
        ok = host.SetPeerIngress(
                     s, {true, "t1", std::nullopt, burrow::machine::DrainMode::kPersistentHost})
                 .ok();
        break;
      case 2:
        say("abort");
        ok = host.Abort(s).ok();
        break;
      case 3:
        say("attach");
        ok = host.AttachRuntime(s, {"r", rng() % 3 + 1, 1, std::nullopt}).ok();
        break;
      case 4:
        if (rng() % 10 == 0) {
          say("unregister");
          ok = host.Unregister(s).ok();
        }
        break;
      default: {
        std::string id = "m" + std::to_string(rng());
        say("post", id);
        auto posted = host.Post(s, {id, "peer", "body"});
        ok = posted.ok() && !posted.value().duplicate;
      }
    }
    if (ok) std::printf("ack %ld\n", n);
    std::fflush(stdout);
  }
  return 0;
}
