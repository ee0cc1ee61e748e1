// SPDX-License-Identifier: Apache-2.0
#pragma once
// BlazenPeerClient: the public C++ client of a peer, the parent side of the request flow. It
// offloads sub-workflows (InvokeSubWorkflow, StreamSubWorkflowEvents), reads back the session refs
// they left on the peer (DerefSessionRef for small values, DerefTo for any size: streamed,
// resumable and parallel over several connections) and releases them (ReleaseSessionRef,
// ReleaseScope). Wire-compatible with upstream peers for the four upstream RPCs. Throws PeerError
// subclasses.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/deref_sink.h"
#include "core/peer_description.h"
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

/// Cancels client calls from another thread (e.g. when an asyncio awaitable wrapping a blocking
/// call is cancelled). Share one between the CallOptions of the calls to cancel together. Calls
/// registered when Cancel() runs are cancelled at once (grpc::ClientContext::TryCancel; a DerefTo
/// stops every stream); calls that start after it are cancelled before they reach the wire. A
/// cancelled call throws TransportError with code kCancelled. Thread-safe.
class CallCancel {
 public:
  /// Cancels every registered call and every later one. Idempotent.
  void Cancel();
  /// True once Cancel() was called.
  [[nodiscard]] bool cancelled() const;

  /// Client use: runs `on_cancel` when Cancel() is called (at once, on this thread, when it already
  /// was) until Unregister(id). `on_cancel` runs under an internal lock: it must be quick and must
  /// not call back into this object. Returns the id for Unregister.
  std::uint64_t Register(std::function<void()> on_cancel);
  /// Client use: forgets a registration; after it returns, its callback is not running and never
  /// runs.
  void Unregister(std::uint64_t id);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, std::function<void()>> callbacks_;
};

/// Per-call settings. Plain value type.
struct CallOptions {
  /// Deadline of this call (for DerefTo: of the whole transfer, resumes included); overrides
  /// ClientOptions::default_deadline.
  std::optional<std::chrono::milliseconds> deadline;
  /// Overrides ClientOptions::parent_run_id for this call.
  std::optional<std::string> parent_run_id;
  /// When set, CallCancel::Cancel() on it cancels this call.
  std::shared_ptr<CallCancel> cancel;
};

/// Progress of a DerefTo: bytes received so far and the payload size.
struct DerefProgress {
  std::uint64_t received = 0;
  std::uint64_t total = 0;
};

/// Outcome of a successful DerefTo.
struct DerefResult {
  /// Size of the payload (all of it was written to the sink).
  std::uint64_t total_size = 0;
  /// Type tag of the ref, e.g. "bytes" or "tensor.npy".
  std::string type_tag;
  /// Streams used: 1, or the number of parallel ranges.
  int streams = 0;
  /// Stream resumptions after transient failures, over all streams.
  int resumes = 0;
};

// The description DescribePeer returns (core/peer_description.h, shared with the HTTP client).
using ::blazen::PeerDescription;
using ::blazen::PeerDeviceInfo;
using ::blazen::PeerRefCount;
using ::blazen::PeerWorkflowDefault;

/// A connection to one peer. Every call sends `authorization: Bearer <token>` (when a token is
/// configured), `x-blazen-peer-node-id: <node_id>` and `x-blazen-parent-run-id` (when set), and
/// applies the call's deadline.
///
/// Errors: every method throws a PeerError subclass chosen from the failed call's status and the
/// peer's `x-blazen-error-kind` trailer: NotFoundError (unknown ref), UnknownStepError (unknown
/// step id), UnauthenticatedError (missing or wrong token), EnvelopeVersionError (the peer speaks a
/// newer envelope, in a request or a response), InvalidArgumentError (input the peer rejected),
/// DeadlineExceededError, ResourceExhaustedError, EncodeError (a malformed response), and
/// TransportError for connection failures and anything else.
///
/// Thread safety: thread-safe. Any number of calls may be in flight at once from any threads; they
/// share one HTTP/2 connection (parallel DerefTo streams use extra connections).
class BlazenPeerClient {
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

