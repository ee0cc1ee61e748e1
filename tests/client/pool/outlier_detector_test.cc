// SPDX-License-Identifier: Apache-2.0
// OutlierDetector with an injected clock: ejection by consecutive failures and by failure rate,
// the doubling backoff and half-open re-admission, the cap on the ejected share; RetryBudget.

#include "client/pool/outlier_detector.h"

#include <gtest/gtest.h>

#include <thread>

#include "client/pool/retry_budget.h"

namespace blazen::client::pool {
namespace {

using namespace std::chrono_literals;

class OutlierDetectorTest : public ::testing::Test {
 protected:
  OutlierDetector Make(OutlierOptions options) {
    return OutlierDetector(options, [this] { return OutlierDetector::Clock::time_point(now_); });
  }
  std::chrono::milliseconds now_{0};
};

TEST_F(OutlierDetectorTest, EjectsAfterConsecutiveFailuresAndReadmitsAfterTheBackoff) {
  OutlierOptions options;
  options.consecutive_failures = 3;
  options.base_ejection = 100ms;
  options.max_ejection = 350ms;
  OutlierDetector detector = Make(options);
  detector.SetPeers({"a", "b", "c", "d"});
  EXPECT_FALSE(detector.RecordFailure("a"));
  EXPECT_FALSE(detector.RecordFailure("a"));
  detector.RecordSuccess("a");  // a success resets the count
  EXPECT_FALSE(detector.RecordFailure("a"));
  EXPECT_FALSE(detector.RecordFailure("a"));
  EXPECT_TRUE(detector.RecordFailure("a"));
  EXPECT_TRUE(detector.IsEjected("a"));
  EXPECT_EQ(detector.Ejected(), std::vector<std::string>{"a"});
  EXPECT_EQ(detector.NextReadmission(), OutlierDetector::Clock::time_point(100ms));

  now_ = 100ms;  // the backoff ended: half-open
  EXPECT_FALSE(detector.IsEjected("a"));
  EXPECT_TRUE(detector.RecordFailure("a"));  // one failure while half-open ejects again
  EXPECT_EQ(detector.NextReadmission(), OutlierDetector::Clock::time_point(300ms));  // doubled
  now_ = 300ms;
  EXPECT_TRUE(detector.RecordFailure("a"));
  EXPECT_EQ(detector.NextReadmission(), OutlierDetector::Clock::time_point(650ms));  // capped 350
  now_ = 650ms;
  EXPECT_TRUE(detector.RecordSuccess("a"));   // half-open success: back for good
  EXPECT_FALSE(detector.RecordFailure("a"));  // history cleared: three failures needed again
  EXPECT_FALSE(detector.RecordFailure("a"));
  EXPECT_TRUE(detector.RecordFailure("a"));
  EXPECT_EQ(detector.NextReadmission(), OutlierDetector::Clock::time_point(750ms));  // base again
  EXPECT_EQ(detector.ejections(), 4u);
}

TEST_F(OutlierDetectorTest, EjectsOnAFailureRateOverTheWindow) {
  OutlierOptions options;
  options.consecutive_failures = 0;
  options.failure_rate = 0.5;
  options.failure_rate_min_calls = 10;
  options.failure_rate_window = 1000ms;
  OutlierDetector detector = Make(options);
  detector.SetPeers({"a", "b"});
  // Alternating outcomes: 50% failures, ejected once 10 calls are in the window.
  bool ejected = false;
  int calls = 0;
  while (!ejected && calls < 20) {
    detector.RecordSuccess("a");
    ++calls;
    ejected = detector.RecordFailure("a");
    ++calls;
  }
  EXPECT_TRUE(ejected);
  EXPECT_EQ(calls, 10);
  // Below the rate: never.
  for (int i = 0; i < 100; ++i) {
    detector.RecordSuccess("b");
    detector.RecordSuccess("b");
    EXPECT_FALSE(detector.RecordFailure("b"));
  }
}

TEST_F(OutlierDetectorTest, NeverEjectsMoreThanTheCap) {
  OutlierOptions options;
  options.consecutive_failures = 1;
  options.max_ejected_share = 0.5;
  OutlierDetector detector = Make(options);
  detector.SetPeers({"a", "b", "c", "d", "e"});
  int ejected = 0;
  for (const char* key : {"a", "b", "c", "d", "e"}) ejected += detector.RecordFailure(key) ? 1 : 0;
  EXPECT_EQ(ejected, 2);  // floor(0.5 * 5)
  OutlierDetector lone = Make(options);
  lone.SetPeers({"only"});
  EXPECT_FALSE(lone.RecordFailure("only"));  // a lone peer is never ejected
  EXPECT_FALSE(lone.IsEjected("only"));
}

TEST_F(OutlierDetectorTest, ForgetsPeersThatLeaveAndIgnoresUnknownKeys) {
  OutlierOptions options;
  options.consecutive_failures = 1;
  OutlierDetector detector = Make(options);
  detector.SetPeers({"a", "b", "c"});
  EXPECT_TRUE(detector.RecordFailure("a"));
  detector.SetPeers({"b", "c"});
  EXPECT_FALSE(detector.IsEjected("a"));
  EXPECT_FALSE(detector.RecordFailure("zzz"));
  EXPECT_TRUE(detector.Ejected().empty());
}

TEST(RetryBudgetTest, RetriesAreBoundedByTheRatioPlusTheBurst) {
  RetryOptions options;
  options.ratio = 0.1;
  options.max_tokens = 3;
  RetryBudget budget(options);
  int retries = 0;
  for (int i = 0; i < 1000; ++i) {
    budget.OnRequest();
    if (budget.TryRetry()) ++retries;
  }
  // 1000 requests deposit 100 tokens; 3 more at start; the bound is exact within a token.
  EXPECT_LE(retries, 103);
  EXPECT_GE(retries, 99);
  EXPECT_LT(budget.tokens(), 1.0);
}

TEST(RetryBudgetTest, TheBalanceNeverExceedsTheBurstAndIsThreadSafe) {
  RetryOptions options;
  options.ratio = 0.5;
  options.max_tokens = 4;
  RetryBudget budget(options);
  for (int i = 0; i < 100; ++i) budget.OnRequest();
  EXPECT_DOUBLE_EQ(budget.tokens(), 4.0);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) granted += budget.TryRetry() ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 4);
}

}  // namespace
}  // namespace blazen::client::pool
