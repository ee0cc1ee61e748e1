// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one mapping between blazen::Status and an HTTP answer of the HTTP/JSON transport, both
// directions, shared by the server (HttpStatusOf, ErrorBody) and the client (StatusFromHttp). The
// body keeps upstream's shape (`{"error": "<message>"}`, which upstream's HttpPeerClient reads) and
// adds the canonical code and the ErrorKind so our client raises the exact PeerError subclass.
// Transport-free: plain integers and JSON text, no HTTP library.

#include <string>

#include "core/status.h"

namespace blazen {

/// HTTP status of a failed `status`: INVALID_ARGUMENT 400, UNAUTHENTICATED 401,
/// PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS/ABORTED 409, FAILED_PRECONDITION 412
/// (a newer envelope version), OUT_OF_RANGE 416, RESOURCE_EXHAUSTED 429, CANCELLED 499,
/// UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, anything else 500. OK is 200.
[[nodiscard]] int HttpStatusOf(const Status& status);

/// `{"error":"<message>","code":"NOT_FOUND","kind":"unknown_step"}` (`kind` only when one is
/// attached to `status`).
[[nodiscard]] std::string ErrorBody(const Status& status);

/// The canonical code an HTTP status stands for when the body names none (400 kInvalidArgument,
/// 401 kUnauthenticated, 404 kNotFound, 412 kFailedPrecondition, 413/429 kResourceExhausted,
/// 503 kUnavailable, 504 kDeadlineExceeded, ...; other 4xx kInvalidArgument, other 5xx kInternal).
[[nodiscard]] StatusCode CodeOfHttp(int http_status);

/// A non-2xx answer to `path` as a Status: our error body (`{"error", "code", "kind"}`) gives the
/// message, code and kind; an upstream-style body only `error` (the code then comes from the HTTP
/// status); anything else is quoted as text (upstream's client does the same). A precondition
/// failure about the envelope version gets ErrorKind::kEnvelopeVersion. The inverse of
/// HttpStatusOf + ErrorBody. Thread-safe.
[[nodiscard]] Status StatusFromHttp(int http_status, const std::string& path,
                                    const std::string& body);

}  // namespace blazen
