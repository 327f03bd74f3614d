// Opening a journal for reading, decoding stored records, and rendering them (JSON and text).
#include <fmt/format.h>
#include <sys/stat.h>

#include <cctype>
#include <ctime>
#include <filesystem>
#include <type_traits>

#include "schema/codec.h"
#include "tools/eval_protocol.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {
namespace {

template <typename T>
Json OrNull(const std::optional<T>& value) {
  return value.has_value() ? Json(*value) : Json(nullptr);
}
template <typename E>
Json NameOrNull(const std::optional<E>& value) {
  return value.has_value() ? Json(machine::Name(*value)) : Json(nullptr);
}

Json BindingJson(const machine::BindingObservation& b) {
  return Json{{"runtime_id", OrNull(b.runtime_id)},
              {"fence_token", OrNull(b.fence_token)},
              {"generation", OrNull(b.generation)},
              {"epoch_id", OrNull(b.epoch_id)}};
}

std::string DigestHex(uint64_t digest) { return fmt::format("{:016x}", digest); }

// ANSI colours, used only when TextStyle::color is set.
constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kDim = "\x1b[2m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[31m";

std::string_view KindColor(std::string_view kind) {
  if (kind == "Transition") return "\x1b[36m";        // cyan
  if (kind == "InboxAppended") return "\x1b[33m";     // yellow
  if (kind == "MessageDelivered") return "\x1b[32m";  // green
  if (kind == "RecoveryMarker") return "\x1b[35m";    // magenta
  return "\x1b[34m";                                  // blue: drain tasks
}

std::string Paint(std::string_view text, std::string_view color, const TextStyle& style) {
  if (!style.color) return std::string(text);
  return fmt::format("{}{}{}", color, text, kReset);
}

// A JSON value as a compact, human-readable fragment: strings quoted, null as "-".
std::string Fragment(const Json& value) {
  if (value.is_null()) return "-";
  return Dump(value);
}

std::string Quote(std::string_view s, size_t max_bytes) {
  std::string cut(s.substr(0, max_bytes));
  std::string out = Dump(Json(cut));
  if (s.size() > max_bytes) out += fmt::format("…(+{} bytes)", s.size() - max_bytes);
  return out;
}

std::string Detail(const schema::RecordEnvelope& record, const TextStyle& style) {
  return std::visit(
      [&](const auto& p) -> std::string {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, schema::TransitionRecord>) {
          Json input = InputJson(p.input);
          std::string args;
          for (auto it = input.begin(); it != input.end(); ++it) {
            if (it.key() == "kind") continue;
            if (!args.empty()) args += ", ";
            args += fmt::format("{}={}", it.key(), Fragment(it.value()));
          }
          std::string effects;
          for (machine::Effect e : p.effects) {
            effects += effects.empty() ? "" : ",";
            effects += machine::Name(e);
          }
          return fmt::format("{}{} via {}{}  digest {}",
                             Paint(input["kind"].get<std::string>(), kBold, style),
                             args.empty() ? "" : "{" + args + "}", p.transition,
                             effects.empty() ? "" : " -> " + effects, DigestHex(p.state_digest));
        } else if constexpr (std::is_same_v<P, schema::InboxAppended>) {
          return fmt::format("inbox[{}] message {} from {} body {}", p.inbox_index,
                             Quote(p.message_id, 256), Quote(p.from, 256), Quote(p.body, 48));
        } else if constexpr (std::is_same_v<P, schema::MessageDelivered>) {
          return fmt::format("inbox[{}] message {} delivered by task {}", p.inbox_index,
                             Quote(p.message_id, 256), p.incarnation);
        } else if constexpr (std::is_same_v<P, schema::DrainTaskStarted>) {
          return fmt::format("task {} started ({}) for transport {}", p.incarnation,
                             schema::Name(p.cause), Quote(p.transport_id, 256));
        } else if constexpr (std::is_same_v<P, schema::DrainTaskEnded>) {
          return fmt::format("task {} ended ({})", p.incarnation, schema::Name(p.cause));
        } else {
          static_assert(std::is_same_v<P, schema::RecoveryMarker>);
          return fmt::format(
              "recovered {} sessions, replayed {} records, respawned {} drains, finished {} "
              "unregisters in {:.1f} ms",
              p.sessions_rebuilt, p.records_replayed, p.drains_respawned, p.unregisters_finished,
              p.duration_us / 1000.0);
        }
      },
      record.payload);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kRecordKinds[] = {"Transition",       "InboxAppended",
                                             "MessageDelivered", "DrainTaskStarted",
                                             "DrainTaskEnded",   "RecoveryMarker"};

}  // namespace

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::unique_ptr<journal::Journal>> OpenReader(const std::string& dir, bool follower) {
  std::error_code ec;
  auto status = std::filesystem::status(dir, ec);
  if (!std::filesystem::exists(status)) return NotFoundError(fmt::format("no directory {}", dir));
  if (!std::filesystem::is_directory(status)) {
    return InvalidArgumentError(fmt::format("{} is not a directory", dir));
  }
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) {
    return NotFoundError(fmt::format("{} holds no journal (no RocksDB CURRENT file)", dir));
  }
  journal::Options options;
  options.mode = follower ? journal::OpenMode::kFollower : journal::OpenMode::kReadOnly;
  options.create_if_missing = false;
  return journal::Journal::Open(dir, options);
}

