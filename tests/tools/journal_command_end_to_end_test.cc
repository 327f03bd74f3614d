// `burrow journal` end to end: the real binary against a journal the engine wrote, checking
// exit statuses, output shapes and the export → import → export round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "journal/format.h"
#include "tests/tools/journal_inspect_test_util.h"

#ifndef BURROW_BINARY
#error "BURROW_BINARY must name the burrow executable"
#endif

namespace burrow::inspect {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class JournalCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_.Start();
    engine_.RunWorkload();
    engine_.Stop();
  }

  // Runs `burrow journal ARGS` (arguments are plain words: no quoting needed).
  Outcome Journal(const std::string& args) {
    const std::string out = engine_.temp().Sub("stdout");
    const std::string err = engine_.temp().Sub("stderr");
    const std::string command =
        std::string(BURROW_BINARY) + " journal " + args + " >" + out + " 2>" + err + " </dev/null";
    int status = std::system(command.c_str());
    Outcome run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = Slurp(out);
    run.err = Slurp(err);
    return run;
  }

  testing::EngineJournal engine_;
};

TEST_F(JournalCommandTest, VerifyExitsZeroOnAHealthyJournalAndOneNamingDamage) {
  Outcome healthy = Journal("verify --data " + engine_.dir());
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_THAT(healthy.out, HasSubstr("healthy"));

  {
    journal::testing::RawDb raw(engine_.dir());
    const std::string key("\0\0\0\0\0\0\0\x05", 8);
    std::string value = raw.Get("records", key);
    value.back() ^= 1;
    raw.Put("records", key, value);
  }
  Outcome damaged = Journal("verify --data " + engine_.dir());
  EXPECT_EQ(damaged.exit_code, 1) << damaged.out << damaged.err;
  EXPECT_THAT(damaged.out, HasSubstr("record 5 (key 0000000000000005): checksum mismatch"));

  Outcome as_json = Journal("verify --json --data " + engine_.dir());
  EXPECT_EQ(as_json.exit_code, 1);
  json report = json::parse(as_json.out);
  EXPECT_EQ(report["healthy"], false);
  EXPECT_EQ(report["problems"][0]["seq"], 5);

  // show still prints every record, the damaged one in place, and exits 1.
  Outcome show = Journal("show --data " + engine_.dir());
  EXPECT_EQ(show.exit_code, 1);
  EXPECT_THAT(show.out, HasSubstr("DAMAGED: checksum mismatch"));
}

TEST_F(JournalCommandTest, VerifyReportsAnUnknownFormatVersionAsAProblem) {
  {
    journal::testing::RawDb raw(engine_.dir());
    const std::string body("\x02\0\0\0", 4);
    raw.Put("meta", "format_version", journal::format::EncodeFramedValue("format_version", body));
  }
  Outcome verify = Journal("verify --data " + engine_.dir());
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("unknown format version 2"));
  Outcome show = Journal("show --data " + engine_.dir());
  EXPECT_EQ(show.exit_code, 2);
  EXPECT_THAT(show.err, HasSubstr("unknown format version 2"));
}

TEST_F(JournalCommandTest, AMissingOrForeignDirectoryIsAClearErrorAndIsNotCreated) {
  const std::string missing = engine_.temp().Sub("missing");
  for (const char* sub : {"ls", "show", "verify", "stats", "export", "state --session s1"}) {
    Outcome run = Journal(std::string(sub) + " --data " + missing);
    EXPECT_EQ(run.exit_code, 2) << sub;
    EXPECT_THAT(run.err, HasSubstr("no directory")) << sub;
    EXPECT_FALSE(std::filesystem::exists(missing)) << sub;
  }
  std::filesystem::create_directory(engine_.temp().Sub("empty"));
  Outcome run = Journal("ls --data " + engine_.temp().Sub("empty"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("holds no journal"));
  EXPECT_TRUE(std::filesystem::is_empty(engine_.temp().Sub("empty")));
}

TEST_F(JournalCommandTest, ShowJsonIsOneObjectPerLineAndNeverColoured) {
  Outcome run = Journal("show --json --session s1 --kind transition --data " + engine_.dir());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_GE(run.Lines().size(), 5u);
  for (const std::string& line : run.Lines()) {
    json record = json::parse(line);
    EXPECT_EQ(record["session"], "s1");
    EXPECT_EQ(record["kind"], "Transition");
  }
  EXPECT_EQ(run.out.find('\x1b'), std::string::npos);
  Outcome text = Journal("show --limit 3 --data " + engine_.dir());
  EXPECT_EQ(text.Lines().size(), 3u);
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);  // stdout is a file, not a terminal
}

