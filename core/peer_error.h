// SPDX-License-Identifier: Apache-2.0
#pragma once
// PeerError: the exceptions of the public edges (C++ client, Python). Internal code returns Status;
// the edges call ThrowIfError / ValueOrThrow, which map a Status to exactly one subclass here. This
// is the only Status -> exception mapping in the project.

#include <stdexcept>
#include <string>
#include <utility>

#include "core/status.h"

namespace blazen {

/// Base of every exception the public API throws. Carries the canonical code and the kind, so
/// callers branch on types or codes, never on `what()`. Thread-compatible.
class PeerError : public std::runtime_error {
 public:
  PeerError(ErrorKind kind, StatusCode code, std::string message);

  [[nodiscard]] ErrorKind kind() const { return kind_; }
  [[nodiscard]] StatusCode code() const { return code_; }
  /// The message without the kind's display prefix.
  [[nodiscard]] const std::string& message() const { return message_; }
  /// Back to a Status (code, message and kind preserved).
  [[nodiscard]] Status ToStatus() const { return Status(code_, message_, kind_); }

 private:
  ErrorKind kind_;
  StatusCode code_;
  std::string message_;
};

#define BLAZEN_DECLARE_PEER_ERROR_(Name, Kind)                      \
  class Name : public PeerError {                                   \
   public:                                                          \
    Name(StatusCode code, std::string message)                      \
        : PeerError(ErrorKind::Kind, code, std::move(message)) {}   \
  }

/// The call could not be carried out: connection, RPC or protocol failure, or any failure that has
/// no more specific class. `what()` reads `transport error: ...`.
BLAZEN_DECLARE_PEER_ERROR_(TransportError, kTransport);
/// Encoding or decoding a wire payload failed. `what()` reads `postcard encoding failed: ...`.
BLAZEN_DECLARE_PEER_ERROR_(EncodeError, kEncode);
/// The other side speaks a newer envelope version (FAILED_PRECONDITION).
BLAZEN_DECLARE_PEER_ERROR_(EnvelopeVersionError, kEnvelopeVersion);
/// The sub-workflow ran and failed (`response.error` was set). `what()`: `blazen workflow error: ...`.
BLAZEN_DECLARE_PEER_ERROR_(WorkflowError, kWorkflow);
/// Certificates or keys could not be loaded or used. `what()`: `TLS configuration error: ...`.
BLAZEN_DECLARE_PEER_ERROR_(TlsError, kTls);
/// A requested step id is not registered on the peer (NOT_FOUND).
BLAZEN_DECLARE_PEER_ERROR_(UnknownStepError, kUnknownStep);
/// Missing or wrong bearer token, or a rejected client certificate (UNAUTHENTICATED).
BLAZEN_DECLARE_PEER_ERROR_(UnauthenticatedError, kUnauthenticated);
/// A session ref, workflow or other named entity does not exist (NOT_FOUND).
BLAZEN_DECLARE_PEER_ERROR_(NotFoundError, kNotFound);
/// The deadline passed before the operation completed (DEADLINE_EXCEEDED).
BLAZEN_DECLARE_PEER_ERROR_(DeadlineExceededError, kDeadlineExceeded);
/// A capacity limit (refs, bytes, queue, pool) was reached (RESOURCE_EXHAUSTED).
BLAZEN_DECLARE_PEER_ERROR_(ResourceExhaustedError, kResourceExhausted);
/// The caller's input was rejected (INVALID_ARGUMENT), e.g. input that is not JSON.
BLAZEN_DECLARE_PEER_ERROR_(InvalidArgumentError, kInvalidArgument);

#undef BLAZEN_DECLARE_PEER_ERROR_

/// The kind a failed status maps to: its attached kind, else one derived from its code
/// (UNAUTHENTICATED/PERMISSION_DENIED -> kUnauthenticated, NOT_FOUND -> kNotFound,
/// DEADLINE_EXCEEDED -> kDeadlineExceeded, RESOURCE_EXHAUSTED -> kResourceExhausted,
/// INVALID_ARGUMENT -> kInvalidArgument, anything else -> kTransport).
[[nodiscard]] ErrorKind PeerErrorKindOf(const Status& status);

/// Throws the PeerError subclass for `status` (which must not be OK; OK is a bug -> TransportError
/// with kInternal).
[[noreturn]] void ThrowPeerError(const Status& status);

/// Throws when `status` is not OK.
inline void ThrowIfError(const Status& status) {
  if (!status.ok()) ThrowPeerError(status);
}

/// Returns the value of `result` or throws its failure.
template <typename T>
T ValueOrThrow(Result<T> result) {
  if (!result.ok()) ThrowPeerError(result.status());
  return std::move(result).value();
}

}  // namespace blazen
