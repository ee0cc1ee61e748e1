// SPDX-License-Identifier: Apache-2.0
// PeerPool: the peer table (one PeerEntry per endpoint, each with a manager thread that connects,
// describes and watches its peer), the published routing table (snapshot + entries, swapped
// atomically), the call path (pick -> call -> learn -> maybe retry elsewhere) and the ref-holder
// map.

#include "client/pool/peer_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "client/pool/discovery/discovery.h"
#include "client/pool/peer_snapshot.h"
#include "core/logging.h"
#include "core/peer_error.h"

namespace blazen::client::pool {

namespace {

using Clock = std::chrono::steady_clock;

std::string PeerName(const std::string& node_id, const std::string& endpoint) {
  return (node_id.empty() ? std::string("?") : node_id) + " (" + endpoint + ")";
}

// Transport failures count against a peer's health; answers the peer gave (not found, invalid
// input, overload, ...) do not.
bool IsTransportFailure(const PeerError& error) {
  if (error.kind() != ErrorKind::kTransport) return false;
  switch (error.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kInternal:
    case StatusCode::kDataLoss:
    case StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

// The peer refused the call before running any step: overload (its run queue is full), or it is
// draining (the engine's "peer is shutting down" refusal, core/engine.cc). Safe to send elsewhere.
bool RefusedBeforeRunning(const PeerError& error) {
  if (error.code() == StatusCode::kResourceExhausted) return true;
  return error.code() == StatusCode::kUnavailable &&
         error.message().find("peer is shutting down") != std::string::npos;
}

[[noreturn]] void Rethrow(const PeerError& error, const std::string& prefix) {
  Status status = error.ToStatus();
  ThrowPeerError(Status(status.code(), prefix + status.message(), status.kind()));
}

}  // namespace

// One peer of the pool. The manager thread owns the connection's life; calls read `client`.
struct PeerEntry {
  explicit PeerEntry(DiscoveredPeer seed_in)
      : endpoint(seed_in.endpoint), seed(std::move(seed_in)) {}

  const std::string endpoint;
  const std::shared_ptr<PeerLive> live = std::make_shared<PeerLive>();
  const std::shared_ptr<CallCancel> stop = std::make_shared<CallCancel>();
  std::thread manager;
  std::atomic<std::uint64_t> picks{0};
  std::atomic<std::uint64_t> failures{0};

  mutable std::mutex mu;
  std::condition_variable wake;                // with mu: ends the manager's backoff waits
  bool stopping = false;                       // guarded by mu
  DiscoveredPeer seed;                         // guarded by mu
  std::shared_ptr<PeerClient> client;          // guarded by mu
  std::optional<PeerDescription> description;  // guarded by mu
  bool upstream = false;   // guarded by mu: the peer has no DescribePeer (an upstream peer)
  bool serving = false;    // guarded by mu
  bool settled = false;    // guarded by mu: the first attempt finished
  std::string last_error;  // guarded by mu

  std::shared_ptr<PeerClient> Client() const {
    std::lock_guard<std::mutex> lock(mu);
    return client;
  }
  std::string NodeId() const {
    std::lock_guard<std::mutex> lock(mu);
    return description ? description->node_id : seed.node_id;
  }
  std::string Name() const { return PeerName(NodeId(), endpoint); }
  bool Serving() const {
    std::lock_guard<std::mutex> lock(mu);
    return serving;
  }
};

// What calls route over: a snapshot and the entry behind each of its peers (same order).
struct RouteTable {
  std::shared_ptr<const PeerSnapshot> snapshot = PeerSnapshot::Empty();
  std::vector<std::shared_ptr<PeerEntry>> entries;
};

struct PeerPool::Impl {
  Impl(PeerPoolOptions options_in, std::string node_id_in, Pipeline pipeline_in)
      : options(std::move(options_in)),
        node_id(std::move(node_id_in)),
        pipeline(std::move(pipeline_in)),
        outlier(options.health.outlier, options.clock),
        budget(options.retry) {}

  const PeerPoolOptions options;
  const std::string node_id;
  std::string endpoint_text;
  const Pipeline pipeline;
  OutlierDetector outlier;
  RetryBudget budget;
  std::unique_ptr<Discovery> discovery;

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> retries_refused{0};
  std::atomic<std::uint64_t> rejections{0};
  std::atomic<std::uint64_t> unavailable{0};

  mutable std::mutex mu;
  mutable std::condition_variable changed;                    // with mu: a new table was published
  bool stopping = false;                                      // guarded by mu
  std::map<std::string, std::shared_ptr<PeerEntry>> entries;  // guarded by mu
  std::unordered_map<Uuid, std::shared_ptr<PeerEntry>> holders;  // guarded by mu
  std::uint64_t version = 0;                                     // guarded by mu
  std::vector<std::string> published_ejected;                    // guarded by mu
  std::thread maintenance;

  mutable std::mutex table_mu;
  std::shared_ptr<const RouteTable> table = std::make_shared<RouteTable>();  // guarded by table_mu

  std::shared_ptr<const RouteTable> Table() const {
    std::lock_guard<std::mutex> lock(table_mu);
    return table;
  }

  // Builds and publishes a new routing table from the entries. Takes mu.
  void Republish() {
    std::unique_lock<std::mutex> lock(mu);
    RepublishLocked();
  }

  void RepublishLocked() {
    auto next = std::make_shared<RouteTable>();
    std::vector<PeerState> states;
    states.reserve(entries.size());
    for (const auto& [endpoint, entry] : entries) {
      PeerState state;
      state.endpoint = endpoint;
      state.live = entry->live;
      {
        std::lock_guard<std::mutex> entry_lock(entry->mu);
        state.healthy = entry->serving && entry->client != nullptr;
        state.node_id = entry->seed.node_id;
        state.labels = entry->seed.labels;
        if (entry->seed.capacity_weight) state.capacity_weight = *entry->seed.capacity_weight;
        state.steps_known = !entry->upstream;
        if (entry->description) {
          const PeerDescription& d = *entry->description;
          state.node_id = d.node_id;
          state.step_ids = d.step_ids;
          for (const auto& [k, v] : d.labels) state.labels[k] = v;
          if (d.capacity_weight > 0) state.capacity_weight = d.capacity_weight;
        }
      }
      state.healthy = state.healthy && !outlier.IsEjected(endpoint);
      states.push_back(std::move(state));
      next->entries.push_back(entry);
    }
    Result<std::shared_ptr<const PeerSnapshot>> snapshot =
        PeerSnapshot::Make(std::move(states), ++version);
    if (!snapshot.ok()) {
      BLAZEN_LOG_WARN("peer pool: cannot publish the peer table: {}", snapshot.status().message());
      return;
    }
    next->snapshot = std::move(snapshot).value();
    published_ejected = outlier.Ejected();
    {
      std::lock_guard<std::mutex> table_lock(table_mu);
      table = std::move(next);
    }
    changed.notify_all();
  }

  // --- membership ------------------------------------------------------------------------------

  void ApplyMembership(std::vector<DiscoveredPeer> peers) {
    std::vector<std::shared_ptr<PeerEntry>> removed;
    {
      std::unique_lock<std::mutex> lock(mu);
      if (stopping) return;
      std::map<std::string, DiscoveredPeer> wanted;
      for (DiscoveredPeer& peer : peers) {
        std::string key = peer.endpoint;
        wanted.emplace(std::move(key), std::move(peer));
      }
      for (auto it = entries.begin(); it != entries.end();) {
        if (!wanted.contains(it->first)) {
          removed.push_back(it->second);
          it = entries.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& [endpoint, seed] : wanted) {
        auto it = entries.find(endpoint);
        if (it != entries.end()) {
          std::lock_guard<std::mutex> entry_lock(it->second->mu);
          it->second->seed = std::move(seed);
          continue;
        }
        auto entry = std::make_shared<PeerEntry>(std::move(seed));
        entries.emplace(endpoint, entry);
        entry->manager = std::thread([this, entry] { Manage(*entry); });
      }
      std::vector<std::string> keys;
      for (const auto& [endpoint, entry] : entries) keys.push_back(endpoint);
      outlier.SetPeers(keys);
      RepublishLocked();
    }
    for (const auto& entry : removed) {
      BLAZEN_LOG_INFO("peer pool: {} left the pool", entry->Name());
      StopEntry(*entry);
    }
  }

  static void StopEntry(PeerEntry& entry) {
    {
      std::lock_guard<std::mutex> lock(entry.mu);
      entry.stopping = true;
    }
    entry.wake.notify_all();
    entry.stop->Cancel();
    if (entry.manager.joinable()) entry.manager.join();
  }

  // --- one peer's life: connect, describe, watch, repeat -----------------------------------------

  // Waits `delay` or until the entry stops; returns false when it stops.
  static bool Pause(PeerEntry& entry, std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(entry.mu);
    entry.wake.wait_for(lock, delay, [&] { return entry.stopping; });
    return !entry.stopping;
  }

  void Fail(PeerEntry& entry, std::string why) {
    {
      std::lock_guard<std::mutex> lock(entry.mu);
      if (entry.stopping) return;
      const bool was_serving = entry.serving;
      entry.serving = false;
      entry.settled = true;
      if (was_serving || entry.last_error != why) {
        BLAZEN_LOG_INFO("peer pool: {} is out of the pick set: {}", entry.endpoint, why);
      }
      entry.last_error = std::move(why);
    }
    Republish();
  }

  void Manage(PeerEntry& entry) {
    std::chrono::milliseconds backoff = options.health.retry_min;
    const auto next_backoff = [&] { backoff = std::min(backoff * 2, options.health.retry_max); };
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(entry.mu);
        if (entry.stopping) return;
      }
      std::shared_ptr<PeerClient> client = entry.Client();
      if (client == nullptr) {
        try {
          ConnectOptions connect = options.connect;
          connect.connect_timeout =
              std::min(connect.connect_timeout, options.health.connect_timeout);
          client = ConnectPeer(entry.endpoint, node_id, connect);
        } catch (const PeerError& e) {
          Fail(entry, std::string("connect: ") + e.what());
          if (!Pause(entry, backoff)) return;
          next_backoff();
          continue;
        }
        std::lock_guard<std::mutex> lock(entry.mu);
        entry.client = client;
      }
      try {
        CallOptions call;
        call.deadline = options.health.connect_timeout;
        call.cancel = entry.stop;
        PeerDescription description = client->DescribePeer(call);
        entry.live->ResetSequence();  // a restarted peer counts its reports from 1 again
        entry.live->ResetLatency();   // and is measured anew
        entry.live->Offer(description.load);
        std::lock_guard<std::mutex> lock(entry.mu);
        entry.description = std::move(description);
      } catch (const PeerError& e) {
        if (e.code() == StatusCode::kUnimplemented) {
          // An upstream peer: no DescribePeer (nor load reports). It joins with unknown steps.
          std::lock_guard<std::mutex> lock(entry.mu);
          entry.upstream = true;
          entry.description.reset();
        } else {
          {
            // A new connection next time: the old channel may wait out a long reconnect backoff.
            std::lock_guard<std::mutex> lock(entry.mu);
            entry.client.reset();
          }
          Fail(entry, std::string("describe: ") + e.what());
          if (!Pause(entry, backoff)) return;
          next_backoff();
          continue;
        }
      }
      const Clock::time_point watch_started = Clock::now();
      try {
        CallOptions call;
        call.cancel = entry.stop;
        client->WatchHealth(
            [&](bool serving) {
              {
                std::lock_guard<std::mutex> lock(entry.mu);
                if (entry.stopping) return;
                entry.serving = serving;
                entry.settled = true;
                entry.last_error = serving ? "" : "the peer reports NOT_SERVING (draining)";
              }
              if (serving) backoff = options.health.retry_min;
              Republish();
            },
            options.health.poll_interval, call);
      } catch (const PeerError& e) {
        Fail(entry, std::string("health watch: ") + e.what());
      }
      {
        std::lock_guard<std::mutex> lock(entry.mu);
        if (entry.stopping) return;
        entry.client.reset();  // reconnect on a fresh channel
      }
      Fail(entry, "the health watch ended (the peer went away or the connection broke)");
      if (Clock::now() - watch_started > std::chrono::seconds(5)) {
        backoff = options.health.retry_min;
      }
      if (!Pause(entry, backoff)) return;
      next_backoff();
    }
  }

  // Re-admits ejected peers whose backoff ended: the published healthy flags must follow.
  void Maintain() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      // Wakes at the next re-admission, or every 50 ms at most.
      const Clock::time_point next =
          std::min(outlier.NextReadmission(), Clock::now() + std::chrono::milliseconds(50));
      changed.wait_until(lock, next, [&] { return stopping; });
      if (stopping) return;
      if (outlier.Ejected() != published_ejected) RepublishLocked();
    }
  }

