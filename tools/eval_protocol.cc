#include "tools/eval_protocol.h"

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/machine/types.h"

namespace burrow::tools {
namespace {

using nlohmann::json;

// Requests nested deeper than this are refused: the echoed "id" is serialised recursively, so
// an unbounded depth could exhaust the stack.
constexpr int kMaxJsonDepth = 64;

// Timeouts are bounded so that "now + timeout" stays representable in the host's clocks
// (nanoseconds in an int64: ~292 years). 10^12 ms is ~31 years.
constexpr uint64_t kMaxTimeoutMs = 1'000'000'000'000;

// User text quoted back in a reason is cut to this many bytes.
constexpr size_t kMaxQuotedBytes = 64;

host::Error InvalidArgument(std::string reason) {
  return host::Error{host::ErrorCode::kInvalidArgument, std::move(reason), {}};
}

std::string Quote(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return "'" + std::string(text) + "'";
  // Cut at a character boundary: never before a UTF-8 continuation byte (10xxxxxx).
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(text.substr(0, cut)) + "...'";
}

// "got -1", "got 1.5", "got a string", ...: what a mistyped field held.
std::string Got(const json& value) {
  if (value.is_number()) return "got " + value.dump();
  if (value.is_string()) return "got a string";
  if (value.is_boolean()) return "got a boolean";
  if (value.is_null()) return "got null";
  if (value.is_array()) return "got an array";
  return "got an object";
}

template <typename E>
std::string Spellings(std::span<const E> values) {
  std::string out;
  for (E value : values) {
    if (!out.empty()) out += ", ";
    out += machine::Name(value);
  }
  return out;
}

// Reads the typed arguments of one request object. The first problem found becomes the
// request's InvalidArgument reason; after a problem, getters return placeholders, and the
// dispatcher never calls the host for a request with a problem. JSON null counts as absent, so
// a client may send back the nulls that `inspect` returns.
class Args {
 public:
  explicit Args(const json& request) : request_(request) {}

  bool ok() const { return !problem_.has_value(); }
  const std::string& problem() const { return *problem_; }

  std::string String(std::string_view name) {
    const json* value = Required(name);
    return value == nullptr ? std::string() : AsString(name, *value);
  }

  std::optional<std::string> OptionalString(std::string_view name) {
    const json* value = Find(name);
    if (value == nullptr) return std::nullopt;
    return AsString(name, *value);
  }

  bool Bool(std::string_view name) {
    const json* value = Required(name);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
      Fail(Field(name) + " must be a boolean, " + Got(*value));
      return false;
    }
    return value->get<bool>();
  }

  uint64_t U64(std::string_view name, uint64_t max = UINT64_MAX) {
    const json* value = Required(name);
    return value == nullptr ? 0 : AsU64(name, *value, max);
  }

  std::optional<uint64_t> OptionalU64(std::string_view name, uint64_t max = UINT64_MAX) {
    const json* value = Find(name);
    if (value == nullptr) return std::nullopt;
    return AsU64(name, *value, max);
  }

  // An enum field spelled as in SPEC.md; `parse` is the machine's Parse* function and `values`
  // lists the accepted values for the reason.
  template <typename E>
  std::optional<E> OptionalEnum(std::string_view name, std::optional<E> (*parse)(std::string_view),
                                std::type_identity_t<std::span<const E>> values) {
    std::optional<std::string> text = OptionalString(name);
    if (!text.has_value() || !ok()) return std::nullopt;
    std::optional<E> parsed = parse(*text);
    if (!parsed.has_value()) {
      Fail(Field(name) + " must be one of " + Spellings(values) + ", got " + Quote(*text));
    }
    return parsed;
  }

  template <typename E>
  E Enum(std::string_view name, std::optional<E> (*parse)(std::string_view),
         std::type_identity_t<std::span<const E>> values) {
    if (Required(name) == nullptr) return values.front();
    return OptionalEnum(name, parse, values).value_or(values.front());
  }

 private:
  static std::string Field(std::string_view name) { return "field '" + std::string(name) + "'"; }

  void Fail(std::string reason) {
    if (!problem_.has_value()) problem_ = std::move(reason);
  }

