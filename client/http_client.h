// SPDX-License-Identifier: Apache-2.0
#pragma once
// HttpPeerClient: the HTTP/JSON implementation of PeerClient (client/peer_client_interface.h), the
// parent side of the HTTP/JSON transport. Speaks upstream HttpPeerClient's three POST routes with
// the serde_json shapes of spec section 2.3 (so it also works against any upstream-compatible HTTP
// peer), plus our extensions: DerefTo over GET /v1/peer/refs/{uuid} (streamed, resumed with Range)
// and StreamSubWorkflowEvents over newline-delimited JSON. Throws the same PeerError subclasses as
// BlazenPeerClient.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/deref_sink.h"
#include "client/peer_client_interface.h"
#include "core/tls.h"
#include "core/uuid.h"
#include "core/wire_types.h"

namespace blazen::client {

/// Settings of one HttpPeerClient. Plain value type.
struct HttpClientOptions {
  /// Client identity and CA for `https://` base URLs: the server certificate must chain to
  /// `tls->ca_pem` and the client presents `tls->cert_chain_pem` / `tls->private_key_pem` (mutual
  /// TLS). Without it, an `https://` URL verifies the server against the system's default roots and
  /// presents no certificate. It cannot be combined with an `http://` URL.
  std::optional<ClientTlsConfig> tls;
  /// Bearer token sent as `Authorization: Bearer <token>` on every call.
  std::optional<std::string> token;
  /// When `token` is unset, read it from BLAZEN_PEER_TOKEN (ResolvePeerToken) in NewHttp.
  bool token_from_env = true;
  /// Sent as `X-Blazen-Parent-Run-Id` on every call (scopes UntilParentFinish refs).
  std::optional<std::string> parent_run_id;
  /// How long a call waits for the TCP connection (and, with TLS, the handshake).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// How long a call waits for the peer to send anything. InvokeSubWorkflow waits at least the
  /// request's `timeout_secs` plus 30 seconds.
  std::chrono::milliseconds read_timeout{std::chrono::minutes(10)};
  /// How many times DerefTo resumes (with a Range request) after the stream broke.
  int max_resume_attempts = 5;
};

/// A client of one peer's HTTP/JSON transport. Each call opens its own connection, so calls from
/// several threads run concurrently. Every request carries `Content-Type: application/json` (for
/// POSTs), `X-Blazen-Peer-Node-Id: <node_id>`, and when configured `Authorization: Bearer <token>`
/// and `X-Blazen-Parent-Run-Id`.
///
/// The operations and their errors are PeerClient's. The PeerError subclass is chosen from the HTTP
/// status and the error body (`{"error": "...", "code": "...", "kind": "..."}`; `code` and `kind`
/// are ours, upstream-style bodies with only `error` are mapped from the HTTP status):
/// NotFoundError (unknown ref, 404), UnknownStepError (unknown step id), UnauthenticatedError
/// (401), EnvelopeVersionError (412, or a response whose envelope_version is newer than this
/// build's), InvalidArgumentError (400), ResourceExhaustedError (413, 429), DeadlineExceededError,
/// EncodeError (a response body that does not decode), TransportError for connection failures
/// (kUnavailable) and anything else. The routes:
/// - InvokeSubWorkflow: POST /v1/peer/invoke_sub_workflow. The read timeout is at least the
///   request's `timeout_secs` plus 30 seconds.
/// - StreamSubWorkflowEvents: POST /v1/peer/stream_sub_workflow_events, one JSON event per line. An
///   exception thrown by `on_event` closes the connection (the peer cancels the run).
/// - DerefSessionRef: POST /v1/peer/deref_session_ref, the whole payload in one JSON response (an
///   array of byte values, about 4 bytes of text per payload byte).
/// - DerefTo: GET /v1/peer/refs/{uuid}. `sink.Begin` is called once the response headers give the
///   size and type tag, `sink.Write` in order as bytes arrive. When the connection breaks
///   mid-payload the download resumes from the first missing byte with a `Range` request, up to
///   HttpClientOptions::max_resume_attempts times (each resume must make progress). `progress` is
///   called on the calling thread. The result reports `streams = 1` and the number of resumes.
/// - ReleaseSessionRef: POST /v1/peer/release_session_ref.
/// - ReleaseScope: POST /v1/peer/release_scope (extension).
/// - DescribePeer: GET /v1/peer/describe (extension).
///
/// CallOptions: `deadline` bounds the whole call (DeadlineExceededError when it passes; without
/// one, each wait is bounded by HttpClientOptions::read_timeout), `parent_run_id` overrides the
/// client's, and `cancel` (CallCancel::Cancel from any thread) closes the call's connection at
/// once, making the call throw TransportError with code kCancelled (a call started after Cancel
/// never connects). Every method throws InvalidArgumentError when CallOptions::parent_run_id cannot
/// travel in an HTTP header.
///
/// Thread safety: thread-safe.
class HttpPeerClient final : public PeerClient {
 public:
  /// Creates a client for the peer at `base_url` (`http://host:port` or `https://host:port`,
  /// optionally followed by a path prefix; trailing slashes are ignored). No I/O happens until the
  /// first call. `node_id`: this caller's node id, sent with every call.
  /// Throws TransportError (kInvalidArgument) naming the URL when it cannot be parsed, uses another
  /// scheme, or is `http://` with `options.tls` set; InvalidArgumentError when `node_id`, the token
  /// or the parent run id cannot travel in an HTTP header (not printable ASCII).
  [[nodiscard]] static std::unique_ptr<HttpPeerClient> NewHttp(std::string base_url,
                                                               std::string node_id,
                                                               HttpClientOptions options = {});