  // --- calls -----------------------------------------------------------------------------------

  void Learn(PeerEntry& entry, const CallTrace& trace) {
    if (trace.load) entry.live->Offer(*trace.load);
  }

  void RecordOutcome(PeerEntry& entry, bool transport_failure) {
    if (transport_failure) {
      entry.failures.fetch_add(1, std::memory_order_relaxed);
      if (outlier.RecordFailure(entry.endpoint)) {
        BLAZEN_LOG_WARN("peer pool: ejected {} after repeated transport failures", entry.Name());
        Republish();
      }
    } else if (outlier.RecordSuccess(entry.endpoint)) {
      Republish();
    }
  }

  void RememberRefs(const SubWorkflowResponse& response, const std::shared_ptr<PeerEntry>& entry) {
    if (response.remote_refs.empty()) return;
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [ref, descriptor] : response.remote_refs) holders[ref] = entry;
  }

  // Routes one call: pick, run `attempt` on the chosen peer's client, learn from the answer and
  // retry elsewhere when that is safe. `attempt(client, call, delivered)` sets `delivered` once
  // anything reached the caller (events), after which the call is never retried.
  template <typename Attempt>
  SubWorkflowResponse Route(const SubWorkflowRequest& request, const RouteOptions& route,
                            const CallOptions& call, CallTrace& trace,
                            std::optional<DecisionRecord>* decision_out, Attempt&& attempt) {
    requests.fetch_add(1, std::memory_order_relaxed);
    budget.OnRequest();
    RequestTraits traits;
    traits.step_ids = request.step_ids;
    traits.required_labels = route.required_labels;
    traits.device_bytes = route.device_bytes;
    traits.hash_key = route.hash_key;
    traits.only_endpoint = route.endpoint;
    traits.record = route.record;
    trace = CallTrace{};
    std::optional<PeerError> last_error;
    const int max_attempts = std::max(1, options.retry.max_attempts);
    for (int attempt_no = 0; attempt_no < max_attempts; ++attempt_no) {
      const std::shared_ptr<const RouteTable> routes = Table();
      Decision decision = pipeline.Pick(*routes->snapshot, traits);
      if (decision_out != nullptr && attempt_no == 0) *decision_out = std::move(decision.record);
      if (!decision.picked()) {
        if (last_error) {  // the retry found nowhere else to go: the failure that caused it
          Rethrow(*last_error, "after trying " + Joined(trace.tried) + ": ");
        }
        if (decision.code == StatusCode::kResourceExhausted) {
          rejections.fetch_add(1, std::memory_order_relaxed);
        } else if (decision.code == StatusCode::kUnavailable) {
          unavailable.fetch_add(1, std::memory_order_relaxed);
        }
        ThrowPeerError(Status(decision.code, "peer pool: " + decision.reason,
                              decision.code == StatusCode::kUnavailable ? ErrorKind::kTransport
                                                                        : ErrorKind::kUnspecified));
      }
      const std::shared_ptr<PeerEntry>& entry = routes->entries[*decision.peer];
      const PeerState& state = routes->snapshot->peers()[*decision.peer];
      trace.node_id = state.node_id;
      trace.endpoint = entry->endpoint;
      trace.tried.push_back(PeerName(state.node_id, entry->endpoint));
      traits.exclude_endpoints.push_back(entry->endpoint);
      entry->picks.fetch_add(1, std::memory_order_relaxed);

      std::shared_ptr<PeerClient> client = entry->Client();
      CallTrace inner;
      bool delivered = false;
      bool retryable = false;
      if (client == nullptr) {  // it left the pick set after this table was published
        last_error.emplace(TransportError(StatusCode::kUnavailable,
                                          "peer " + trace.tried.back() + " is not connected"));
        retryable = true;
      } else {
        CallOptions inner_call = call;
        inner_call.trace = &inner;
        entry->live->BeginCall();
        const Clock::time_point began = Clock::now();
        try {
          SubWorkflowResponse response = attempt(*client, inner_call, delivered);
          entry->live->EndCall();
          entry->live->RecordLatency(
              std::chrono::duration<double, std::milli>(Clock::now() - began).count());
          Learn(*entry, inner);
          RecordOutcome(*entry, false);
          trace.load = inner.load;
          RememberRefs(response, entry);
          return response;
        } catch (const PeerError& e) {
          entry->live->EndCall();
          Learn(*entry, inner);
          const bool transport = IsTransportFailure(e) && !RefusedBeforeRunning(e);
          RecordOutcome(*entry, transport);
          trace.load = inner.load;
          trace.failed_before_sending = inner.failed_before_sending;
          // Safe to send elsewhere: nothing ran (never sent, or refused for overload before
          // running), or the caller says running twice is harmless.
          retryable = !delivered && (inner.failed_before_sending || RefusedBeforeRunning(e) ||
                                     (call.idempotent && transport));
          const bool caller_cancelled = call.cancel != nullptr && call.cancel->cancelled();
          if (e.code() == StatusCode::kDeadlineExceeded || e.code() == StatusCode::kCancelled) {
            retryable = false;
          }
          // A cancellation the caller did not ask for, from a peer that announced its drain: a
          // call that raced with the peer's shutdown and was refused by its transport.
          if (e.code() == StatusCode::kCancelled && !caller_cancelled && !delivered &&
              !entry->Serving()) {
            retryable = true;
          }
          if (caller_cancelled) retryable = false;
          last_error.emplace(e);
        }
      }
      if (!retryable) Rethrow(*last_error, "peer " + trace.tried.back() + ": ");
      if (attempt_no + 1 >= max_attempts) break;
      if (!budget.TryRetry()) {
        retries_refused.fetch_add(1, std::memory_order_relaxed);
        Rethrow(*last_error, "peer " + trace.tried.back() + " (retry budget exhausted): ");
      }
      retries.fetch_add(1, std::memory_order_relaxed);
    }
    Rethrow(*last_error, "after trying " + Joined(trace.tried) + ": ");
  }

  static std::string Joined(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
  }

  // The entry holding `ref`, still in the pool; throws NotFoundError / TransportError naming it.
  std::pair<std::shared_ptr<PeerEntry>, std::shared_ptr<PeerClient>> Holder(const Uuid& ref) {
    std::shared_ptr<PeerEntry> entry;
    bool member = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = holders.find(ref);
      if (it == holders.end()) {
        throw NotFoundError(StatusCode::kNotFound,
                            "session ref " + ref.ToString() +
                                " is not known to this peer pool (refs are routed to the peer "
                                "that returned them through it)");
      }
      entry = it->second;
      auto member_it = entries.find(entry->endpoint);
      member = member_it != entries.end() && member_it->second == entry;
    }
    const std::string holder = entry->Name();
    if (!member) {
      throw TransportError(StatusCode::kUnavailable, "the holder of session ref " + ref.ToString() +
                                                         ", peer " + holder + ", left the pool");
    }
    std::shared_ptr<PeerClient> client = entry->Client();
    if (client == nullptr) {
      throw TransportError(StatusCode::kUnavailable, "the holder of session ref " + ref.ToString() +
                                                         ", peer " + holder + ", is not connected");
    }
    return {std::move(entry), std::move(client)};
  }

  bool Knows(const Uuid& ref) const {
    std::lock_guard<std::mutex> lock(mu);
    return holders.contains(ref);
  }

  void Forget(const Uuid& ref) {
    std::lock_guard<std::mutex> lock(mu);
    holders.erase(ref);
  }

  // Runs `fn` against the holder of `ref`; names the holder in a failure and forgets a ref the
  // holder no longer has.
  template <typename Fn>
  auto AtHolder(const Uuid& ref, const CallOptions& call, Fn&& fn) {
    if (options.locate_unknown_refs && !Knows(ref)) return Locate(ref, call, fn);
    auto [entry, client] = Holder(ref);
    if (call.trace != nullptr) {
      call.trace->node_id = entry->NodeId();
      call.trace->endpoint = entry->endpoint;
      call.trace->tried = {entry->Name()};
    }
    entry->live->BeginCall();
    try {
      auto result = fn(*client);
      entry->live->EndCall();
      return result;
    } catch (const PeerError& e) {
      entry->live->EndCall();
      if (e.code() == StatusCode::kNotFound) Forget(ref);
      if (IsTransportFailure(e)) RecordOutcome(*entry, true);
      Rethrow(e, "holder " + entry->Name() + " of session ref " + ref.ToString() + ": ");
    }
  }

  // Tries `fn` on every connected peer until one has `ref` (the others answer NOT_FOUND).
  template <typename Fn>
  auto Locate(const Uuid& ref, const CallOptions& call, Fn& fn) {
    const std::shared_ptr<const RouteTable> routes = Table();
    std::vector<std::string> asked;
    for (const auto& entry : routes->entries) {
      std::shared_ptr<PeerClient> client = entry->Client();
      if (client == nullptr) continue;
      asked.push_back(entry->Name());
      try {
        auto result = fn(*client);
        {
          std::lock_guard<std::mutex> lock(mu);
          holders[ref] = entry;
        }
        if (call.trace != nullptr) {
          call.trace->node_id = entry->NodeId();
          call.trace->endpoint = entry->endpoint;
          call.trace->tried = asked;
        }
        return result;
      } catch (const PeerError& e) {
        if (e.code() != StatusCode::kNotFound) {
          Rethrow(e, "peer " + entry->Name() + ": ");
        }
      }
    }
    throw NotFoundError(StatusCode::kNotFound, "session ref " + ref.ToString() +
                                                   " is on none of the connected peers (asked " +
                                                   Joined(asked) + ")");
  }

  void Stop() {
    std::vector<std::shared_ptr<PeerEntry>> all;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return;
      stopping = true;
      for (const auto& [endpoint, entry] : entries) all.push_back(entry);
    }
    changed.notify_all();
    if (discovery != nullptr) discovery->Stop();
    if (maintenance.joinable()) maintenance.join();
    for (const auto& entry : all) StopEntry(*entry);
  }
};

