// SPDX-License-Identifier: Apache-2.0
// Status -> HTTP status code and JSON error body.

#include "server/detail/http_status.h"

#include <nlohmann/json.hpp>

#include "core/json.h"

namespace blazen::server::detail {

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kOutOfRange:
      return 416;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorBody(const Status& status) {
  nlohmann::json body = {{"error", status.message()},
                         {"code", std::string(StatusCodeName(status.code()))}};
  if (status.kind() != ErrorKind::kUnspecified) {
    body["kind"] = std::string(ErrorKindName(status.kind()));
  }
  return DumpJson(body);
}

}  // namespace blazen::server::detail
