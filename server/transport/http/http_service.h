// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP/JSON transport of a peer as a ServerTransport: the route table of http_routes.h served
// by the listener in http_service.cc (cpp-httplib today; the only file a change of HTTP library
// replaces). No HTTP library types in this header.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/engine.h"
#include "core/status.h"
#include "core/tls.h"
#include "gpu/runtime.h"
#include "server/detail/peer_operations.h"
#include "server/metrics.h"
#include "server/server_transport.h"

namespace blazen::server::http_transport {

struct HttpServiceOptions {
  /// Used when the service builds its own PeerOperations (Start with an engine).
  std::string node_id;
  /// `host:port` (or `[v6]:port`); port 0 picks a free port.
  std::string listen_address;
  /// When set: HTTPS, and clients must present a certificate that chains to `tls->ca_pem`.
  std::optional<ServerTlsConfig> tls;
  /// When set (non-empty): every route but /healthz needs `Authorization: Bearer <token>`. Used
  /// when the service builds its own PeerOperations.
  std::optional<std::string> token;
  /// Largest request body; larger ones are answered 413.
  std::size_t max_request_bytes = std::size_t{64} << 20;
  /// Worker threads (each serves one connection at a time; an invocation holds one until done).
  std::size_t threads = 32;
  /// A connection that sends nothing for this long is closed (slow or stalled clients).
  std::chrono::seconds read_timeout{10};
  /// A write blocked for this long (a client that stopped reading) closes the connection.
  std::chrono::seconds write_timeout{30};
  /// Largest payload POST /v1/peer/deref_session_ref returns (see HttpRoutesOptions).
  std::uint64_t max_json_deref_bytes = std::uint64_t{256} << 20;
  /// Bytes read from a value per write of GET /v1/peer/refs/{uuid} (the memory one download uses).
  std::uint32_t chunk_bytes = 1u << 20;
  /// The node's GPU runtime, for /metrics; may be null. Used when the service builds its own
  /// PeerOperations.
  std::shared_ptr<gpu::GpuRuntime> runtime;
  /// Counters; created when null. Used when the service builds its own PeerOperations.
  std::shared_ptr<Metrics> metrics;
};

/// A running HTTP server. Thread-safe.
class HttpService final : public ServerTransport {
 public:
  /// Binds and starts serving `ops` on a thread of its own. kInvalidArgument for an address that
  /// does not parse, kUnavailable when it cannot be bound, kInvalidArgument (kind kTls) when the
  /// TLS material cannot be used.
  [[nodiscard]] static Result<std::unique_ptr<HttpService>> Start(
      HttpServiceOptions options, std::shared_ptr<detail::PeerOperations> ops);
  /// Start over PeerOperations of its own, made from `options` (node_id, token, runtime, metrics)
  /// and `engine`.
  [[nodiscard]] static Result<std::unique_ptr<HttpService>> Start(HttpServiceOptions options,
                                                                  std::shared_ptr<Engine> engine);

  /// Stops (see Stop).
  ~HttpService() override;
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;
  HttpService(HttpService&&) = delete;
  HttpService& operator=(HttpService&&) = delete;

  [[nodiscard]] std::string_view name() const override { return "http"; }
  /// The bound port.
  [[nodiscard]] int port() const override;
  [[nodiscard]] std::string endpoint() const override;

  /// Marks the service as draining (/healthz answers 503).
  void BeginShutdown() override;
  /// Stops accepting connections and waits for in-flight requests until `deadline` (they go on
  /// after it: the listener cannot cut them; Wait() waits for them).
  void Shutdown(std::chrono::system_clock::time_point deadline) override;
  /// Waits until every in-flight request has ended.
  void Wait() override;
  /// Stops accepting connections and waits for in-flight requests to end. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::server::http_transport
