// SPDX-License-Identifier: Apache-2.0
// Status <-> HTTP status code and JSON error body, both directions.

#include "core/http_status.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "core/json.h"

namespace blazen {
namespace {

std::optional<StatusCode> CodeFromName(std::string_view name) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == name) return static_cast<StatusCode>(c);
  }
  return std::nullopt;
}

}  // namespace

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

StatusCode CodeOfHttp(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAborted;
    case 412:
      return StatusCode::kFailedPrecondition;
    case 413:
    case 429:
      return StatusCode::kResourceExhausted;
    case 416:
      return StatusCode::kOutOfRange;
    case 499:
      return StatusCode::kCancelled;
    case 501:
      return StatusCode::kUnimplemented;
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      return http_status >= 400 && http_status < 500 ? StatusCode::kInvalidArgument
                                                     : StatusCode::kInternal;
  }
}

Status StatusFromHttp(int http_status, const std::string& path, const std::string& body) {
  StatusCode code = CodeOfHttp(http_status);
  ErrorKind kind = ErrorKind::kUnspecified;
  std::string message;
  Result<nlohmann::json> parsed = ParseJson(body);
  if (parsed.ok() && parsed->is_object() && parsed->contains("error") &&
      (*parsed)["error"].is_string()) {
    message = (*parsed)["error"].get<std::string>();
    if (auto it = parsed->find("code"); it != parsed->end() && it->is_string()) {
      const std::optional<StatusCode> named = CodeFromName(it->get<std::string>());
      if (named && *named != StatusCode::kOk) code = *named;
    }
    if (auto it = parsed->find("kind"); it != parsed->end() && it->is_string()) {
      kind = ErrorKindFromName(it->get<std::string>());
    }
  } else {
    message = "HTTP " + std::to_string(http_status) + " from " + path + ": " + body;
  }
  if (kind == ErrorKind::kUnspecified && code == StatusCode::kFailedPrecondition &&
      message.find("envelope version") != std::string::npos) {
    kind = ErrorKind::kEnvelopeVersion;
  }
  return Status(code, std::move(message), kind);
}

}  // namespace blazen
