// SPDX-License-Identifier: Apache-2.0
#pragma once
// PeerOperations: the transport-neutral middle layer of a peer. Every transport (gRPC, HTTP/JSON,
// and any later one) turns its request into a CallMeta plus a decoded wire struct, calls one
// operation here, and encodes what comes back. The operations own what used to be written once
// per transport: admission (bearer token, envelope version), the caller's metadata, metrics, the
// one log line of each call, invocations with or without events, deref planning and whole-ref
// reads with their limits, release, release-scope and describe. Nothing here knows gRPC or HTTP.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine.h"
#include "core/load_report.h"
#include "core/peer_description.h"
#include "core/session_ref.h"
#include "core/status.h"
#include "core/uuid.h"
#include "core/wire_types.h"
#include "gpu/runtime.h"
#include "server/detail/byte_range.h"
#include "server/metrics.h"

namespace blazen::server::detail {

/// Request metadata names, lower case (gRPC metadata keys; HTTP header lookups are
/// case-insensitive, so transports use the same names).
inline constexpr std::string_view kAuthorizationHeader = "authorization";
inline constexpr std::string_view kNodeIdHeader = "x-blazen-peer-node-id";
inline constexpr std::string_view kParentRunIdHeader = "x-blazen-parent-run-id";

/// Looks a request header up by its lower-case name; nullopt when absent.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

/// What one call says about itself, in transport-neutral form. Plain value type.
struct CallMeta {
  /// The transport's name as metrics and logs show it: "grpc" or "http".
  std::string_view transport;
  /// The raw `authorization` header, when the call carried one.
  std::optional<std::string> authorization;
  /// The caller's node id (`x-blazen-peer-node-id`, at most 256 bytes kept), "-" when absent.
  std::string caller = "-";
  /// `x-blazen-parent-run-id`, when present and non-empty.
  std::optional<std::string> parent_run_id;
  /// When the transport received the call (invocation latency counts from here).
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();

  /// Reads the three headers through `lookup`.
  [[nodiscard]] static CallMeta From(std::string_view transport, const HeaderLookup& lookup);
};

struct PeerOperationsOptions {
  /// This peer's id, in every log line and in DescribePeer.
  std::string node_id;
  /// When set (non-empty): every operation but health needs `authorization: Bearer <token>`.
  std::optional<std::string> token;
  /// The node's GPU runtime (DescribePeer, /metrics); may be null.
  std::shared_ptr<gpu::GpuRuntime> runtime;
  /// Where invocations and deref bytes are counted; created when null.
  std::shared_ptr<Metrics> metrics;
  /// Operator-given labels and relative capacity, reported by Describe and every load report.
  std::map<std::string, std::string> labels;
  double capacity_weight = 1.0;
};

/// A planned deref: the lease keeps the value alive (even after a concurrent release) until the
/// plan and every chunk read through it are gone.
struct DerefPlan {
  RefLease lease;
  Uuid key;
  ByteRange range;
  /// The payload's full size and type tag.
  std::uint64_t total = 0;
  std::string type_tag;
};

/// Shared by every transport of a node; create it with std::make_shared (runs in flight keep it
/// alive through shared_from_this). Thread-safe; never blocks on a workflow.
class PeerOperations : public std::enable_shared_from_this<PeerOperations> {
 public:
  PeerOperations(PeerOperationsOptions options, std::shared_ptr<Engine> engine);

  [[nodiscard]] const std::string& node_id() const { return options_.node_id; }
  [[nodiscard]] Engine& engine() const { return *engine_; }
  [[nodiscard]] const std::shared_ptr<Engine>& engine_ptr() const { return engine_; }
  [[nodiscard]] Metrics& metrics() const { return *options_.metrics; }
  [[nodiscard]] const std::shared_ptr<Metrics>& metrics_ptr() const { return options_.metrics; }
  /// May be null.
  [[nodiscard]] gpu::GpuRuntime* runtime() const { return options_.runtime.get(); }
  [[nodiscard]] bool requires_token() const { return options_.token.has_value(); }

  // --- Admission ------------------------------------------------------------------------------

  /// OK without a configured token; else CheckBearerToken's kUnauthenticated. A rejection is
  /// logged (WARN) with `what` (the operation or route) and the caller.
  [[nodiscard]] Status Authorize(const CallMeta& call, std::string_view what) const;
  /// Authorize, then the request's envelope version (kFailedPrecondition when newer).
  [[nodiscard]] Status Admit(const CallMeta& call, std::string_view what,
                             std::uint32_t envelope_version) const;

  // --- Invocations ----------------------------------------------------------------------------

  /// Encodes a finished run's response for the wire; its status is what the call reports.
  using EncodeResponse = std::function<Status(const SubWorkflowResponse&)>;
  /// Ends the call with the final status (OK: the encoded response is ready to send).
  using FinishCall = std::function<void(const Status&)>;

