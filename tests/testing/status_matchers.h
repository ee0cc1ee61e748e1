// SPDX-License-Identifier: Apache-2.0
#pragma once
// gmock matchers and assertion macros for Status / Result, shared by every test suite.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/status.h"

namespace blazen::testing {

inline const Status& GetStatus(const Status& s) { return s; }
template <typename T>
const Status& GetStatus(const Result<T>& r) {
  return r.status();
}

/// Matches a Status or Result whose code is `code`.
MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const Status& s = GetStatus(arg);
  *result_listener << "whose status is " << s.ToString();
  return s.code() == code;
}

/// Matches a Status or Result whose code is `code` and whose message matches `msg_matcher`.
MATCHER_P2(StatusIs, code, msg_matcher,
           "has status code " + ::testing::PrintToString(code) + " and a matching message") {
  const Status& s = GetStatus(arg);
  *result_listener << "whose status is " << s.ToString();
  return s.code() == code &&
         ::testing::ExplainMatchResult(msg_matcher, s.message(), result_listener);
}

/// Matches an OK Status or a Result holding a value.
MATCHER(IsOk, "is OK") {
  const Status& s = GetStatus(arg);
  *result_listener << "whose status is " << s.ToString();
  return s.ok();
}

}  // namespace blazen::testing

#define BLAZEN_ASSERT_OK(expr) ASSERT_THAT((expr), ::blazen::testing::IsOk())
#define BLAZEN_EXPECT_OK(expr) EXPECT_THAT((expr), ::blazen::testing::IsOk())

/// Asserts `rexpr` (a Result) is OK and moves its value into `lhs`.
#define BLAZEN_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                                   \
  BLAZEN_ASSERT_OK_AND_ASSIGN_IMPL_(BLAZEN_STATUS_CONCAT_(blazen_test_result_, __COUNTER__), lhs, \
                                    rexpr)
#define BLAZEN_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                      \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();        \
  lhs = std::move(tmp).value()
