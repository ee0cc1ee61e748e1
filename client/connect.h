// SPDX-License-Identifier: Apache-2.0
#pragma once
// ConnectPeer: a PeerClient from a URL, with the transport chosen by the URL's scheme through a
// registry (as Arrow Flight's TransportRegistry::MakeClient(scheme)). Built in: gRPC
// (BlazenPeerClient) for `http://`, `https://` and bare `host:port`; HTTP/JSON (HttpPeerClient) for
// `http+json://` and `https+json://`. Later transports (e.g. a peer pool, `pool+static://`) add
// themselves with RegisterPeerTransport. Used by the CLI and the transport conformance suite.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http_client.h"
#include "client/peer_client.h"
#include "client/peer_client_interface.h"
#include "core/tls.h"

namespace blazen::client {

/// Settings of a client made by ConnectPeer: the union of ClientOptions (gRPC) and
/// HttpClientOptions (HTTP/JSON), flat, so that one value configures whichever transport the URL
/// picks; each field says which transports read it, and the others ignore it. A flat struct rather
/// than a pair of the two option types: the settings both transports share (TLS, token, parent run
/// id, timeouts) are set once, and a registered transport gets one type to read. Defaults are
/// those of ClientOptions and HttpClientOptions, so a default ConnectOptions makes the same client
/// as a default Connect / NewHttp. Plain value type.
struct ConnectOptions {
  // --- Both transports -------------------------------------------------------------------------
  /// Client identity and CA for TLS (ClientOptions::tls, HttpClientOptions::tls). Needs an
  /// `https://` / `https+json://` URL, or a bare `host:port` (gRPC: selects TLS).
  std::optional<ClientTlsConfig> tls;
  /// Bearer token sent with every call.
  std::optional<std::string> token;
  /// When `token` is unset, read it from BLAZEN_PEER_TOKEN (ResolvePeerToken).
  bool token_from_env = ClientOptions{}.token_from_env;
  /// Parent run id sent with every call unless a call overrides it (scopes UntilParentFinish refs).
  std::optional<std::string> parent_run_id;
  /// gRPC: how long ConnectPeer waits for the connection. HTTP: how long each call waits for its
  /// connection (HTTP connects lazily, per call).
  std::chrono::milliseconds connect_timeout = ClientOptions{}.connect_timeout;
  /// How many times DerefTo resumes after a broken stream (gRPC: per parallel range).
  int max_resume_attempts = ClientOptions{}.max_resume_attempts;

  // --- gRPC only ---------------------------------------------------------------------------------
  /// Deadline of every call that does not set one; 0 means none (ClientOptions::default_deadline).
  /// The HTTP transport has no default deadline: it bounds each wait with `read_timeout`.
  std::chrono::milliseconds default_deadline = ClientOptions{}.default_deadline;
  /// Chunk size DerefTo asks for (ClientOptions::chunk_bytes).
  std::uint32_t chunk_bytes = ClientOptions{}.chunk_bytes;
  /// Most streams one DerefTo uses; 0 means automatic (ClientOptions::parallel_streams).
  std::size_t parallel_streams = ClientOptions{}.parallel_streams;
  /// Payloads at least this large use parallel streams (ClientOptions::parallel_threshold_bytes).
  std::uint64_t parallel_threshold_bytes = ClientOptions{}.parallel_threshold_bytes;

