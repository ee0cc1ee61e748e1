// SPDX-License-Identifier: Apache-2.0
#pragma once
// What both clients do around every call before it reaches the wire: refuse values that cannot
// travel in gRPC metadata or an HTTP header (one printable-ASCII rule), tie the call to its
// CallOptions::cancel (CancelScope), and, for transports whose library has no deadline of its own,
// turn CallOptions::deadline into timeouts and a DeadlineExceededError (CallScope).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/peer_client_interface.h"

namespace blazen::client::detail {

/// True when every byte of `value` is printable ASCII (0x20..0x7E), the only bytes that gRPC
/// metadata values and HTTP header values we send may hold. Thread-safe.
[[nodiscard]] bool IsPrintableAscii(std::string_view value);

/// Throws InvalidArgumentError (kInvalidArgument), "<what> must be printable ASCII to travel in
/// <carrier>", when `value` is not printable ASCII. `carrier` names where it would go (e.g. "call
/// metadata", "an HTTP header"). Thread-safe.
void RequirePrintableAscii(std::string_view what, std::string_view value, std::string_view carrier);

/// Ties a call to its CallOptions::cancel for the scope's lifetime: while watched, CallCancel::
/// Cancel() runs the current `on_cancel` (at once when it was already cancelled). Declare it after
/// whatever `on_cancel` touches, so that it unregisters first. Does nothing without a CallCancel.
/// Externally synchronized (one call's thread).
class CancelScope {
 public:
  /// Watches nothing yet (see Watch).
  explicit CancelScope(std::shared_ptr<CallCancel> cancel);
  /// Watches `on_cancel` at once.
  CancelScope(std::shared_ptr<CallCancel> cancel, std::function<void()> on_cancel);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  CancelScope(CancelScope&&) = delete;
  CancelScope& operator=(CancelScope&&) = delete;

  /// Makes Cancel() run `on_cancel` instead of the previously watched callback.
  void Watch(std::function<void()> on_cancel);

 private:
  std::shared_ptr<CallCancel> cancel_;
  bool registered_ = false;
  std::uint64_t id_ = 0;
};

/// One call's CallOptions at work for a transport that enforces them itself (HTTP): checks the
/// per-call parent run id, refuses a call whose CallCancel already fired, shortens timeouts to the
/// deadline, and reports a cancelled or late call as such. Externally synchronized (one call's
/// thread). `call` must outlive the scope.
class CallScope {
 public:
  using Clock = std::chrono::steady_clock;

  /// Throws InvalidArgumentError when `call.parent_run_id` is not printable ASCII ("parent run id
  /// must be printable ASCII to travel in an HTTP header") and TransportError (kCancelled) when
  /// `call.cancel` was already cancelled. The deadline starts now.
  explicit CallScope(const CallOptions& call);
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  CallScope(CallScope&&) = delete;
  CallScope& operator=(CallScope&&) = delete;

  /// Makes CallCancel::Cancel() run `stop` (which interrupts the current connection) until the next
  /// Watch or the end of the scope.
  void Watch(std::function<void()> stop);

  /// `fallback`, shortened to what is left of the deadline (at least 1 ms).
  [[nodiscard]] std::chrono::milliseconds Timeout(std::chrono::milliseconds fallback) const;

  /// Throws TransportError (kCancelled) for a cancelled call and DeadlineExceededError once the
  /// deadline has (nearly) passed; `what` names the request in the message. Called after a failed
  /// request, so that its cause is reported rather than the transport error it produced.
  void ThrowIfInterrupted(const std::string& what) const;

  /// The per-call parent run id (unset: use the client's).
  [[nodiscard]] const std::optional<std::string>& parent_run_id() const {
    return call_.parent_run_id;
  }

 private:
  const CallOptions& call_;
  const std::optional<Clock::time_point> deadline_;
  CancelScope cancel_;
};

}  // namespace blazen::client::detail
