// SPDX-License-Identifier: Apache-2.0
#pragma once
// ConsistentHashPicker ("consistent_hash"): the same RequestTraits::hash_key (e.g. a session id)
// goes to the same peer while membership is stable, and adding or removing one of N peers moves
// only about 1/N of the keys. A ring with virtual nodes in proportion to capacity weight, and
// bounded load as in Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads"
// (SODA 2018): walking clockwise from the key, a peer that is full is skipped.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// Settings of ConsistentHashPicker.
struct ConsistentHashOptions {
  /// c of the bounded-load rule; > 1. A candidate with load units u is full when
  /// u >= ceil(c * (U + 1) * w / W), U and W being the candidates' total load units and weight and
  /// w its weight: after the placement no peer exceeds c times its weighted share.
  double load_factor = 1.25;
  /// Virtual nodes of a peer of average weight; a peer gets this times weight / mean weight,
  /// at least 1. A peer's share of the keys deviates from its weighted share by about
  /// 1 / sqrt(its virtual nodes) relative (~6 % at 256); the ring costs 16 bytes per virtual node
  /// and is built once per membership.
  std::uint32_t virtual_nodes = 256;
};

/// Bounded-load consistent hashing over a weighted ring.
///
/// Thread-safe. The ring depends only on membership, so it is built once per
/// PeerSnapshot::membership_fingerprint() and cached; the cache keeps the last kCachedRings rings,
/// so readers still on the previous snapshot during a membership change do not rebuild on every
/// pick. A mutex guards the cache for a scan of those entries and a shared_ptr copy only; a
/// rebuild happens outside the lock (two threads meeting a new membership at once may both
/// build it).
class ConsistentHashPicker final : public Picker {
 public:
  explicit ConsistentHashPicker(ConsistentHashOptions options = {}) : options_(options) {}
  [[nodiscard]] std::string_view name() const override { return "consistent_hash"; }
  /// kInvalidArgument when `traits.hash_key` is unset. With a record, scores every candidate it
  /// examined with load units / capacity (>= 1 means full).
  [[nodiscard]] Result<std::size_t> Pick(const PeerSnapshot& snapshot, const RequestTraits& traits,
                                         std::span<const std::size_t> candidates,
                                         DecisionRecord* record) const override;

  /// The ring position of a key or a virtual node: 64-bit FNV-1a, finalized with Mix64.
  [[nodiscard]] static std::uint64_t HashKey(std::string_view key);

 private:
  struct Ring {
    std::uint64_t fingerprint = 0;
    std::size_t peers = 0;
    /// (position, peer index), sorted by position.
    std::vector<std::pair<std::uint64_t, std::size_t>> points;
  };

  [[nodiscard]] std::shared_ptr<const Ring> RingFor(const PeerSnapshot& snapshot) const;
  [[nodiscard]] std::shared_ptr<const Ring> BuildRing(const PeerSnapshot& snapshot) const;

  static constexpr std::size_t kCachedRings = 4;

  const ConsistentHashOptions options_;
  mutable std::mutex mu_;
  // Guarded by mu_; replaced round-robin at next_slot_.
  mutable std::array<std::shared_ptr<const Ring>, kCachedRings> rings_;
  mutable std::size_t next_slot_ = 0;
};

}  // namespace blazen::client::pool