  const json* Find(std::string_view name) const {
    auto it = request_.find(name);
    if (it == request_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json* Required(std::string_view name) {
    const json* value = Find(name);
    if (value == nullptr) Fail("missing field '" + std::string(name) + "'");
    return value;
  }

  std::string AsString(std::string_view name, const json& value) {
    if (!value.is_string()) {
      Fail(Field(name) + " must be a string, " + Got(value));
      return {};
    }
    return value.get<std::string>();
  }

  uint64_t AsU64(std::string_view name, const json& value, uint64_t max) {
    // The parser stores non-negative integer literals as number_unsigned, negative ones as
    // number_integer, and fractions, exponents and integers beyond 2^64-1 as number_float; a
    // json built in C++ from an int is number_integer whatever its sign.
    bool non_negative_integer =
        value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
    if (!non_negative_integer) {
      Fail(Field(name) + " must be an unsigned integer, " + Got(value));
      return 0;
    }
    uint64_t n = value.get<uint64_t>();
    if (n > max) {
      Fail(Field(name) + " must be at most " + std::to_string(max) + ", " + Got(value));
      return 0;
    }
    return n;
  }

  const json& request_;
  std::optional<std::string> problem_;
};

constexpr std::array kRunOutcomes = {machine::RunOutcome::kCommitted, machine::RunOutcome::kFailed,
                                     machine::RunOutcome::kCancelled};
constexpr std::array kDrainModes = {machine::DrainMode::kTimed,
                                    machine::DrainMode::kAttachedSession,
                                    machine::DrainMode::kPersistentHost};
constexpr std::array kDrainExitReasons = {
    machine::DrainExitReason::kIdleTimeout, machine::DrainExitReason::kDismissed,
    machine::DrainExitReason::kFailed, machine::DrainExitReason::kAborted,
    machine::DrainExitReason::kSessionShutdown};

// ---------------------------------------------------------------------------------------------
// Results

// The ok result fields of a response (without "ok"/"id"), or the host's error.
using Outcome = host::Reply<json>;

Outcome NoResult(const host::Reply<host::Done>& reply) {
  if (!reply.ok()) return reply.error();
  return json::object();
}

template <typename T, typename ToJson>
Outcome Result(const host::Reply<T>& reply, ToJson to_json) {
  if (!reply.ok()) return reply.error();
  return to_json(reply.value());
}

template <typename T>
json OrNull(const std::optional<T>& value) {
  return value.has_value() ? json(*value) : json(nullptr);
}

template <typename E>
json NameOrNull(const std::optional<E>& value) {
  return value.has_value() ? json(machine::Name(*value)) : json(nullptr);
}

// Every field of SPEC §2.2, named as there.
json StateJson(const machine::State& s) {
  return {
      {"phase", machine::Name(s.phase)},
      {"session_id", OrNull(s.session_id)},
      {"runtime_id", OrNull(s.runtime_id)},
      {"epoch_id", OrNull(s.epoch_id)},
      {"fence_token", OrNull(s.fence_token)},
      {"generation", OrNull(s.generation)},
      {"current_run_id", OrNull(s.current_run_id)},
      {"pre_run_phase", NameOrNull(s.pre_run_phase)},
      {"stop_deferred", s.stop_deferred},
      {"registration_phase", machine::Name(s.registration_phase)},
      {"unregister_runtime_loop_pending", s.unregister_runtime_loop_pending},
      {"unregister_comms_drain_pending", s.unregister_comms_drain_pending},
      {"unregister_waiters_pending", s.unregister_waiters_pending},
      {"unregister_retains_snapshot", s.unregister_retains_snapshot},
      {"runtime_loop_forced_abort", s.runtime_loop_forced_abort},
      {"comms_drain_forced_abort", s.comms_drain_forced_abort},
      {"drain_phase", machine::Name(s.drain_phase)},
      {"drain_mode", NameOrNull(s.drain_mode)},
      {"ingress_owner", machine::Name(s.ingress_owner)},
      {"ingress_transport_id", OrNull(s.ingress_transport_id)},
      {"ingress_mob_id", OrNull(s.ingress_mob_id)},
      {"keep_alive", s.keep_alive},
  };
}

json ErrorJson(const host::Error& error) {
  json out = {{"code", host::Name(error.code)}};
  switch (error.code) {
    case host::ErrorCode::kNotReady:
      out["state"] = error.state;
      if (!error.reason.empty()) out["reason"] = error.reason;
      break;
    case host::ErrorCode::kDestroyed:
      if (!error.reason.empty()) out["reason"] = error.reason;
      break;
    case host::ErrorCode::kValidationFailed:
    case host::ErrorCode::kInvalidArgument:
    case host::ErrorCode::kUnavailable:
    case host::ErrorCode::kInternal:
      out["reason"] = error.reason;
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The command table. Each parser reads its arguments and returns the host call to make; the
// dispatcher makes the call only if every argument was read without a problem, so a malformed
// request can never reach the host.

using Call = std::function<Outcome(host::Host&)>;
using Parser = Call (*)(Args&);

struct Command {
  std::string_view name;
  Parser parse;
  bool test_hook = false;
};

// The commands whose only argument is the session and whose result is empty.
template <host::Reply<host::Done> (host::Host::*kMethod)(std::string_view)>
Call SessionCommand(Args& args) {
  std::string session = args.String("session");
  return [session](host::Host& host) { return NoResult((host.*kMethod)(session)); };
}

Call AttachRuntime(Args& args) {
  std::string session = args.String("session");
  host::AttachRuntimeArgs call_args;
  call_args.runtime_id = args.String("runtime");
  call_args.fence_token = args.U64("fence");
  call_args.generation = args.OptionalU64("generation");
  call_args.epoch_id = args.OptionalString("epoch");
  return [session, call_args](host::Host& host) {
    return NoResult(host.AttachRuntime(session, call_args));
  };
}

Call StopRuntime(Args& args) {
  std::string session = args.String("session");
  std::string reason = args.OptionalString("reason").value_or("");
  return
      [session, reason](host::Host& host) { return NoResult(host.StopRuntime(session, reason)); };
}

Call StartRun(Args& args) {
  std::string session = args.String("session");
  std::string run = args.String("run");
  return [session, run](host::Host& host) { return NoResult(host.StartRun(session, run)); };
}

Call FinishRun(Args& args) {
  std::string session = args.String("session");
  std::string run = args.String("run");
  machine::RunOutcome outcome = args.Enum("outcome", &machine::ParseRunOutcome, kRunOutcomes);
  return [session, run, outcome](host::Host& host) {
    return NoResult(host.FinishRun(session, run, outcome));
  };
}

Call SetPeerIngress(Args& args) {
  std::string session = args.String("session");
  host::PeerIngressArgs call_args;
  call_args.keep_alive = args.Bool("keep_alive");
  call_args.transport_id = args.OptionalString("transport");
  call_args.mob_id = args.OptionalString("mob");
  call_args.mode = args.OptionalEnum("mode", &machine::ParseDrainMode, kDrainModes)
                       .value_or(machine::DrainMode::kPersistentHost);
  return [session, call_args](host::Host& host) {
    return Result(host.SetPeerIngress(session, call_args), [](bool spawned) {
      return json{{"spawned", spawned}};
    });
  };
}

Call NotifyDrainExited(Args& args) {
  std::string session = args.String("session");
  machine::DrainExitReason reason =
      args.Enum("reason", &machine::ParseDrainExitReason, kDrainExitReasons);
  return [session, reason](host::Host& host) {
    return NoResult(host.NotifyDrainExited(session, reason));
  };
}

Call AbortAll(Args&) {
  return [](host::Host& host) { return NoResult(host.AbortAll()); };
}

Call Wait(Args& args) {
  std::string session = args.String("session");
  std::optional<std::chrono::milliseconds> timeout;
  if (std::optional<uint64_t> ms = args.OptionalU64("timeout_ms", kMaxTimeoutMs)) {
    timeout = std::chrono::milliseconds(*ms);
  }
  return [session, timeout](host::Host& host) {
    return Result(host.Wait(session, timeout), [](bool ended) { return json{{"ended", ended}}; });
  };
}

Call Post(Args& args) {
  std::string session = args.String("session");
  host::PostArgs call_args;
  call_args.message_id = args.String("message_id");
  call_args.from = args.String("from");
  call_args.body = args.String("body");
  return [session, call_args](host::Host& host) {
    return Result(host.Post(session, call_args), [](const host::PostResult& result) {
      return json{{"duplicate", result.duplicate}};
    });
  };
}

Call Delivered(Args& args) {
  std::string session = args.String("session");
  return [session](host::Host& host) {
    return Result(host.Delivered(session), [](const std::vector<host::Message>& messages) {
      json list = json::array();
      for (const host::Message& m : messages) {
        list.push_back({{"message_id", m.message_id}, {"from", m.from}, {"body", m.body}});
      }
      return json{{"messages", std::move(list)}};
    });
  };
}

Call AwaitDelivered(Args& args) {
  std::string session = args.String("session");
  uint64_t count = args.U64("count");
  auto timeout = std::chrono::milliseconds(args.U64("timeout_ms", kMaxTimeoutMs));
  return [session, count, timeout](host::Host& host) {
    return Result(host.AwaitDelivered(session, count, timeout), [](uint64_t delivered) {
      return json{{"delivered", delivered}};
    });
  };
}

Call Inspect(Args& args) {
  std::string session = args.String("session");
  return [session](host::Host& host) {
    return Result(host.Inspect(session), [](const host::SessionView& view) {
      return json{
          {"state", StateJson(view.state)},
          {"task", {{"running", view.task.running}, {"incarnation", view.task.incarnation}}},
          {"inbox_pending", view.inbox_pending},
          {"delivered", view.delivered},
      };
    });
  };
}

Call Sessions(Args&) {
  return [](host::Host& host) {
    return Result(host.Sessions(), [](const std::vector<std::string>& ids) {
      return json{{"sessions", ids}};
    });
  };
}

Call FailNextInboxRead(Args& args) {
  std::string session = args.String("session");
  return [session](host::Host& host) { return NoResult(host.FailNextInboxRead(session)); };
}

Call FailNextAppends(Args& args) {
  int count = static_cast<int>(args.U64("count", INT_MAX));
  return [count](host::Host& host) { return NoResult(host.FailNextAppends(count)); };
}

constexpr std::array kCommands = {
    Command{"register", &SessionCommand<&host::Host::Register>},
    Command{"attach_runtime", &AttachRuntime},
    Command{"ensure_executor", &SessionCommand<&host::Host::EnsureExecutor>},
    Command{"retire", &SessionCommand<&host::Host::Retire>},
    Command{"reset", &SessionCommand<&host::Host::Reset>},
    Command{"runtime_exited", &SessionCommand<&host::Host::RuntimeExited>},
    Command{"destroy", &SessionCommand<&host::Host::Destroy>},
    Command{"unregister", &SessionCommand<&host::Host::Unregister>},
    Command{"stop_runtime", &StopRuntime},
    Command{"start_run", &StartRun},
    Command{"finish_run", &FinishRun},
    Command{"set_peer_ingress", &SetPeerIngress},
    Command{"notify_drain_exited", &NotifyDrainExited},
    Command{"abort", &SessionCommand<&host::Host::Abort>},
    Command{"wait", &Wait},
    Command{"abort_all", &AbortAll},
    Command{"post", &Post},
    Command{"delivered", &Delivered},
    Command{"await_delivered", &AwaitDelivered},
    Command{"inspect", &Inspect},
    Command{"sessions", &Sessions},
    Command{"fail_next_inbox_read", &FailNextInboxRead, /*test_hook=*/true},
    Command{"fail_next_appends", &FailNextAppends, /*test_hook=*/true},
};

const Command* FindCommand(std::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

Outcome Dispatch(host::Host& host, const json& request, const EvalOptions& options) {
  if (!request.is_object()) {
    return InvalidArgument("a request must be a JSON object, " + Got(request));
  }
  Args args(request);
  std::string name = args.String("cmd");
  if (!args.ok()) return InvalidArgument(args.problem());
  const Command* command = FindCommand(name);
  if (command == nullptr) return InvalidArgument("unknown cmd " + Quote(name));
  if (command->test_hook && !options.enable_test_hooks) {
    return InvalidArgument("cmd " + Quote(name) +
                           " is a test hook; test hooks are disabled (start eval with "
                           "--enable-test-hooks)");
  }
  Call call = command->parse(args);
  if (!args.ok()) return InvalidArgument(args.problem());
  return call(host);
}

json Response(const Outcome& outcome, const json* id) {
  json response = outcome.ok() ? outcome.value() : json{{"error", ErrorJson(outcome.error())}};
  response["ok"] = outcome.ok();
  if (id != nullptr) response["id"] = *id;
  return response;
}

// Parses one line, refusing nesting beyond kMaxJsonDepth. nlohmann reports syntax errors by
// exception; they are turned into a value here and go no further.
std::optional<json> ParseLine(std::string_view line, std::string& problem) {
  bool too_deep = false;
  json::parser_callback_t limit_depth = [&too_deep](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  try {
    json parsed = json::parse(line.begin(), line.end(), limit_depth);
    if (too_deep) {
      problem = "bad JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return std::nullopt;
    }
    return parsed;
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string_view what = e.what();
    if (size_t end = what.find("] "); what.starts_with("[json.") && end != what.npos) {
      what.remove_prefix(end + 2);
    }
    problem = "bad JSON: " + std::string(what);
    return std::nullopt;
  }
}

}  // namespace

json HandleRequest(host::Host& host, const json& request, const EvalOptions& options) {
  const json* id = nullptr;
  if (request.is_object()) {
    if (auto it = request.find("id"); it != request.end()) id = &*it;
  }
  return Response(Dispatch(host, request, options), id);
}

std::string HandleLine(host::Host& host, std::string_view line, const EvalOptions& options) {
  std::string problem;
  std::optional<json> request = ParseLine(line, problem);
  json response = request.has_value() ? HandleRequest(host, *request, options)
                                      : Response(InvalidArgument(problem), nullptr);
  // Every string in a response came from a validated UTF-8 request or from the host; replace
  // rather than throw should the host ever hand back invalid UTF-8.
  return response.dump(-1, ' ', false, json::error_handler_t::replace);
}

nlohmann::json StateToJson(const machine::State& state) { return StateJson(state); }

}  // namespace burrow::tools
