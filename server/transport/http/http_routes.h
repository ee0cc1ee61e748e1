// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP/JSON routes of a peer (DESIGN.md section 3.3), written against PeerOperations and the
// library-neutral HttpRequestView / HttpReply: upstream HttpPeerClient's three POST routes with
// the serde_json shapes of spec section 2.3, the extensions (streamed deref with Range,
// newline-delimited event stream, describe, release-scope, /healthz, /metrics), and the one guard
// every route runs under (token check, catch-all).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/detail/peer_operations.h"
#include "server/transport/http/http_exchange.h"

namespace blazen::server::http_transport {

struct HttpRoutesOptions {
  /// Largest payload POST /v1/peer/deref_session_ref returns (its JSON body takes about 4 bytes
  /// per payload byte, all in memory); larger refs are refused with RESOURCE_EXHAUSTED (429)
  /// naming GET /v1/peer/refs/{uuid}, which streams any size.
  std::uint64_t max_json_deref_bytes = std::uint64_t{256} << 20;
  /// Bytes read from a value per write of GET /v1/peer/refs/{uuid} (the memory one download uses).
  std::uint32_t chunk_bytes = 1u << 20;
};

/// One route: method, path pattern (ECMAScript regex, captures become HttpRequestView::captures)
/// and its guarded handler (token unless exempt, catch-all, and the `X-Blazen-Load` header on
/// every answer).
struct HttpRoute {
  std::string method;
  std::string pattern;
  std::function<void(const HttpRequestView&, HttpReply&)> handler;
};

/// The route table of one node. Thread-safe (handlers run concurrently on listener threads).
class HttpRoutes {
 public:
  HttpRoutes(HttpRoutesOptions options, std::shared_ptr<detail::PeerOperations> ops);

  /// Every route, each already wrapped in the guard (token unless exempt, catch-all).
  [[nodiscard]] std::vector<HttpRoute> Routes();

  /// /healthz answers 503 ("draining") from now on.
  void BeginDraining() { draining_ = true; }
  [[nodiscard]] const std::string& node_id() const { return ops_->node_id(); }

  /// The reply to a request no route answered, or that the listener refused before routing:
  /// `status` is the HTTP code the listener chose (404, 413, 416, 400, ...).
  static void ListenerError(const HttpRequestView& request, int status, HttpReply& reply);

 private:
  using Handler = void (HttpRoutes::*)(const HttpRequestView&, const detail::CallMeta&, HttpReply&);
  HttpRoute Guarded(std::string method, std::string pattern, Handler handler,
                    bool needs_token = true);

  void Invoke(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void StreamEvents(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void Deref(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void Release(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void Describe(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void ReleaseScope(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void DownloadRef(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void Healthz(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);
  void MetricsText(const HttpRequestView& req, const detail::CallMeta& call, HttpReply& reply);

  HttpRoutesOptions options_;
  std::shared_ptr<detail::PeerOperations> ops_;
  std::atomic<bool> draining_{false};
};

}  // namespace blazen::server::http_transport
