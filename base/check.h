// BURROW_CHECK: bugs stop the process.
//
// After a broken invariant the in-memory state cannot be trusted; journal replay is the designed
// way back (STYLE.md, "Bugs stop the process"). A failed check logs at critical level, with the
// condition, the place and a formatted message, then aborts. Checks are always on, in every
// build type: they guard durability, not speed.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace burrow::internal {

// Logs "CHECK failed: <condition> at <file>:<line>: <message>" at critical level and aborts.
[[noreturn]] void CheckFailed(std::string_view condition, std::string_view file, int line,
                              std::string_view message);

}  // namespace burrow::internal

// BURROW_CHECK(cond, "fmt {}", values...): the message is formatted only on failure.
#define BURROW_CHECK(cond, ...)                                                          \
  do {                                                                                   \
    if (!(cond)) [[unlikely]] {                                                          \
      ::burrow::internal::CheckFailed(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
    }                                                                                    \
  } while (false)