  ~BlazenPeerClient();
  BlazenPeerClient(const BlazenPeerClient&) = delete;
  BlazenPeerClient& operator=(const BlazenPeerClient&) = delete;
  BlazenPeerClient(BlazenPeerClient&&) = delete;
  BlazenPeerClient& operator=(BlazenPeerClient&&) = delete;

  /// Runs a sub-workflow on the peer and returns its response. As upstream, a workflow that ran
  /// and failed is NOT an exception: the response comes back with `error` set. Throws for
  /// protocol failures (UnknownStepError, InvalidArgumentError for input that is not JSON, ...).
  [[nodiscard]] SubWorkflowResponse InvokeSubWorkflow(const SubWorkflowRequest& request,
                                                      const CallOptions& call = {});

  /// Runs a sub-workflow and calls `on_event` for each event it emits, in order, on the calling
  /// thread; returns the final response (carried by the last item). An exception thrown by
  /// `on_event` cancels the call and propagates. Throws TransportError (kDataLoss) when the stream
  /// ends without a final response.
  [[nodiscard]] SubWorkflowResponse StreamSubWorkflowEvents(
      const SubWorkflowRequest& request,
      const std::function<void(const SubWorkflowEvent&)>& on_event, const CallOptions& call = {});

  /// Returns a session ref's whole payload in one message (the upstream RPC). Throws
  /// NotFoundError when the ref does not exist. Holds the payload in memory twice for a moment:
  /// use DerefTo for large payloads.
  [[nodiscard]] ByteVector DerefSessionRef(const Uuid& ref, const CallOptions& call = {});

  /// Streams a session ref's payload into `sink` with bounded memory whatever its size (the
  /// streaming extension RPC). The first stream learns the size from its first chunk and calls
  /// `sink.Begin`; a payload of at least ClientOptions::parallel_threshold_bytes is then fetched as
  /// up to ClientOptions::parallel_streams contiguous ranges, each on its own connection and
  /// thread. A stream that fails transiently (UNAVAILABLE, INTERNAL, UNKNOWN, or CANCELLED by the
  /// other side) after delivering data is resumed from its first missing byte, up to
  /// ClientOptions::max_resume_attempts times per range. `sink.Finish` is called once every byte
  /// was written. `progress` (optional) is called after each chunk, possibly from several threads
  /// but never concurrently, with monotonically growing `received`.
  /// Throws NotFoundError for an unknown ref, TransportError (kDataLoss) when the peer sends
  /// malformed, overlapping or out-of-range chunks, the PeerError of a failed sink call (e.g.
  /// InvalidArgumentError for a FileSink path that cannot be created), DeadlineExceededError, and
  /// any exception `progress` throws. On failure every stream is cancelled before the throw and the
  /// sink is left unfinished.
  DerefResult DerefTo(const Uuid& ref, DerefSink& sink,
                      const std::function<void(const DerefProgress&)>& progress = {},
                      const CallOptions& call = {});

  /// Drops a session ref on the peer. Returns true when this call removed it, false when it did not
  /// exist (any more).
  bool ReleaseSessionRef(const Uuid& ref, const CallOptions& call = {});

  /// Drops every UntilParentFinish ref the peer holds for `parent_run_id`; returns how many.
  std::uint64_t ReleaseScope(const std::string& parent_run_id, const CallOptions& call = {});

  /// Describes the peer: identity, steps, default workflows, devices and live refs.
  [[nodiscard]] PeerDescription DescribePeer(const CallOptions& call = {});

  /// This caller's node id, as given to Connect.
  [[nodiscard]] const std::string& node_id() const;
  /// The endpoint as given to Connect.
  [[nodiscard]] const std::string& endpoint() const;

 private:
  struct Impl;
  explicit BlazenPeerClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::client
