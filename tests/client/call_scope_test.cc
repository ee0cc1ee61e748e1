// SPDX-License-Identifier: Apache-2.0
// What both clients do around a call (client/detail/call_scope.h): the printable-ASCII rule for
// metadata and headers, CancelScope's registration lifetime, and CallScope's deadline and cancel.

#include "client/detail/call_scope.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/peer_client_interface.h"
#include "core/peer_error.h"

namespace blazen::client::detail {
namespace {

using namespace std::chrono_literals;

TEST(PrintableAsciiTest, OnlySpaceToTildeTravels) {
  EXPECT_TRUE(IsPrintableAscii(""));
  EXPECT_TRUE(IsPrintableAscii(" abc-XYZ_0.9~"));
  const std::vector<std::string> bad_values = {"a\nb", "tab\there", std::string("nul\0", 4),
                                               "del\x7f", "r\xC3\xA9"};
  for (const std::string& bad : bad_values) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsPrintableAscii(bad));
    try {
      RequirePrintableAscii("node id", bad, "an HTTP header");
      ADD_FAILURE() << "accepted";
    } catch (const InvalidArgumentError& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_NO_THROW(RequirePrintableAscii("node id", "parent-1", "call metadata"));
}

TEST(CancelScopeTest, RunsTheWatchedCallbackUntilTheScopeEnds) {
  auto cancel = std::make_shared<CallCancel>();
  int first = 0;
  int second = 0;
  {
    CancelScope scope(cancel, [&first] { ++first; });
    scope.Watch([&second] { ++second; });  // replaces the first callback
    cancel->Cancel();
    EXPECT_EQ(first, 0);
    EXPECT_EQ(second, 1);
  }
  // Unregistered with the scope: a new scope on the cancelled token runs its callback at once,
  // the old ones never again.
  int third = 0;
  {
    CancelScope scope(cancel, [&third] { ++third; });
    EXPECT_EQ(third, 1);
  }
  cancel->Cancel();
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(third, 1);
}

TEST(CancelScopeTest, WithoutACallCancelItDoesNothing) {
  int runs = 0;
  CancelScope scope(nullptr, [&runs] { ++runs; });
  scope.Watch([&runs] { ++runs; });
  EXPECT_EQ(runs, 0);
}

TEST(CallScopeTest, RefusesACancelledCallAndABadParentRunIdUpFront) {
  CallOptions cancelled;
  cancelled.cancel = std::make_shared<CallCancel>();
  cancelled.cancel->Cancel();
  try {
    CallScope scope(cancelled);
    ADD_FAILURE() << "a cancelled call started";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kCancelled);
  }
  CallOptions bad_parent;
  bad_parent.parent_run_id = "run\n1";
  EXPECT_THROW(CallScope scope(bad_parent), InvalidArgumentError);
}

TEST(CallScopeTest, TimeoutsShrinkToTheDeadline) {
  const CallOptions no_deadline;
  const CallScope unbounded(no_deadline);
  EXPECT_EQ(unbounded.Timeout(10s), 10s);
  EXPECT_NO_THROW(unbounded.ThrowIfInterrupted("GET /x"));

  CallOptions call;
  call.deadline = 200ms;
  const CallScope bounded(call);
  EXPECT_LE(bounded.Timeout(10s), 200ms);
  EXPECT_GE(bounded.Timeout(10s), 1ms);
  EXPECT_EQ(bounded.Timeout(5ms), 5ms);
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(bounded.Timeout(10s), 1ms);
  EXPECT_THROW(bounded.ThrowIfInterrupted("GET /x"), DeadlineExceededError);
}

TEST(CallScopeTest, CancelRunsTheWatchedStopAndReportsCancelled) {
  CallOptions call;
  call.cancel = std::make_shared<CallCancel>();
  CallScope scope(call);
  int stops = 0;
  scope.Watch([&stops] { ++stops; });
  EXPECT_NO_THROW(scope.ThrowIfInterrupted("POST /x"));
  call.cancel->Cancel();
  EXPECT_EQ(stops, 1);
  try {
    scope.ThrowIfInterrupted("POST /x");
    ADD_FAILURE() << "no exception";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kCancelled);
  }
}

}  // namespace
}  // namespace blazen::client::detail
