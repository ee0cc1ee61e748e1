// SPDX-License-Identifier: Apache-2.0
// The compact load report: round trip, forward compatibility (unknown keys, missing keys) and a
// clear error for every malformed value.

#include "core/load_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;

TEST(LoadReportTest, RoundTrips) {
  LoadReport r{42, 3, 7, 8, 1u << 30, 2u << 30, 12345, 2.5};
  const std::string text = EncodeLoadReport(r);
  EXPECT_EQ(text, "v=1;s=42;f=3;q=7;m=8;pu=1073741824;pb=2147483648;r=12345;w=2.5");
  BLAZEN_ASSERT_OK_AND_ASSIGN(LoadReport back, ParseLoadReport(text));
  EXPECT_EQ(back, r);
  r.seq = std::numeric_limits<std::uint64_t>::max();
  r.capacity_weight = 0.125;
  EXPECT_EQ(*ParseLoadReport(EncodeLoadReport(r)), r);
}

TEST(LoadReportTest, UnknownKeysAreIgnoredAndMissingKeysKeepDefaults) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(LoadReport r, ParseLoadReport("s=5;gpu_temp=71;;f=2;x="));
  EXPECT_EQ(r.seq, 5u);
  EXPECT_EQ(r.in_flight, 2u);
  EXPECT_EQ(r.queued, 0u);
  EXPECT_EQ(r.capacity_weight, 1.0);
  BLAZEN_ASSERT_OK_AND_ASSIGN(LoadReport empty, ParseLoadReport(""));
  EXPECT_EQ(empty, LoadReport{});
}

TEST(LoadReportTest, MalformedValuesAreNamed) {
  for (const char* bad : {"s=abc", "s=-1", "s=", "f=1.5", "q=99999999999999999999999", "w=0",
                          "w=-2", "w=nan", "w=inf", "w=x", "v=2", "v=x"}) {
    EXPECT_THAT(ParseLoadReport(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseLoadReport("s=1;oops"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'oops' is not key=value")));
  EXPECT_THAT(ParseLoadReport("m=x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("'m'")));
}

}  // namespace
}  // namespace blazen
