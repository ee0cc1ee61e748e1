// SPDX-License-Identifier: Apache-2.0
#pragma once
// PeerClient: what a parent can do with one peer, whatever the transport. BlazenPeerClient (gRPC,
// client/peer_client.h) and HttpPeerClient (HTTP/JSON, client/http_client.h) implement it;
// ConnectPeer (client/connect.h) picks one from a URL. Also the value types every transport shares:
// per-call settings (CallOptions, CallCancel) and the outcome of a streamed deref (DerefResult).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/deref_sink.h"
#include "core/load_report.h"
#include "core/peer_description.h"
#include "core/uuid.h"
#include "core/wire_types.h"

namespace blazen::client {

/// Cancels client calls from another thread (e.g. when an asyncio awaitable wrapping a blocking
/// call is cancelled). Share one between the CallOptions of the calls to cancel together. Calls
/// registered when Cancel() runs are cancelled at once (gRPC: grpc::ClientContext::TryCancel, and a
/// DerefTo stops every stream; HTTP: the call's connection is closed); calls that start after it
/// are cancelled before they reach the wire. A cancelled call throws TransportError with code
/// kCancelled. Thread-safe.
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

/// What one call learned about where and how it ran; see CallOptions::trace. Plain value type.
struct CallTrace {
  /// The node id of the peer that served the call (filled by a PeerPool, which learns it from
  /// DescribePeer; a single client leaves it empty) and its endpoint.
  std::string node_id;
  std::string endpoint;
  /// The load report the peer's answer carried (gRPC trailing metadata / HTTP header
  /// `x-blazen-load`), when it carried a valid one.
  std::optional<LoadReport> load;
  /// True when the call failed before its request reached the peer (the connection could not be
  /// made): nothing ran there, so a router may safely send the call elsewhere.
  bool failed_before_sending = false;
  /// PeerPool: every peer the call was sent to, in order, as "node_id (endpoint)"; more than one
  /// when it was retried.
  std::vector<std::string> tried;
};

/// Per-call settings. Plain value type.
struct CallOptions {
  /// Deadline of this call (for DerefTo: of the whole transfer, resumes included); overrides
  /// ClientOptions::default_deadline.
  std::optional<std::chrono::milliseconds> deadline;
  /// Overrides the client's parent run id (ClientOptions / HttpClientOptions::parent_run_id) for
  /// this call.
  std::optional<std::string> parent_run_id;
  /// When set, CallCancel::Cancel() on it cancels this call.
  std::shared_ptr<CallCancel> cancel;
  /// When set, the client fills it in (also when the call throws); not owned, must outlive the
  /// call. Not for calls running concurrently with the same options.
  CallTrace* trace = nullptr;
  /// PeerPool: the call may run twice without harm (retried after a failure that may have
  /// reached a step). Single clients ignore it.
  bool idempotent = false;
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

// The description DescribePeer returns (core/peer_description.h, shared by every transport).
using ::blazen::PeerDescription;
using ::blazen::PeerDeviceInfo;
using ::blazen::PeerRefCount;
using ::blazen::PeerWorkflowDefault;

/// A connection to one peer over some transport. Every call carries the caller's node id, the
/// bearer token (when the client has one) and the parent run id (the call's, else the client's),
/// and honours the call's CallOptions: `deadline` bounds the whole call (DeadlineExceededError
/// when it passes), `parent_run_id` overrides the client's, `cancel` cancels it from any thread
/// (TransportError with code kCancelled). Without a per-call deadline the client's default applies
/// (see each implementation's options).
///
/// Errors: every method throws a PeerError subclass (core/peer_error.h), the same one for the same
/// failure over every transport (tests/conformance checks it):
/// - NotFoundError (kNotFound): an unknown session ref;
/// - UnknownStepError (kNotFound): a step id the peer does not have;
/// - UnauthenticatedError: a missing or wrong token, or a rejected client certificate;
/// - EnvelopeVersionError (kFailedPrecondition): the peer speaks a newer envelope version, in a
///   request or a response;
/// - InvalidArgumentError: input the peer rejected, or a CallOptions::parent_run_id that is not
///   printable ASCII (it cannot travel in metadata or a header);
/// - DeadlineExceededError: the call's deadline passed;
/// - ResourceExhaustedError: a limit on the peer (refs, bytes, queue) was reached;
/// - EncodeError: a response that does not decode;
/// - TransportError: connection failures (kUnavailable), cancellation (kCancelled), a stream that
///   ended early or inconsistently (kDataLoss), and anything else.
///
/// Default arguments: the public methods are non-virtual and carry the defaults; each forwards to a
/// private pure virtual `Do...` without defaults, which implementations override. Default arguments
/// of a virtual function are bound to the static type of the call, so a default repeated in every
/// override would silently depend on whether the caller holds a PeerClient or a concrete client the
/// day one copy drifts; with the defaults in one place there is nothing to drift. Calls through a
/// concrete client (`BlazenPeerClient`, `HttpPeerClient`) use these same methods.
///
/// Thread safety: implementations are thread-safe; any number of calls may be in flight at once
/// from any threads. Not copyable or movable; hold it by std::unique_ptr.
class PeerClient {
 public:
  virtual ~PeerClient();
  PeerClient(const PeerClient&) = delete;
  PeerClient& operator=(const PeerClient&) = delete;
  PeerClient(PeerClient&&) = delete;
  PeerClient& operator=(PeerClient&&) = delete;

  /// Runs a sub-workflow on the peer and returns its response. As upstream, a workflow that ran
  /// and failed is NOT an exception: the response comes back with `error` set. Throws for protocol
  /// failures: UnknownStepError, InvalidArgumentError for input that is not JSON,
  /// EnvelopeVersionError for a request envelope newer than the peer's, ResourceExhaustedError when
  /// the peer's run queue is full, and the errors listed on the class.
  [[nodiscard]] SubWorkflowResponse InvokeSubWorkflow(const SubWorkflowRequest& request,
                                                      const CallOptions& call = {}) {
    return DoInvokeSubWorkflow(request, call);
  }

