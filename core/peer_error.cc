// SPDX-License-Identifier: Apache-2.0
// The one Status -> PeerError mapping.

#include "core/peer_error.h"

namespace blazen {
namespace {

// Display prefixes follow upstream's PeerError Display, minus its misleading "tonic" prefix on
// every remote failure (spec section 9.13).
std::string Display(ErrorKind kind, const std::string& message) {
  switch (kind) {
    case ErrorKind::kTransport:
      return "transport error: " + message;
    case ErrorKind::kEncode:
      return "postcard encoding failed: " + message;
    case ErrorKind::kWorkflow:
      return "blazen workflow error: " + message;
    case ErrorKind::kTls:
      return "TLS configuration error: " + message;
    default:
      return message;
  }
}

}  // namespace

PeerError::PeerError(ErrorKind kind, StatusCode code, std::string message)
    : std::runtime_error(Display(kind, message)),
      kind_(kind),
      code_(code),
      message_(std::move(message)) {}

ErrorKind PeerErrorKindOf(const Status& status) {
  if (status.kind() != ErrorKind::kUnspecified) return status.kind();
  switch (status.code()) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return ErrorKind::kUnauthenticated;
    case StatusCode::kNotFound:
      return ErrorKind::kNotFound;
    case StatusCode::kDeadlineExceeded:
      return ErrorKind::kDeadlineExceeded;
    case StatusCode::kResourceExhausted:
      return ErrorKind::kResourceExhausted;
    case StatusCode::kInvalidArgument:
      return ErrorKind::kInvalidArgument;
    default:
      return ErrorKind::kTransport;
  }
}

void ThrowPeerError(const Status& status) {
  if (status.ok()) {
    throw TransportError(StatusCode::kInternal, "ThrowPeerError called with an OK status");
  }
  const StatusCode code = status.code();
  const std::string& msg = status.message();
  switch (PeerErrorKindOf(status)) {
    case ErrorKind::kEncode:
      throw EncodeError(code, msg);
    case ErrorKind::kEnvelopeVersion:
      throw EnvelopeVersionError(code, msg);
    case ErrorKind::kWorkflow:
      throw WorkflowError(code, msg);
    case ErrorKind::kTls:
      throw TlsError(code, msg);
    case ErrorKind::kUnknownStep:
      throw UnknownStepError(code, msg);
    case ErrorKind::kUnauthenticated:
      throw UnauthenticatedError(code, msg);
    case ErrorKind::kNotFound:
      throw NotFoundError(code, msg);
    case ErrorKind::kDeadlineExceeded:
      throw DeadlineExceededError(code, msg);
    case ErrorKind::kResourceExhausted:
      throw ResourceExhaustedError(code, msg);
    case ErrorKind::kInvalidArgument:
      throw InvalidArgumentError(code, msg);
    case ErrorKind::kTransport:
    case ErrorKind::kUnspecified:
      break;
  }
  throw TransportError(code, msg);
}

}  // namespace blazen
