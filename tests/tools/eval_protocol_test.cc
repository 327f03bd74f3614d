// The `eval` protocol (SPEC.md §8.1) over a fake host: every command reaches the exact Host
// call, every result and error has its documented shape, and no malformed request reaches the
// host.
#include "tools/eval_protocol.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/host/host.h"
#include "engine/machine/types.h"

namespace burrow::tools {
namespace {

using nlohmann::json;

std::string Show(std::string_view s) { return fmt::format("\"{}\"", s); }
template <typename T>
std::string Show(const std::optional<T>& v) {
  if (!v.has_value()) return "null";
  if constexpr (std::is_same_v<T, std::string>) {
    return Show(std::string_view(*v));
  } else {
    return fmt::format("{}", *v);
  }
}

// A host that records each call as one line of text ("Register(\"s1\")") and answers with the
// scripted reply: `error` when set, else the ok values below.
class FakeHost : public host::Host {
 public:
  std::vector<std::string> calls;
  std::optional<host::Error> error;
  bool spawned = false;
  bool ended = false;
  bool duplicate = false;
  std::vector<host::Message> messages;
  uint64_t delivered = 0;
  host::SessionView view;
  std::vector<std::string> sessions;

  host::Reply<host::StartReport> Start() override {
    return Record<host::StartReport>("Start()", {});
  }
  host::Reply<host::CheckpointReport> Checkpoint() override {
    return Record<host::CheckpointReport>("Checkpoint()", {});
  }
  void Shutdown() override { calls.push_back("Shutdown()"); }

  host::Reply<host::Done> Register(std::string_view session) override {
    return Done(fmt::format("Register({})", Show(session)));
  }
  host::Reply<host::Done> AttachRuntime(std::string_view session,
                                        const host::AttachRuntimeArgs& a) override {
    return Done(fmt::format(
        "AttachRuntime({}, runtime_id={}, fence_token={}, generation={}, epoch_id={})",
        Show(session), Show(a.runtime_id), a.fence_token, Show(a.generation), Show(a.epoch_id)));
  }
  host::Reply<host::Done> EnsureExecutor(std::string_view session) override {
    return Done(fmt::format("EnsureExecutor({})", Show(session)));
  }
  host::Reply<host::Done> StartRun(std::string_view session, std::string_view run_id) override {
    return Done(fmt::format("StartRun({}, {})", Show(session), Show(run_id)));
  }
  host::Reply<host::Done> FinishRun(std::string_view session, std::string_view run_id,
                                    machine::RunOutcome outcome) override {
    return Done(
        fmt::format("FinishRun({}, {}, {})", Show(session), Show(run_id), machine::Name(outcome)));
  }
  host::Reply<host::Done> Retire(std::string_view session) override {
    return Done(fmt::format("Retire({})", Show(session)));
  }
  host::Reply<host::Done> Reset(std::string_view session) override {
    return Done(fmt::format("Reset({})", Show(session)));
  }
  host::Reply<host::Done> StopRuntime(std::string_view session, std::string_view reason) override {
    return Done(fmt::format("StopRuntime({}, {})", Show(session), Show(reason)));
  }
  host::Reply<host::Done> RuntimeExited(std::string_view session) override {
    return Done(fmt::format("RuntimeExited({})", Show(session)));
  }
  host::Reply<host::Done> Destroy(std::string_view session) override {
    return Done(fmt::format("Destroy({})", Show(session)));
  }
  host::Reply<host::Done> Unregister(std::string_view session) override {
    return Done(fmt::format("Unregister({})", Show(session)));
  }
  host::Reply<bool> SetPeerIngress(std::string_view session,
                                   const host::PeerIngressArgs& a) override {
    return Record<bool>(
        fmt::format("SetPeerIngress({}, keep_alive={}, transport_id={}, mob_id={}, mode={})",
                    Show(session), a.keep_alive, Show(a.transport_id), Show(a.mob_id),
                    machine::Name(a.mode)),
        spawned);
  }
  host::Reply<host::Done> NotifyDrainExited(std::string_view session,
                                            machine::DrainExitReason reason) override {
    return Done(fmt::format("NotifyDrainExited({}, {})", Show(session), machine::Name(reason)));
  }
  host::Reply<host::Done> Abort(std::string_view session) override {
    return Done(fmt::format("Abort({})", Show(session)));
  }
  host::Reply<host::Done> AbortAll() override { return Done("AbortAll()"); }
  host::Reply<bool> Wait(std::string_view session,
                         std::optional<std::chrono::milliseconds> timeout) override {
    return Record<bool>(
        fmt::format("Wait({}, {})", Show(session),
                    timeout.has_value() ? fmt::format("{}ms", timeout->count()) : "none"),
        ended);
  }
  host::Reply<host::PostResult> Post(std::string_view session, const host::PostArgs& a) override {
    return Record<host::PostResult>(
        fmt::format("Post({}, message_id={}, from={}, body={})", Show(session), Show(a.message_id),
                    Show(a.from), Show(a.body)),
        host::PostResult{duplicate});
  }
  host::Reply<std::vector<host::Message>> Delivered(std::string_view session) override {
    return Record<std::vector<host::Message>>(fmt::format("Delivered({})", Show(session)),
                                              messages);
  }
  host::Reply<uint64_t> AwaitDelivered(std::string_view session, uint64_t count,
                                       std::chrono::milliseconds timeout) override {
    return Record<uint64_t>(
        fmt::format("AwaitDelivered({}, {}, {}ms)", Show(session), count, timeout.count()),
        delivered);
  }
  host::Reply<host::SessionView> Inspect(std::string_view session) override {
    return Record<host::SessionView>(fmt::format("Inspect({})", Show(session)), view);
  }
  host::Reply<std::vector<std::string>> Sessions() override {
    return Record<std::vector<std::string>>("Sessions()", sessions);
  }
  host::Reply<host::Done> FailNextInboxRead(std::string_view session) override {
    return Done(fmt::format("FailNextInboxRead({})", Show(session)));
  }
  host::Reply<host::Done> FailNextAppends(int n) override {
    return Done(fmt::format("FailNextAppends({})", n));
  }