  ~HttpPeerClient() override;
  HttpPeerClient(const HttpPeerClient&) = delete;
  HttpPeerClient& operator=(const HttpPeerClient&) = delete;
  HttpPeerClient(HttpPeerClient&&) = delete;
  HttpPeerClient& operator=(HttpPeerClient&&) = delete;

  // InvokeSubWorkflow, StreamSubWorkflowEvents, DerefTo, ReleaseScope, DescribePeer and the Uuid
  // forms of DerefSessionRef and ReleaseSessionRef are PeerClient's public methods.
  using PeerClient::DerefSessionRef;
  using PeerClient::ReleaseSessionRef;

  /// POST /v1/peer/deref_session_ref with upstream's request and response shapes: the whole
  /// payload in one JSON response. Throws NotFoundError for an unknown ref. Use DerefTo for large
  /// payloads.
  [[nodiscard]] DerefResponse DerefSessionRef(const DerefRequest& request,
                                              const CallOptions& call = {});

  /// POST /v1/peer/release_session_ref with upstream's request and response shapes. `released` is
  /// false when the ref did not exist (any more).
  [[nodiscard]] ReleaseResponse ReleaseSessionRef(const ReleaseRequest& request,
                                                  const CallOptions& call = {});

  /// This caller's node id, as given to NewHttp.
  [[nodiscard]] const std::string& node_id() const override;
  /// The base URL as given to NewHttp (trailing slashes preserved, as upstream); the same as
  /// base_url().
  [[nodiscard]] const std::string& endpoint() const override;
  /// The base URL as given to NewHttp (trailing slashes preserved, as upstream).
  [[nodiscard]] const std::string& base_url() const;

 private:
  struct Impl;
  explicit HttpPeerClient(std::unique_ptr<Impl> impl);

  SubWorkflowResponse DoInvokeSubWorkflow(const SubWorkflowRequest& request,
                                          const CallOptions& call) override;
  SubWorkflowResponse DoStreamSubWorkflowEvents(
      const SubWorkflowRequest& request,
      const std::function<void(const SubWorkflowEvent&)>& on_event,
      const CallOptions& call) override;
  ByteVector DoDerefSessionRef(const Uuid& ref, const CallOptions& call) override;
  DerefResult DoDerefTo(const Uuid& ref, DerefSink& sink,
                        const std::function<void(const DerefProgress&)>& progress,
                        const CallOptions& call) override;
  bool DoReleaseSessionRef(const Uuid& ref, const CallOptions& call) override;
  std::uint64_t DoReleaseScope(const std::string& parent_run_id, const CallOptions& call) override;
  PeerDescription DoDescribePeer(const CallOptions& call) override;
  void DoWatchHealth(const std::function<void(bool serving)>& on_change,
                     std::chrono::milliseconds poll_interval, const CallOptions& call) override;

  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::client
