// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP/JSON transport of a peer (DESIGN.md section 3.3): upstream HttpPeerClient's three POST
// routes with the serde_json shapes of spec section 2.3, plus the extensions (streamed deref with
// Range, newline-delimited event stream, /healthz, /metrics). Handlers only authorize, decode,
// call the core (Engine, SessionRefRegistry) and encode, as the gRPC service does; errors are
// mapped in http_status.h. No httplib types in this header.

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
#include "server/metrics.h"

namespace blazen::server::detail {

struct HttpServiceOptions {
  std::string node_id;
  /// `host:port` (or `[v6]:port`); port 0 picks a free port.
  std::string listen_address;
  /// When set: HTTPS, and clients must present a certificate that chains to `tls->ca_pem`.
  std::optional<ServerTlsConfig> tls;
  /// When set (non-empty): every route but /healthz needs `Authorization: Bearer <token>`.
  std::optional<std::string> token;
  /// Largest request body; larger ones are answered 413.
  std::size_t max_request_bytes = std::size_t{64} << 20;
  /// Worker threads (each serves one connection at a time; an invocation holds one until done).
  std::size_t threads = 32;
  /// A connection that sends nothing for this long is closed (slow or stalled clients).
  std::chrono::seconds read_timeout{10};
  /// A write blocked for this long (a client that stopped reading) closes the connection.
  std::chrono::seconds write_timeout{30};
  /// Largest payload POST /v1/peer/deref_session_ref returns (its JSON body takes about 4 bytes
  /// per payload byte, all in memory); larger refs are refused with RESOURCE_EXHAUSTED (429)
  /// naming GET /v1/peer/refs/{uuid}, which streams any size.
  std::uint64_t max_json_deref_bytes = std::uint64_t{256} << 20;
  /// Bytes read from a value per write of GET /v1/peer/refs/{uuid} (the memory one download uses).
  std::uint32_t chunk_bytes = 1u << 20;
  /// The node's GPU runtime, for /metrics; may be null.
  std::shared_ptr<gpu::GpuRuntime> runtime;
  /// Counters shared with the node; must not be null.
  std::shared_ptr<Metrics> metrics;
};

/// A running HTTP server. Thread-safe.
class HttpService {
 public:
  /// Binds and starts serving on a thread of its own. kInvalidArgument for an address that does
  /// not parse, kUnavailable when it cannot be bound, kInvalidArgument (kind kTls) when the TLS
  /// material cannot be used.
  [[nodiscard]] static Result<std::unique_ptr<HttpService>> Start(HttpServiceOptions options,
                                                                  std::shared_ptr<Engine> engine);

  /// Stops (see Stop).
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;
  HttpService(HttpService&&) = delete;
  HttpService& operator=(HttpService&&) = delete;

  /// The bound port.
  [[nodiscard]] int port() const;

  /// Marks the service as draining (/healthz answers 503).
  void BeginShutdown();
  /// Stops accepting connections and waits for in-flight requests to end. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::server::detail
