// SPDX-License-Identifier: Apache-2.0
// The HTTP <-> Status mapping both ways: every code and kind survives the trip through an HTTP
// status and our error body; upstream-style bodies and non-JSON bodies map from the HTTP status.

#include "core/http_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace blazen {
namespace {

using ::testing::HasSubstr;

TEST(HttpStatusTest, EveryCodeAndKindRoundTrips) {
  for (int c = 1; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    for (int k = 0; k <= static_cast<int>(ErrorKind::kInvalidArgument); ++k) {
      const Status sent(static_cast<StatusCode>(c), "message \"quoted\" \xc3\xa9",
                        static_cast<ErrorKind>(k));
      const int http = HttpStatusOf(sent);
      EXPECT_GE(http, 400) << sent;
      const Status got = StatusFromHttp(http, "/v1/peer/x", ErrorBody(sent));
      EXPECT_EQ(got.code(), sent.code()) << sent;
      EXPECT_EQ(got.kind(), sent.kind()) << sent;
      EXPECT_EQ(got.message(), sent.message());
    }
  }
  EXPECT_EQ(HttpStatusOf(Status::Ok()), 200);
}

TEST(HttpStatusTest, TheStatusesUsersExpect) {
  EXPECT_EQ(HttpStatusOf(Status::InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusOf(Status::Unauthenticated("x")), 401);
  EXPECT_EQ(HttpStatusOf(Status::NotFound("x")), 404);
  EXPECT_EQ(HttpStatusOf(Status::FailedPrecondition("x")), 412);
  EXPECT_EQ(HttpStatusOf(Status::OutOfRange("x")), 416);
  EXPECT_EQ(HttpStatusOf(Status::ResourceExhausted("x")), 429);
  EXPECT_EQ(HttpStatusOf(Status::Unavailable("x")), 503);
  EXPECT_EQ(HttpStatusOf(Status::DeadlineExceeded("x")), 504);
  EXPECT_EQ(HttpStatusOf(Status::Internal("x")), 500);
}

TEST(HttpStatusTest, UpstreamAndForeignBodiesMapFromTheHttpStatus) {
  Status upstream = StatusFromHttp(404, "/p", R"({"error": "session ref x not found"})");
  EXPECT_EQ(upstream.code(), StatusCode::kNotFound);
  EXPECT_EQ(upstream.message(), "session ref x not found");
  Status envelope = StatusFromHttp(412, "/p", R"({"error": "envelope version 9 is newer"})");
  EXPECT_EQ(envelope.kind(), ErrorKind::kEnvelopeVersion);
  Status text = StatusFromHttp(502, "/v1/peer/invoke_sub_workflow", "<html>bad gateway</html>");
  EXPECT_EQ(text.code(), StatusCode::kUnavailable);
  EXPECT_THAT(text.message(), HasSubstr("HTTP 502 from /v1/peer/invoke_sub_workflow"));
  EXPECT_EQ(StatusFromHttp(418, "/p", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromHttp(599, "/p", "").code(), StatusCode::kInternal);
  Status bogus_code = StatusFromHttp(400, "/p", R"({"error": "e", "code": "NOPE"})");
  EXPECT_EQ(bogus_code.code(), StatusCode::kInvalidArgument) << "an unknown code name is ignored";
}

}  // namespace
}  // namespace blazen