// --- PeerPool
// --------------------------------------------------------------------------------------

std::unique_ptr<PeerPool> PeerPool::Make(PeerPoolOptions options, std::string node_id) {
  if (options.endpoints.empty() == options.discover.empty()) {
    throw InvalidArgumentError(
        StatusCode::kInvalidArgument,
        options.endpoints.empty()
            ? "peer pool: no peers: give a list of endpoints or a discovery URL"
            : "peer pool: give a list of endpoints or a discovery URL, not both");
  }
  Result<Pipeline> pipeline =
      PolicyRegistry::WithBuiltins().MakePipeline(options.policy, options.policy_options);
  if (!pipeline.ok()) {
    throw InvalidArgumentError(StatusCode::kInvalidArgument,
                               "peer pool: " + pipeline.status().message());
  }
  Result<std::unique_ptr<Discovery>> discovery = options.discover.empty()
                                                     ? MakeStaticDiscovery(options.endpoints)
                                                     : MakeDiscovery(options.discover);
  if (!discovery.ok()) {
    throw InvalidArgumentError(StatusCode::kInvalidArgument,
                               "peer pool: " + discovery.status().message());
  }
  std::string endpoint_text = options.discover;
  if (endpoint_text.empty()) {
    for (const std::string& e : options.endpoints) {
      endpoint_text += (endpoint_text.empty() ? "" : ",") + e;
    }
  }
  const std::chrono::milliseconds startup_wait = options.startup_wait;
  auto impl =
      std::make_unique<Impl>(std::move(options), std::move(node_id), std::move(pipeline).value());
  impl->endpoint_text = std::move(endpoint_text);
  impl->discovery = std::move(discovery).value();
  Impl* raw = impl.get();
  std::unique_ptr<PeerPool> pool(new PeerPool(std::move(impl)));
  raw->maintenance = std::thread([raw] { raw->Maintain(); });
  const Status started = raw->discovery->Start(
      [raw](std::vector<DiscoveredPeer> peers) { raw->ApplyMembership(std::move(peers)); });
  if (!started.ok()) {
    ThrowPeerError(
        Status(started.code(), "peer pool: " + started.message(), ErrorKind::kTransport));
  }
  // Wait for the first attempt at every known peer, so the first calls see the whole pool.
  std::unique_lock<std::mutex> lock(raw->mu);
  raw->changed.wait_for(lock, startup_wait, [raw] {
    for (const auto& [endpoint, entry] : raw->entries) {
      std::lock_guard<std::mutex> entry_lock(entry->mu);
      if (!entry->settled) return false;
    }
    return true;
  });
  return pool;
}

