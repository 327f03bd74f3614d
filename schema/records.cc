#include "schema/records.h"

namespace burrow::schema {

std::string_view Name(TaskCause cause) {
  switch (cause) {
    case TaskCause::kCommand:
      return "Command";
    case TaskCause::kRecovery:
      return "Recovery";
    case TaskCause::kRespawn:
      return "Respawn";
    case TaskCause::kReplaced:
      return "Replaced";
    case TaskCause::kIdleTimeout:
      return "IdleTimeout";
    case TaskCause::kFailed:
      return "Failed";
    case TaskCause::kCancelled:
      return "Cancelled";
    case TaskCause::kAbandoned:
      return "Abandoned";
  }
  return "Unknown";
}

}  // namespace burrow::schema
