// SPDX-License-Identifier: Apache-2.0
#pragma once
// BlazenPeerClient: the gRPC implementation of PeerClient (client/peer_client_interface.h), the
// parent side of the request flow. It offloads sub-workflows (InvokeSubWorkflow,
// StreamSubWorkflowEvents), reads back the session refs they left on the peer (DerefSessionRef for
// small values, DerefTo for any size: streamed, resumable and parallel over several connections)
// and releases them (ReleaseSessionRef, ReleaseScope). Wire-compatible with upstream peers for the
// four upstream RPCs. Throws PeerError subclasses. Including this header also gives the shared call
// types (CallOptions, CallCancel, DerefResult, ...).

#include <chrono>
#include <cstddef>
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

/// Settings of one client (one channel). Plain value type.
struct ClientOptions {
  /// Client identity and CA for TLS. With an `https://` endpoint: the server certificate must chain
  /// to `tls->ca_pem` and the client presents `tls->cert_chain_pem` / `tls->private_key_pem`
  /// (mutual TLS); without it, an `https://` endpoint uses the system's default roots and no client
  /// certificate. With a bare `host:port` endpoint, setting it selects TLS. It cannot be combined
  /// with an `http://` endpoint.
  std::optional<ClientTlsConfig> tls;
  /// Bearer token sent as `authorization: Bearer <token>` on every call.
  std::optional<std::string> token;
  /// When `token` is unset, read it from BLAZEN_PEER_TOKEN (ResolvePeerToken) at Connect.
  bool token_from_env = true;
  /// Sent as `x-blazen-parent-run-id` on every call unless a call overrides it.
  std::optional<std::string> parent_run_id;
  /// How long Connect waits for the connection (TCP, HTTP/2 and, with TLS, the handshake).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// Deadline of every call that does not set one; 0 means none.
  std::chrono::milliseconds default_deadline{0};
  /// Chunk size DerefTo asks for (the peer clamps it). 1 MiB is gRPC's sweet spot.
  std::uint32_t chunk_bytes = 1u << 20;
  /// Most streams (each on its own connection) one DerefTo uses for a large payload. 0 means
  /// automatic: half the hardware threads, between 1 and 8 (one HTTP/2 connection caps near one
  /// stream's throughput on a big host, while on a 2-core machine extra streams only compete).
  std::size_t parallel_streams = 0;
  /// Payloads at least this large are fetched with `parallel_streams` streams.
  std::uint64_t parallel_threshold_bytes = std::uint64_t{64} << 20;
  /// How many times one DerefTo range is resumed after a transient stream failure.
  int max_resume_attempts = 5;
};

/// A connection to one peer over gRPC. Every call sends `authorization: Bearer <token>` (when a
/// token is configured), `x-blazen-peer-node-id: <node_id>` and `x-blazen-parent-run-id` (when
/// set), and applies the call's deadline (CallOptions::deadline, else
/// ClientOptions::default_deadline).
///
/// The operations and their errors are PeerClient's. The PeerError subclass is chosen from the
/// failed call's status and the peer's `x-blazen-error-kind` trailer. gRPC specifics:
/// - DerefSessionRef is the upstream unary RPC: the payload arrives in one message.
/// - DerefTo uses the streaming extension RPC. The first stream learns the size from its first
///   chunk and calls `sink.Begin`; a payload of at least ClientOptions::parallel_threshold_bytes is
///   then fetched as up to ClientOptions::parallel_streams contiguous ranges, each on its own
///   connection and thread (so `progress` may be called from several threads, never concurrently).
///   A stream that fails transiently (UNAVAILABLE, INTERNAL, UNKNOWN, or CANCELLED by the other
///   side) after delivering data is resumed from its first missing byte, up to
///   ClientOptions::max_resume_attempts times per range. On failure every stream is cancelled
///   before the throw. The result reports the number of streams used and the resumes over all.
/// - ReleaseScope and DescribePeer are native protobuf extension RPCs.
/// - Every method throws InvalidArgumentError when CallOptions::parent_run_id is not printable
///   ASCII, before anything is sent.
///
/// Thread safety: thread-safe. Any number of calls may be in flight at once from any threads; they
/// share one HTTP/2 connection (parallel DerefTo streams use extra connections).
class BlazenPeerClient final : public PeerClient {
 public:
  /// Connects to the peer at `endpoint` and returns the client once the connection is up.
  /// `endpoint`: `http://host:port` (plaintext h2c, as upstream), `https://host:port` (TLS, see
  /// ClientOptions::tls) or bare `host:port` (h2c, or TLS when `options.tls` is set).
  /// `node_id`: this caller's node id, sent with every call.
  /// Throws TransportError (kInvalidArgument) naming the endpoint when it cannot be parsed or
  /// contradicts the options, and TransportError (kUnavailable) when the connection fails or is not
  /// up within `options.connect_timeout` (a refused connection fails at once). Throws
  /// InvalidArgumentError when `node_id`, the token or the parent run id is not printable ASCII
  /// (call metadata cannot carry it); the per-call CallOptions::parent_run_id is checked the same
  /// way by every method.
  /// The first Connect in a process also raises glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD to
  /// 256 MiB (unless MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ are set): with the defaults,
  /// large receive buffers go back to the kernel on every free and bulk derefs run about 2x slower.
  /// Up to 256 MiB of freed memory may then stay mapped in the process.
  [[nodiscard]] static std::unique_ptr<BlazenPeerClient> Connect(const std::string& endpoint,
                                                                 std::string node_id,
                                                                 ClientOptions options = {});

  ~BlazenPeerClient() override;
  BlazenPeerClient(const BlazenPeerClient&) = delete;
  BlazenPeerClient& operator=(const BlazenPeerClient&) = delete;
  BlazenPeerClient(BlazenPeerClient&&) = delete;
  BlazenPeerClient& operator=(BlazenPeerClient&&) = delete;

  // InvokeSubWorkflow, StreamSubWorkflowEvents, DerefSessionRef, DerefTo, ReleaseSessionRef,
  // ReleaseScope and DescribePeer are PeerClient's public methods.

  /// This caller's node id, as given to Connect.
  [[nodiscard]] const std::string& node_id() const override;
  /// The endpoint as given to Connect.
  [[nodiscard]] const std::string& endpoint() const override;

 private:
  struct Impl;
  explicit BlazenPeerClient(std::unique_ptr<Impl> impl);

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
