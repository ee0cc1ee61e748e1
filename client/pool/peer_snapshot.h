// SPDX-License-Identifier: Apache-2.0
#pragma once
// The peer table as the router reads it: an immutable PeerSnapshot (one PeerState per peer) shared
// as std::shared_ptr<const PeerSnapshot>, and the SnapshotHolder that publishes a new one
// atomically. Writers (discovery, health, load reports) build a whole new snapshot and publish it;
// every pick reads one snapshot from start to end and makes no RPC.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/load_report.h"
#include "core/status.h"

namespace blazen::client::pool {

/// The figures of one peer that change on every call: this client's calls in flight and the
/// newest load report. Shared (std::shared_ptr) by every snapshot of the peer, so the pool updates
/// them without publishing a new snapshot, and a pick reads them live.
///
/// Thread-safe: every field is an atomic read or written on its own (relaxed order), so a reader
/// may see figures of two consecutive reports mixed; each figure is one the peer reported.
class PeerLive {
 public:
  PeerLive() = default;
  PeerLive(const PeerLive&) = delete;
  PeerLive& operator=(const PeerLive&) = delete;

  /// A call to the peer starts / ends.
  void BeginCall() noexcept { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void EndCall() noexcept { outstanding_.fetch_sub(1, std::memory_order_relaxed); }
  /// Calls in flight now.
  [[nodiscard]] std::uint64_t outstanding() const noexcept {
    return outstanding_.load(std::memory_order_relaxed);
  }

  /// Stores `report` when it is newer (higher `seq`) than the last one stored; returns whether it
  /// was. Reports of concurrent calls may arrive out of order: an older one is dropped.
  bool Offer(const LoadReport& report) noexcept;
  /// Forgets the last sequence number, so the next report is taken whatever its `seq` (a peer that
  /// restarted counts from 1 again).
  void ResetSequence() noexcept { seq_.store(0, std::memory_order_relaxed); }
  /// The newest figures (see the class comment); `seq` 0 when none arrived yet.
  [[nodiscard]] LoadReport load() const noexcept;
  /// Records the latency of a call the peer completed: an exponentially weighted moving average
  /// (weight 0.1 for the newest sample), so a peer that turns slow is seen within tens of calls
  /// while one slow call moves it little.
  void RecordLatency(double ms) noexcept;
  /// The moving average of completed calls' latency in milliseconds; 0 before the first, and 0
  /// again once no call completed for kLatencyTtl while none is in flight: a peer the router
  /// avoided for being slow is then compared on load alone, gets one call, and its latency is
  /// measured anew (without it, one slow spell would keep a peer out for good; with the call in
  /// flight counted, a peer that is still slow gets one probe per kLatencyTtl, not a burst).
  [[nodiscard]] double latency_ms() const noexcept;
  /// Forgets the latency (a peer that restarted).
  void ResetLatency() noexcept { latency_ms_.store(0.0, std::memory_order_relaxed); }
  static constexpr std::chrono::milliseconds kLatencyTtl{2000};
  /// The reported max_concurrency alone (cheaper than load() on the pick path).
  [[nodiscard]] std::uint64_t max_concurrency() const noexcept {
    return max_concurrency_.load(std::memory_order_relaxed);
  }
  /// Reported runs executing plus queued.
  [[nodiscard]] std::uint64_t reported_units() const noexcept {
    return in_flight_.load(std::memory_order_relaxed) + queued_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> outstanding_{0};
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> in_flight_{0};
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> max_concurrency_{0};
  std::atomic<std::uint64_t> pool_in_use_{0};
  std::atomic<std::uint64_t> pool_budget_{0};
  std::atomic<std::uint64_t> resident_{0};
  std::atomic<double> capacity_weight_{1.0};
  std::atomic<double> latency_ms_{0.0};
  std::atomic<std::int64_t> latency_at_ns_{0};  // steady_clock time of the last RecordLatency
};

/// What the router knows about one peer. Value type.
struct PeerState {
  /// Position in PeerSnapshot::peers(); PeerSnapshot::Make sets it.
  std::size_t index = 0;
  /// The peer's node id (DescribePeer) and where the client talks to it.
  std::string node_id;
  std::string endpoint;
  /// False while health checking or outlier ejection keeps the peer out of the pick set.
  bool healthy = true;
  /// Step ids the peer serves, sorted and unique (PeerSnapshot::Make normalizes them).
  std::vector<std::string> step_ids;
  /// False for a peer that cannot list its steps (an upstream peer: no DescribePeer); the steps
  /// filter then lets it through and the peer itself answers for an unknown step.
  bool steps_known = true;
  /// Operator-given labels (`serve --label k=v`).
  std::map<std::string, std::string> labels;
  /// Relative capacity for weighted routing; a finite number > 0.
  double capacity_weight = 1.0;
  /// The newest load report the peer sent, and the calls this client has in flight to it, as
  /// fixed values (tests, simulations); ignored when `live` is set.
  LoadReport load;
  std::uint64_t outstanding = 0;
  /// The live figures the pool keeps (see PeerLive); when set, they replace `load` and
  /// `outstanding`. Read them through CurrentLoad / Outstanding / LoadUnits.
  std::shared_ptr<PeerLive> live;
};

/// The peer's newest load report: live when the pool keeps one, else `peer.load`.
[[nodiscard]] inline LoadReport CurrentLoad(const PeerState& peer) {
  return peer.live != nullptr ? peer.live->load() : peer.load;
}

/// The peer's reported max_concurrency (its worker slots); 0 when it reported none.
[[nodiscard]] inline std::uint64_t MaxConcurrency(const PeerState& peer) {
  return peer.live != nullptr ? peer.live->max_concurrency() : peer.load.max_concurrency;
}

/// This client's calls in flight to the peer.
[[nodiscard]] inline std::uint64_t Outstanding(const PeerState& peer) {
  return peer.live != nullptr ? peer.live->outstanding() : peer.outstanding;
}

/// The moving average latency of the peer's completed calls (PeerLive::latency_ms); 0 when unknown
/// (no live figures, or no call completed yet).
[[nodiscard]] inline double LatencyMs(const PeerState& peer) {
  return peer.live != nullptr ? peer.live->latency_ms() : 0.0;
}

/// The load units the pickers compare: the larger of this client's calls in flight and the runs
/// the peer last reported running or queued. Not their sum: the report counts this client's calls
/// too, so a sum would count each of them twice (and an idle peer's +1 in the scores would weigh
/// half as much). The report adds what other clients send; our own count is never stale.
[[nodiscard]] inline std::uint64_t LoadUnits(const PeerState& peer) {
  if (peer.live != nullptr) {
    return std::max(peer.live->outstanding(), peer.live->reported_units());
  }
  return std::max(peer.outstanding, peer.load.in_flight + peer.load.queued);
}

/// An immutable set of peers with a version. Made only by Make, shared as
/// std::shared_ptr<const PeerSnapshot>. Immutable, hence thread-safe.
class PeerSnapshot {
 public:
  /// Builds a snapshot: sets each peer's `index` to its position, sorts and deduplicates its
  /// `step_ids`. kInvalidArgument (naming the peer) for a capacity weight that is not a finite
  /// number > 0.
  [[nodiscard]] static Result<std::shared_ptr<const PeerSnapshot>> Make(
      std::vector<PeerState> peers, std::uint64_t version);

  /// An empty snapshot with version 0.
  [[nodiscard]] static std::shared_ptr<const PeerSnapshot> Empty();

  [[nodiscard]] const std::vector<PeerState>& peers() const { return peers_; }
  [[nodiscard]] std::size_t size() const { return peers_.size(); }
  [[nodiscard]] bool empty() const { return peers_.empty(); }
  /// Chosen by the writer (e.g. increasing with every publish); reported in decision records.
  [[nodiscard]] std::uint64_t version() const { return version_; }
  /// A 64-bit hash of every peer's node id, endpoint and capacity weight, in order: equal for
  /// snapshots that differ only in health, load, steps or labels. Pickers key per-membership
  /// caches (the hash ring) by it, so frequent load updates do not rebuild them.
  [[nodiscard]] std::uint64_t membership_fingerprint() const { return membership_fingerprint_; }

 private:
  PeerSnapshot(std::vector<PeerState> peers, std::uint64_t version);

  std::vector<PeerState> peers_;
  std::uint64_t version_ = 0;
  std::uint64_t membership_fingerprint_ = 0;
};

/// Holds the current snapshot and replaces it atomically. Readers get a shared_ptr that keeps
/// their snapshot alive however long they use it, whatever writers publish meanwhile.
///
/// Thread-safe. A mutex guards only the pointer: Load copies it (one reference-count increment)
/// and Publish swaps it, so neither holds the lock for more than a few instructions, and the
/// replaced snapshot is destroyed after the lock is released (a writer never makes readers wait
/// on a destruction). A mutex rather than std::atomic_load/atomic_store on shared_ptr: those are
/// deprecated in C++20, and libstdc++ implements them with a lock pool anyway; the mutex states
/// the same cost explicitly and every sanitizer understands it.
class SnapshotHolder {
 public:
  /// Starts with PeerSnapshot::Empty().
  SnapshotHolder();
  /// Starts with `initial` (a null one counts as PeerSnapshot::Empty()).
  explicit SnapshotHolder(std::shared_ptr<const PeerSnapshot> initial);
  SnapshotHolder(const SnapshotHolder&) = delete;
  SnapshotHolder& operator=(const SnapshotHolder&) = delete;
  SnapshotHolder(SnapshotHolder&&) = delete;
  SnapshotHolder& operator=(SnapshotHolder&&) = delete;
  ~SnapshotHolder() = default;

  /// The current snapshot; never null.
  [[nodiscard]] std::shared_ptr<const PeerSnapshot> Load() const;

  /// Replaces the current snapshot with `next`. kInvalidArgument for a null `next`.
  [[nodiscard]] Status Publish(std::shared_ptr<const PeerSnapshot> next);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const PeerSnapshot> current_;  // guarded by mu_
};

}  // namespace blazen::client::pool
