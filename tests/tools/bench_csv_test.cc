// The sweep CSV and its chart script: what docs/ keeps and what gnuplot reads.
#include <gtest/gtest.h>

#include "tools/bench/chart.h"
#include "tools/bench/csv.h"
#include "tools/bench/host_driver.h"

namespace burrow::bench {
namespace {

TEST(CsvTest, PlainFieldsAreWrittenAsIs) {
  EXPECT_EQ(CsvField("sessions"), "sessions");
  EXPECT_EQ(CsvField("12345.6"), "12345.6");
  EXPECT_EQ(CsvField(""), "");
}

TEST(CsvTest, FieldsWithSeparatorsQuotesOrNewlinesAreQuoted) {
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
}

TEST(CsvTest, RowsAreCommaSeparatedLines) {
  EXPECT_EQ(RenderCsv({{"sessions", "burrow_per_s"}, {"1", "7000"}, {"256", "8,000"}}),
            "sessions,burrow_per_s\n1,7000\n256,\"8,000\"\n");
  EXPECT_EQ(RenderCsv({}), "");
}

TEST(ChartTest, GnuplotStringsDoubleTheirSingleQuotes) {
  EXPECT_EQ(GnuplotQuote("docs/a.csv"), "'docs/a.csv'");
  EXPECT_EQ(GnuplotQuote("it's"), "'it''s'");
}

TEST(ChartTest, TheSweepScriptReadsTheCsvAndWritesThePng) {
  const std::string script = CommitSweepScript("in's.csv", "out.png", "2 CPUs");
  EXPECT_NE(script.find("set output 'out.png'"), std::string::npos);
  EXPECT_NE(script.find("'in''s.csv' using 1:2"), std::string::npos);
  EXPECT_NE(script.find("2 CPUs"), std::string::npos);
  // One column per kSweepColumns entry: the script uses the last one.
  EXPECT_EQ(std::size(kSweepColumns), 14u);
  EXPECT_NE(script.find("using 1:14"), std::string::npos);
}

TEST(SessionIdTest, IdsAreUuidShapedAndDistinct) {
  EXPECT_EQ(SessionId(0).size(), 36u);
  EXPECT_EQ(SessionId(0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(SessionId(255), "00000000-0000-4000-8000-0000000000ff");
  EXPECT_NE(SessionId(1), SessionId(uint64_t{1} << 48 | 1));
}

}  // namespace
}  // namespace burrow::bench
