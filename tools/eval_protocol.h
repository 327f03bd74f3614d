// The `burrow eval` protocol (SPEC.md §8.1): one JSON request object in, one JSON response
// object out, dispatched onto a host::Host.
//
//   request:  {"cmd": NAME, "id": ANY?, ...args}
//   response: {"ok": true, "id": ANY?, ...result}
//             {"ok": false, "id": ANY?, "error": {"code": CODE, "reason": "..."}}
//             where a NotReady error carries "state" (and "reason" only when the host gave one)
//             and a Destroyed error carries "reason" only when the host gave one.
//
// "id" is echoed verbatim (any JSON type) whenever the request was an object that had one.
// A malformed request (bad JSON, not an object, unknown cmd, missing or mistyped argument, a
// negative or fractional number where an unsigned integer is expected, an unknown enum
// spelling) gets an InvalidArgument response and no Host method is called. Unknown extra
// fields are ignored.
//
// Thread-safety: the functions keep no state; they are as safe for concurrent use as `host` is.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/host/host.h"

namespace burrow::tools {

struct EvalOptions {
  // The test-hook commands (fail_next_inbox_read, fail_next_appends) are refused with
  // InvalidArgument unless this is set (`burrow eval --enable-test-hooks`).
  bool enable_test_hooks = false;
};

// Handles one parsed request and returns its response object. Never fails: every error is a
// response with "ok": false.
nlohmann::json HandleRequest(host::Host& host, const nlohmann::json& request,
                             const EvalOptions& options = {});

// Parses one request line (without its newline), handles it and returns the response as one
// line of compact JSON (without a newline). Invalid UTF-8 in the line is a JSON parse error.
std::string HandleLine(host::Host& host, std::string_view line, const EvalOptions& options = {});

// The "state" object of an `inspect` response, exactly as HandleRequest spells it (drills compare
// a replayed authority with a live one through it).
nlohmann::json StateToJson(const machine::State& state);

}  // namespace burrow::tools
