// Reading a Burrow journal for people and programs: the logic behind `burrow journal` (front
// door of tools/inspect/; docs/JOURNAL.md documents the output).
//
// Everything here reads through journal::Journal opened in a reader mode (a RocksDB secondary
// instance), so it is safe on a live host's data directory and never creates or changes one;
// Import is the one function that writes, and only into a new directory.
//
// Records are shown as the engine wrote them: decoded from their Cap'n Proto payload
// (schema/codec.h), never re-derived. A record that fails its checksum or does not decode is an
// Entry with `damage` set, so a reader can show it in place instead of stopping.
//
// Thread-safety: the functions keep no state; concurrent calls on one Journal are as safe as the
// Journal is (it is safe for concurrent use).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/host/session_image.h"
#include "engine/machine/types.h"
#include "journal/journal.h"
#include "schema/records.h"

namespace burrow::inspect {

using Json = nlohmann::ordered_json;
inline constexpr uint64_t kMaxSeq = std::numeric_limits<uint64_t>::max();

// ---------------------------------------------------------------------------------------------
// Opening

// Opens the journal in `dir` read-only (`follower` = false: a view fixed at open) or as a
// follower (CatchUp sees what a live writer commits). Never creates anything.
// Errors: NotFound ("no directory <dir>", "<dir> holds no journal"), InvalidArgument (not a
//         directory), DataLoss (not a Burrow journal, unknown format version, damaged meta),
//         Unavailable.
Result<std::unique_ptr<journal::Journal>> OpenReader(const std::string& dir, bool follower);

// ---------------------------------------------------------------------------------------------
// Records

// One stored record, decoded when it can be.
struct Entry {
  uint64_t seq = 0;
  std::string key;     // stored key bytes
  std::string value;   // stored value bytes (framed, see journal/FORMAT.md)
  std::string stream;  // valid when the checksum held
  std::string payload;
  std::optional<schema::RecordEnvelope> envelope;  // set when intact and decoded
  std::string damage;  // non-empty when the record is damaged or does not decode
};

// Turns what ScanStored visited into an Entry (verifying and decoding it).
Entry ToEntry(const journal::StoredRecord& stored);

// RFC 3339 UTC with microseconds: "2025-11-24T16:00:00.000000Z".
std::string FormatTime(int64_t unix_us);
// Accepts RFC 3339 ("2025-11-24T16:00:00Z", fractional seconds and a ±hh:mm offset allowed;
// a date alone means its midnight UTC) or an integer count of microseconds since the Unix
// epoch ("1764000000000000"). Errors: InvalidArgument naming the text.
Result<int64_t> ParseTime(std::string_view text);

// Case-insensitive; returns the canonical spelling. Errors: InvalidArgument listing the kinds.
Result<std::string> ParseRecordKind(std::string_view text);  // "Transition", "InboxAppended", ...
Result<machine::InputKind> ParseInputKind(std::string_view text);  // "RegisterSession", ...

// Every field of a record as JSON (shapes in docs/JOURNAL.md): seq, time, wall_time_us,
// session, session_seq, incarnation, version, kind, and the payload's fields.
Json RecordJson(const schema::RecordEnvelope& record);
// A damaged entry: {"seq": N, "damage": "..."}.
Json DamageJson(const Entry& entry);
// The entry as JSON: RecordJson, or DamageJson when damaged.
Json EntryJson(const Entry& entry);
// Every field of SPEC §2.2, named as in `eval`'s inspect.
Json StateJson(const machine::State& state);
Json InputJson(const machine::Input& input);

struct TextStyle {
  bool color = false;  // ANSI colours (the caller decides: a terminal, and not --json)
};
// One aligned line for people (no newline).
std::string EntryLine(const Entry& entry, const TextStyle& style);
// The stored key and value in hex, one line (no newline): "<seq> key <hex> value <hex>".
std::string EntryHex(const Entry& entry);
// Lowercase hex of `bytes`, two digits a byte (as --hex and exports print them).
std::string Hex(std::string_view bytes);
// Compact JSON; invalid UTF-8 in strings is replaced (U+FFFD), never an error.
std::string Dump(const Json& json);

// ---------------------------------------------------------------------------------------------
// Filters: every set criterion must hold (AND); within one list, any value (OR).

struct Filter {
  std::vector<std::string> sessions;
  std::vector<std::string> kinds;          // canonical record kinds (ParseRecordKind)
  std::vector<machine::InputKind> inputs;  // input kinds of transition records
  uint64_t from_seq = 0;
  uint64_t to_seq = kMaxSeq;
  std::optional<int64_t> since_us;  // wall_time_us >= since
  std::optional<int64_t> until_us;  // wall_time_us <= until
  // Whether anything other than the sequence range is set (damaged records cannot be matched
  // against such criteria; Select shows them only within the range and when this is false).
  bool HasContentCriteria() const;
};
bool Matches(const Filter& filter, const schema::RecordEnvelope& record);

struct SelectOptions {
  Filter filter;
  size_t limit = 0;      // 0 = no limit
  bool reverse = false;  // newest first (with limit: the newest `limit` matches)
};
struct SelectSummary {
  uint64_t shown = 0;
  uint64_t damaged = 0;  // damaged records shown
};
// Visits the records that match, in sequence order (or reversed), each once. Damaged records
// within the range are visited too (with `damage` set) unless content criteria are set.
// Errors: Unavailable.
Result<SelectSummary> Select(const journal::Journal& journal, const SelectOptions& options,
                             const std::function<void(const Entry&)>& visit);

// Waits for records appended after `after` (a follower journal sees a live writer's commits)
// and visits those that match, until `limit` matches were visited (0 = no limit) or `stop()`
// returns true (checked at least every `poll`). Returns the last sequence looked at.
// Errors: Unavailable, DataLoss (CatchUp failed).
Result<uint64_t> Follow(journal::Journal& journal, const Filter& filter, uint64_t after,
                        size_t limit, const std::function<bool()>& stop,
                        const std::function<void(const Entry&)>& visit,
                        std::chrono::milliseconds poll = std::chrono::milliseconds(50));

// ---------------------------------------------------------------------------------------------
// Sessions and state

struct SessionRow {
  std::string session;
  bool live = false;         // false: unregistered (only its records remain)
  host::SessionImage image;  // valid when live
  uint64_t records = 0;      // records of the session the journal still holds
  uint64_t last_seq = 0;     // newest of them (or the snapshot's covered_seq)
};
// Every session the journal knows (live ones rebuilt as recovery would), by session id.
// Errors: DataLoss (as recovery::Rebuild), Unavailable.
Result<std::vector<SessionRow>> ListSessions(const journal::Journal& journal);

struct SessionState {
  std::string session;
  uint64_t at_seq = 0;  // the state is as of right after this record
  host::SessionImage image;
  uint64_t digest = 0;  // machine::Digest(image.state)
  // When record `at_seq` is a transition of this session: the digest it records (equal to
  // `digest` in a healthy journal).
  std::optional<uint64_t> recorded_digest;
  std::optional<uint64_t> snapshot_seq;  // the snapshot the rebuild started from, if any
};
// The session's authority right after record `at` (default: the newest), rebuilt from
// snapshots and records by recovery::Rebuild.
// Errors: NotFound (`at` outside the journal, or no such session at that point), DataLoss.
Result<SessionState> StateAt(const journal::Journal& journal, std::string_view session,
                             std::optional<uint64_t> at);
Json SessionStateJson(const SessionState& state);
std::string SessionStateText(const SessionState& state);

// ---------------------------------------------------------------------------------------------
// Verify

struct Problem {
  uint64_t seq = 0;  // the record concerned; 0 when it is not about one record
  std::string what;
  friend bool operator==(const Problem&, const Problem&) = default;
};
struct VerifyReport {
  uint32_t format_version = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t records_checked = 0;
  uint64_t transitions_replayed = 0;
  uint64_t snapshots_checked = 0;
  uint64_t sessions = 0;
  std::vector<Problem> problems;  // in the order found; every one, not only the first
  bool healthy() const { return problems.empty(); }
};
// Checks everything the journal holds: checksums and framing of every record, contiguity
// (each gap named with the missing range), that each record decodes and names its own stream,
// per-session replay (each transition re-applied by the machine: same declaration, same
// effects, same state digest; inbox, delivery and task cursors in order), snapshots (their
// checksums, decoding, invariants, and equality with the replayed state where a replay passes
// through them) and the stream index. Keeps going after a problem.
// Errors (not problems: the check could not run): Unavailable.
Result<VerifyReport> Verify(const journal::Journal& journal);
Json VerifyReportJson(const VerifyReport& report);
std::string VerifyReportText(const VerifyReport& report);

// ---------------------------------------------------------------------------------------------
// Stats

struct Tally {
  uint64_t records = 0;
  uint64_t bytes = 0;  // stored key + value bytes
};
struct Stats {
  uint64_t first_seq = 0;  // the truncation point: records below it were truncated
  uint64_t last_seq = 0;
  Tally total;
  std::map<std::string, Tally> by_kind;   // record kinds
  std::map<std::string, Tally> by_input;  // input kinds of transitions
  uint64_t damaged = 0;
  uint64_t sessions = 0;  // distinct sessions with records
  std::optional<int64_t> oldest_us, newest_us;
  uint64_t snapshot_streams = 0;  // sessions with at least one stored snapshot
  uint64_t snapshots = 0;         // valid snapshots stored
  uint64_t snapshots_damaged = 0;
  std::optional<uint64_t> newest_snapshot_seq;
  std::optional<uint64_t> oldest_snapshot_seq;  // the oldest newest-snapshot of a stream
};
// Errors: Unavailable, DataLoss (malformed snapshot keys).
Result<Stats> ComputeStats(const journal::Journal& journal);
Json StatsJson(const Stats& stats);
std::string StatsText(const Stats& stats);

// ---------------------------------------------------------------------------------------------
// Export and import (JSON lines; the shapes are in docs/JOURNAL.md)

inline constexpr int kExportVersion = 1;

struct ExportOptions {
  uint64_t from_seq = 0;
  uint64_t to_seq = kMaxSeq;
  std::optional<std::string> session;
  // Whether the export is the whole journal (no range, no session): only then are the state
  // entries (inboxes, delivered streams) exported, since they are as of the newest record.
  bool whole() const { return from_seq == 0 && to_seq == kMaxSeq && !session; }
};
struct ExportSummary {
  uint64_t records = 0;
  uint64_t snapshots = 0;
  uint64_t state_entries = 0;
};
// Writes a header line, one line per record in the range (and session), the valid snapshots
// of the exported sessions whose covered_seq is in the range, the state entries (whole exports
// only) and an end line with the counts. Bytes are lowercase hex; streams are JSON strings.
// Errors: DataLoss (a damaged or undecodable record: export only healthy journals; `verify`
// names the damage), InvalidArgument (a stream that is not valid UTF-8), Unavailable.
Result<ExportSummary> Export(const journal::Journal& journal, const ExportOptions& options,
                             std::ostream& out);

struct ImportSummary {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t records = 0;
  uint64_t snapshots = 0;
  uint64_t state_entries = 0;
};
// Creates a new journal in `dir` (which must not exist or be empty) holding exactly what the
// export holds, with the same sequence numbers (an export starting at F > 1 gives a journal
// whose FirstSequence() is F, as a truncated one), so exporting it again gives the same bytes.
// The journal is built in a sibling directory and renamed into place only when complete.
// Errors: FailedPrecondition (`dir` is not empty), InvalidArgument (a malformed line naming its
//         number, an unknown export version, records out of order or not contiguous, a record
//         whose "record" disagrees with its payload, a missing end line or wrong counts),
//         DataLoss (a payload that does not decode), Unavailable.
Result<ImportSummary> Import(std::istream& in, const std::string& dir);

}  // namespace burrow::inspect
