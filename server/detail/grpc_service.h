// SPDX-License-Identifier: Apache-2.0
#pragma once
// The BlazenPeer gRPC service on the callback API. Handlers only authorize, decode, call the core
// (Engine, SessionRefRegistry) and encode; errors are mapped in proto/grpc_status. The two deref
// RPCs are raw (grpc::ByteBuffer) methods so payload bytes go from the value's reader into buffers
// that gRPC sends without another copy.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "core/engine.h"
#include "core/session_ref.h"
#include "gpu/runtime.h"
#include "server/metrics.h"

namespace blazen::server::detail {

struct ServiceOptions {
  std::string node_id;
  std::optional<std::string> token;
  std::uint32_t default_chunk_bytes = 1u << 20;
  std::uint32_t max_chunk_bytes = 4u << 20;
  std::size_t stream_buffers = 4;
  /// The node's GPU runtime (reported by DescribePeer); may be null.
  std::shared_ptr<gpu::GpuRuntime> runtime;
  /// Where invocations and deref bytes are counted (transport "grpc"); may be null.
  std::shared_ptr<Metrics> metrics;
};

using ServiceBase = peer::v1::BlazenPeer::WithRawCallbackMethod_DerefSessionRef<
    peer::v1::BlazenPeer::WithRawCallbackMethod_DerefSessionRefStream<
        peer::v1::BlazenPeer::CallbackService>>;

/// Thread-safe; every handler runs on gRPC callback threads and never blocks on a workflow.
class BlazenPeerService final : public ServiceBase {
 public:
  BlazenPeerService(ServiceOptions options, std::shared_ptr<Engine> engine);

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
  ServiceOptions options_;
  std::shared_ptr<Engine> engine_;
};

}  // namespace blazen::server::detail
