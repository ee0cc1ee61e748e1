// SPDX-License-Identifier: Apache-2.0
#pragma once
// The BlazenPeer gRPC service on the callback API. Each handler decodes its request, calls one
// PeerOperations operation and encodes the answer; every handler runs under one catch-all
// (GuardedUnary / GuardedStream / CancellableUnaryReactor) and errors are mapped once, in
// proto/grpc_status. The two deref RPCs are raw (grpc::ByteBuffer) methods so payload bytes go
// from the value's reader into buffers that gRPC sends without another copy.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "server/detail/peer_operations.h"
#include "server/transport/grpc/grpc_deref_stream.h"

namespace blazen::server::grpc_transport {

struct GrpcServiceOptions {
  /// Streaming deref: chunk size when the request asks for none, and the largest allowed.
  std::uint32_t default_chunk_bytes = 1u << 20;
  std::uint32_t max_chunk_bytes = 4u << 20;
  /// Chunks per deref stream that may exist at once (lent ahead, on the wire, held by gRPC).
  std::size_t stream_buffers = 4;
  /// Threads that lend chunks of values whose Lend may block (device refs), so that no gRPC
  /// thread waits on a staging buffer or a device copy; and how many lends may queue for them.
  std::size_t deref_threads = 4;
  std::size_t deref_queue = 4096;
};

using ServiceBase = peer::v1::BlazenPeer::WithRawCallbackMethod_DerefSessionRef<
    peer::v1::BlazenPeer::WithRawCallbackMethod_DerefSessionRefStream<
        peer::v1::BlazenPeer::CallbackService>>;

/// Thread-safe; every handler runs on gRPC callback threads and never blocks on a workflow.
class BlazenPeerService final : public ServiceBase {
 public:
  BlazenPeerService(GrpcServiceOptions options, std::shared_ptr<detail::PeerOperations> ops);

  grpc::ServerUnaryReactor* InvokeSubWorkflow(grpc::CallbackServerContext* context,
                                              const peer::v1::PostcardRequest* request,
                                              peer::v1::PostcardResponse* response) override;
  grpc::ServerWriteReactor<peer::v1::PostcardResponse>* StreamSubWorkflowEvents(
      grpc::CallbackServerContext* context, const peer::v1::PostcardRequest* request) override;
  grpc::ServerUnaryReactor* DerefSessionRef(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReleaseSessionRef(grpc::CallbackServerContext* context,
                                              const peer::v1::PostcardRequest* request,
                                              peer::v1::PostcardResponse* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* DerefSessionRefStream(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* DescribePeer(grpc::CallbackServerContext* context,
                                         const peer::v1::DescribePeerRequest* request,
                                         peer::v1::DescribePeerResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseScope(grpc::CallbackServerContext* context,
                                         const peer::v1::ReleaseScopeRequest* request,
                                         peer::v1::ReleaseScopeResponse* response) override;

 private:
  GrpcServiceOptions options_;
  std::shared_ptr<detail::PeerOperations> ops_;
  std::shared_ptr<PumpThread> pump_ = std::make_shared<PumpThread>();
  // Declared last, destroyed first: queued lends still run (they hold their stream's state).
  std::unique_ptr<ThreadPool> deref_executor_;
};

}  // namespace blazen::server::grpc_transport