PeerPool::PeerPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerPool::~PeerPool() { impl_->Stop(); }

const std::string& PeerPool::node_id() const { return impl_->node_id; }
const std::string& PeerPool::endpoint() const { return impl_->endpoint_text; }
const std::string& PeerPool::policy() const { return impl_->options.policy; }

RoutedCall PeerPool::Invoke(const SubWorkflowRequest& request, const RouteOptions& route,
                            const CallOptions& call) {
  RoutedCall out;
  out.response =
      impl_->Route(request, route, call, out.trace, &out.decision,
                   [&request](PeerClient& client, const CallOptions& inner, bool& /*delivered*/) {
                     return client.InvokeSubWorkflow(request, inner);
                   });
  if (call.trace != nullptr) *call.trace = out.trace;
  return out;
}

SubWorkflowResponse PeerPool::DoInvokeSubWorkflow(const SubWorkflowRequest& request,
                                                  const CallOptions& call) {
  CallTrace trace;
  try {
    SubWorkflowResponse response =
        impl_->Route(request, RouteOptions{}, call, trace, nullptr,
                     [&request](PeerClient& client, const CallOptions& inner, bool& /*delivered*/) {
                       return client.InvokeSubWorkflow(request, inner);
                     });
    if (call.trace != nullptr) *call.trace = std::move(trace);
    return response;
  } catch (...) {
    if (call.trace != nullptr) *call.trace = std::move(trace);
    throw;
  }
}

