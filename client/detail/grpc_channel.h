// SPDX-License-Identifier: Apache-2.0
#pragma once
// The gRPC side of BlazenPeerClient below its methods: the channels of one client (the main one and
// the extra connections of parallel derefs, each a Lane), their arguments and credentials, the
// eager connect of Connect, and the per-call metadata and deadline. The client's state
// (GrpcClientCore) lives here so that the deref machinery (detail/grpc_deref) can use it.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "client/detail/endpoint.h"
#include "client/peer_client.h"

namespace blazen::client::detail {

using GrpcClock = std::chrono::system_clock;
/// A call's absolute deadline; nullopt means none.
using GrpcDeadline = std::optional<GrpcClock::time_point>;

/// Raises glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD to 256 MiB once per process (see
/// BlazenPeerClient::Connect), unless MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ are set.
/// No-op without glibc. Thread-safe.
void TuneMallocOnce();

/// A channel plus the deref-stream method registered on it (a registered method skips gRPC's
/// per-call method lookup). Immutable after construction; shared by the calls on it.
struct Lane {
  explicit Lane(std::shared_ptr<grpc::Channel> ch);

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::internal::RpcMethod> deref_stream;
};

/// Arguments of every channel: unlimited message sizes and a fixed 8 MiB stream window.
[[nodiscard]] grpc::ChannelArguments BaseChannelArgs();

/// Whether `parsed` is dialed with TLS under `options` (https://, or bare host:port with
/// `options.tls`). Throws TransportError (kInvalidArgument) naming `endpoint` for an http://
/// endpoint with TLS options.
[[nodiscard]] bool UsesTls(const std::string& endpoint, const ParsedEndpoint& parsed,
                           const ClientOptions& options);

/// TLS credentials from `tls` (system roots and no client certificate without it) when `use_tls`,
/// else insecure (h2c) credentials.
[[nodiscard]] std::shared_ptr<grpc::ChannelCredentials> MakeCredentials(
    bool use_tls, const std::optional<ClientTlsConfig>& tls);

/// Connects `channel` now, like upstream, so a peer that is not there fails here rather than on
/// the first call. A refused or failed attempt fails at once instead of waiting out the reconnect
/// backoff. Throws TransportError (kUnavailable) naming `endpoint` when the connection fails or is
/// not up within `timeout`.
void ConnectEagerly(grpc::Channel& channel, const std::string& endpoint,
                    std::chrono::milliseconds timeout, bool use_tls);

/// Everything one BlazenPeerClient holds. Written by Connect, then read-only except `lanes`
/// (guarded by `lanes_mu`): thread-safe for the client's calls.
struct GrpcClientCore {
  std::string endpoint;
  std::string node_id;
  ClientOptions options;
  std::optional<std::string> token;
  ParsedEndpoint parsed;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::unique_ptr<Lane> main;
  std::unique_ptr<::blazen::peer::v1::BlazenPeer::Stub> stub;

  std::mutex lanes_mu;
  // Extra connections for parallel deref ranges, created on first use and kept: lanes[i] serves
  // range i + 1 of every parallel deref.
  std::vector<std::unique_ptr<Lane>> lanes;

  /// The absolute deadline of a call starting now: CallOptions::deadline, else
  /// ClientOptions::default_deadline when positive, else none.
  [[nodiscard]] GrpcDeadline DeadlineFor(const CallOptions& call) const;

  /// Fills in the metadata (token, node id, parent run id) and the deadline of one call.
  void Prepare(grpc::ClientContext& context, const CallOptions& call,
               const GrpcDeadline& deadline) const;

  /// The lane of parallel range `index + 1`, on its own connection (created on first use).
  Lane& ParallelLane(std::size_t index);
};

}  // namespace blazen::client::detail