  /// Runs a sub-workflow and calls `on_event` for each event it emits, in order, on the calling
  /// thread; returns the final response (carried by the last event). An exception thrown by
  /// `on_event` cancels the call (the peer cancels the run) and propagates. Throws what
  /// InvokeSubWorkflow throws, and TransportError (kDataLoss) when the stream ends without a final
  /// response.
  [[nodiscard]] SubWorkflowResponse StreamSubWorkflowEvents(
      const SubWorkflowRequest& request,
      const std::function<void(const SubWorkflowEvent&)>& on_event, const CallOptions& call = {}) {
    return DoStreamSubWorkflowEvents(request, on_event, call);
  }

  /// Returns a session ref's whole payload in one message (the upstream operation). Throws
  /// NotFoundError when the ref does not exist. Holds the payload in memory more than once for a
  /// moment: use DerefTo for large payloads.
  [[nodiscard]] ByteVector DerefSessionRef(const Uuid& ref, const CallOptions& call = {}) {
    return DoDerefSessionRef(ref, call);
  }

  /// Streams a session ref's payload into `sink` with bounded memory whatever its size. Calls
  /// `sink.Begin` once the size and type tag are known (also for an empty payload), `sink.Write`
  /// for every byte, and `sink.Finish` once all arrived. A stream that breaks after delivering data
  /// is resumed from its first missing byte (how often: the client's `max_resume_attempts`).
  /// `progress` (optional) is called with growing `received`, never concurrently (a transport may
  /// call it from several threads). Throws NotFoundError for an unknown ref, TransportError
  /// (kDataLoss) when the peer's answer is inconsistent (malformed, overlapping or out-of-range
  /// data, a size that changed between attempts), the PeerError of a failed sink call (e.g.
  /// InvalidArgumentError for a FileSink path that cannot be created), DeadlineExceededError, and
  /// any exception `progress` throws. On failure the transfer is stopped before the throw and the
  /// sink is left unfinished.
  DerefResult DerefTo(const Uuid& ref, DerefSink& sink,
                      const std::function<void(const DerefProgress&)>& progress = {},
                      const CallOptions& call = {}) {
    return DoDerefTo(ref, sink, progress, call);
  }

  /// Drops a session ref on the peer. Returns true when this call removed it, false when it did not
  /// exist (any more).
  bool ReleaseSessionRef(const Uuid& ref, const CallOptions& call = {}) {
    return DoReleaseSessionRef(ref, call);
  }

  /// Drops every UntilParentFinish ref the peer holds for `parent_run_id`; returns how many.
  /// Throws InvalidArgumentError for an empty id.
  std::uint64_t ReleaseScope(const std::string& parent_run_id, const CallOptions& call = {}) {
    return DoReleaseScope(parent_run_id, call);
  }

  /// Describes the peer: identity, steps, default workflows, devices and live refs. Throws
  /// EncodeError when the answer does not have that shape.
  [[nodiscard]] PeerDescription DescribePeer(const CallOptions& call = {}) {
    return DoDescribePeer(call);
  }

  /// Watches the peer's serving state: calls `on_change(serving)` with the first state it learns
  /// and on every change, on the calling thread, until the watch ends; returns when it ends: the
  /// connection broke or could not be made, or `call.cancel` was cancelled. Never throws for
  /// those (an exception from `on_change` propagates). gRPC: the standard health service's
  /// Watch stream (a peer without one, such as an upstream peer, counts as serving while its
  /// connection is up); HTTP: `GET /healthz` every `poll_interval`.
  void WatchHealth(const std::function<void(bool serving)>& on_change,
                   std::chrono::milliseconds poll_interval, const CallOptions& call = {}) {
    DoWatchHealth(on_change, poll_interval, call);
  }

  /// This caller's node id, as given when the client was made.
  [[nodiscard]] virtual const std::string& node_id() const = 0;
  /// Where the client talks to: the gRPC endpoint as given to BlazenPeerClient::Connect, or the
  /// HTTP base URL as given to HttpPeerClient::NewHttp (`http://` / `https://`, also when
  /// ConnectPeer was given an `http+json://` / `https+json://` URL).
  [[nodiscard]] virtual const std::string& endpoint() const = 0;

 protected:
  PeerClient() = default;

 private:
  // One per public method above, same contract, no default arguments.
  virtual SubWorkflowResponse DoInvokeSubWorkflow(const SubWorkflowRequest& request,
                                                  const CallOptions& call) = 0;
  virtual SubWorkflowResponse DoStreamSubWorkflowEvents(
      const SubWorkflowRequest& request,
      const std::function<void(const SubWorkflowEvent&)>& on_event, const CallOptions& call) = 0;
  virtual ByteVector DoDerefSessionRef(const Uuid& ref, const CallOptions& call) = 0;
  virtual DerefResult DoDerefTo(const Uuid& ref, DerefSink& sink,
                                const std::function<void(const DerefProgress&)>& progress,
                                const CallOptions& call) = 0;
  virtual bool DoReleaseSessionRef(const Uuid& ref, const CallOptions& call) = 0;
  virtual std::uint64_t DoReleaseScope(const std::string& parent_run_id,
                                       const CallOptions& call) = 0;
  virtual PeerDescription DoDescribePeer(const CallOptions& call) = 0;
  virtual void DoWatchHealth(const std::function<void(bool serving)>& on_change,
                             std::chrono::milliseconds poll_interval, const CallOptions& call) = 0;
};

}  // namespace blazen::client