 private:
  template <typename T>
  host::Reply<T> Record(std::string call, T value) {
    calls.push_back(std::move(call));
    if (error.has_value()) return *error;
    return value;
  }
  host::Reply<host::Done> Done(std::string call) {
    return Record<host::Done>(std::move(call), host::Done{});
  }
};

class EvalProtocolTest : public testing::Test {
 protected:
  json Handle(const json& request, EvalOptions options = {}) {
    return HandleRequest(host_, request, options);
  }
  json HandleText(std::string_view line, EvalOptions options = {}) {
    return json::parse(HandleLine(host_, line, options));
  }

  // The response must be an InvalidArgument error with `reason`, and the host untouched.
  void ExpectRefused(const json& response, std::string_view reason) {
    EXPECT_EQ(response["ok"], false) << response;
    EXPECT_EQ(response["error"]["code"], "InvalidArgument") << response;
    EXPECT_EQ(response["error"]["reason"], reason) << response;
    EXPECT_TRUE(host_.calls.empty()) << host_.calls.front();
  }

  FakeHost host_;
};

// ---------------------------------------------------------------------------------------------
// Every command reaches the exact Host call.

struct CommandCase {
  std::string name;  // the test's name
  std::string request;
  std::string call;
};

class EvalProtocolCommandTest : public EvalProtocolTest,
                                public testing::WithParamInterface<CommandCase> {};

TEST_P(EvalProtocolCommandTest, ParsesItsArgumentsIntoTheExactHostCall) {
  EvalOptions with_hooks;
  with_hooks.enable_test_hooks = true;
  json response = HandleText(GetParam().request, with_hooks);
  EXPECT_EQ(response["ok"], true) << response;
  EXPECT_EQ(host_.calls, std::vector<std::string>{GetParam().call});
}

INSTANTIATE_TEST_SUITE_P(
    EveryCommand, EvalProtocolCommandTest,
    testing::Values(
        CommandCase{"Register", R"({"cmd":"register","session":"s1"})", R"(Register("s1"))"},
        CommandCase{"AttachRuntimeWithEveryArgument",
                    R"({"cmd":"attach_runtime","session":"s1","runtime":"r1","fence":7,)"
                    R"("generation":3,"epoch":"e1"})",
                    R"(AttachRuntime("s1", runtime_id="r1", fence_token=7, generation=3, )"
                    R"(epoch_id="e1"))"},
        CommandCase{"AttachRuntimeWithoutOptionals",
                    R"({"cmd":"attach_runtime","session":"s1","runtime":"r1","fence":0})",
                    R"(AttachRuntime("s1", runtime_id="r1", fence_token=0, generation=null, )"
                    R"(epoch_id=null))"},
        CommandCase{"AttachRuntimeWithNullOptionals",
                    R"({"cmd":"attach_runtime","session":"s1","runtime":"r1",)"
                    R"("fence":18446744073709551615,"generation":null,"epoch":null})",
                    R"(AttachRuntime("s1", runtime_id="r1", fence_token=18446744073709551615, )"
                    R"(generation=null, epoch_id=null))"},
        CommandCase{"EnsureExecutor", R"({"cmd":"ensure_executor","session":"s1"})",
                    R"(EnsureExecutor("s1"))"},
        CommandCase{"Retire", R"({"cmd":"retire","session":"s1"})", R"(Retire("s1"))"},
        CommandCase{"Reset", R"({"cmd":"reset","session":"s1"})", R"(Reset("s1"))"},
        CommandCase{"RuntimeExited", R"({"cmd":"runtime_exited","session":"s1"})",
                    R"(RuntimeExited("s1"))"},
        CommandCase{"Destroy", R"({"cmd":"destroy","session":"s1"})", R"(Destroy("s1"))"},
        CommandCase{"Unregister", R"({"cmd":"unregister","session":"s1"})", R"(Unregister("s1"))"},
        CommandCase{"StopRuntimeWithReason",
                    R"({"cmd":"stop_runtime","session":"s1","reason":"operator"})",
                    R"(StopRuntime("s1", "operator"))"},
        CommandCase{"StopRuntimeWithoutReason", R"({"cmd":"stop_runtime","session":"s1"})",
                    R"(StopRuntime("s1", ""))"},
        CommandCase{"StartRun", R"({"cmd":"start_run","session":"s1","run":"run1"})",
                    R"(StartRun("s1", "run1"))"},
        CommandCase{"FinishRunCommitted",
                    R"({"cmd":"finish_run","session":"s1","run":"run1","outcome":"Committed"})",
                    R"(FinishRun("s1", "run1", Committed))"},
        CommandCase{"FinishRunFailed",
                    R"({"cmd":"finish_run","session":"s1","run":"run1","outcome":"Failed"})",
                    R"(FinishRun("s1", "run1", Failed))"},
        CommandCase{"FinishRunCancelled",
                    R"({"cmd":"finish_run","session":"s1","run":"run1","outcome":"Cancelled"})",
                    R"(FinishRun("s1", "run1", Cancelled))"},
        CommandCase{"SetPeerIngressWithDefaults",
                    R"({"cmd":"set_peer_ingress","session":"s1","keep_alive":false})",
                    R"(SetPeerIngress("s1", keep_alive=false, transport_id=null, mob_id=null, )"
                    R"(mode=PersistentHost))"},
        CommandCase{"SetPeerIngressWithEveryArgument",
                    R"({"cmd":"set_peer_ingress","session":"s1","keep_alive":true,)"
                    R"("transport":"t1","mob":"m1","mode":"Timed"})",
                    R"(SetPeerIngress("s1", keep_alive=true, transport_id="t1", mob_id="m1", )"
                    R"(mode=Timed))"},
        CommandCase{"SetPeerIngressAttachedSessionMode",
                    R"({"cmd":"set_peer_ingress","session":"s1","keep_alive":true,)"
                    R"("transport":"t1","mode":"AttachedSession"})",
                    R"(SetPeerIngress("s1", keep_alive=true, transport_id="t1", mob_id=null, )"
                    R"(mode=AttachedSession))"},
        CommandCase{"NotifyDrainExitedIdleTimeout",
                    R"({"cmd":"notify_drain_exited","session":"s1","reason":"IdleTimeout"})",
                    R"(NotifyDrainExited("s1", IdleTimeout))"},
        CommandCase{"NotifyDrainExitedDismissed",
                    R"({"cmd":"notify_drain_exited","session":"s1","reason":"Dismissed"})",
                    R"(NotifyDrainExited("s1", Dismissed))"},
        CommandCase{"NotifyDrainExitedFailed",
                    R"({"cmd":"notify_drain_exited","session":"s1","reason":"Failed"})",
                    R"(NotifyDrainExited("s1", Failed))"},
        CommandCase{"NotifyDrainExitedAborted",
                    R"({"cmd":"notify_drain_exited","session":"s1","reason":"Aborted"})",
                    R"(NotifyDrainExited("s1", Aborted))"},
        CommandCase{"NotifyDrainExitedSessionShutdown",
                    R"({"cmd":"notify_drain_exited","session":"s1","reason":"SessionShutdown"})",
                    R"(NotifyDrainExited("s1", SessionShutdown))"},
        CommandCase{"Abort", R"({"cmd":"abort","session":"s1"})", R"(Abort("s1"))"},
        CommandCase{"WaitWithTimeout", R"({"cmd":"wait","session":"s1","timeout_ms":250})",
                    R"(Wait("s1", 250ms))"},
        CommandCase{"WaitWithoutTimeout", R"({"cmd":"wait","session":"s1"})",
                    R"(Wait("s1", none))"},
        CommandCase{"AbortAll", R"({"cmd":"abort_all"})", "AbortAll()"},
        CommandCase{"Post",
                    R"({"cmd":"post","session":"s1","message_id":"m1","from":"peer",)"
                    R"("body":"h\u00e9llo\n"})",
                    "Post(\"s1\", message_id=\"m1\", from=\"peer\", body=\"h\xc3\xa9llo\n\")"},
        CommandCase{"Delivered", R"({"cmd":"delivered","session":"s1"})", R"(Delivered("s1"))"},
        CommandCase{"AwaitDelivered",
                    R"({"cmd":"await_delivered","session":"s1","count":3,"timeout_ms":1000})",
                    R"(AwaitDelivered("s1", 3, 1000ms))"},
        CommandCase{"Inspect", R"({"cmd":"inspect","session":"s1"})", R"(Inspect("s1"))"},
        CommandCase{"Sessions", R"({"cmd":"sessions"})", "Sessions()"},
        CommandCase{"FailNextInboxRead", R"({"cmd":"fail_next_inbox_read","session":"s1"})",
                    R"(FailNextInboxRead("s1"))"},
        CommandCase{"FailNextAppends", R"({"cmd":"fail_next_appends","count":2})",
                    "FailNextAppends(2)"},
        CommandCase{"ExtraUnknownFieldsAreIgnored",
                    R"({"cmd":"register","session":"s1","note":"hi","x":[1,2]})",
                    R"(Register("s1"))"}),
    [](const testing::TestParamInfo<CommandCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Results

TEST_F(EvalProtocolTest, CommandWithoutResultAnswersOkAlone) {
  EXPECT_EQ(Handle({{"cmd", "register"}, {"session", "s1"}}), json({{"ok", true}}));
}

TEST_F(EvalProtocolTest, SetPeerIngressReportsWhetherATaskWasSpawned) {
  host_.spawned = true;
  EXPECT_EQ(Handle({{"cmd", "set_peer_ingress"}, {"session", "s1"}, {"keep_alive", true}}),
            json({{"ok", true}, {"spawned", true}}));
  host_.spawned = false;
  EXPECT_EQ(Handle({{"cmd", "set_peer_ingress"}, {"session", "s1"}, {"keep_alive", true}}),
            json({{"ok", true}, {"spawned", false}}));
}

TEST_F(EvalProtocolTest, WaitReportsWhetherTheTaskEnded) {
  host_.ended = true;
  EXPECT_EQ(Handle({{"cmd", "wait"}, {"session", "s1"}}), json({{"ok", true}, {"ended", true}}));
  host_.ended = false;
  EXPECT_EQ(Handle({{"cmd", "wait"}, {"session", "s1"}, {"timeout_ms", 5}}),
            json({{"ok", true}, {"ended", false}}));
}

TEST_F(EvalProtocolTest, PostReportsDuplicates) {
  json request = {
      {"cmd", "post"}, {"session", "s1"}, {"message_id", "m1"}, {"from", "p"}, {"body", "b"}};
  EXPECT_EQ(Handle(request), json({{"ok", true}, {"duplicate", false}}));
  host_.duplicate = true;
  EXPECT_EQ(Handle(request), json({{"ok", true}, {"duplicate", true}}));
}

TEST_F(EvalProtocolTest, DeliveredListsMessagesInDeliveryOrder) {
  host_.messages = {{"m2", "p", "second"}, {"m1", "q", "first"}};
  EXPECT_EQ(Handle({{"cmd", "delivered"}, {"session", "s1"}}), json::parse(R"({
      "ok": true,
      "messages": [{"message_id": "m2", "from": "p", "body": "second"},
                   {"message_id": "m1", "from": "q", "body": "first"}]})"));
}

TEST_F(EvalProtocolTest, DeliveredWithNoMessagesIsAnEmptyList) {
  EXPECT_EQ(Handle({{"cmd", "delivered"}, {"session", "s1"}}),
            json::parse(R"({"ok": true, "messages": []})"));
}

TEST_F(EvalProtocolTest, AwaitDeliveredReportsTheCountDelivered) {
  host_.delivered = 2;
  EXPECT_EQ(
      Handle({{"cmd", "await_delivered"}, {"session", "s1"}, {"count", 3}, {"timeout_ms", 10}}),
      json({{"ok", true}, {"delivered", 2}}));
}

TEST_F(EvalProtocolTest, SessionsListsTheHostsSessions) {
  host_.sessions = {"a", "b"};
  EXPECT_EQ(Handle({{"cmd", "sessions"}}), json::parse(R"({"ok": true, "sessions": ["a", "b"]})"));
  host_.sessions = {};
  EXPECT_EQ(Handle({{"cmd", "sessions"}}), json::parse(R"({"ok": true, "sessions": []})"));
}

TEST_F(EvalProtocolTest, InspectOfAFreshSessionShowsEveryFieldWithNullsForAbsentValues) {
  host_.view.session_id = "s1";
  EXPECT_EQ(Handle({{"cmd", "inspect"}, {"session", "s1"}}), json::parse(R"({
      "ok": true,
      "state": {
        "phase": "Initializing",
        "session_id": null,
        "runtime_id": null,
        "epoch_id": null,
        "fence_token": null,
        "generation": null,
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
        "drain_phase": "Inactive",
        "drain_mode": null,
        "ingress_owner": "Unattached",
        "ingress_transport_id": null,
        "ingress_mob_id": null,
        "keep_alive": false
      },
      "task": {"running": false, "incarnation": 0},
      "inbox_pending": 0,
      "delivered": 0})"));
}

TEST_F(EvalProtocolTest, InspectSpellsEveryFieldAndEnumAsTheSpecDoes) {
  machine::State& s = host_.view.state;
  s.phase = machine::Phase::kRunning;
  s.session_id = "s1";
  s.runtime_id = "r1";
  s.epoch_id = "e1";
  s.fence_token = 7;
  s.generation = 3;
  s.current_run_id = "run1";
  s.pre_run_phase = machine::Phase::kAttached;
  s.stop_deferred = true;
  s.registration_phase = machine::RegistrationPhase::kDraining;
  s.unregister_runtime_loop_pending = true;
  s.unregister_comms_drain_pending = true;
  s.unregister_waiters_pending = true;
  s.unregister_retains_snapshot = true;
  s.runtime_loop_forced_abort = true;
  s.comms_drain_forced_abort = true;
  s.drain_phase = machine::DrainPhase::kExitedRespawnable;
  s.drain_mode = machine::DrainMode::kAttachedSession;
  s.ingress_owner = machine::IngressOwner::kMobOwned;
  s.ingress_transport_id = "t1";
  s.ingress_mob_id = "m1";
  s.keep_alive = true;
  host_.view.task = {.running = true, .incarnation = 4};
  host_.view.inbox_pending = 5;
  host_.view.delivered = 6;
  EXPECT_EQ(Handle({{"cmd", "inspect"}, {"session", "s1"}}), json::parse(R"({
      "ok": true,
      "state": {
        "phase": "Running",
        "session_id": "s1",
        "runtime_id": "r1",
        "epoch_id": "e1",
        "fence_token": 7,
        "generation": 3,
        "current_run_id": "run1",
        "pre_run_phase": "Attached",
        "stop_deferred": true,
        "registration_phase": "Draining",
        "unregister_runtime_loop_pending": true,
        "unregister_comms_drain_pending": true,
        "unregister_waiters_pending": true,
        "unregister_retains_snapshot": true,
        "runtime_loop_forced_abort": true,
        "comms_drain_forced_abort": true,
        "drain_phase": "ExitedRespawnable",
        "drain_mode": "AttachedSession",
        "ingress_owner": "MobOwned",
        "ingress_transport_id": "t1",
        "ingress_mob_id": "m1",
        "keep_alive": true
      },
      "task": {"running": true, "incarnation": 4},
      "inbox_pending": 5,
      "delivered": 6})"));
}

// ---------------------------------------------------------------------------------------------
// Errors: every code, in its documented shape.

TEST_F(EvalProtocolTest, NotReadyCarriesTheState) {
  host_.error = host::Error{host::ErrorCode::kNotReady, {}, "destroyed"};
  EXPECT_EQ(Handle({{"cmd", "retire"}, {"session", "s1"}}),
            json::parse(R"({"ok": false, "error": {"code": "NotReady", "state": "destroyed"}})"));
}

TEST_F(EvalProtocolTest, NotReadyCarriesTheHostsReasonWhenItGivesOne) {
  host_.error = host::Error{host::ErrorCode::kNotReady, "session is unknown", "destroyed"};
  EXPECT_EQ(Handle({{"cmd", "retire"}, {"session", "s1"}}), json::parse(R"({"ok": false,
      "error": {"code": "NotReady", "state": "destroyed", "reason": "session is unknown"}})"));
}

TEST_F(EvalProtocolTest, SessionsThatCannotBeListedAreAnErrorNotAnEmptyList) {
  host_.sessions = {"s1"};
  host_.error = host::Error{host::ErrorCode::kUnavailable, "the host is shutting down", {}};
  EXPECT_EQ(Handle({{"cmd", "sessions"}}), json::parse(R"({"ok": false,
      "error": {"code": "Unavailable", "reason": "the host is shutting down"}})"));
}

TEST_F(EvalProtocolTest, DestroyedNeedsNoReason) {
  host_.error = host::Error{host::ErrorCode::kDestroyed, {}, {}};
  EXPECT_EQ(Handle({{"cmd", "register"}, {"session", "s1"}}),
            json::parse(R"({"ok": false, "error": {"code": "Destroyed"}})"));
}

TEST_F(EvalProtocolTest, ReasonedErrorsCarryTheirCodeAndReason) {
  const std::vector<std::pair<host::ErrorCode, std::string>> codes = {
      {host::ErrorCode::kValidationFailed, "ValidationFailed"},
      {host::ErrorCode::kInvalidArgument, "InvalidArgument"},
      {host::ErrorCode::kUnavailable, "Unavailable"},
      {host::ErrorCode::kInternal, "Internal"},
  };
  for (const auto& [code, name] : codes) {
    host_.error = host::Error{code, "why " + name, {}};
    EXPECT_EQ(Handle({{"cmd", "start_run"}, {"session", "s1"}, {"run", "r"}}),
              json({{"ok", false}, {"error", {{"code", name}, {"reason", "why " + name}}}}));
  }
}

TEST_F(EvalProtocolTest, ResultBearingCommandsReportErrorsWithoutAResult) {
  host_.error = host::Error{host::ErrorCode::kValidationFailed, "rejected", {}};
  json expected =
      json::parse(R"({"ok": false, "error": {"code": "ValidationFailed", "reason": "rejected"}})");
  EXPECT_EQ(Handle({{"cmd", "set_peer_ingress"}, {"session", "s1"}, {"keep_alive", true}}),
            expected);
  EXPECT_EQ(Handle({{"cmd", "wait"}, {"session", "s1"}}), expected);
  EXPECT_EQ(
      Handle(
          {{"cmd", "post"}, {"session", "s1"}, {"message_id", "m"}, {"from", "f"}, {"body", "b"}}),
      expected);
  EXPECT_EQ(Handle({{"cmd", "delivered"}, {"session", "s1"}}), expected);
  EXPECT_EQ(
      Handle({{"cmd", "await_delivered"}, {"session", "s1"}, {"count", 1}, {"timeout_ms", 1}}),
      expected);
  EXPECT_EQ(Handle({{"cmd", "inspect"}, {"session", "s1"}}), expected);
}

// ---------------------------------------------------------------------------------------------
// "id" is echoed, whatever its type, on results and on errors.

TEST_F(EvalProtocolTest, IdIsEchoedWhateverItsType) {
  for (const json& id : {json(7), json("req-1"), json({{"a", 1}}), json::array({1, "x"}),
                         json(-2.5), json(nullptr), json(true)}) {
    json response = Handle({{"cmd", "register"}, {"session", "s1"}, {"id", id}});
    EXPECT_EQ(response, json({{"ok", true}, {"id", id}}));
  }
}

TEST_F(EvalProtocolTest, IdIsEchoedOnErrors) {
  host_.error = host::Error{host::ErrorCode::kDestroyed, {}, {}};
  EXPECT_EQ(Handle({{"cmd", "register"}, {"session", "s1"}, {"id", 9}}),
            json::parse(R"({"ok": false, "id": 9, "error": {"code": "Destroyed"}})"));
}

TEST_F(EvalProtocolTest, IdIsEchoedOnMalformedRequests) {
  json response = Handle({{"cmd", "nope"}, {"id", "x"}});
  EXPECT_EQ(response["id"], "x");
  ExpectRefused(response, "unknown cmd 'nope'");
}

TEST_F(EvalProtocolTest, ResponseWithoutIdInTheRequestHasNoId) {
  EXPECT_FALSE(Handle({{"cmd", "register"}, {"session", "s1"}}).contains("id"));
}

TEST_F(EvalProtocolTest, HandleLineAnswersOneLineOfCompactJson) {
  std::string line = HandleLine(host_, R"({"cmd":"register","session":"s1","id":1})");
  EXPECT_EQ(line, R"({"id":1,"ok":true})");
}

// ---------------------------------------------------------------------------------------------
// Malformed requests: InvalidArgument, and the host is never called.

TEST_F(EvalProtocolTest, BadJsonIsRefused) {
  json response = HandleText(R"({"cmd":"register","session":)");
  EXPECT_EQ(response["ok"], false);
  EXPECT_EQ(response["error"]["code"], "InvalidArgument");
  EXPECT_TRUE(response["error"]["reason"].get<std::string>().starts_with("bad JSON: parse error"))
      << response;
  EXPECT_FALSE(response.contains("id"));
  EXPECT_TRUE(host_.calls.empty());
}

TEST_F(EvalProtocolTest, EmptyLineIsBadJson) {
  json response = HandleText("");
  EXPECT_EQ(response["error"]["code"], "InvalidArgument");
  EXPECT_TRUE(host_.calls.empty());
}

TEST_F(EvalProtocolTest, InvalidUtf8IsBadJson) {
  json response = HandleText("{\"cmd\":\"register\",\"session\":\"\xff\xfe\"}");
  EXPECT_EQ(response["error"]["code"], "InvalidArgument");
  EXPECT_TRUE(response["error"]["reason"].get<std::string>().starts_with("bad JSON"));
  EXPECT_TRUE(host_.calls.empty());
}

TEST_F(EvalProtocolTest, DeeplyNestedJsonIsRefused) {
  std::string line = R"({"cmd":"register","session":"s1","id":)" + std::string(200, '[') +
                     std::string(200, ']') + "}";
  ExpectRefused(HandleText(line), "bad JSON: nested deeper than 64 levels");
}

TEST_F(EvalProtocolTest, NonObjectRequestsAreRefused) {
  ExpectRefused(HandleText(R"(["register","s1"])"),
                "a request must be a JSON object, got an array");
  ExpectRefused(HandleText("42"), "a request must be a JSON object, got 42");
  ExpectRefused(HandleText(R"("register")"), "a request must be a JSON object, got a string");
  ExpectRefused(HandleText("null"), "a request must be a JSON object, got null");
}

TEST_F(EvalProtocolTest, MissingCmdIsRefused) {
  ExpectRefused(Handle({{"session", "s1"}}), "missing field 'cmd'");
}

TEST_F(EvalProtocolTest, NonStringCmdIsRefused) {
  ExpectRefused(Handle({{"cmd", 3}, {"session", "s1"}}), "field 'cmd' must be a string, got 3");
}

TEST_F(EvalProtocolTest, UnknownCmdIsRefused) {
  ExpectRefused(Handle({{"cmd", "Register"}, {"session", "s1"}}), "unknown cmd 'Register'");
}

TEST_F(EvalProtocolTest, MissingFieldIsRefused) {
  ExpectRefused(Handle({{"cmd", "register"}}), "missing field 'session'");
}

TEST_F(EvalProtocolTest, NullRequiredFieldIsMissing) {
  ExpectRefused(Handle({{"cmd", "register"}, {"session", nullptr}}), "missing field 'session'");
}

TEST_F(EvalProtocolTest, EachMissingArgumentOfEveryCommandIsRefused) {
  // Every command with its complete arguments; dropping any required one must be refused.
  const std::vector<std::pair<json, std::vector<std::string>>> commands = {
      {{{"cmd", "register"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "attach_runtime"}, {"session", "s"}, {"runtime", "r"}, {"fence", 1}},
       {"session", "runtime", "fence"}},
      {{{"cmd", "ensure_executor"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "retire"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "reset"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "runtime_exited"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "destroy"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "unregister"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "stop_runtime"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "start_run"}, {"session", "s"}, {"run", "r"}}, {"session", "run"}},
      {{{"cmd", "finish_run"}, {"session", "s"}, {"run", "r"}, {"outcome", "Failed"}},
       {"session", "run", "outcome"}},
      {{{"cmd", "set_peer_ingress"}, {"session", "s"}, {"keep_alive", true}},
       {"session", "keep_alive"}},
      {{{"cmd", "notify_drain_exited"}, {"session", "s"}, {"reason", "Failed"}},
       {"session", "reason"}},
      {{{"cmd", "abort"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "wait"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "post"}, {"session", "s"}, {"message_id", "m"}, {"from", "f"}, {"body", "b"}},
       {"session", "message_id", "from", "body"}},
      {{{"cmd", "delivered"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "await_delivered"}, {"session", "s"}, {"count", 1}, {"timeout_ms", 1}},
       {"session", "count", "timeout_ms"}},
      {{{"cmd", "inspect"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "fail_next_inbox_read"}, {"session", "s"}}, {"session"}},
      {{{"cmd", "fail_next_appends"}, {"count", 1}}, {"count"}},
  };
  EvalOptions with_hooks;
  with_hooks.enable_test_hooks = true;
  for (const auto& [complete, required] : commands) {
    for (const std::string& field : required) {
      json request = complete;
      request.erase(field);
      SCOPED_TRACE(request.dump());
      ExpectRefused(Handle(request, with_hooks), "missing field '" + field + "'");
    }
  }
}

TEST_F(EvalProtocolTest, MistypedFieldsAreRefused) {
  ExpectRefused(Handle({{"cmd", "register"}, {"session", 5}}),
                "field 'session' must be a string, got 5");
  ExpectRefused(
      Handle({{"cmd", "attach_runtime"}, {"session", "s"}, {"runtime", "r"}, {"fence", "7"}}),
      "field 'fence' must be an unsigned integer, got a string");
  ExpectRefused(Handle({{"cmd", "attach_runtime"},
                        {"session", "s"},
                        {"runtime", "r"},
                        {"fence", 7},
                        {"epoch", 3}}),
                "field 'epoch' must be a string, got 3");
  ExpectRefused(Handle({{"cmd", "set_peer_ingress"}, {"session", "s"}, {"keep_alive", "yes"}}),
                "field 'keep_alive' must be a boolean, got a string");
  ExpectRefused(Handle({{"cmd", "set_peer_ingress"}, {"session", "s"}, {"keep_alive", 1}}),
                "field 'keep_alive' must be a boolean, got 1");
  ExpectRefused(Handle({{"cmd", "set_peer_ingress"},
                        {"session", "s"},
                        {"keep_alive", true},
                        {"transport", json::array()}}),
                "field 'transport' must be a string, got an array");
  ExpectRefused(Handle({{"cmd", "post"},
                        {"session", "s"},
                        {"message_id", "m"},
                        {"from", "f"},
                        {"body", {{"text", "hi"}}}}),
                "field 'body' must be a string, got an object");
  ExpectRefused(Handle({{"cmd", "stop_runtime"}, {"session", "s"}, {"reason", false}}),
                "field 'reason' must be a string, got a boolean");
}

TEST_F(EvalProtocolTest, NegativeNumbersAreRefusedWhereUnsignedIsExpected) {
  ExpectRefused(HandleText(R"({"cmd":"attach_runtime","session":"s","runtime":"r","fence":-1})"),
                "field 'fence' must be an unsigned integer, got -1");
  ExpectRefused(
      Handle({{"cmd", "attach_runtime"}, {"session", "s"}, {"runtime", "r"}, {"fence", -1}}),
      "field 'fence' must be an unsigned integer, got -1");
  ExpectRefused(HandleText(R"({"cmd":"wait","session":"s","timeout_ms":-5})"),
                "field 'timeout_ms' must be an unsigned integer, got -5");
  ExpectRefused(HandleText(R"({"cmd":"attach_runtime","session":"s","runtime":"r","fence":1,)"
                           R"("generation":-3})"),
                "field 'generation' must be an unsigned integer, got -3");
}

TEST_F(EvalProtocolTest, NonIntegerNumbersAreRefusedWhereUnsignedIsExpected) {
  ExpectRefused(HandleText(R"({"cmd":"await_delivered","session":"s","count":1.5,"timeout_ms":1})"),
                "field 'count' must be an unsigned integer, got 1.5");
  ExpectRefused(HandleText(R"({"cmd":"await_delivered","session":"s","count":1,"timeout_ms":1e3})"),
                "field 'timeout_ms' must be an unsigned integer, got 1000.0");
  // One past the largest u64: not representable, so not an unsigned integer.
  ExpectRefused(HandleText(R"({"cmd":"attach_runtime","session":"s","runtime":"r",)"
                           R"("fence":18446744073709551616})"),
                "field 'fence' must be an unsigned integer, got 1.8446744073709552e+19");
}

TEST_F(EvalProtocolTest, OutOfRangeNumbersAreRefused) {
  ExpectRefused(Handle({{"cmd", "wait"}, {"session", "s"}, {"timeout_ms", 1'000'000'000'001}}),
                "field 'timeout_ms' must be at most 1000000000000, got 1000000000001");
  EvalOptions with_hooks;
  with_hooks.enable_test_hooks = true;
  ExpectRefused(Handle({{"cmd", "fail_next_appends"}, {"count", 2147483648u}}, with_hooks),
                "field 'count' must be at most 2147483647, got 2147483648");
}

TEST_F(EvalProtocolTest, UnknownEnumSpellingsAreRefused) {
  ExpectRefused(
      Handle({{"cmd", "finish_run"}, {"session", "s"}, {"run", "r"}, {"outcome", "committed"}}),
      "field 'outcome' must be one of Committed, Failed, Cancelled, got 'committed'");
  ExpectRefused(Handle({{"cmd", "notify_drain_exited"}, {"session", "s"}, {"reason", "Gone"}}),
                "field 'reason' must be one of IdleTimeout, Dismissed, Failed, Aborted, "
                "SessionShutdown, got 'Gone'");
  ExpectRefused(
      Handle({{"cmd", "set_peer_ingress"},
              {"session", "s"},
              {"keep_alive", true},
              {"mode", "Forever"}}),
      "field 'mode' must be one of Timed, AttachedSession, PersistentHost, got 'Forever'");
  ExpectRefused(Handle({{"cmd", "finish_run"}, {"session", "s"}, {"run", "r"}, {"outcome", 1}}),
                "field 'outcome' must be a string, got 1");
}

TEST_F(EvalProtocolTest, LongBadValuesAreQuotedShortened) {
  ExpectRefused(Handle({{"cmd", std::string(100, 'x')}}),
                "unknown cmd '" + std::string(64, 'x') + "...'");
}

TEST_F(EvalProtocolTest, LongBadValuesAreShortenedAtACharacterBoundary) {
  // 63 ASCII bytes, then a two-byte character straddling the 64-byte cut.
  std::string cmd = std::string(63, 'x') + "\xc3\xa9" + std::string(10, 'y');
  ExpectRefused(Handle({{"cmd", cmd}}), "unknown cmd '" + std::string(63, 'x') + "...'");
}

TEST_F(EvalProtocolTest, FirstProblemInArgumentOrderIsReported) {
  ExpectRefused(Handle({{"cmd", "attach_runtime"}, {"session", "s"}, {"fence", -1}}),
                "missing field 'runtime'");
}

// ---------------------------------------------------------------------------------------------
// Test hooks exist only with --enable-test-hooks.

TEST_F(EvalProtocolTest, TestHooksAreRefusedWithoutTheFlag) {
  ExpectRefused(Handle({{"cmd", "fail_next_inbox_read"}, {"session", "s1"}}),
                "cmd 'fail_next_inbox_read' is a test hook; test hooks are disabled (start eval "
                "with --enable-test-hooks)");
  ExpectRefused(Handle({{"cmd", "fail_next_appends"}, {"count", 1}}),
                "cmd 'fail_next_appends' is a test hook; test hooks are disabled (start eval "
                "with --enable-test-hooks)");
}

TEST_F(EvalProtocolTest, TestHooksReachTheHostWithTheFlag) {
  EvalOptions with_hooks;
  with_hooks.enable_test_hooks = true;
  EXPECT_EQ(Handle({{"cmd", "fail_next_appends"}, {"count", 3}}, with_hooks), json({{"ok", true}}));
  EXPECT_EQ(host_.calls, std::vector<std::string>{"FailNextAppends(3)"});
}

}  // namespace
}  // namespace burrow::tools