  /// Starts a run of `request` for `call`. When the run ends, `encode` is called with its response,
  /// the invocation is counted and logged, and `finish` is called with encode's status. When the
  /// run cannot start (see Engine::InvokeAsync), it is counted and logged and `finish` gets the
  /// error before this returns. `finish` runs exactly once, possibly on this thread (inline runs,
  /// see `allow_inline`). `cancel` (may be null) cancels the run.
  void Invoke(const CallMeta& call, const SubWorkflowRequest& request,
              std::shared_ptr<CancellationToken> cancel, bool allow_inline, EncodeResponse encode,
              FinishCall finish);

  /// Starts a run whose events go to `on_event` (see InvocationOptions::on_event; the last one
  /// carries the response); the invocation is counted when that last event is handed over.
  /// Returns the error (counted and logged) when the run did not start; `on_event` is then never
  /// called.
  [[nodiscard]] Status StartEventStream(const CallMeta& call, const SubWorkflowRequest& request,
                                        std::shared_ptr<CancellationToken> cancel,
                                        std::function<void(const SubWorkflowEvent&)> on_event);

  /// Counts an invocation that failed before reaching the engine (a rejected token, a request that
  /// does not decode).
  void RecordRejectedInvocation(const CallMeta& call, const Status& status) const;

  // --- Deref ----------------------------------------------------------------------------------

  /// Leases `key` and plans [offset, offset + length) (see PlanByteRange). kNotFound for an
  /// unknown ref; kOutOfRange as PlanByteRange.
  [[nodiscard]] Result<DerefPlan> OpenDeref(const CallMeta& call, const Uuid& key,
                                            std::uint64_t offset,
                                            std::optional<std::uint64_t> length,
                                            EmptyAtEnd at_end) const;

  /// The whole payload of `key` in memory. kNotFound for an unknown ref; kResourceExhausted when
  /// it is larger than `max_bytes` (the message ends with `too_large_hint`, e.g. the streamed
  /// route to use instead) or cannot be allocated; kInternal when the value fails to serialize.
  /// Counts the bytes as sent over `call.transport`.
  [[nodiscard]] Result<std::vector<std::uint8_t>> ReadWhole(
      const CallMeta& call, const Uuid& key, std::uint64_t max_bytes = UINT64_MAX,
      std::string_view too_large_hint = {}) const;

  /// Counts `bytes` of payload sent over `call.transport`.
  void AddDerefBytes(const CallMeta& call, std::uint64_t bytes) const;

  /// `serialization of session ref <uuid> failed: <message>` (kInternal), for readers that fail
  /// mid-stream.
  [[nodiscard]] static Status SerializationFailed(const Uuid& key, const Status& read);
  /// What a deref reports for a failed RefLease::Lend: a deadline, a cancellation or memory
  /// exhaustion as such, anything else as SerializationFailed.
  [[nodiscard]] static Status LendFailed(const Uuid& key, const Status& lend);

  // --- Release, release-scope, describe ---------------------------------------------------------

  /// Drops `key`; true when this call removed it.
  bool Release(const CallMeta& call, const Uuid& key) const;

  /// Drops every UntilParentFinish ref of `parent_run_id`; returns how many. kFailedPrecondition
  /// for a newer envelope, kInvalidArgument for an empty id.
  [[nodiscard]] Result<std::uint64_t> ReleaseScope(const CallMeta& call,
                                                   std::uint32_t envelope_version,
                                                   const std::string& parent_run_id) const;

  /// The node's self-description now (steps, workflows, devices, live refs, labels, weight, GPU
  /// model and load).
  [[nodiscard]] PeerDescription Describe() const;

  /// The load now, with the next report sequence number. Cheap (no registry lock): every
  /// response of every transport carries one (kLoadReportHeader).
  [[nodiscard]] LoadReport Load() const;
  /// EncodeLoadReport(Load()).
  [[nodiscard]] std::string LoadHeader() const;

 private:
  static InvocationOptions InvocationFor(const CallMeta& call,
                                         std::shared_ptr<CancellationToken> cancel);
  void FinishInvocation(const CallMeta& call, const std::string& workflow, const std::string& steps,
                        const Status& status, const SubWorkflowResponse* response) const;

  PeerOperationsOptions options_;
  std::shared_ptr<Engine> engine_;
  mutable std::atomic<std::uint64_t> load_seq_{0};
};

/// Runs `body` and turns any exception it throws into kInternal (`internal error: <what>`), the
/// catch-all every handler needs (an exception escaping a gRPC callback or HTTP worker would end
/// the process or the connection without an answer).
template <typename F>
[[nodiscard]] Status RunGuarded(F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("internal error: ") + e.what());
  } catch (...) {
    return Status::Internal("internal error");
  }
}

}  // namespace blazen::server::detail