  // --- HTTP/JSON only ----------------------------------------------------------------------------
  /// How long a call waits for the peer to send anything (HttpClientOptions::read_timeout).
  std::chrono::milliseconds read_timeout = HttpClientOptions{}.read_timeout;
};

/// The gRPC transport's share of `options`.
[[nodiscard]] ClientOptions ToClientOptions(const ConnectOptions& options);
/// The HTTP/JSON transport's share of `options`.
[[nodiscard]] HttpClientOptions ToHttpClientOptions(const ConnectOptions& options);

/// Makes a client for `url` (the whole URL, scheme included) with the caller's `node_id`. Throws
/// PeerError subclasses, like the clients' own factories (BlazenPeerClient::Connect,
/// HttpPeerClient::NewHttp). Must return a client, never null.
using PeerTransportFactory = std::function<std::unique_ptr<PeerClient>(
    const std::string& url, std::string node_id, const ConnectOptions& options)>;

/// Scheme -> transport factory. Schemes are compared without regard to case (as RFC 3986 says) and
/// are written without `://`; the empty scheme stands for a bare `host:port`, a URL without `://`.
/// Thread-safe: Register and Connect may run concurrently (factories run outside the lock).
class PeerTransportRegistry {
 public:
  /// An empty registry (see RegisterBuiltinPeerTransports).
  PeerTransportRegistry() = default;
  PeerTransportRegistry(const PeerTransportRegistry&) = delete;
  PeerTransportRegistry& operator=(const PeerTransportRegistry&) = delete;
  PeerTransportRegistry(PeerTransportRegistry&&) = delete;
  PeerTransportRegistry& operator=(PeerTransportRegistry&&) = delete;

  /// Makes ConnectPeer use `factory` for URLs `<scheme>://...`. Throws TransportError
  /// (kInvalidArgument) when `scheme` is not a URI scheme (a letter, then letters, digits, `+`, `-`
  /// or `.`; or empty for bare endpoints) or `factory` is empty, and TransportError
  /// (kAlreadyExists) when the scheme is taken (a registration is never replaced).
  void Register(std::string_view scheme, PeerTransportFactory factory);

  /// Connects with the factory registered for `url`'s scheme. Throws TransportError
  /// (kInvalidArgument) naming `url` and the registered schemes when the scheme is not registered,
  /// and whatever the factory throws (e.g. TransportError (kInvalidArgument) for a malformed URL,
  /// TransportError (kUnavailable) when the peer cannot be reached).
  [[nodiscard]] std::unique_ptr<PeerClient> Connect(const std::string& url, std::string node_id,
                                                    const ConnectOptions& options = {}) const;

  /// The registered schemes, lower case and sorted ("" for bare endpoints).
  [[nodiscard]] std::vector<std::string> schemes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, PeerTransportFactory, std::less<>> factories_;
};

/// Registers the built-in transports on `registry`: gRPC for "" (bare `host:port`), "http" and
/// "https" (BlazenPeerClient::Connect with the URL unchanged), HTTP/JSON for "http+json" and
/// "https+json" (HttpPeerClient::NewHttp with the scheme rewritten to `http://` / `https://`).
/// Throws TransportError (kAlreadyExists) when one of them is already registered.
void RegisterBuiltinPeerTransports(PeerTransportRegistry& registry);

/// The process-wide registry ConnectPeer and RegisterPeerTransport use; holds the built-in
/// transports from first use on. Thread-safe.
[[nodiscard]] PeerTransportRegistry& DefaultPeerTransportRegistry();

/// Connects to the peer at `url` over the transport its scheme names, through
/// DefaultPeerTransportRegistry():
/// - `http://host:port`, `https://host:port`, bare `host:port`: gRPC, BlazenPeerClient::Connect
///   (connects eagerly; see there for the endpoint grammar and TLS rules);
/// - `http+json://host:port[/prefix]`, `https+json://host:port[/prefix]`: HTTP/JSON,
///   HttpPeerClient::NewHttp on `http://...` / `https://...` (no I/O until the first call); the
///   client's endpoint() is that rewritten base URL.
/// `node_id`: this caller's node id, sent with every call. Throws TransportError (kInvalidArgument)
/// naming the URL and the known schemes for an unknown scheme, and what the transport's factory
/// throws: TransportError (kInvalidArgument) for a URL it cannot parse or that contradicts the
/// options, TransportError (kUnavailable) for a gRPC peer that cannot be reached within
/// `options.connect_timeout`, InvalidArgumentError for a node id, token or parent run id that is
/// not printable ASCII.
[[nodiscard]] std::unique_ptr<PeerClient> ConnectPeer(const std::string& url, std::string node_id,
                                                      const ConnectOptions& options = {});

/// Registers a transport on DefaultPeerTransportRegistry(); see PeerTransportRegistry::Register.
void RegisterPeerTransport(std::string_view scheme, PeerTransportFactory factory);

}  // namespace blazen::client
