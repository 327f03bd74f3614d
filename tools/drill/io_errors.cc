// io-errors: an embedded host on a fault-injecting FileSystem; before a state-changing command
// the WAL starts failing (EIO or ENOSPC, on appends or on syncs) and keeps failing while the
// drill looks. Checked: the command gets Unavailable; nothing is applied (what the host shows —
// authorities, tasks running and their incarnations, inbox and delivered counts — is unchanged,
// and no sequence is consumed); reads keep working during the failure; once the errors stop the
// same command succeeds without a restart and leaves exactly one record (the failed attempt
// left none); and everything else the drills check (checks.h) still holds.
#include <fmt/format.h>

#include <random>

#include "schema/codec.h"
#include "tools/drill/checks.h"
#include "tools/drill/fault_fs.h"
#include "tools/drill/scenarios.h"
#include "tools/drill/target.h"
#include "tools/drill/workload.h"

namespace burrow::drill {
namespace {

// How many records after `after` carry what `expected` describes.
Result<uint64_t> CountMatching(const journal::Journal& journal, uint64_t after,
                               const std::string& session, const Expectation& expected) {
  BURROW_ASSIGN_OR_RETURN(auto records, journal.ReadStream(session, after + 1, SIZE_MAX));
  uint64_t n = 0;
  for (const journal::Record& r : records) {
    BURROW_ASSIGN_OR_RETURN(schema::RecordEnvelope envelope,
                            schema::DecodeRecord(r.seq, r.payload));
    if (expected.kind == Expectation::Kind::kInboxAppended) {
      const auto* inbox = std::get_if<schema::InboxAppended>(&envelope.payload);
      n += inbox != nullptr && inbox->message_id == expected.message_id;
    } else {
      const auto* t = std::get_if<schema::TransitionRecord>(&envelope.payload);
      n += t != nullptr && machine::KindOf(t->input) == expected.input_kind &&
           (!expected.input || *expected.input == t->input);
    }
  }
  return n;
}

bool IsUnavailable(const nlohmann::json& response) {
  return !response.value("ok", false) && response["error"].value("code", "") == "Unavailable";
}

}  // namespace

void RunIoErrors(const Options& options, ScenarioReport& report) {
  const std::string dir = options.data_dir + "/journal";
  std::mt19937_64 rng(MixSeed(options.seed, 51));
  Workload workload(MixSeed(options.seed, 52), "e");
  Ledger ledger;
  auto violation = [&](uint64_t round, std::string what) {
    report.violations.push_back(Violation{round, std::move(what)});
  };
  auto fs = std::make_shared<FaultFileSystem>();
  std::unique_ptr<rocksdb::Env> env = FaultFileSystem::MakeEnv(fs);
  journal::Options journal_options;
  journal_options.env = env.get();
  journal_options.logger = options.logger;
  host::HostOptions host_options;
  host_options.logger = options.logger;
  host_options.snapshot_every_records = 50;
  host_options.checkpoint_every_records = 0;
  auto opened = InProcessHost::Open(dir, journal_options, host_options);
  if (!opened.ok()) {
    violation(0, "cannot open the journal: " + opened.status().ToString());
    return;
  }
  std::unique_ptr<InProcessHost> host = std::move(opened).value();
  auto run = [&](const nlohmann::json& request) {
    nlohmann::json response = *host->Call(request);
    workload.Observe(request, response);
    ledger.Record(request, response);
    return response;
  };

  for (uint64_t round = 0; round < options.rounds; ++round) {
    for (uint64_t k = rng() % 6; k > 0; --k) run(workload.Next());

    Result<Observed> before = Observe(*host, std::chrono::seconds(10));
    if (!before.ok()) {
      violation(round, "cannot observe the host: " + before.status().ToString());
      break;
    }
    const uint64_t before_seq = host->journal().LastSequence();
    const IoErrorKind kind = rng() % 2 ? IoErrorKind::kEio : IoErrorKind::kEnospc;
    const IoOp op = rng() % 2 ? IoOp::kAppend : IoOp::kSync;
    const std::string fault =
        fmt::format("{} on WAL {}", kind == IoErrorKind::kEio ? "EIO" : "ENOSPC",
                    op == IoOp::kAppend ? "append" : "sync");
    // The disk fails from now on. Commands that do not need it (rejections, accepted no-ops)
    // are answered as usual and must write nothing; the first one that needs it must get
    // Unavailable.
    fs->InjectWalErrors(kind, op, 1'000'000);
    std::optional<nlohmann::json> failing;
    for (int tries = 0; tries < 40 && !failing; ++tries) {
      nlohmann::json request = workload.Next();
      nlohmann::json response = *host->Call(request);
      if (IsUnavailable(response)) {
        failing = request;
        break;
      }
      ++report.figures["commands_that_needed_no_write"];
      if (response.value("ok", false) && host->journal().LastSequence() != before_seq) {
        violation(round, fmt::format("{} was acknowledged while every WAL write failed ({})",
                                     request.dump(), fault));
      }
      workload.Observe(request, response);
      ledger.Record(request, response);
    }
    if (!failing) {
      fs->ClearErrors();
      continue;
    }
    const nlohmann::json request = *failing;
    ++report.figures["unavailable_commands"];
    ++report.figures["unavailable_after_" + fault];
    // Reads keep working while the disk still fails, and show nothing of the failed command
    // (nor of the commands before it, which needed no write).
    Result<Observed> during = Observe(*host, std::chrono::seconds(10));
    if (!during.ok()) {
      violation(round, fmt::format("reads stopped working during {}: {}", fault,
                                   during.status().ToString()));
    } else {
      std::vector<std::string> applied;
      CheckNothingApplied(fmt::format("{} ({})", request.dump(), fault), *before, *during,
                          before_seq, host->journal().LastSequence(), applied);
      for (std::string& v : applied) violation(round, std::move(v));
    }
    fs->ClearErrors();
    // The host carries on: the same command again, no restart.
    nlohmann::json retry = *host->Call(request);
    if (IsUnavailable(retry)) {
      violation(round,
                fmt::format("the host did not carry on after {} stopped: {}", fault, retry.dump()));
    } else {
      ++report.figures["carried_on_without_restart"];
    }
    // The retry's own record: exactly one when it was acknowledged; at most one when it was
    // refused (set_peer_ingress journals the inputs its step accepted before the rejection).
    if (std::optional<Expectation> expected = ExpectationOf(request)) {
      Result<uint64_t> copies =
          CountMatching(host->journal(), before_seq, request["session"], *expected);
      const bool acknowledged = retry.value("ok", false) && !retry.value("duplicate", false);
      if (!copies.ok()) {
        violation(round, "cannot read the journal: " + copies.status().ToString());
      } else if (acknowledged ? *copies != 1 : *copies > 1) {
        violation(round,
                  fmt::format("after {} and a retry, {} has {} record(s) in the journal, "
                              "expected {} (the failed attempt must leave none)",
                              fault, request.dump(), *copies, acknowledged ? "1" : "at most 1"));
      }
    }
    workload.Observe(request, retry);
    ledger.Record(request, retry);
    uint64_t records = 0;
    for (std::string& v : CheckAll(*host, dir, ledger, CheckOptions{}, &records)) {
      violation(round, std::move(v));
    }
    report.records = records;
    report.rounds = round + 1;
    if (options.progress) options.progress(round + 1, options.rounds);
  }

  // Finally a restart: recovery agrees with everything the host acknowledged through the faults.
  host.reset();
  opened = InProcessHost::Open(dir, journal_options, host_options);
  if (!opened.ok()) {
    violation(options.rounds,
              "the start after the drill was refused: " + opened.status().ToString());
  } else {
    host = std::move(opened).value();
    ++report.restarts;
    report.recovery_ms.push_back(host->open_time().count() / 1000.0);
    for (std::string& v : CheckAll(*host, dir, ledger, CheckOptions{}, &report.records)) {
      violation(options.rounds, std::move(v));
    }
  }
  report.figures["io_errors_injected"] = fs->errors_injected();
  report.acknowledged = ledger.acknowledged();
}

}  // namespace burrow::drill