TEST_F(JournalCommandTest, BadOptionValuesExitTwo) {
  for (const char* args :
       {"show --since yesterday", "show --kind Nope", "follow --input Nope", "show --json --hex"}) {
    Outcome run = Journal(std::string(args) + " --data " + engine_.dir());
    EXPECT_EQ(run.exit_code, 2) << args;
    EXPECT_THAT(run.err, HasSubstr("InvalidArgument")) << args;
  }
}

TEST_F(JournalCommandTest, StateAtPrintsTheEnginesDigest) {
  const testing::Moment& m = engine_.moments().at(2);
  Outcome run = Journal(
      fmt::format("state --json --session {} --at {} --data {}", m.session, m.seq, engine_.dir()));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json state = json::parse(run.out);
  EXPECT_EQ(state["state_digest"], fmt::format("{:016x}", m.digest));
  EXPECT_EQ(state["recorded_digest"], state["state_digest"]);
  Outcome unknown = Journal("state --session nope --data " + engine_.dir());
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no session 'nope'"));
}

TEST_F(JournalCommandTest, ExportImportExportIsByteIdentical) {
  const std::string first = engine_.temp().Sub("first.jsonl");
  const std::string second = engine_.temp().Sub("second.jsonl");
  const std::string copy = engine_.temp().Sub("copy");
  ASSERT_EQ(Journal("export -o " + first + " --data " + engine_.dir()).exit_code, 0);
  Outcome imported = Journal("import --data " + copy + " " + first);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_THAT(imported.out, HasSubstr("imported records"));
  ASSERT_EQ(Journal("export -o " + second + " --data " + copy).exit_code, 0);
  EXPECT_EQ(Slurp(first), Slurp(second));
  EXPECT_EQ(Journal("verify --data " + copy).exit_code, 0);
  Outcome again = Journal("import --data " + copy + " " + first);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("not empty"));
}

TEST_F(JournalCommandTest, LsStatsAndFollowAnswer) {
  Outcome ls = Journal("ls --json --data " + engine_.dir());
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  ASSERT_EQ(ls.Lines().size(), 3u);
  EXPECT_EQ(json::parse(ls.Lines()[0])["phase"], "Retired");
  EXPECT_EQ(json::parse(ls.Lines()[2])["live"], false);

  Outcome stats = Journal("stats --json --data " + engine_.dir());
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_GT(json::parse(stats.out)["records"].get<int>(), 20);

  // follow from the first record stops after --limit records.
  Outcome follow = Journal("follow --from 1 --limit 3 --json --data " + engine_.dir());
  ASSERT_EQ(follow.exit_code, 0) << follow.err;
  ASSERT_EQ(follow.Lines().size(), 3u);
  EXPECT_EQ(json::parse(follow.Lines()[0])["seq"], 1);
}

TEST_F(JournalCommandTest, EverySubcommandsHelpHasExamples) {
  for (const char* sub : {"ls", "show", "follow", "state", "verify", "stats", "export", "import"}) {
    Outcome run = Journal(std::string(sub) + " --help");
    EXPECT_EQ(run.exit_code, 0) << sub;
    EXPECT_THAT(run.out, HasSubstr("Examples:")) << sub;
    EXPECT_THAT(run.out, HasSubstr(std::string("burrow journal ") + sub)) << sub;
  }
}

}  // namespace
}  // namespace burrow::inspect
