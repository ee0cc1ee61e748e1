// SPDX-License-Identifier: Apache-2.0
// Status, Result<T> and the propagation macros.

#include "core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;

TEST(StatusTest, CodesAreNumberedLikeGrpc) {
  EXPECT_EQ(static_cast<int>(StatusCode::kInvalidArgument), 3);
  EXPECT_EQ(static_cast<int>(StatusCode::kNotFound), 5);
  EXPECT_EQ(static_cast<int>(StatusCode::kFailedPrecondition), 9);
  EXPECT_EQ(static_cast<int>(StatusCode::kInternal), 13);
  EXPECT_EQ(static_cast<int>(StatusCode::kUnauthenticated), 16);
  EXPECT_EQ(StatusCodeName(StatusCode::kResourceExhausted), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(99)), "UNKNOWN_CODE");
}

TEST(StatusTest, OkHasNoMessageOrKind) {
  const Status ok(StatusCode::kOk, "ignored", ErrorKind::kTls);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
  EXPECT_EQ(ok.kind(), ErrorKind::kUnspecified);
  EXPECT_EQ(ok.ToString(), "OK");
  EXPECT_EQ(ok, Status::Ok());
}

TEST(StatusTest, FactoriesToStringAndKind) {
  const Status s = Status::NotFound("session ref x not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: session ref x not found");
  const Status k = s.WithKind(ErrorKind::kUnknownStep);
  EXPECT_EQ(k.kind(), ErrorKind::kUnknownStep);
  EXPECT_EQ(s.kind(), ErrorKind::kUnspecified);  // the original is unchanged
  EXPECT_EQ(Status::Ok().WithKind(ErrorKind::kTls).kind(), ErrorKind::kUnspecified);
  EXPECT_EQ(s.WithPrefix("deref: ").message(), "deref: session ref x not found");
}

TEST(StatusTest, KindNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(ErrorKind::kInvalidArgument); ++i) {
    const auto kind = static_cast<ErrorKind>(i);
    EXPECT_EQ(ErrorKindFromName(ErrorKindName(kind)), kind) << i;
  }
  EXPECT_EQ(ErrorKindName(ErrorKind::kEnvelopeVersion), "envelope_version");
  EXPECT_EQ(ErrorKindFromName("no_such_kind"), ErrorKind::kUnspecified);
}

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

Result<int> Doubled(int v) {
  BLAZEN_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status CheckBoth(int a, int b) {
  BLAZEN_RETURN_IF_ERROR(ParsePositive(a));
  BLAZEN_RETURN_IF_ERROR(Status::Ok());
  BLAZEN_RETURN_IF_ERROR(ParsePositive(b));
  return Status::Ok();
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = ParsePositive(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = ParsePositive(-1);
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument, "not positive: -1"));
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(ResultTest, ConstructingFromOkStatusIsInternal) {
  Result<int> r = Status::Ok();
  EXPECT_THAT(r, StatusIs(StatusCode::kInternal));
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultTest, ConvertingConstruction) {
  Result<std::string> r = "text";
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 4u);
}

TEST(ResultTest, MacrosPropagate) {
  EXPECT_EQ(Doubled(3).value(), 6);
  EXPECT_THAT(Doubled(0), StatusIs(StatusCode::kInvalidArgument, "not positive: 0"));
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_THAT(CheckBoth(1, -2), StatusIs(StatusCode::kInvalidArgument, "not positive: -2"));
}

TEST(ResultDeathTest, ValueOfFailedResultAborts) {
  Result<int> bad = Status::NotFound("gone");
  EXPECT_DEATH((void)bad.value(), "value\\(\\) called on a failed Result: NOT_FOUND: gone");
}

}  // namespace
}  // namespace blazen