SubWorkflowResponse PeerPool::DoStreamSubWorkflowEvents(
    const SubWorkflowRequest& request, const std::function<void(const SubWorkflowEvent&)>& on_event,
    const CallOptions& call) {
  CallTrace trace;
  try {
    SubWorkflowResponse response =
        impl_->Route(request, RouteOptions{}, call, trace, nullptr,
                     [&](PeerClient& client, const CallOptions& inner, bool& delivered) {
                       return client.StreamSubWorkflowEvents(
                           request,
                           [&](const SubWorkflowEvent& event) {
                             delivered = true;
                             if (on_event) on_event(event);
                           },
                           inner);
                     });
    if (call.trace != nullptr) *call.trace = std::move(trace);
    return response;
  } catch (...) {
    if (call.trace != nullptr) *call.trace = std::move(trace);
    throw;
  }
}

ByteVector PeerPool::DoDerefSessionRef(const Uuid& ref, const CallOptions& call) {
  return impl_->AtHolder(ref, call,
                         [&](PeerClient& client) { return client.DerefSessionRef(ref, call); });
}

DerefResult PeerPool::DoDerefTo(const Uuid& ref, DerefSink& sink,
                                const std::function<void(const DerefProgress&)>& progress,
                                const CallOptions& call) {
  return impl_->AtHolder(
      ref, call, [&](PeerClient& client) { return client.DerefTo(ref, sink, progress, call); });
}

