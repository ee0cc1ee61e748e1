// SPDX-License-Identifier: Apache-2.0
#pragma once
// The gRPC transport of a node as a ServerTransport: the BlazenPeer service, the gRPC health
// service and server reflection on one grpc::Server, in plaintext h2c or TLS with required client
// certificates.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/tls.h"
#include "server/detail/peer_operations.h"
#include "server/server_transport.h"
#include "server/transport/grpc/grpc_service.h"

namespace blazen::server::grpc_transport {

struct GrpcTransportOptions {
  /// `host:port` to listen on; port 0 picks a free port.
  std::string listen_address = "127.0.0.1:50051";
  /// When set: TLS, and clients must present a certificate signed by `tls->ca_pem`.
  std::optional<ServerTlsConfig> tls;
  /// Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED.
  std::size_t max_request_bytes = std::size_t{64} << 20;
  GrpcServiceOptions service;
};

/// Binds and starts serving `ops` over gRPC. kUnavailable (naming the address) when it cannot be
/// bound.
[[nodiscard]] Result<std::unique_ptr<ServerTransport>> StartGrpcTransport(
    GrpcTransportOptions options, std::shared_ptr<detail::PeerOperations> ops);

}  // namespace blazen::server::grpc_transport
