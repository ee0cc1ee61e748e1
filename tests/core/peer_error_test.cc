// SPDX-License-Identifier: Apache-2.0
// The one Status -> PeerError mapping of the public edges.

#include "core/peer_error.h"

#include <gtest/gtest.h>

#include "core/envelope.h"

namespace blazen {
namespace {

template <typename E>
void ExpectThrows(const Status& status, ErrorKind kind) {
  try {
    ThrowIfError(status);
    FAIL() << "no exception for " << status;
  } catch (const E& e) {
    EXPECT_EQ(e.kind(), kind);
    EXPECT_EQ(e.code(), status.code());
    EXPECT_EQ(e.message(), status.message());
    EXPECT_EQ(e.ToStatus().code(), status.code());
  } catch (const std::exception& e) {
    FAIL() << "wrong exception type for " << status << ": " << e.what();
  }
}

TEST(PeerErrorTest, OkDoesNotThrow) { EXPECT_NO_THROW(ThrowIfError(Status::Ok())); }

TEST(PeerErrorTest, CodesMapToSubclasses) {
  ExpectThrows<UnauthenticatedError>(Status::Unauthenticated("token mismatch"),
                                     ErrorKind::kUnauthenticated);
  ExpectThrows<UnauthenticatedError>(Status::PermissionDenied("no"), ErrorKind::kUnauthenticated);
  ExpectThrows<NotFoundError>(Status::NotFound("session ref x not found"), ErrorKind::kNotFound);
  ExpectThrows<DeadlineExceededError>(Status::DeadlineExceeded("late"),
                                      ErrorKind::kDeadlineExceeded);
  ExpectThrows<ResourceExhaustedError>(Status::ResourceExhausted("full"),
                                       ErrorKind::kResourceExhausted);
  ExpectThrows<InvalidArgumentError>(Status::InvalidArgument("bad"), ErrorKind::kInvalidArgument);
  ExpectThrows<TransportError>(Status::Unavailable("connection refused"), ErrorKind::kTransport);
  ExpectThrows<TransportError>(Status::Internal("oops"), ErrorKind::kTransport);
}

TEST(PeerErrorTest, AttachedKindsWin) {
  ExpectThrows<UnknownStepError>(
      Status(StatusCode::kNotFound, "unknown step id `x`", ErrorKind::kUnknownStep),
      ErrorKind::kUnknownStep);
  ExpectThrows<EnvelopeVersionError>(CheckEnvelopeVersion(2), ErrorKind::kEnvelopeVersion);
  ExpectThrows<TlsError>(Status(StatusCode::kInvalidArgument, "bad cert", ErrorKind::kTls),
                         ErrorKind::kTls);
  ExpectThrows<EncodeError>(Status(StatusCode::kInvalidArgument, "x", ErrorKind::kEncode),
                            ErrorKind::kEncode);
  ExpectThrows<WorkflowError>(Status(StatusCode::kUnknown, "step failed", ErrorKind::kWorkflow),
                              ErrorKind::kWorkflow);
}

TEST(PeerErrorTest, EverySubclassIsAPeerError) {
  EXPECT_THROW(ThrowIfError(Status::NotFound("x")), PeerError);
  EXPECT_THROW(ThrowIfError(Status::Unavailable("x")), PeerError);
}

TEST(PeerErrorTest, DisplayTexts) {
  EXPECT_STREQ(TransportError(StatusCode::kUnavailable, "refused").what(),
               "transport error: refused");
  EXPECT_STREQ(TlsError(StatusCode::kInvalidArgument, "x").what(), "TLS configuration error: x");
  EXPECT_STREQ(WorkflowError(StatusCode::kUnknown, "y").what(), "blazen workflow error: y");
  EXPECT_STREQ(EncodeError(StatusCode::kInvalidArgument, "z").what(),
               "postcard encoding failed: z");
  EXPECT_STREQ(UnknownStepError(StatusCode::kNotFound, "unknown step id `s`").what(),
               "unknown step id `s`");
}

TEST(PeerErrorTest, ValueOrThrow) {
  EXPECT_EQ(ValueOrThrow(Result<int>(3)), 3);
  EXPECT_THROW((void)ValueOrThrow(Result<int>(Status::NotFound("x"))), NotFoundError);
}

TEST(EnvelopeTest, NewerRefusedOlderAccepted) {
  EXPECT_TRUE(CheckEnvelopeVersion(0).ok());
  EXPECT_TRUE(CheckEnvelopeVersion(1).ok());
  const Status s = CheckEnvelopeVersion(2);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "envelope version 2 is newer than supported 1");
  EXPECT_EQ(CheckEnvelopeVersion(4294967295u).message(),
            "envelope version 4294967295 is newer than supported 1");
}

}  // namespace
}  // namespace blazen
