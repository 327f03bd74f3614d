// `burrow journal`: reading a journal for people and programs (docs/JOURNAL.md). The logic
// lives in tools/inspect/inspect.h; this file only wires it to the command line.
//
// Exit status: 0 done; 1 the journal (or the import file) has problems or does not hold what
// was asked (verify found problems, show/follow met damaged records, no such session or
// sequence, export/import refused the data); 2 usage or environment (a bad option value, no
// journal in the directory, I/O failure, an import target that is not empty).
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/machine/types.h"
#include "tools/commands.h"
#include "tools/inspect/inspect.h"

namespace burrow::tools {
namespace {

constexpr int kExitProblems = 1;
constexpr int kExitUsage = 2;

volatile std::sig_atomic_t g_stop_requested = 0;
void RequestStop(int) { g_stop_requested = 1; }

// stdout, line by line; a reader that went away (EPIPE) makes later writes no-ops.
class Output {
 public:
  void Line(std::string_view line) {
    if (failed_) return;
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
        std::fputc('\n', stdout) == EOF || std::fflush(stdout) != 0) {
      failed_ = true;
    }
  }
  bool failed() const { return failed_; }

 private:
  bool failed_ = false;
};

struct CommonFlags {
  std::string data_dir = "./burrow-data";
  bool json = false;
};

struct RecordFlags {
  CommonFlags common;
  std::vector<std::string> sessions;
  std::vector<std::string> kinds;
  std::vector<std::string> inputs;
  std::optional<uint64_t> from_seq;
  std::optional<uint64_t> to_seq;
  std::string since;
  std::string until;
  size_t limit = 0;
  bool reverse = false;
  bool hex = false;
  bool no_color = false;
};

int Fail(std::string_view command, const Status& status, int code) {
  fmt::print(stderr, "burrow journal {}: {}\n", command, status.ToString());
  return code;
}

// Opening failures are the environment's (exit 2).
Result<std::unique_ptr<journal::Journal>> Open(const std::string& dir, bool follower) {
  return inspect::OpenReader(dir, follower);
}

void AddData(CLI::App* cmd, CommonFlags& flags) {
  cmd->add_option("--data", flags.data_dir, "Data directory holding the journal (read only)")
      ->capture_default_str();
}

void AddJson(CLI::App* cmd, CommonFlags& flags, std::string_view what) {
  cmd->add_flag("--json", flags.json, std::string(what));
}

void AddFilters(CLI::App* cmd, RecordFlags& flags) {
  cmd->add_option("--session", flags.sessions, "Only records of this session (repeatable: any)");
  cmd->add_option("--kind", flags.kinds,
                  "Only records of this kind: Transition, InboxAppended, MessageDelivered, "
                  "DrainTaskStarted, DrainTaskEnded, RecoveryMarker (repeatable: any; any case)");
  cmd->add_option("--input", flags.inputs,
                  "Only transitions of this input kind, e.g. RegisterSession, SpawnDrain "
                  "(repeatable: any; any case)");
  cmd->add_option("--from", flags.from_seq, "Only records with sequence >= this");
  cmd->add_option("--to", flags.to_seq, "Only records with sequence <= this");
  cmd->add_option("--since", flags.since,
                  "Only records written at or after this time: RFC 3339 (2025-11-24T16:00:00Z, "
                  "2025-11-24T17:00:00.25+01:00, 2025-11-24) or microseconds since the Unix "
                  "epoch");
  cmd->add_option("--until", flags.until,
                  "Only records written at or before this time (as --since)");
  cmd->add_flag("--hex", flags.hex, "Print each record's stored key and value bytes in hex");
  cmd->add_flag("--no-color", flags.no_color,
                "Never colour the text (it is coloured only when stdout is a terminal, and "
                "never with --json, --hex or NO_COLOR set)");
  AddJson(cmd, flags.common, "One JSON object per record per line (shapes in docs/JOURNAL.md)");
  cmd->add_option("--limit", flags.limit, "Stop after this many records (0: no limit)")
      ->capture_default_str();
}

Result<inspect::Filter> BuildFilter(const RecordFlags& flags) {
  inspect::Filter filter;
  filter.sessions = flags.sessions;
  for (const std::string& kind : flags.kinds) {
    BURROW_ASSIGN_OR_RETURN(std::string canonical, inspect::ParseRecordKind(kind));
    filter.kinds.push_back(std::move(canonical));
  }
  for (const std::string& input : flags.inputs) {
    BURROW_ASSIGN_OR_RETURN(machine::InputKind kind, inspect::ParseInputKind(input));
    filter.inputs.push_back(kind);
  }
  if (flags.from_seq) filter.from_seq = *flags.from_seq;
  if (flags.to_seq) filter.to_seq = *flags.to_seq;
  if (!flags.since.empty()) {
    BURROW_ASSIGN_OR_RETURN(filter.since_us, inspect::ParseTime(flags.since));
  }
  if (!flags.until.empty()) {
    BURROW_ASSIGN_OR_RETURN(filter.until_us, inspect::ParseTime(flags.until));
  }
  if (flags.common.json && flags.hex)
    return InvalidArgumentError("--json and --hex exclude each other");
  return filter;
}

std::function<void(const inspect::Entry&)> Printer(const RecordFlags& flags, Output& out) {
  inspect::TextStyle style;
  style.color = !flags.common.json && !flags.hex && !flags.no_color &&
                std::getenv("NO_COLOR") == nullptr && isatty(STDOUT_FILENO);
  return [&flags, &out, style](const inspect::Entry& entry) {
    if (flags.common.json) {
      out.Line(inspect::Dump(inspect::EntryJson(entry)));
    } else if (flags.hex) {
      out.Line(inspect::EntryHex(entry));
    } else {
      out.Line(inspect::EntryLine(entry, style));
    }
  };
}

int RunShow(const RecordFlags& flags) {
  auto filter = BuildFilter(flags);
  if (!filter.ok()) return Fail("show", filter.status(), kExitUsage);
  auto journal = Open(flags.common.data_dir, /*follower=*/false);
  if (!journal.ok()) return Fail("show", journal.status(), kExitUsage);
  Output out;
  inspect::SelectOptions options{*filter, flags.limit, flags.reverse};
  auto summary = inspect::Select(**journal, options, Printer(flags, out));
  if (!summary.ok()) return Fail("show", summary.status(), kExitUsage);
  if (summary->damaged != 0) {
    fmt::print(stderr,
               "burrow journal show: {} damaged record(s) shown; run `burrow journal "
               "verify`\n",
               summary->damaged);
    return kExitProblems;
  }
  return 0;
}

int RunFollow(const RecordFlags& flags) {
  auto filter = BuildFilter(flags);
  if (!filter.ok()) return Fail("follow", filter.status(), kExitUsage);
  auto journal = Open(flags.common.data_dir, /*follower=*/true);
  if (!journal.ok()) return Fail("follow", journal.status(), kExitUsage);
  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  Output out;
  bool damaged = false;
  auto print = Printer(flags, out);
  const uint64_t after = flags.from_seq ? (*flags.from_seq == 0 ? 0 : *flags.from_seq - 1)
                                        : (*journal)->LastSequence();
  auto followed = inspect::Follow(
      **journal, *filter, after, flags.limit,
      [&out] { return g_stop_requested != 0 || out.failed(); },
      [&](const inspect::Entry& entry) {
        damaged = damaged || !entry.envelope;
        print(entry);
      });
  if (!followed.ok()) return Fail("follow", followed.status(), kExitUsage);
  return damaged ? kExitProblems : 0;
}

int RunLs(const CommonFlags& flags) {
  auto journal = Open(flags.data_dir, false);
  if (!journal.ok()) return Fail("ls", journal.status(), kExitUsage);
  auto rows = inspect::ListSessions(**journal);
  if (!rows.ok()) {
    return Fail("ls", rows.status(),
                rows.status().code() == StatusCode::kDataLoss ? kExitProblems : kExitUsage);
  }
  Output out;
  if (!flags.json) {
    out.Line(fmt::format("{:<20} {:<14} {:<18} {:<16} {:<32} {:>8} {:>9}", "SESSION", "PHASE",
                         "DRAIN", "MODE", "INGRESS", "RECORDS", "LAST SEQ"));
  }
  for (const inspect::SessionRow& row : *rows) {
    const machine::State& s = row.image.state;
    if (flags.json) {
      inspect::Json json{{"session", row.session}, {"live", row.live}};
      json["phase"] = row.live ? inspect::Json(machine::Name(s.phase)) : inspect::Json(nullptr);
      json["drain_phase"] = row.live ? inspect::Json(machine::Name(s.drain_phase)) : nullptr;
      json["drain_mode"] = row.live && s.drain_mode ? inspect::Json(machine::Name(*s.drain_mode))
                                                    : inspect::Json(nullptr);
      json["ingress_owner"] = row.live ? inspect::Json(machine::Name(s.ingress_owner)) : nullptr;
      json["ingress_transport_id"] =
          row.live && s.ingress_transport_id ? inspect::Json(*s.ingress_transport_id) : nullptr;
      json["ingress_mob_id"] =
          row.live && s.ingress_mob_id ? inspect::Json(*s.ingress_mob_id) : nullptr;
      json["records"] = row.records;
      json["last_seq"] = row.last_seq;
      out.Line(inspect::Dump(json));
      continue;
    }
    std::string ingress = "-";
    if (row.live) {
      ingress = std::string(machine::Name(s.ingress_owner));
      if (s.ingress_transport_id) ingress += "(" + *s.ingress_transport_id;
      if (s.ingress_mob_id) ingress += ", mob " + *s.ingress_mob_id;
      if (s.ingress_transport_id) ingress += ")";
    }
    out.Line(fmt::format("{:<20} {:<14} {:<18} {:<16} {:<32} {:>8} {:>9}", row.session,
                         row.live ? machine::Name(s.phase) : "(unregistered)",
                         row.live ? machine::Name(s.drain_phase) : "-",
                         row.live && s.drain_mode ? machine::Name(*s.drain_mode) : "-", ingress,
                         row.records, row.last_seq));
  }
  return 0;
}

struct StateFlags {
  CommonFlags common;
  std::string session;
  std::optional<uint64_t> at;
};

int RunState(const StateFlags& flags) {
  auto journal = Open(flags.common.data_dir, false);
  if (!journal.ok()) return Fail("state", journal.status(), kExitUsage);
  auto state = inspect::StateAt(**journal, flags.session, flags.at);
  if (!state.ok()) {
    return Fail("state", state.status(),
                state.status().code() == StatusCode::kUnavailable ? kExitUsage : kExitProblems);
  }
  Output out;
  if (flags.common.json) {
    out.Line(inspect::Dump(inspect::SessionStateJson(*state)));
  } else {
    std::string text = inspect::SessionStateText(*state);
    text.pop_back();
    out.Line(text);
  }
  return 0;
}

int RunVerify(const CommonFlags& flags) {
  auto journal = Open(flags.data_dir, false);
  if (!journal.ok()) {
    // Damage that stops the open (an unknown format version, a damaged meta record, a directory
    // that is not a Burrow journal) is a finding; a missing directory is not.
    if (journal.status().code() != StatusCode::kDataLoss) {
      return Fail("verify", journal.status(), kExitUsage);
    }
    inspect::VerifyReport report;
    report.problems.push_back({0, "cannot open: " + journal.status().message()});
    Output out;
    std::string text = flags.json ? inspect::Dump(inspect::VerifyReportJson(report))
                                  : "1 problem:\n  - " + report.problems[0].what;
    out.Line(text);
    return kExitProblems;
  }
  auto report = inspect::Verify(**journal);
  if (!report.ok()) return Fail("verify", report.status(), kExitUsage);
  Output out;
  if (flags.json) {
    out.Line(inspect::Dump(inspect::VerifyReportJson(*report)));
  } else {
    std::string text = inspect::VerifyReportText(*report);
    text.pop_back();
    out.Line(text);
  }
  return report->healthy() ? 0 : kExitProblems;
}

int RunStats(const CommonFlags& flags) {
  auto journal = Open(flags.data_dir, false);
  if (!journal.ok()) return Fail("stats", journal.status(), kExitUsage);
  auto stats = inspect::ComputeStats(**journal);
  if (!stats.ok()) return Fail("stats", stats.status(), kExitUsage);
  Output out;
  if (flags.json) {
    out.Line(inspect::Dump(inspect::StatsJson(*stats)));
  } else {
    std::string text = inspect::StatsText(*stats);
    text.pop_back();
    out.Line(text);
  }
  return 0;
}

struct ExportFlags {
  CommonFlags common;
  std::optional<uint64_t> from_seq;
  std::optional<uint64_t> to_seq;
  std::optional<std::string> session;
  std::string output = "-";
};

int RunExport(const ExportFlags& flags) {
  auto journal = Open(flags.common.data_dir, false);
  if (!journal.ok()) return Fail("export", journal.status(), kExitUsage);
  inspect::ExportOptions options;
  if (flags.from_seq) options.from_seq = *flags.from_seq;
  if (flags.to_seq) options.to_seq = *flags.to_seq;
  options.session = flags.session;
  std::ofstream file;
  if (flags.output != "-") {
    file.open(flags.output, std::ios::binary | std::ios::trunc);
    if (!file) {
      return Fail("export", UnavailableError("cannot write " + flags.output), kExitUsage);
    }
  }
  std::ostream& out = flags.output == "-" ? std::cout : file;
  auto summary = inspect::Export(**journal, options, out);
  if (!summary.ok()) {
    return Fail("export", summary.status(),
                summary.status().code() == StatusCode::kUnavailable ? kExitUsage : kExitProblems);
  }
  if (flags.output != "-") {
    fmt::print(stderr, "exported {} records, {} snapshots, {} state entries to {}\n",
               summary->records, summary->snapshots, summary->state_entries, flags.output);
  }
  return 0;
}

struct ImportFlags {
  std::string data_dir;
  std::string input;
};

int RunImport(const ImportFlags& flags) {
  std::ifstream file;
  if (flags.input != "-") {
    file.open(flags.input, std::ios::binary);
    if (!file) return Fail("import", NotFoundError("cannot read " + flags.input), kExitUsage);
  }
  std::istream& in = flags.input == "-" ? std::cin : file;
  auto summary = inspect::Import(in, flags.data_dir);
  if (!summary.ok()) {
    const StatusCode code = summary.status().code();
    return Fail("import", summary.status(),
                code == StatusCode::kInvalidArgument || code == StatusCode::kDataLoss
                    ? kExitProblems
                    : kExitUsage);
  }
  fmt::print("imported records {}..{} ({} records, {} snapshots, {} state entries) into {}\n",
             summary->first_seq, summary->last_seq, summary->records, summary->snapshots,
             summary->state_entries, flags.data_dir);
  return 0;
}

constexpr char kExitCodes[] =
    "\nExit status: 0 done; 1 the journal has problems or does not hold what was asked; 2 usage "
    "or environment (bad option value, no journal, I/O failure).";

}  // namespace

