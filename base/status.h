// Status and Result<T>: how every Burrow layer reports an expected failure.
//
// Expected failures are values, never exceptions (STYLE.md, "Expected failures are values").
// The code set is small on purpose; pick the code by what the *caller* should do next:
//
//   kInvalidArgument     the request itself is malformed (bad id, missing field, body too
//                        large). Retrying the same request can never succeed.
//   kNotFound            the thing named does not exist (unknown session, no snapshot yet).
//   kFailedPrecondition  the request is well formed but the current state refuses it: a machine
//                        rejection. A business outcome; the state is unchanged.
//   kAborted             the operation was cut short by a concurrent event (shutdown, a newer
//                        task incarnation). Retrying later may succeed.
//   kUnavailable         I/O failed (journal append, fsync, open). Nothing was applied.
//   kDataLoss            stored bytes are damaged: checksum mismatch, sequence gap, unknown
//                        format, digest mismatch on replay.
//   kInternal            a broken invariant or another bug. Never a business outcome.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/check.h"

namespace burrow {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kFailedPrecondition,
  kAborted,
  kUnavailable,
  kDataLoss,
  kInternal,
};

// "Ok", "InvalidArgument", ... (stable spelling, used in logs and JSON).
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An ok status.
  Status() = default;
  Status(StatusCode code, std::string message);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "Ok" or "<Code>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>" (ok stays ok).
  Status WithContext(std::string_view context) const;

  // Explicitly drops a status whose failure the caller has decided not to act on.
  void IgnoreError() const {}

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

inline Status OkStatus() { return Status(); }
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status InternalError(std::string message);

// Result<T> holds either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> is meaningless");

  // Implicit from a value or from a non-ok status, so `return value;` and
  // `return NotFoundError(...)` both read naturally.
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    BURROW_CHECK(!status_.ok(), "Result constructed from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  // Ok when a value is held.
  const Status& status() const { return status_; }

  // Access to the value; calling these on a failed Result is a bug and aborts.
  T& value() & {
    BURROW_CHECK(ok(), "value() on a failed Result: {}", status_.ToString());
    return *value_;
  }
  const T& value() const& {
    BURROW_CHECK(ok(), "value() on a failed Result: {}", status_.ToString());
    return *value_;
  }
  T&& value() && {
    BURROW_CHECK(ok(), "value() on a failed Result: {}", status_.ToString());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

namespace internal {
inline const Status& AsStatus(const Status& s) { return s; }
template <typename T>
const Status& AsStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace burrow

#define BURROW_STATUS_CONCAT_INNER(a, b) a##b
#define BURROW_STATUS_CONCAT(a, b) BURROW_STATUS_CONCAT_INNER(a, b)

// Returns the status of `expr` (a Status or a Result) from the enclosing function when it is
// not ok. The status is copied (cheap when ok) so that `expr` may be a temporary.
#define BURROW_RETURN_IF_ERROR(expr)                                      \
  do {                                                                    \
    ::burrow::Status burrow_status_ = ::burrow::internal::AsStatus(expr); \
    if (!burrow_status_.ok()) return burrow_status_;                      \
  } while (false)

// `BURROW_ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns the value of a Result, or
// returns its status from the enclosing function.
#define BURROW_ASSIGN_OR_RETURN(lhs, expr) \
  BURROW_ASSIGN_OR_RETURN_IMPL(BURROW_STATUS_CONCAT(burrow_result_, __LINE__), lhs, expr)
#define BURROW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