bool PeerPool::DoReleaseSessionRef(const Uuid& ref, const CallOptions& call) {
  if (impl_->options.locate_unknown_refs && !impl_->Knows(ref)) {
    // A peer without the ref answers `false`, not NOT_FOUND: turn it into one to ask the next.
    auto release = [&](PeerClient& client) {
      if (!client.ReleaseSessionRef(ref, call)) {
        throw NotFoundError(StatusCode::kNotFound, "not held here");
      }
      return true;
    };
    try {
      impl_->Locate(ref, call, release);
    } catch (const NotFoundError&) {
      return false;  // on no peer: nothing to release, as a single client answers
    }
    impl_->Forget(ref);
    return true;
  }
  const bool released = impl_->AtHolder(
      ref, call, [&](PeerClient& client) { return client.ReleaseSessionRef(ref, call); });
  impl_->Forget(ref);
  return released;
}

std::uint64_t PeerPool::DoReleaseScope(const std::string& parent_run_id, const CallOptions& call) {
  if (parent_run_id.empty()) {
    throw InvalidArgumentError(StatusCode::kInvalidArgument,
                               "release scope: the parent run id must not be empty");
  }
  const std::shared_ptr<const RouteTable> routes = impl_->Table();
  std::uint64_t released = 0;
  std::vector<std::string> failed;
  for (const auto& entry : routes->entries) {
    std::shared_ptr<PeerClient> client = entry->Client();
    if (client == nullptr) {
      failed.push_back(entry->Name() + ": not connected");
      continue;
    }
    try {
      released += client->ReleaseScope(parent_run_id, call);
    } catch (const PeerError& e) {
      failed.push_back(entry->Name() + ": " + e.what());
    }
  }
  if (!failed.empty()) {
    throw TransportError(StatusCode::kUnavailable, "release scope '" + parent_run_id +
                                                       "' released " + std::to_string(released) +
                                                       " refs but failed on " +
                                                       Impl::Joined(failed));
  }
  return released;
}

