// SPDX-License-Identifier: Apache-2.0
#pragma once
// The peer table as the router reads it: an immutable PeerSnapshot (one PeerState per peer) shared
// as std::shared_ptr<const PeerSnapshot>, and the SnapshotHolder that publishes a new one
// atomically. Writers (discovery, health, load reports) build a whole new snapshot and publish it;
// every pick reads one snapshot from start to end and makes no RPC.

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
  /// Operator-given labels (`serve --label k=v`).
  std::map<std::string, std::string> labels;
  /// Relative capacity for weighted routing; a finite number > 0.
  double capacity_weight = 1.0;
  /// The newest load report the peer sent.
  LoadReport load;
  /// Calls this client has in flight to the peer.
  std::uint64_t outstanding = 0;
};

/// The load units the pickers compare: this client's calls in flight plus the peer's reported
/// running and queued runs.
[[nodiscard]] inline std::uint64_t LoadUnits(const PeerState& peer) {
  return peer.outstanding + peer.load.in_flight + peer.load.queued;
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
