// SPDX-License-Identifier: Apache-2.0
#pragma once
// PeerNode: the composition root of a peer. It builds the session-ref registry and the engine,
// registers the built-in steps and default workflows, and serves the BlazenPeer gRPC service
// (upstream-compatible postcard RPCs + extensions), the gRPC health service and server reflection,
// in plaintext h2c or TLS with required client certificates, with an optional bearer token.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/engine.h"
#include "core/session_ref.h"
#include "core/status.h"
#include "core/tls.h"
#include "gpu/runtime.h"
#include "server/gpu_steps.h"
#include "server/metrics.h"

namespace blazen::server {

struct PeerNodeOptions {
  /// This peer's id: origin_node_id of its refs, and in every log line.
  std::string node_id = "blazen-peer";
  /// `host:port` to listen on; port 0 picks a free port (see PeerNode::port()).
  std::string listen_address = "127.0.0.1:50051";
  /// When set: also serve the HTTP/JSON transport on this `host:port` (port 0 picks a free port,
  /// see PeerNode::http_port()): upstream HttpPeerClient's routes plus streamed deref, event
  /// stream, /healthz and /metrics. It uses the same `tls` (HTTPS with required client
  /// certificates) and `token` as gRPC.
  std::optional<std::string> http_listen_address;
  /// HTTP worker threads (each serves one connection at a time; an invocation holds one).
  std::size_t http_threads = 32;
  /// Largest payload the HTTP JSON deref route returns (see HttpServiceOptions).
  std::uint64_t http_max_json_deref_bytes = std::uint64_t{256} << 20;
  /// When set: TLS, and clients must present a certificate signed by `tls->ca_pem`.
  std::optional<ServerTlsConfig> tls;
  /// When set (non-empty): every RPC needs `authorization: Bearer <token>` (health excepted).
  std::optional<std::string> token;
  /// Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED.
  std::size_t max_request_bytes = std::size_t{64} << 20;
  /// Shutdown lets in-flight calls and runs finish for this long, then cancels them.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(30)};
  /// Streaming deref: chunk size when the request asks for none, and the largest allowed.
  std::uint32_t default_chunk_bytes = 1u << 20;
  std::uint32_t max_chunk_bytes = 4u << 20;
  /// Staging buffers per deref stream (chunks in flight on the wire at once).
  std::size_t stream_buffers = 4;
  /// GPU runtime: device choice and pool budget. Without a usable CUDA device the peer runs on the
  /// host fallback and says so in its log and in DescribePeer.
  gpu::GpuRuntimeOptions gpu;
  /// The embedding table of blazen::embed (created on first use).
  EmbeddingModelOptions embedding;
  /// Engine settings (its node_id and services are set by the node).
  EngineOptions engine;
  /// Labels reported by DescribePeer for routers to filter on (region, GPU class, ...).
  std::map<std::string, std::string> labels;
  /// Relative capacity for weighted routing; unset: 1 on the host fallback, the GPU's memory in
  /// units of 16 GiB (at least 1) on a CUDA device. Must be positive.
  std::optional<double> capacity_weight;
  /// When set: register this peer in etcd (`http://HOST:PORT` or `etcd://HOST:PORT`, plain
  /// HTTP) once serving, as `<etcd_prefix>/<node_id>` = {"endpoint","node_id","labels",
  /// "capacity_weight"} under a lease of `etcd_ttl`, renewed while the node runs; Shutdown
  /// deletes the key first, so routers stop sending before the drain. Start fails with
  /// kUnavailable when etcd does not answer. Routers find the peer with the discovery URL
  /// `etcd://HOST:PORT<etcd_prefix>`.
  std::optional<std::string> etcd_url;
  /// Key prefix of the etcd registration.
  std::string etcd_prefix = "/blazen/peers";
  /// Lease TTL of the etcd registration: how long the key outlives a node that died.
  std::chrono::seconds etcd_ttl{2};
  /// The endpoint registered in etcd; unset: the gRPC endpoint as a client dials it
  /// (`http://HOST:PORT`, `https://` with TLS; a wildcard listen host becomes 127.0.0.1, so set
  /// this when routers run on other hosts).
  std::optional<std::string> advertise_endpoint;
  /// Benchmark aid: blazen::busy sleeps `slowdown` times the time it is asked for (> 0), to model
  /// a slower host.
  double slowdown = 1.0;
  RegistryOptions registry;
  /// When set, the node keeps its session refs in this registry (shared with the caller, e.g. a
  /// Python `_SessionRegistryHandle`, which then sees every ref the node's runs create) instead of
  /// creating one from `registry`; the given registry's own limits apply.
  std::shared_ptr<SessionRefRegistry> session_refs;
};

/// A running peer. Thread-safe.
class PeerNode {
 public:
  /// Builds the node and starts serving. kInvalidArgument / kUnavailable when the address cannot
  /// be bound (message names it); Tls errors come from LoadServerTls before this.
  [[nodiscard]] static Result<std::unique_ptr<PeerNode>> Start(PeerNodeOptions options);

  /// Shuts down (no grace) if still running.
  ~PeerNode();
  PeerNode(const PeerNode&) = delete;
  PeerNode& operator=(const PeerNode&) = delete;
  PeerNode(PeerNode&&) = delete;
  PeerNode& operator=(PeerNode&&) = delete;

  /// The bound port.
  [[nodiscard]] int port() const;
  /// The bound HTTP port, or 0 when the node serves no HTTP (no `http_listen_address`).
  [[nodiscard]] int http_port() const;
  /// `http://host:port` or `https://host:port` of the HTTP transport; empty without one.
  [[nodiscard]] std::string http_endpoint() const;
  /// `http://host:port` or `https://host:port`, as a client would dial it.
  [[nodiscard]] std::string endpoint() const;
  [[nodiscard]] const PeerNodeOptions& options() const;

  /// Graceful shutdown: stop accepting, let in-flight calls and runs finish for up to `grace`,
  /// then cancel what is left. Idempotent; thread-safe (safe from a signal-watching thread).
  void Shutdown(std::chrono::milliseconds grace);
  void Shutdown() { Shutdown(options().shutdown_grace); }
  /// Blocks until the node has shut down.
  void Wait();

  [[nodiscard]] Engine& engine();
  [[nodiscard]] SessionRefRegistry& session_refs();
  /// The node's GPU runtime (CUDA device or host fallback); steps reach it via Context::services().
  [[nodiscard]] gpu::GpuRuntime& gpu_runtime();
  /// The node's counters (served by GET /metrics). Transports record into it through
  /// metrics_ptr(), which any service can hold.
  [[nodiscard]] Metrics& metrics();
  [[nodiscard]] const std::shared_ptr<Metrics>& metrics_ptr() const;

 private:
  struct Impl;
  explicit PeerNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::server