Entry ToEntry(const journal::StoredRecord& stored) {
  Entry entry;
  entry.seq = stored.seq;
  entry.key = stored.key;
  entry.value = stored.value;
  if (!stored.intact) {
    entry.damage = stored.damage;
    return entry;
  }
  entry.stream = stored.record.stream;
  entry.payload = stored.record.payload;
  auto decoded = schema::DecodeRecord(stored.seq, stored.record.payload);
  if (!decoded.ok()) {
    entry.damage = "does not decode: " + decoded.status().message();
  } else if (decoded->session_id != stored.record.stream) {
    entry.damage = fmt::format("stored under stream {} but names session {}",
                               Dump(Json(stored.record.stream)), Dump(Json(decoded->session_id)));
  } else {
    entry.envelope = std::move(decoded).value();
  }
  return entry;
}

std::string FormatTime(int64_t unix_us) {
  int64_t seconds = unix_us / 1'000'000;
  int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

Result<int64_t> ParseTime(std::string_view text) {
  const auto bad = [&] {
    return InvalidArgumentError(fmt::format(
        "'{}' is not a time: use RFC 3339 (2025-11-24T16:00:00Z, 2025-11-24T17:00:00.5+01:00, "
        "2025-11-24) or microseconds since the Unix epoch (1764000000000000)",
        text));
  };
  if (text.empty()) return bad();
  const bool all_digits = text.find_first_not_of("0123456789") == std::string_view::npos;
  if (all_digits) {
    if (text.size() > 18) return bad();
    return static_cast<int64_t>(std::stoll(std::string(text)));
  }
  // YYYY-MM-DD[(T|t| )hh:mm:ss[.frac](Z|z|±hh:mm)]
  size_t pos = 0;
  const auto number = [&](size_t digits, int& out) {
    if (pos + digits > text.size()) return false;
    out = 0;
    for (size_t i = 0; i < digits; ++i) {
      char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += digits;
    return true;
  };
  const auto expect = [&](std::string_view chars) {
    if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos) return false;
    ++pos;
    return true;
  };
  int year, month, day, hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
  int64_t offset_s = 0;
  if (!number(4, year) || !expect("-") || !number(2, month) || !expect("-") || !number(2, day)) {
    return bad();
  }
  if (pos < text.size()) {
    if (!expect("Tt ") || !number(2, hour) || !expect(":") || !number(2, minute) || !expect(":") ||
        !number(2, second)) {
      return bad();
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      int64_t scale = 100'000;
      size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        micros += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        ++digits;
      }
      if (digits == 0) return bad();
    }
    if (expect("Zz")) {
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      const int sign = text[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om;
      if (!number(2, oh) || !expect(":") || !number(2, om) || oh > 23 || om > 59) return bad();
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return bad();
    }
    if (pos != text.size()) return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return seconds * 1'000'000 + micros;
}

Result<std::string> ParseRecordKind(std::string_view text) {
  for (std::string_view kind : kRecordKinds) {
    if (EqualsIgnoreCase(kind, text)) return std::string(kind);
  }
  return InvalidArgumentError(
      fmt::format("unknown record kind '{}' (kinds: Transition, InboxAppended, MessageDelivered, "
                  "DrainTaskStarted, DrainTaskEnded, RecoveryMarker)",
                  text));
}

Result<machine::InputKind> ParseInputKind(std::string_view text) {
  for (int i = 0; i < machine::kInputKindCount; ++i) {
    auto kind = static_cast<machine::InputKind>(i);
    if (EqualsIgnoreCase(machine::Name(kind), text)) return kind;
  }
  return InvalidArgumentError(fmt::format(
      "unknown input kind '{}' (see `burrow machine` for the inputs, e.g. RegisterSession, "
      "SpawnDrain)",
      text));
}

Json InputJson(const machine::Input& input) {
  Json out{{"kind", machine::Name(machine::KindOf(input))}};
  std::visit(
      [&](const auto& in) {
        using I = std::decay_t<decltype(in)>;
        using namespace machine;
        if constexpr (std::is_same_v<I, RegisterSession> ||
                      std::is_same_v<I, EnsureSessionWithExecutor> ||
                      std::is_same_v<I, CompletionWaitersResolvedForUnregister>) {
          out["session_id"] = in.session_id;
        } else if constexpr (std::is_same_v<I, PrepareBindings>) {
          out["session_id"] = in.session_id;
          out["runtime_id"] = in.runtime_id;
          out["fence_token"] = in.fence_token;
          out["generation"] = OrNull(in.generation);
          out["epoch_id"] = OrNull(in.epoch_id);
        } else if constexpr (std::is_same_v<I, StartRun>) {
          out["run_id"] = in.run_id;
        } else if constexpr (std::is_same_v<I, FinishRun>) {
          out["run_id"] = in.run_id;
          out["outcome"] = Name(in.outcome);
        } else if constexpr (std::is_same_v<I, StopRuntimeExecutor>) {
          out["reason"] = in.reason;
        } else if constexpr (std::is_same_v<I, BeginUnregisterSession> ||
                             std::is_same_v<I, UnregisterSession>) {
          out["session_id"] = in.session_id;
          out["binding"] = BindingJson(in.binding);
        } else if constexpr (std::is_same_v<I, RuntimeLoopStoppedForUnregister> ||
                             std::is_same_v<I, CommsDrainExitedForUnregister>) {
          out["session_id"] = in.session_id;
          out["forced_abort"] = in.forced_abort;
        } else if constexpr (std::is_same_v<I, SetPeerIngressContext>) {
          out["keep_alive"] = in.keep_alive;
        } else if constexpr (std::is_same_v<I, AttachSessionIngress>) {
          out["transport_id"] = in.transport_id;
        } else if constexpr (std::is_same_v<I, AttachMobIngress>) {
          out["transport_id"] = in.transport_id;
          out["mob_id"] = in.mob_id;
        } else if constexpr (std::is_same_v<I, SpawnDrain>) {
          out["mode"] = Name(in.mode);
        } else if constexpr (std::is_same_v<I, NotifyDrainExited>) {
          out["reason"] = Name(in.reason);
        } else {
          // Initialize, Retire, Reset, RuntimeExecutorExited, Destroy, DetachIngress, StopDrain
          // carry nothing.
          static_assert(std::is_empty_v<I>, "an input with fields is not rendered");
        }
      },
      input);
  return out;
}

// The same JSON as `burrow eval`'s inspect (SPEC §2.2's field names), so one script reads both.
Json StateJson(const machine::State& s) { return tools::StateToJson(s); }

Json RecordJson(const schema::RecordEnvelope& record) {
  Json out{{"seq", record.seq},
           {"time", FormatTime(record.wall_time_us)},
           {"wall_time_us", record.wall_time_us},
           {"session", record.session_id.empty() ? Json(nullptr) : Json(record.session_id)},
           {"session_seq", record.session_seq},
           {"incarnation", record.incarnation},
           {"version", record.version},
           {"kind", schema::PayloadKindName(record.payload)}};
  std::visit(
      [&](const auto& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, schema::TransitionRecord>) {
          out["input"] = InputJson(p.input);
          out["transition"] = p.transition;
          Json effects = Json::array();
          for (machine::Effect e : p.effects) effects.push_back(machine::Name(e));
          out["effects"] = std::move(effects);
          out["state_digest"] = DigestHex(p.state_digest);
        } else if constexpr (std::is_same_v<P, schema::InboxAppended>) {
          out["message_id"] = p.message_id;
          out["from"] = p.from;
          out["body"] = p.body;
          out["inbox_index"] = p.inbox_index;
        } else if constexpr (std::is_same_v<P, schema::MessageDelivered>) {
          out["message_id"] = p.message_id;
          out["inbox_index"] = p.inbox_index;
          out["task_incarnation"] = p.incarnation;
        } else if constexpr (std::is_same_v<P, schema::DrainTaskStarted>) {
          out["task_incarnation"] = p.incarnation;
          out["cause"] = schema::Name(p.cause);
          out["transport_id"] = p.transport_id;
        } else if constexpr (std::is_same_v<P, schema::DrainTaskEnded>) {
          out["task_incarnation"] = p.incarnation;
          out["cause"] = schema::Name(p.cause);
        } else {
          static_assert(std::is_same_v<P, schema::RecoveryMarker>);
          out["sessions_rebuilt"] = p.sessions_rebuilt;
          out["drains_respawned"] = p.drains_respawned;
          out["records_replayed"] = p.records_replayed;
          out["unregisters_finished"] = p.unregisters_finished;
          out["duration_us"] = p.duration_us;
        }
      },
      record.payload);
  return out;
}

Json DamageJson(const Entry& entry) {
  return Json{{"seq", entry.seq}, {"damage", entry.damage}, {"key_hex", Hex(entry.key)}};
}

Json EntryJson(const Entry& entry) {
  return entry.envelope ? RecordJson(*entry.envelope) : DamageJson(entry);
}

std::string EntryLine(const Entry& entry, const TextStyle& style) {
  if (!entry.envelope) {
    return fmt::format("{:>8}  {}", entry.seq,
                       Paint("DAMAGED: " + entry.damage, style.color ? kRed : "", style));
  }
  const schema::RecordEnvelope& r = *entry.envelope;
  const std::string_view kind = schema::PayloadKindName(r.payload);
  std::string session = r.session_id.empty() ? "-" : r.session_id;
  return fmt::format("{:>8}  {}  {:<12} {:>5}  {}  {}", r.seq,
                     Paint(FormatTime(r.wall_time_us), kDim, style), session,
                     r.session_id.empty() ? "-" : std::to_string(r.session_seq),
                     Paint(fmt::format("{:<16}", kind), KindColor(kind), style), Detail(r, style));
}

std::string EntryHex(const Entry& entry) {
  if (entry.key.empty()) return fmt::format("{:>8}  {}", entry.seq, entry.damage);  // a gap
  return fmt::format("{:>8}  key {}  value {}", entry.seq, Hex(entry.key), Hex(entry.value));
}

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace burrow::inspect
