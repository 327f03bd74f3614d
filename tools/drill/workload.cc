#include "tools/drill/workload.h"

#include <fmt/format.h>

namespace burrow::drill {

using nlohmann::json;

Workload::Workload(uint64_t seed, std::string tag, int slots)
    : rng_(seed), tag_(std::move(tag)), generation_(static_cast<size_t>(slots), 0) {}

std::string Workload::SessionOf(int slot) const {
  const int gen = generation_[static_cast<size_t>(slot)];
  return gen == 0 ? fmt::format("s{}", slot) : fmt::format("s{}.{}", slot, gen);
}

std::vector<std::string> Workload::Sessions() const {
  std::vector<std::string> out;
  for (int i = 0; i < static_cast<int>(generation_.size()); ++i) out.push_back(SessionOf(i));
  return out;
}

json Workload::Next() {
  const int slot = static_cast<int>(rng_() % generation_.size());
  const std::string s = SessionOf(slot);
  // Weights out of 100; posts and ingress dominate because they exercise drains.
  const uint64_t pick = rng_() % 100;
  auto pick_of = [&](uint64_t n) { return rng_() % n; };
  if (pick < 12) return {{"cmd", "register"}, {"session", s}};
  if (pick < 17) {
    return {{"cmd", "attach_runtime"},
            {"session", s},
            {"runtime", fmt::format("r{}", pick_of(2))},
            {"fence", 1 + pick_of(3)},
            {"generation", 1}};
  }
  if (pick < 20) return {{"cmd", "ensure_executor"}, {"session", s}};
  if (pick < 25) {
    return {
        {"cmd", "start_run"}, {"session", s}, {"run", fmt::format("run-{}-{}", tag_, ++counter_)}};
  }
  if (pick < 30) {
    auto it = running_run_.find(s);
    std::string run = it != running_run_.end() && pick_of(5) != 0 ? it->second : "run-unknown";
    static constexpr const char* kOutcomes[] = {"Committed", "Failed", "Cancelled"};
    return {
        {"cmd", "finish_run"}, {"session", s}, {"run", run}, {"outcome", kOutcomes[pick_of(3)]}};
  }
  if (pick < 32) return {{"cmd", "retire"}, {"session", s}};
  if (pick < 34) return {{"cmd", "reset"}, {"session", s}};
  if (pick < 35) return {{"cmd", "stop_runtime"}, {"session", s}, {"reason", "drill"}};
  if (pick < 36) return {{"cmd", "runtime_exited"}, {"session", s}};
  if (pick < 48) {
    json request = {{"cmd", "set_peer_ingress"}, {"session", s}};
    const uint64_t shape = pick_of(10);
    if (shape < 7) {  // keep alive on a session-owned transport: spawns or re-asserts a drain
      request["keep_alive"] = true;
      request["transport"] = shape < 5 ? "t1" : "t2";
    } else if (shape < 8) {  // mob takeover
      request["keep_alive"] = true;
      request["transport"] = "t1";
      request["mob"] = "mob1";
    } else {  // keep_alive false: detaches and behaves as abort (drains stop)
      request["keep_alive"] = false;
    }
    return request;
  }
  if (pick < 52) return {{"cmd", "abort"}, {"session", s}};
  if (pick < 53) return {{"cmd", "destroy"}, {"session", s}};
  if (pick < 56) return {{"cmd", "unregister"}, {"session", s}};
  return {{"cmd", "post"},
          {"session", s},
          {"message_id", fmt::format("m-{}-{}", tag_, ++counter_)},
          {"from", fmt::format("peer{}", pick_of(3))},
          {"body", fmt::format("body {} of {}", counter_, s)}};
}

void Workload::Observe(const json& request, const json& response) {
  const std::string cmd = request.value("cmd", "");
  const std::string s = request.value("session", "");
  const bool ok = response.value("ok", false);
  if (cmd == "start_run" && ok) running_run_[s] = request["run"];
  if (cmd == "finish_run" && ok) running_run_.erase(s);
  const bool destroyed =
      (cmd == "destroy" && ok) || (!ok && response["error"].value("code", "") == "Destroyed");
  if (destroyed) {
    for (size_t i = 0; i < generation_.size(); ++i) {
      if (SessionOf(static_cast<int>(i)) == s) ++generation_[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------

std::optional<Expectation> ExpectationOf(const json& request) {
  using namespace machine;
  const std::string cmd = request.value("cmd", "");
  const std::string s = request.value("session", "");
  Expectation e;
  e.what = request.dump();
  auto transition = [&](Input input) {
    e.kind = Expectation::Kind::kTransition;
    e.input_kind = KindOf(input);
    e.input = std::move(input);
    return e;
  };
  if (cmd == "register") return transition(RegisterSession{s});
  if (cmd == "attach_runtime") {
    PrepareBindings input{s, request["runtime"], request["fence"], std::nullopt, std::nullopt};
    if (request.contains("generation")) input.generation = request["generation"].get<uint64_t>();
    if (request.contains("epoch")) input.epoch_id = request["epoch"].get<std::string>();
    return transition(input);
  }
  if (cmd == "ensure_executor") return transition(EnsureSessionWithExecutor{s});
  if (cmd == "start_run") return transition(StartRun{request["run"]});
  if (cmd == "finish_run") {
    return transition(
        FinishRun{request["run"], ParseRunOutcome(request["outcome"].get<std::string>()).value()});
  }
  if (cmd == "retire") return transition(Retire{});
  if (cmd == "reset") return transition(Reset{});
  if (cmd == "stop_runtime") return transition(StopRuntimeExecutor{request.value("reason", "")});
  if (cmd == "runtime_exited") return transition(RuntimeExecutorExited{});
  if (cmd == "destroy") return transition(Destroy{});
  if (cmd == "set_peer_ingress") return transition(SetPeerIngressContext{request["keep_alive"]});
  if (cmd == "unregister") {
    e.kind = Expectation::Kind::kTransition;
    e.input_kind = InputKind::kUnregisterSession;  // the binding observation is the host's
    return e;
  }
  if (cmd == "post") {
    e.kind = Expectation::Kind::kInboxAppended;
    e.message_id = request["message_id"];
    return e;
  }
  return std::nullopt;
}

void Ledger::Record(const json& request, const json& response) {
  if (!response.value("ok", false)) return;  // an error applies nothing
  ++acknowledged_;
  const std::string cmd = request.value("cmd", "");
  const std::string s = request.value("session", "");
  std::optional<Expectation> e = ExpectationOf(request);
  if (!e) return;
  SessionLedger& session = sessions_[s];
  if (cmd == "post" && response.value("duplicate", false)) return;  // already counted before
  session.expected.push_back(std::move(*e));
  if (cmd == "register") session.presence = Presence::kPresent;
  if (cmd == "post") session.acked_posts.push_back(request["message_id"]);
  if (cmd == "unregister") {
    session.presence = Presence::kAbsent;
    session.acked_posts.clear();
    session.maybe_posts.clear();
    session.doubted_posts.clear();
  }
}

void Ledger::RecordUnknown(const json& request) {
  const std::string cmd = request.value("cmd", "");
  const std::string s = request.value("session", "");
  if (s.empty()) return;
  SessionLedger& session = sessions_[s];
  if (cmd == "register" && session.presence == Presence::kAbsent)
    session.presence = Presence::kMaybe;
  if (cmd == "post") session.maybe_posts.insert(request["message_id"].get<std::string>());
  if (cmd == "unregister" && session.presence != Presence::kAbsent) {
    session.presence = Presence::kMaybe;
    for (std::string& id : session.acked_posts) session.doubted_posts.push_back(std::move(id));
    session.acked_posts.clear();
  }
}

}  // namespace burrow::drill
