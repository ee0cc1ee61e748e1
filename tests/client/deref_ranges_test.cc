// SPDX-License-Identifier: Apache-2.0
// Range bookkeeping of the streaming deref: splitting, planning, per-range chunk validation and
// the resume rule (the resume loop's decisions are tested here, without a network).

#include "client/detail/deref_ranges.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/testing/status_matchers.h"

namespace blazen::client::detail {
namespace {

using ::blazen::testing::StatusIs;

constexpr std::uint64_t kMiB = 1 << 20;

void ExpectCovers(const std::vector<ByteRange>& ranges, std::uint64_t begin, std::uint64_t end) {
  ASSERT_FALSE(ranges.empty());
  EXPECT_EQ(ranges.front().begin, begin);
  EXPECT_EQ(ranges.back().end, end);
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    EXPECT_LT(ranges[i].begin, ranges[i].end) << i;
    if (i > 0) {
      EXPECT_EQ(ranges[i - 1].end, ranges[i].begin) << i;
    }
  }
}

TEST(SplitRangeTest, EqualAlignedParts) {
  const std::vector<ByteRange> ranges = SplitRange(0, 64 * kMiB, 4, kMiB);
  ASSERT_EQ(ranges.size(), 4u);
  ExpectCovers(ranges, 0, 64 * kMiB);
  for (const ByteRange& r : ranges) EXPECT_EQ(r.size(), 16 * kMiB);
}

TEST(SplitRangeTest, BoundariesAlignedWhenSizeIsNotAMultiple) {
  const std::uint64_t total = 10 * kMiB + 12345;
  const std::vector<ByteRange> ranges = SplitRange(0, total, 3, kMiB);
  ASSERT_EQ(ranges.size(), 3u);
  ExpectCovers(ranges, 0, total);
  for (std::size_t i = 0; i + 1 < ranges.size(); ++i) EXPECT_EQ(ranges[i].end % kMiB, 0u);
}

TEST(SplitRangeTest, SmallRangesAreNotAlignedAndNeverEmpty) {
  std::vector<ByteRange> ranges = SplitRange(10, 13, 8, kMiB);
  ASSERT_EQ(ranges.size(), 3u);  // only 3 bytes: at most 3 non-empty ranges
  ExpectCovers(ranges, 10, 13);
  EXPECT_TRUE(SplitRange(5, 5, 4, 1).empty());
  ranges = SplitRange(0, 100, 0, 0);  // 0 parts behaves like 1
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], (ByteRange{0, 100}));
}

TEST(SplitRangeTest, HugeRangesDoNotOverflow) {
  const std::uint64_t end = ~std::uint64_t{0};
  const std::vector<ByteRange> ranges = SplitRange(0, end, 7, 0);
  ASSERT_EQ(ranges.size(), 7u);
  ExpectCovers(ranges, 0, end);
}

TEST(PlanDerefTest, SmallPayloadUsesOneStream) {
  const DerefPlan plan = PlanDeref(10 * kMiB, kMiB, kMiB, 4, 64 * kMiB);
  EXPECT_EQ(plan.first_end, 10 * kMiB);
  EXPECT_TRUE(plan.others.empty());
}

TEST(PlanDerefTest, OneConfiguredStreamNeverSplits) {
  const DerefPlan plan = PlanDeref(1024 * kMiB, kMiB, kMiB, 1, 64 * kMiB);
  EXPECT_EQ(plan.first_end, 1024 * kMiB);
  EXPECT_TRUE(plan.others.empty());
}

TEST(PlanDerefTest, LargePayloadSplitsIntoContiguousRanges) {
  const DerefPlan plan = PlanDeref(64 * kMiB, kMiB, kMiB, 4, 64 * kMiB);
  EXPECT_EQ(plan.first_end, 16 * kMiB);
  ASSERT_EQ(plan.others.size(), 3u);
  std::vector<ByteRange> all = {{0, plan.first_end}};
  all.insert(all.end(), plan.others.begin(), plan.others.end());
  ExpectCovers(all, 0, 64 * kMiB);
}