void AddJournalInspectionCommand(CLI::App& app, int& exit_code) {
  auto* journal = app.add_subcommand(
      "journal",
      "Read a journal: sessions, records, live tail, state at a sequence, integrity, statistics, "
      "export and import. Opens the journal read-only (a RocksDB secondary instance), so it is "
      "safe on a live host's data directory; never creates one (import aside). See "
      "docs/JOURNAL.md.");
  journal->require_subcommand(1);
  // A reader that goes away (`show | head`) must not kill the process before it closes the
  // journal (which removes the secondary instance's temporary directory): writes fail instead,
  // and Output stops writing.
  journal->preparse_callback([](size_t) { std::signal(SIGPIPE, SIG_IGN); });
  journal->footer(
      "Examples:\n"
      "  burrow journal ls --data ./burrow-data\n"
      "  burrow journal show --session s1 --kind Transition --limit 20\n"
      "  burrow journal verify --data /backups/burrow-data\n"
      "Run `burrow journal SUBCOMMAND --help` for each subcommand's options.");

  auto ls_flags = std::make_shared<CommonFlags>();
  auto* ls = journal->add_subcommand(
      "ls",
      "List sessions: phase, drain phase and mode, ingress owner, record count, last "
      "sequence (unregistered sessions whose records remain show as such).");
  AddData(ls, *ls_flags);
  AddJson(ls, *ls_flags, "One JSON object per session per line");
  ls->footer(std::string("Examples:\n"
                         "  burrow journal ls\n"
                         "  burrow journal ls --data /var/lib/burrow --json | jq .phase") +
             kExitCodes);
  ls->callback([ls_flags, &exit_code] { exit_code = RunLs(*ls_flags); });

  auto show_flags = std::make_shared<RecordFlags>();
  auto* show = journal->add_subcommand(
      "show",
      "Print records, oldest first, filtered: every given filter must hold (AND); a "
      "repeated filter matches any of its values (OR). Damaged records in the range are "
      "shown as DAMAGED (and make the exit status 1) unless a content filter is given.");
  AddData(show, show_flags->common);
  AddFilters(show, *show_flags);
  show->add_flag("--reverse", show_flags->reverse,
                 "Newest first (with --limit N: the newest N matches)");
  show->footer(
      std::string("Examples:\n"
                  "  burrow journal show --session s1\n"
                  "  burrow journal show --kind Transition --input SpawnDrain --input StopDrain\n"
                  "  burrow journal show --from 100 --to 200 --json\n"
                  "  burrow journal show --since 2025-11-24T16:00:00Z --until 1764003600000000\n"
                  "  burrow journal show --reverse --limit 10\n"
                  "  burrow journal show --from 42 --to 42 --hex") +
      kExitCodes);
  show->callback([show_flags, &exit_code] { exit_code = RunShow(*show_flags); });

  auto follow_flags = std::make_shared<RecordFlags>();
  auto* follow = journal->add_subcommand(
      "follow",
      "Print records as a running host commits them (a live tail), with show's filters. Starts "
      "after the newest record, or at --from; stops at Ctrl-C / SIGTERM, or after --limit "
      "records.");
  AddData(follow, follow_flags->common);
  AddFilters(follow, *follow_flags);
  follow->footer(std::string("Examples:\n"
                             "  burrow journal follow\n"
                             "  burrow journal follow --session s1 --json\n"
                             "  burrow journal follow --from 1 --kind MessageDelivered --limit 5") +
                 kExitCodes);
  follow->callback([follow_flags, &exit_code] { exit_code = RunFollow(*follow_flags); });

  auto state_flags = std::make_shared<StateFlags>();
  auto* state = journal->add_subcommand(
      "state",
      "Print a session's authority (every field) as it was right after record SEQ "
      "(default: the newest), rebuilt from snapshots and records exactly as recovery "
      "does, with its state digest and the digest record SEQ records.");
  AddData(state, state_flags->common);
  state->add_option("--session", state_flags->session, "The session")->required();
  state->add_option("--at", state_flags->at, "Right after this record (default: the newest)");
  AddJson(state, state_flags->common, "One JSON object");
  state->footer(std::string("Examples:\n"
                            "  burrow journal state --session s1\n"
                            "  burrow journal state --session s1 --at 42 --json") +
                kExitCodes);
  state->callback([state_flags, &exit_code] { exit_code = RunState(*state_flags); });

  auto verify_flags = std::make_shared<CommonFlags>();
  auto* verify = journal->add_subcommand(
      "verify",
      "Check the whole journal and name every problem (not only the first): format version, "
      "checksums, sequence gaps, records that do not decode, replay determinism (every "
      "transition re-applied by the machine: same declaration, effects and state digest), "
      "inbox/delivery/task cursors, snapshots, and the stream index. Exit 0 healthy, 1 with "
      "problems.");
  AddData(verify, *verify_flags);
  AddJson(verify, *verify_flags, "One JSON object: the report");
  verify->footer(std::string("Examples:\n"
                             "  burrow journal verify\n"
                             "  burrow journal verify --data /backups/burrow-data --json") +
                 kExitCodes);
  verify->callback([verify_flags, &exit_code] { exit_code = RunVerify(*verify_flags); });

  auto stats_flags = std::make_shared<CommonFlags>();
  auto* stats = journal->add_subcommand(
      "stats",
      "Records and bytes (stored key + value) by kind and by input, sessions, time "
      "span, snapshot coverage and the truncation point.");
  AddData(stats, *stats_flags);
  AddJson(stats, *stats_flags, "One JSON object");
  stats->footer(std::string("Examples:\n"
                            "  burrow journal stats\n"
                            "  burrow journal stats --json | jq .by_kind") +
                kExitCodes);
  stats->callback([stats_flags, &exit_code] { exit_code = RunStats(*stats_flags); });

  auto export_flags = std::make_shared<ExportFlags>();
  auto* exp = journal->add_subcommand(
      "export",
      "Write records (and the snapshots of the range; for a whole journal also the state "
      "entries) as JSON lines that `burrow journal import` loads back. Lossless: payloads are "
      "hex; each record line also carries the decoded record for reading. Refuses a damaged "
      "journal (run verify).");
  AddData(exp, export_flags->common);
  exp->add_option("--from", export_flags->from_seq, "First sequence");
  exp->add_option("--to", export_flags->to_seq, "Last sequence");
  exp->add_option("--session", export_flags->session,
                  "Only this session's records and snapshots (such an export is for reading: "
                  "import needs a contiguous range)");
  exp->add_option("--output,-o", export_flags->output, "File to write ('-': stdout)")
      ->capture_default_str();
  exp->footer(std::string("Examples:\n"
                          "  burrow journal export -o journal.jsonl\n"
                          "  burrow journal export --from 1000 --to 2000 > slice.jsonl\n"
                          "  burrow journal export --session s1 | jq -c .record") +
              kExitCodes);
  exp->callback([export_flags, &exit_code] { exit_code = RunExport(*export_flags); });

  auto import_flags = std::make_shared<ImportFlags>();
  auto* imp = journal->add_subcommand(
      "import",
      "Create a new journal in --data from an export (same sequence numbers, snapshots and "
      "state), e.g. to replay a production journal in a test. The directory must not exist or "
      "be empty; the journal is built aside and moved into place only when complete.");
  imp->add_option("--data", import_flags->data_dir, "The new journal's directory")->required();
  imp->add_option("file", import_flags->input, "The export ('-': stdin)")->required();
  imp->footer(std::string("Examples:\n"
                          "  burrow journal import --data /tmp/replay journal.jsonl\n"
                          "  burrow journal export --data prod-copy | burrow journal import "
                          "--data /tmp/replay -\n"
                          "  burrow journal verify --data /tmp/replay") +
              kExitCodes);
  imp->callback([import_flags, &exit_code] { exit_code = RunImport(*import_flags); });
}

}  // namespace burrow::tools
