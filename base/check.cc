#include "base/check.h"

#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace burrow::internal {

void CheckFailed(std::string_view condition, std::string_view file, int line,
                 std::string_view message) {
  // A private stderr logger rather than the global one: library code never touches spdlog's
  // default logger, and a check must be heard even when main() configured nothing.
  static auto* logger = new spdlog::logger("burrow.check",
                                           std::make_shared<spdlog::sinks::ansicolor_stderr_sink_mt>());
  logger->critical("CHECK failed: {} at {}:{}: {}", condition, file, line, message);
  logger->flush();
  std::abort();
}

}  // namespace burrow::internal