PeerDescription PeerPool::DoDescribePeer(const CallOptions& call) {
  const std::shared_ptr<const RouteTable> routes = impl_->Table();
  const Decision decision = impl_->pipeline.Pick(*routes->snapshot, RequestTraits{});
  if (!decision.picked()) {
    ThrowPeerError(Status(decision.code, "peer pool: " + decision.reason, ErrorKind::kTransport));
  }
  const auto& entry = routes->entries[*decision.peer];
  std::shared_ptr<PeerClient> client = entry->Client();
  if (client == nullptr) {
    throw TransportError(StatusCode::kUnavailable, "peer " + entry->Name() + " is not connected");
  }
  return client->DescribePeer(call);
}

void PeerPool::DoWatchHealth(const std::function<void(bool serving)>& on_change,
                             std::chrono::milliseconds poll_interval, const CallOptions& call) {
  // The pool serves while at least one peer is in the pick set.
  std::optional<bool> last;
  for (;;) {
    if (call.cancel != nullptr && call.cancel->cancelled()) return;
    const bool serving = WaitForHealthy(1, std::chrono::milliseconds(0));
    if (last != serving) {
      last = serving;
      on_change(serving);
    }
    std::unique_lock<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->changed.wait_for(lock, std::max(poll_interval, std::chrono::milliseconds(10)));
  }
}

bool PeerPool::WaitForHealthy(std::size_t count, std::chrono::milliseconds timeout) const {
  const auto healthy = [this, count] {
    const auto routes = impl_->Table();
    std::size_t n = 0;
    for (const PeerState& peer : routes->snapshot->peers()) n += peer.healthy ? 1 : 0;
    return n >= count;
  };
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->changed.wait_for(lock, timeout, healthy);
}

std::vector<PoolPeerInfo> PeerPool::Peers() const {
  std::vector<std::shared_ptr<PeerEntry>> entries;
  std::map<std::string, std::uint64_t> refs;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& [endpoint, entry] : impl_->entries) entries.push_back(entry);
    for (const auto& [ref, entry] : impl_->holders) ++refs[entry->endpoint];
  }
  const auto routes = impl_->Table();
  std::vector<PoolPeerInfo> out;
  for (const auto& entry : entries) {
    PoolPeerInfo info;
    info.endpoint = entry->endpoint;
    {
      std::lock_guard<std::mutex> lock(entry->mu);
      info.serving = entry->serving && entry->client != nullptr;
      info.node_id = entry->description ? entry->description->node_id : entry->seed.node_id;
      info.labels = entry->seed.labels;
      if (entry->seed.capacity_weight) info.capacity_weight = *entry->seed.capacity_weight;
      if (entry->description) {
        for (const auto& [k, v] : entry->description->labels) info.labels[k] = v;
        info.step_ids = entry->description->step_ids;
        info.gpu_model = entry->description->gpu_model;
        info.capacity_weight = entry->description->capacity_weight;
      }
      info.last_error = entry->last_error;
    }
    info.ejected = impl_->outlier.IsEjected(entry->endpoint);
    // In the pick set: what the published table says, which is what calls route over.
    for (std::size_t i = 0; i < routes->entries.size(); ++i) {
      if (routes->entries[i] == entry) info.healthy = routes->snapshot->peers()[i].healthy;
    }
    info.load = entry->live->load();
    info.outstanding = entry->live->outstanding();
    info.picks = entry->picks.load(std::memory_order_relaxed);
    info.failures = entry->failures.load(std::memory_order_relaxed);
    info.refs = refs[entry->endpoint];
    out.push_back(std::move(info));
  }
  return out;
}