TEST(PlanDerefTest, FirstRangeExtendsToWhatTheFirstChunkDelivered) {
  // 3 MiB in 4 streams would be 768 KiB each, but the first chunk already brought 1 MiB.
  const DerefPlan plan = PlanDeref(3 * kMiB, kMiB, kMiB, 4, 0);
  EXPECT_EQ(plan.first_end, kMiB);
  std::vector<ByteRange> all = {{0, plan.first_end}};
  all.insert(all.end(), plan.others.begin(), plan.others.end());
  ExpectCovers(all, 0, 3 * kMiB);
}

TEST(PlanDerefTest, FirstChunkHoldingEverythingNeedsNoOtherStream) {
  const DerefPlan plan = PlanDeref(kMiB, kMiB, kMiB, 4, 0);
  EXPECT_EQ(plan.first_end, kMiB);
  EXPECT_TRUE(plan.others.empty());
}

TEST(RangeCursorTest, OpenEndedRangeLearnsItsEndFromTheFirstChunk) {
  RangeCursor cursor(0, std::nullopt);
  EXPECT_EQ(cursor.StartAttempt(), (StreamRequestRange{0, 0}));
  EXPECT_FALSE(cursor.complete());
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::uint64_t take, cursor.Accept(0, 100, 250));
  EXPECT_EQ(take, 100u);
  EXPECT_EQ(cursor.end(), 250u);
  BLAZEN_ASSERT_OK_AND_ASSIGN(take, cursor.Accept(100, 150, 250));
  EXPECT_EQ(take, 150u);
  EXPECT_TRUE(cursor.complete());
  EXPECT_FALSE(cursor.overshoots());
  EXPECT_EQ(cursor.chunks(), 2u);
}

TEST(RangeCursorTest, RejectsGapsOverlapsAndOverruns) {
  RangeCursor cursor(1000, 2000, 5000);
  EXPECT_EQ(cursor.StartAttempt(), (StreamRequestRange{1000, 1000}));
  EXPECT_THAT(cursor.Accept(1100, 10, 5000), StatusIs(StatusCode::kDataLoss));    // gap
  EXPECT_THAT(cursor.Accept(900, 10, 5000), StatusIs(StatusCode::kDataLoss));     // overlap
  EXPECT_THAT(cursor.Accept(1000, 1001, 5000), StatusIs(StatusCode::kDataLoss));  // past range
  EXPECT_THAT(cursor.Accept(1000, 10, 4000), StatusIs(StatusCode::kDataLoss));    // size changed
  EXPECT_EQ(cursor.next(), 1000u);  // never advanced by a rejected chunk
  EXPECT_EQ(cursor.chunks(), 0u);
  BLAZEN_EXPECT_OK(cursor.Accept(1000, 1000, 5000));
  EXPECT_TRUE(cursor.complete());
  // A chunk after the end of the range is rejected too.
  EXPECT_THAT(cursor.Accept(2000, 1, 5000), StatusIs(StatusCode::kDataLoss));
}

