// SPDX-License-Identifier: Apache-2.0
#pragma once
// PeerPool: a PeerClient over many peers. Each call is routed by the pool's policy (filter ->
// pick over a snapshot of the peer table, client/pool/policy/) to one peer's own client (gRPC or
// HTTP, made by ConnectPeer), and the answer says which peer served it (CallTrace). The pool
// learns its peers from a static list or a discovery source (client/pool/discovery/), keeps each
// one's health (the peer's health Watch stream plus passive outlier ejection), its load (the
// `x-blazen-load` report of every answer and this client's calls in flight) and which session refs
// it holds, so derefs and releases go to the holder.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/connect.h"
#include "client/peer_client_interface.h"
#include "client/pool/outlier_detector.h"
#include "client/pool/policy/policy.h"
#include "client/pool/policy/policy_registry.h"
#include "client/pool/retry_budget.h"
#include "core/load_report.h"

namespace blazen::client::pool {

/// How the pool watches each peer's health. Value type.
struct PoolHealthOptions {
  /// HTTP peers: how often /healthz is polled (gRPC peers push changes on their Watch stream).
  std::chrono::milliseconds poll_interval{250};
  /// After a failed connect, describe or watch, the next try waits this long, doubling up to
  /// `retry_max` (reset once a watch has been up for a while).
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{std::chrono::seconds(1)};
  /// Connect timeout of the pool's own connection attempts (per peer, in the background).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  /// Passive ejection.
  OutlierOptions outlier;
};

/// Settings of a pool. Value type.
struct PeerPoolOptions {
  /// The peers: a fixed list of endpoint URLs (as ConnectPeer takes them) ...
  std::vector<std::string> endpoints;
  /// ... or a discovery URL (`dns:///name:port`, `etcd://host:port/prefix`, `static:a,b`); exactly
  /// one of the two.
  std::string discover;
  /// The routing policy (PolicyRegistry::WithBuiltins names) and its options.
  std::string policy = std::string(kDefaultPolicy);
  PolicyOptions policy_options;
  /// Credentials and per-client settings, the same for every peer.
  ConnectOptions connect;
  PoolHealthOptions health;
  RetryOptions retry;
  /// Make waits up to this long for every known peer to be connected and described (or to fail
  /// trying), so the first calls see the whole pool. Calls made before a peer is ready skip it.
  std::chrono::milliseconds startup_wait{std::chrono::seconds(3)};
  /// A ref this pool did not return (e.g. one a previous process got) is looked for on every
  /// connected peer in turn (a peer without it answers NOT_FOUND) instead of failing at once with
  /// NotFoundError. Costs up to one call per peer; for tools, not for hot paths.
  bool locate_unknown_refs = false;
  /// Clock of the outlier detector (tests); steady_clock when unset.
  OutlierDetector::Now clock;
};

/// What a call asks of the peer it is routed to, beyond its step ids. Value type.
struct RouteOptions {
  /// Labels the peer must carry (e.g. {"gpu": "h100"}).
  std::map<std::string, std::string> required_labels;
  /// Device bytes the run will need (filtered against each peer's reported free pool bytes).
  std::optional<std::uint64_t> device_bytes;
  /// Key for `consistent_hash` (e.g. a session id).
  std::optional<std::string> hash_key;
  /// Send only to the peer at this endpoint (as PoolPeerInfo / CallTrace name it), e.g. the
  /// holder of a ref the run reads; UNAVAILABLE when it is not in the pick set.
  std::optional<std::string> endpoint;
  /// Fill RoutedCall::decision.
  bool record = false;
};

/// One peer as the pool sees it now. Value type.
struct PoolPeerInfo {
  std::string endpoint;
  std::string node_id;  // empty until described
  /// Connected, described and its health watch says SERVING.
  bool serving = false;
  /// Ejected by the outlier detector now.
  bool ejected = false;
  /// In the pick set now (serving and not ejected, as the routing table was last published).
  bool healthy = false;
  double capacity_weight = 1.0;
  std::map<std::string, std::string> labels;
  std::vector<std::string> step_ids;
  std::string gpu_model;
  LoadReport load;
  std::uint64_t outstanding = 0;
  /// Calls routed to it / failed with a transport error.
  std::uint64_t picks = 0;
  std::uint64_t failures = 0;
  /// Session refs the pool knows it holds.
  std::uint64_t refs = 0;
  /// Why it is not serving (the last connect, describe or watch failure), when it is not.
  std::string last_error;
};

/// Counters of the pool since it was made. Value type.
struct PoolMetrics {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  /// Retries the budget refused.
  std::uint64_t retries_refused = 0;
  /// Calls refused because every eligible peer was at its limit (RESOURCE_EXHAUSTED).
  std::uint64_t rejections = 0;
  /// Calls with no healthy eligible peer (UNAVAILABLE).
  std::uint64_t unavailable = 0;
  std::uint64_t ejections = 0;
  /// Picks per endpoint.
  std::map<std::string, std::uint64_t> picks;
};

/// The outcome of a routed invocation: the response and what routing did.
struct RoutedCall {
  SubWorkflowResponse response;
  /// Where it ran and how many peers were tried.
  CallTrace trace;
  /// The first attempt's decision record, with RouteOptions::record.
  std::optional<DecisionRecord> decision;
};

/// A PeerClient over many peers; see the file comment.
///
/// Routing: InvokeSubWorkflow and StreamSubWorkflowEvents pick a peer that serves every step id of
/// the request (RouteOptions add labels, a device-bytes hint and a hash key); DerefSessionRef,
/// DerefTo and ReleaseSessionRef go to the peer that returned the ref through this pool (a ref it
/// does not know is NotFoundError naming it, unless PeerPoolOptions::locate_unknown_refs; a holder
/// that left the pool or does not answer is UNAVAILABLE naming the holder); ReleaseScope goes to
/// every peer and sums; DescribePeer describes one peer chosen by the policy (Peers() lists them
/// all).
///
/// Errors: as PeerClient, plus ResourceExhaustedError when every eligible peer is at its limit
/// (the capacity filter: overload) and TransportError (kUnavailable) when no healthy peer can
/// serve the request; both name the peers considered.
///
/// Retries: a call that did not reach a step (the connection could not be made, or the peer
/// refused it before running it: overload, or draining for shutdown) is sent again to another peer,
/// never the same one, up to RetryOptions::max_attempts, while the retry budget allows (<= `ratio`
/// extra load). A call marked CallOptions::idempotent is also retried after a transport failure
/// that may have reached the peer. Events already delivered are never repeated: a stream is retried
/// only before its first event.
///
/// Thread-safe. Not copyable or movable.
class PeerPool final : public PeerClient {
 public:
  /// Makes a pool and starts watching its peers; waits up to `options.startup_wait` for them.
  /// Throws InvalidArgumentError for an unknown policy, neither or both of endpoints and
  /// discover, an empty endpoint list or element, or a malformed discovery URL, and
  /// TransportError (kUnavailable) when the discovery source cannot give a first peer set (e.g.
  /// an etcd that does not answer). `node_id` is this caller's, sent with every call.
  [[nodiscard]] static std::unique_ptr<PeerPool> Make(PeerPoolOptions options, std::string node_id);

