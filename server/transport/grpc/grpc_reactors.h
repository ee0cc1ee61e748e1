// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reactors and guards shared by the BlazenPeer handlers: one catch-all for every handler (an
// exception escaping a callback handler would end the process), a unary reactor that forwards
// client cancellation to a run and finishes at most once, the event-stream writer, and a write
// reactor that only reports an error.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>

#include "blazen/peer/v1/blazen_peer.pb.h"
#include "core/engine.h"
#include "core/status.h"
#include "proto/grpc_status.h"
#include "server/detail/peer_operations.h"

namespace blazen::server::grpc_transport {

/// Finishes a unary call with `status` (adds the error-kind trailer first).
void Reply(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
           const Status& status);

/// The CallMeta of a gRPC call (`transport` "grpc").
[[nodiscard]] detail::CallMeta CallMetaOf(const grpc::CallbackServerContext* context);

/// Adds the peer's load report (`x-blazen-load`) to the call's trailing metadata: every response
/// carries one, so a router learns the load without extra calls.
void AddLoadTrailer(grpc::CallbackServerContext* context, const detail::PeerOperations& ops);

/// A handler whose work ends before it returns: runs `body` (returning Status) under the
/// catch-all and finishes the call with its status and the load trailer.
template <typename Body>
grpc::ServerUnaryReactor* GuardedUnary(grpc::CallbackServerContext* context,
                                       const detail::PeerOperations& ops, Body&& body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const Status status = detail::RunGuarded(std::forward<Body>(body));
  AddLoadTrailer(context, ops);
  Reply(context, reactor, status);
  return reactor;
}

/// A unary reactor for calls that finish later (invocations): forwards client cancellation to the
/// run's token and finishes at most once, so a late failure cannot finish a call twice.
class CancellableUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  CancellableUnaryReactor(grpc::CallbackServerContext* context,
                          std::shared_ptr<CancellationToken> token,
                          std::shared_ptr<const detail::PeerOperations> ops)
      : context_(context), token_(std::move(token)), ops_(std::move(ops)) {}
  /// Finishes the call with `status` and the load trailer unless it was already finished.
  void FinishOnce(const Status& status);
  void OnCancel() override { token_->Cancel(); }
  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext* context_;
  std::shared_ptr<CancellationToken> token_;
  std::shared_ptr<const detail::PeerOperations> ops_;
  std::atomic<bool> finished_{false};
};

/// A write reactor that only reports an error (for failures before streaming starts).
template <typename T>
class ErrorWriteReactor final : public grpc::ServerWriteReactor<T> {
 public:
  ErrorWriteReactor(grpc::CallbackServerContext* context, const Status& status) {
    grpc_util::AddErrorKindTrailer(*context, status);
    this->Finish(grpc_util::ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

/// A streaming handler: `body` returns Result<reactor*>; an error, or an exception, becomes an
/// ErrorWriteReactor with that status. The load trailer (the load when the stream started) goes
/// with the final status.
template <typename T, typename Body>
grpc::ServerWriteReactor<T>* GuardedStream(grpc::CallbackServerContext* context,
                                           const detail::PeerOperations& ops, Body&& body) {
  AddLoadTrailer(context, ops);
  grpc::ServerWriteReactor<T>* reactor = nullptr;
  Status st = detail::RunGuarded([&]() -> Status {
    Result<grpc::ServerWriteReactor<T>*> started = body();
    if (!started.ok()) return started.status();
    reactor = *started;
    return Status::Ok();
  });
  if (!st.ok()) return new ErrorWriteReactor<T>(context, st);
  return reactor;
}

/// The writer of StreamSubWorkflowEvents. Shared between the reactor and the engine's callbacks,
/// which may outlive the reactor (late items are dropped). Thread-safe.
class EventStream final : public grpc::ServerWriteReactor<peer::v1::PostcardResponse>,
                          public std::enable_shared_from_this<EventStream> {
 public:
  /// A stream kept alive until OnDone; `token` is cancelled when the client goes away.
  static std::shared_ptr<EventStream> Create(std::shared_ptr<CancellationToken> token);

  /// Queues one encoded item; `last` finishes the call after it is written.
  void Push(peer::v1::PostcardResponse item, bool last);
  /// Finishes the call with `status` now (items not yet written are dropped).
  void FinishWith(const Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  explicit EventStream(std::shared_ptr<CancellationToken> token) : token_(std::move(token)) {}
  void PumpLocked();

  std::mutex mu_;
  std::shared_ptr<CancellationToken> token_;
  std::shared_ptr<EventStream> self_;
  std::deque<peer::v1::PostcardResponse> queue_;
  peer::v1::PostcardResponse current_;
  bool writing_ = false;
  bool last_queued_ = false;
  bool finished_ = false;
};

}  // namespace blazen::server::grpc_transport
