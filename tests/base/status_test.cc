#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace burrow {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return InvalidArgumentError("not positive");
  return x;
}

Result<int> Doubled(int x) {
  BURROW_ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return v * 2;
}

Status CheckBoth(int a, int b) {
  BURROW_RETURN_IF_ERROR(ParsePositive(a));
  BURROW_RETURN_IF_ERROR(ParsePositive(b).status().WithContext("b"));
  return OkStatus();
}

TEST(StatusTest, DefaultIsOkAndOkStatusesAreEqual) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status(), OkStatus());
  EXPECT_EQ(Status(StatusCode::kOk, "ignored"), OkStatus());
  EXPECT_EQ(OkStatus().ToString(), "Ok");
}

TEST(StatusTest, EachFactoryCarriesItsCodeAndMessage) {
  EXPECT_EQ(InvalidArgumentError("m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NotFoundError("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(FailedPreconditionError("m").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(AbortedError("m").code(), StatusCode::kAborted);
  EXPECT_EQ(UnavailableError("m").code(), StatusCode::kUnavailable);
  EXPECT_EQ(DataLossError("m").code(), StatusCode::kDataLoss);
  EXPECT_EQ(InternalError("m").code(), StatusCode::kInternal);
  EXPECT_EQ(DataLossError("seq 7").ToString(), "DataLoss: seq 7");
}

TEST(StatusTest, WithContextPrefixesTheMessageAndKeepsTheCode) {
  Status s = UnavailableError("fsync failed").WithContext("append");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "append: fsync failed");
  EXPECT_TRUE(OkStatus().WithContext("x").ok());
}

TEST(ResultTest, HoldsAValueOrAStatus) {
  Result<int> good = ParsePositive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = ParsePositive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(ResultTest, MacrosPropagateTheFirstFailure) {
  EXPECT_EQ(*Doubled(4), 8);
  EXPECT_EQ(Doubled(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, -2).message(), "b: not positive");
}

TEST(ResultTest, MoveOnlyValuesAreSupported) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(CheckDeathTest, FailedCheckLogsAndAborts) {
  EXPECT_DEATH(BURROW_CHECK(1 + 1 == 3, "arithmetic is {}", "broken"),
               "CHECK failed: 1 \\+ 1 == 3 .*arithmetic is broken");
}

TEST(ResultDeathTest, ValueOfAFailedResultAborts) {
  Result<int> bad = NotFoundError("nothing");
  EXPECT_DEATH((void)bad.value(), "value\\(\\) on a failed Result: NotFound: nothing");
}

}  // namespace
}  // namespace burrow