TEST(RangeCursorTest, RejectsChunksPastThePayload) {
  RangeCursor cursor(0, std::nullopt);
  (void)cursor.StartAttempt();
  EXPECT_THAT(cursor.Accept(0, 11, 10), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(cursor.Accept(0, ~std::uint64_t{0}, 10), StatusIs(StatusCode::kDataLoss));
}

TEST(RangeCursorTest, LoweredEndCutsTheCrossingChunkAndRequestsCancellation) {
  RangeCursor cursor(0, std::nullopt);
  (void)cursor.StartAttempt();  // asks for everything
  BLAZEN_ASSERT_OK_AND_ASSIGN(std::uint64_t take, cursor.Accept(0, 100, 1000));
  EXPECT_EQ(take, 100u);
  cursor.SetEnd(250);  // the rest goes to other streams
  EXPECT_FALSE(cursor.complete());
  BLAZEN_ASSERT_OK_AND_ASSIGN(take, cursor.Accept(100, 100, 1000));
  EXPECT_EQ(take, 100u);
  BLAZEN_ASSERT_OK_AND_ASSIGN(take, cursor.Accept(200, 100, 1000));
  EXPECT_EQ(take, 50u);  // cut at the new end
  EXPECT_TRUE(cursor.complete());
  EXPECT_TRUE(cursor.overshoots());  // the server would keep sending: cancel
}

TEST(RangeCursorTest, ResumeAsksForTheFirstMissingByteOnly) {
  RangeCursor cursor(0, std::nullopt);
  EXPECT_EQ(cursor.StartAttempt(), (StreamRequestRange{0, 0}));
  BLAZEN_EXPECT_OK(cursor.Accept(0, 300, 1000));
  cursor.SetEnd(600);
  // The stream broke: the next attempt asks exactly for [300, 600).
  EXPECT_EQ(cursor.StartAttempt(), (StreamRequestRange{300, 300}));
  EXPECT_FALSE(cursor.overshoots());
  BLAZEN_EXPECT_OK(cursor.Accept(300, 200, 1000));
  // Broke again after 200 more bytes.
  EXPECT_EQ(cursor.StartAttempt(), (StreamRequestRange{500, 100}));
  // A resumed stream that sends past its requested end is a protocol error.
  EXPECT_THAT(cursor.Accept(500, 200, 1000), StatusIs(StatusCode::kDataLoss));
  BLAZEN_EXPECT_OK(cursor.Accept(500, 100, 1000));
  EXPECT_TRUE(cursor.complete());
  EXPECT_EQ(cursor.chunks(), 3u);
}

TEST(RangeCursorTest, SetEndNeverGoesBelowWhatWasReceived) {
  RangeCursor cursor(0, std::nullopt);
  (void)cursor.StartAttempt();
  BLAZEN_EXPECT_OK(cursor.Accept(0, 500, 1000));
  cursor.SetEnd(100);
  EXPECT_EQ(cursor.end(), 500u);
  EXPECT_TRUE(cursor.complete());
}

TEST(ResumeRuleTest, ResumableCodes) {
  EXPECT_TRUE(IsResumableCode(StatusCode::kUnavailable, false));
  EXPECT_TRUE(IsResumableCode(StatusCode::kInternal, false));
  EXPECT_TRUE(IsResumableCode(StatusCode::kUnknown, false));
  EXPECT_TRUE(IsResumableCode(StatusCode::kCancelled, false));
  EXPECT_FALSE(IsResumableCode(StatusCode::kCancelled, true));  // we cancelled it
  EXPECT_FALSE(IsResumableCode(StatusCode::kDeadlineExceeded, false));
  EXPECT_FALSE(IsResumableCode(StatusCode::kNotFound, false));
  EXPECT_FALSE(IsResumableCode(StatusCode::kUnauthenticated, false));
  EXPECT_FALSE(IsResumableCode(StatusCode::kDataLoss, false));
  EXPECT_FALSE(IsResumableCode(StatusCode::kInvalidArgument, false));
}

TEST(ResumeRuleTest, OnlyAfterDataAndWithinTheAttemptBudget) {
  RangeCursor cursor(0, 100, 100);
  (void)cursor.StartAttempt();
  // Nothing received yet: a failure is reported, not retried.
  EXPECT_FALSE(ShouldResume(StatusCode::kUnavailable, false, cursor, 0, 5));
  BLAZEN_EXPECT_OK(cursor.Accept(0, 10, 100));
  EXPECT_TRUE(ShouldResume(StatusCode::kUnavailable, false, cursor, 0, 5));
  EXPECT_TRUE(ShouldResume(StatusCode::kUnavailable, false, cursor, 4, 5));
  EXPECT_FALSE(ShouldResume(StatusCode::kUnavailable, false, cursor, 5, 5));
  EXPECT_FALSE(ShouldResume(StatusCode::kUnavailable, false, cursor, 0, 0));
  EXPECT_FALSE(ShouldResume(StatusCode::kDeadlineExceeded, false, cursor, 0, 5));
}

TEST(ResumeRuleTest, BackoffDoublesAndIsCapped) {
  EXPECT_EQ(ResumeBackoff(1).count(), 20);
  EXPECT_EQ(ResumeBackoff(2).count(), 40);
  EXPECT_EQ(ResumeBackoff(3).count(), 80);
  EXPECT_EQ(ResumeBackoff(100).count(), 1000);
  EXPECT_EQ(ResumeBackoff(0).count(), 20);
}

}  // namespace
}  // namespace blazen::client::detail