  ~PeerPool() override;

  /// Routes one invocation with `route` and returns the response with its trace and decision.
  /// Throws as InvokeSubWorkflow.
  [[nodiscard]] RoutedCall Invoke(const SubWorkflowRequest& request, const RouteOptions& route,
                                  const CallOptions& call = {});

  /// The peers now, in endpoint order.
  [[nodiscard]] std::vector<PoolPeerInfo> Peers() const;
  /// The counters so far.
  [[nodiscard]] PoolMetrics Metrics() const;
  /// The counters in Prometheus text form (blazen_pool_* families).
  [[nodiscard]] std::string MetricsText() const;
  /// The pool as JSON text: policy, discovery, peers (Peers()) and metrics.
  [[nodiscard]] std::string DescribeJson() const;
  /// The routing policy's name.
  [[nodiscard]] const std::string& policy() const;
  /// Waits until at least `count` peers are in the pick set or `timeout` passes; returns whether
  /// they are.
  bool WaitForHealthy(std::size_t count, std::chrono::milliseconds timeout) const;

  /// This caller's node id.
  [[nodiscard]] const std::string& node_id() const override;
  /// The discovery URL, or the static endpoints joined by ','.
  [[nodiscard]] const std::string& endpoint() const override;

  struct Impl;

 private:
  explicit PeerPool(std::unique_ptr<Impl> impl);

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

}  // namespace blazen::client::pool
