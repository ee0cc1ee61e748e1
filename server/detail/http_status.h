// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one mapping from blazen::Status to an HTTP response of the HTTP/JSON transport: the HTTP
// status code a user would expect and the JSON error body. The body keeps upstream's shape
// (`{"error": "<message>"}`, which upstream's HttpPeerClient reads) and adds the canonical code
// and the ErrorKind so our client can raise the exact PeerError subclass.

#include <string>

#include "core/status.h"

namespace blazen::server::detail {

/// HTTP status of a failed `status`: INVALID_ARGUMENT 400, UNAUTHENTICATED 401,
/// PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS/ABORTED 409, FAILED_PRECONDITION 412
/// (a newer envelope version), OUT_OF_RANGE 416, RESOURCE_EXHAUSTED 429, CANCELLED 499,
/// UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, anything else 500. OK is 200.
[[nodiscard]] int HttpStatusOf(const Status& status);

/// `{"error":"<message>","code":"NOT_FOUND","kind":"unknown_step"}` (`kind` only when one is
/// attached to `status`).
[[nodiscard]] std::string ErrorBody(const Status& status);

}  // namespace blazen::server::detail
