// SPDX-License-Identifier: Apache-2.0
#pragma once
// Metrics: the node's counters (invocations by outcome, invocation latency, deref bytes) and their
// rendering as Prometheus text, together with gauges read at scrape time from the session-ref
// registry (live refs by lifetime and location) and the GPU runtime's pool (bytes in use, peak,
// budget). Transports call the Record* hooks; GET /metrics calls Render.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "core/session_ref.h"
#include "core/status.h"
#include "core/wire_types.h"
#include "gpu/runtime.h"

namespace blazen::server {

/// Counters of one node. Owned by PeerNode (PeerNode::metrics()) and shared with every transport
/// through a `shared_ptr`, so any service (HTTP now; the gRPC service can call the same hooks)
/// records into one place. Thread-safe: one mutex guards the counters; Render takes a consistent
/// snapshot of them.
class Metrics {
 public:
  /// Upper bounds (seconds) of the invocation latency histogram buckets; +Inf is implied.
  static constexpr std::array<double, 14> kLatencyBuckets = {
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300};

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
  Metrics(Metrics&&) = delete;
  Metrics& operator=(Metrics&&) = delete;

  /// The `status` label of an invocation: `ok` for a run that succeeded, `workflow_error` for a
  /// response with `error` set, else the lower-case canonical code of `status` (`not_found`,
  /// `invalid_argument`, ...).
  [[nodiscard]] static std::string OutcomeOf(const Status& status,
                                             const SubWorkflowResponse* response);

  /// Counts one finished invocation (`transport`: "grpc" or "http"; `outcome`: see OutcomeOf) and
  /// records its latency, from receipt of the request to the response being ready.
  void RecordInvocation(std::string_view transport, std::string_view outcome,
                        std::chrono::nanoseconds latency);

  /// Adds `bytes` of ref payload sent to callers by a deref over `transport`.
  void AddDerefBytes(std::string_view transport, std::uint64_t bytes);

  /// Invocations counted so far for (`transport`, `outcome`); for tests.
  [[nodiscard]] std::uint64_t invocations(std::string_view transport,
                                          std::string_view outcome) const;

  /// Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` lines, then samples. Families:
  /// - blazen_peer_invocations_total{transport,status} (counter)
  /// - blazen_peer_invocation_duration_seconds{transport} (histogram: _bucket{le}, _sum, _count)
  /// - blazen_peer_deref_bytes_total{transport} (counter)
  /// - blazen_peer_live_refs{lifetime,location} and blazen_peer_live_ref_bytes{lifetime,location}
  /// - blazen_peer_resident_bytes{location} (bytes held by refs, leased values included)
  /// - blazen_peer_pool_in_use_bytes / _pool_peak_bytes / _pool_budget_bytes {location}
  ///   (only with a runtime)
  /// `runtime` may be null. Thread-safe.
  [[nodiscard]] std::string Render(const SessionRefRegistry& refs,
                                   const gpu::GpuRuntime* runtime) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};  // non-cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> invocations_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, std::uint64_t> deref_bytes_;
};

}  // namespace blazen::server