PoolMetrics PeerPool::Metrics() const {
  PoolMetrics m;
  m.requests = impl_->requests.load(std::memory_order_relaxed);
  m.retries = impl_->retries.load(std::memory_order_relaxed);
  m.retries_refused = impl_->retries_refused.load(std::memory_order_relaxed);
  m.rejections = impl_->rejections.load(std::memory_order_relaxed);
  m.unavailable = impl_->unavailable.load(std::memory_order_relaxed);
  m.ejections = impl_->outlier.ejections();
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto& [endpoint, entry] : impl_->entries) {
    m.picks[endpoint] = entry->picks.load(std::memory_order_relaxed);
  }
  return m;
}

std::string PeerPool::MetricsText() const {
  const PoolMetrics m = Metrics();
  const std::vector<PoolPeerInfo> peers = Peers();
  std::ostringstream out;
  const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
        << name << ' ' << value << '\n';
  };
  counter("blazen_pool_requests_total", "Calls routed by the pool.", m.requests);
  counter("blazen_pool_retries_total", "Calls sent again to another peer.", m.retries);
  counter("blazen_pool_retries_refused_total", "Retries the retry budget refused.",
          m.retries_refused);
  counter("blazen_pool_ejections_total", "Peers ejected by outlier detection.", m.ejections);
  out << "# HELP blazen_pool_rejections_total Calls refused by the pool, by reason.\n"
      << "# TYPE blazen_pool_rejections_total counter\n"
      << "blazen_pool_rejections_total{reason=\"overload\"} " << m.rejections << '\n'
      << "blazen_pool_rejections_total{reason=\"unavailable\"} " << m.unavailable << '\n';
  const auto label = [](const PoolPeerInfo& p) {
    return "{peer=\"" + p.node_id + "\",endpoint=\"" + p.endpoint + "\"}";
  };
  out << "# HELP blazen_pool_picks_total Calls routed to each peer.\n"
      << "# TYPE blazen_pool_picks_total counter\n";
  for (const auto& p : peers)
    out << "blazen_pool_picks_total" << label(p) << ' ' << p.picks << '\n';
  out << "# HELP blazen_pool_peer_failures_total Transport failures of calls to each peer.\n"
      << "# TYPE blazen_pool_peer_failures_total counter\n";
  for (const auto& p : peers) {
    out << "blazen_pool_peer_failures_total" << label(p) << ' ' << p.failures << '\n';
  }
  out << "# HELP blazen_pool_peer_healthy 1 when the peer is in the pick set.\n"
      << "# TYPE blazen_pool_peer_healthy gauge\n";
  for (const auto& p : peers) {
    out << "blazen_pool_peer_healthy" << label(p) << ' ' << (p.healthy ? 1 : 0) << '\n';
  }
  out << "# HELP blazen_pool_peer_outstanding Calls in flight to each peer.\n"
      << "# TYPE blazen_pool_peer_outstanding gauge\n";
  for (const auto& p : peers) {
    out << "blazen_pool_peer_outstanding" << label(p) << ' ' << p.outstanding << '\n';
  }
  return out.str();
}

std::string PeerPool::DescribeJson() const {
  nlohmann::json peers = nlohmann::json::array();
  for (const PoolPeerInfo& p : Peers()) {
    peers.push_back({{"endpoint", p.endpoint},
                     {"node_id", p.node_id},
                     {"healthy", p.healthy},
                     {"serving", p.serving},
                     {"ejected", p.ejected},
                     {"capacity_weight", p.capacity_weight},
                     {"labels", p.labels},
                     {"step_ids", p.step_ids},
                     {"gpu_model", p.gpu_model},
                     {"outstanding", p.outstanding},
                     {"load",
                      {{"seq", p.load.seq},
                       {"in_flight", p.load.in_flight},
                       {"queued", p.load.queued},
                       {"max_concurrency", p.load.max_concurrency},
                       {"pool_in_use_bytes", p.load.pool_in_use_bytes},
                       {"pool_budget_bytes", p.load.pool_budget_bytes},
                       {"resident_ref_bytes", p.load.resident_ref_bytes}}},
                     {"picks", p.picks},
                     {"failures", p.failures},
                     {"refs", p.refs},
                     {"last_error", p.last_error}});
  }
  const PoolMetrics m = Metrics();
  nlohmann::json out = {{"policy", std::string(impl_->pipeline.policy())},
                        {"source", impl_->endpoint_text},
                        {"peers", std::move(peers)},
                        {"metrics",
                         {{"requests", m.requests},
                          {"retries", m.retries},
                          {"retries_refused", m.retries_refused},
                          {"rejections", m.rejections},
                          {"unavailable", m.unavailable},
                          {"ejections", m.ejections}}}};
  return out.dump(2);
}

}  // namespace blazen::client::pool
