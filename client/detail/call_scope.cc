// SPDX-License-Identifier: Apache-2.0
// CancelScope, CallScope and the printable-ASCII rule shared by the gRPC and HTTP clients.

#include "client/detail/call_scope.h"

#include <algorithm>
#include <utility>

#include "core/peer_error.h"
#include "core/status.h"

namespace blazen::client::detail {
namespace {

Status CancelledByCaller() { return Status::Cancelled("call cancelled by the caller"); }

}  // namespace

bool IsPrintableAscii(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

void RequirePrintableAscii(std::string_view what, std::string_view value,
                           std::string_view carrier) {
  if (!IsPrintableAscii(value)) {
    throw InvalidArgumentError(
        StatusCode::kInvalidArgument,
        std::string(what) + " must be printable ASCII to travel in " + std::string(carrier));
  }
}

// --- CancelScope ---------------------------------------------------------------------------------

CancelScope::CancelScope(std::shared_ptr<CallCancel> cancel) : cancel_(std::move(cancel)) {}

CancelScope::CancelScope(std::shared_ptr<CallCancel> cancel, std::function<void()> on_cancel)
    : CancelScope(std::move(cancel)) {
  Watch(std::move(on_cancel));
}

CancelScope::~CancelScope() {
  if (registered_) cancel_->Unregister(id_);
}

void CancelScope::Watch(std::function<void()> on_cancel) {
  if (!cancel_) return;
  if (registered_) cancel_->Unregister(id_);
  id_ = cancel_->Register(std::move(on_cancel));
  registered_ = true;
}

// --- CallScope -----------------------------------------------------------------------------------

CallScope::CallScope(const CallOptions& call)
    : call_(call),
      deadline_(call.deadline ? std::optional(Clock::now() + *call.deadline) : std::nullopt),
      cancel_(call.cancel) {
  if (call_.parent_run_id) {
    RequirePrintableAscii("parent run id", *call_.parent_run_id, "an HTTP header");
  }
  if (call_.cancel && call_.cancel->cancelled()) ThrowPeerError(CancelledByCaller());
}

void CallScope::Watch(std::function<void()> stop) { cancel_.Watch(std::move(stop)); }

std::chrono::milliseconds CallScope::Timeout(std::chrono::milliseconds fallback) const {
  if (!deadline_) return fallback;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now());
  return std::clamp(left, std::chrono::milliseconds(1), fallback);
}

void CallScope::ThrowIfInterrupted(const std::string& what) const {
  if (call_.cancel && call_.cancel->cancelled()) ThrowPeerError(CancelledByCaller());
  // httplib's timeouts may fire a few milliseconds before the deadline they were cut to.
  if (deadline_ && Clock::now() + std::chrono::milliseconds(50) >= *deadline_) {
    ThrowPeerError(Status::DeadlineExceeded(
        what + ": deadline of " + std::to_string(call_.deadline->count()) + " ms exceeded"));
  }
}

}  // namespace blazen::client::detail
