// SPDX-License-Identifier: Apache-2.0
#pragma once
// Status and Result<T>: how every internal component (core, gpu, kernels, server handlers) reports
// failure. Codes are numbered exactly like gRPC's canonical codes, so the transport mapping is one
// table. Only public edges (client, Python) turn a Status into a PeerError exception.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace blazen {

/// Canonical status codes, numerically identical to gRPC's `grpc::StatusCode`.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

/// Returns the canonical upper-case name of `code` ("NOT_FOUND", ...), as gRPC spells it.
[[nodiscard]] std::string_view StatusCodeName(StatusCode code);

/// Which `PeerError` subclass a failure becomes at a public edge. Most failures are fully described
/// by their code; a kind refines the ones that share a code (a NOT_FOUND that is an unknown step, a
/// FAILED_PRECONDITION that is an envelope-version mismatch, ...). `kUnspecified` means "derive the
/// kind from the code" (see `peer_error.h`).
enum class ErrorKind : std::uint8_t {
  kUnspecified = 0,
  kTransport,
  kEncode,
  kEnvelopeVersion,
  kWorkflow,
  kTls,
  kUnknownStep,
  kUnauthenticated,
  kNotFound,
  kDeadlineExceeded,
  kResourceExhausted,
  kInvalidArgument,
};

/// Stable lower_snake name of `kind` ("unknown_step", ...); used in trailing metadata and JSON.
[[nodiscard]] std::string_view ErrorKindName(ErrorKind kind);
/// Inverse of ErrorKindName; unknown names give kUnspecified.
[[nodiscard]] ErrorKind ErrorKindFromName(std::string_view name);

/// The outcome of an operation: a code, a human-readable message and an optional ErrorKind.
/// An OK status has an empty message and costs no allocation. Value type; thread-compatible.
class [[nodiscard]] Status {
 public:
  /// OK.
  Status() = default;
  /// A status with `code` and `message`. A kOk code always yields a plain OK (message dropped).
  Status(StatusCode code, std::string message, ErrorKind kind = ErrorKind::kUnspecified);

  static Status Ok() { return Status(); }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Unknown(std::string msg) { return {StatusCode::kUnknown, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status DeadlineExceeded(std::string msg) {
    return {StatusCode::kDeadlineExceeded, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
  static Status OutOfRange(std::string msg) { return {StatusCode::kOutOfRange, std::move(msg)}; }
  static Status Unimplemented(std::string msg) {
    return {StatusCode::kUnimplemented, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {StatusCode::kUnauthenticated, std::move(msg)};
  }

  [[nodiscard]] bool ok() const { return code_ == StatusCode::kOk; }
  [[nodiscard]] StatusCode code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  /// The explicitly attached kind (kUnspecified when none was attached).
  [[nodiscard]] ErrorKind kind() const { return kind_; }

  /// Returns a copy with `kind` attached (no effect on an OK status).
  [[nodiscard]] Status WithKind(ErrorKind kind) const&;
  [[nodiscard]] Status WithKind(ErrorKind kind) &&;
  /// Returns a copy whose message is `prefix + message()` (no effect on an OK status).
  [[nodiscard]] Status WithPrefix(std::string_view prefix) const;

  /// "OK" or "NOT_FOUND: message".
  [[nodiscard]] std::string ToString() const;

  /// Explicitly ignores a status (for best-effort calls whose failure is acceptable).
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.kind_ == b.kind_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  ErrorKind kind_ = ErrorKind::kUnspecified;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);
std::ostream& operator<<(std::ostream& os, StatusCode code);

/// Either a value of type T or a non-OK Status. Value type; thread-compatible.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cvref_t<T>, Status>, "Result<Status> is not allowed");

 public:
  /// A failed result. `status` must not be OK; an OK status becomes kInternal (a bug of ours).
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status");
  }
  /// A successful result holding `value`.
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  template <typename U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
             !std::is_same_v<std::remove_cvref_t<U>, Status> &&
             !std::is_same_v<std::remove_cvref_t<U>, Result>)
  Result(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return value_.has_value(); }
  /// OK when a value is held, else the failure.
  [[nodiscard]] const Status& status() const { return status_; }

  /// The held value. Calling these on a failed result aborts the process (a bug of the caller).
  [[nodiscard]] T& value() & { return CheckedValue(), *value_; }
  [[nodiscard]] const T& value() const& { return CheckedValue(), *value_; }
  [[nodiscard]] T&& value() && { return CheckedValue(), std::move(*value_); }
  [[nodiscard]] T& operator*() & { return value(); }
  [[nodiscard]] const T& operator*() const& { return value(); }
  [[nodiscard]] T&& operator*() && { return std::move(*this).value(); }
  [[nodiscard]] T* operator->() { return &value(); }
  [[nodiscard]] const T* operator->() const { return &value(); }

  /// The value if held, else `fallback`.
  template <typename U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void CheckedValue() const;

  std::optional<T> value_;
  Status status_;
};

namespace detail {
[[noreturn]] void DieOnBadResultAccess(const Status& status);
}  // namespace detail

template <typename T>
void Result<T>::CheckedValue() const {
  if (!value_.has_value()) detail::DieOnBadResultAccess(status_);
}

namespace detail {
inline const Status& ToStatus(const Status& s) { return s; }
template <typename T>
const Status& ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace detail

}  // namespace blazen

#define BLAZEN_STATUS_CONCAT_INNER_(a, b) a##b
#define BLAZEN_STATUS_CONCAT_(a, b) BLAZEN_STATUS_CONCAT_INNER_(a, b)

/// Evaluates `expr` (a Status or Result) and returns its Status from the current function if it is
/// not OK.
#define BLAZEN_RETURN_IF_ERROR(expr)                                                 \
  do {                                                                               \
    auto&& blazen_status_or_result_ = (expr);                                        \
    if (!blazen_status_or_result_.ok()) {                                            \
      return ::blazen::detail::ToStatus(blazen_status_or_result_);                  \
    }                                                                                \
  } while (false)

/// Evaluates `rexpr` (a Result<T>); on failure returns its Status, otherwise moves the value into
/// `lhs` (which may be a declaration such as `auto x`).
#define BLAZEN_ASSIGN_OR_RETURN(lhs, rexpr) \
  BLAZEN_ASSIGN_OR_RETURN_IMPL_(BLAZEN_STATUS_CONCAT_(blazen_result_, __COUNTER__), lhs, rexpr)

#define BLAZEN_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                                  \
  if (!result.ok()) return std::move(result).status();    \
  lhs = std::move(result).value()
