// SPDX-License-Identifier: Apache-2.0
// Status formatting and the code/kind name tables.

#include "core/status.h"

#include <array>
#include <cstdio>
#include <cstdlib>

namespace blazen {
namespace {

constexpr std::array<std::string_view, 17> kCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

constexpr std::array<std::string_view, 12> kKindNames = {
    "unspecified",       "transport",          "encode",
    "envelope_version",  "workflow",           "tls",
    "unknown_step",      "unauthenticated",    "not_found",
    "deadline_exceeded", "resource_exhausted", "invalid_argument",
};

}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  const auto index = static_cast<std::size_t>(code);
  return index < kCodeNames.size() ? kCodeNames[index] : std::string_view("UNKNOWN_CODE");
}

std::string_view ErrorKindName(ErrorKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return index < kKindNames.size() ? kKindNames[index] : kKindNames[0];
}

ErrorKind ErrorKindFromName(std::string_view name) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<ErrorKind>(i);
  }
  return ErrorKind::kUnspecified;
}

Status::Status(StatusCode code, std::string message, ErrorKind kind)
    : code_(code), kind_(kind), message_(std::move(message)) {
  if (code_ == StatusCode::kOk) {
    kind_ = ErrorKind::kUnspecified;
    message_.clear();
  }
}

Status Status::WithKind(ErrorKind kind) const& {
  Status copy = *this;
  return std::move(copy).WithKind(kind);
}

Status Status::WithKind(ErrorKind kind) && {
  if (!ok()) kind_ = kind;
  return std::move(*this);
}

Status Status::WithPrefix(std::string_view prefix) const {
  if (ok()) return *this;
  return Status(code_, std::string(prefix) + message_, kind_);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

std::ostream& operator<<(std::ostream& os, const Status& status) { return os << status.ToString(); }
std::ostream& operator<<(std::ostream& os, StatusCode code) { return os << StatusCodeName(code); }

namespace detail {
void DieOnBadResultAccess(const Status& status) {
  std::fprintf(stderr, "blazen: value() called on a failed Result: %s\n",
               status.ToString().c_str());
  std::abort();
}
}  // namespace detail

}  // namespace blazen
