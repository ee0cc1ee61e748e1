// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/consistent_hash.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "client/pool/policy/least_loaded.h"
#include "client/pool/policy/random_source.h"

namespace blazen::client::pool {

namespace {

// Per-peer state of one walk around the ring.
enum class Seen : std::uint8_t { kNotCandidate, kUnchecked, kFull };

// Where the ring is keyed: the node id, else the endpoint (a peer not yet described).
const std::string& RingName(const PeerState& peer) {
  return peer.node_id.empty() ? peer.endpoint : peer.node_id;
}

}  // namespace

std::uint64_t ConsistentHashPicker::HashKey(std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

std::shared_ptr<const ConsistentHashPicker::Ring> ConsistentHashPicker::BuildRing(
    const PeerSnapshot& snapshot) const {
  auto ring = std::make_shared<Ring>();
  ring->fingerprint = snapshot.membership_fingerprint();
  ring->peers = snapshot.size();
  double total_weight = 0.0;
  for (const PeerState& peer : snapshot.peers()) total_weight += peer.capacity_weight;
  const double mean_weight = snapshot.empty() ? 1.0 : total_weight / double(snapshot.size());
  for (const PeerState& peer : snapshot.peers()) {
    const double share = double(options_.virtual_nodes) * peer.capacity_weight / mean_weight;
    const auto vnodes = static_cast<std::uint64_t>(std::max(1.0, std::round(share)));
    const std::string& name = RingName(peer);
    for (std::uint64_t v = 0; v < vnodes; ++v) {
      ring->points.emplace_back(HashKey(name + '#' + std::to_string(v)), peer.index);
    }
  }
  std::sort(ring->points.begin(), ring->points.end());
  return ring;
}

std::shared_ptr<const ConsistentHashPicker::Ring> ConsistentHashPicker::RingFor(
    const PeerSnapshot& snapshot) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& ring : rings_) {
      if (ring != nullptr && ring->fingerprint == snapshot.membership_fingerprint() &&
          ring->peers == snapshot.size()) {
        return ring;
      }
    }
  }
  std::shared_ptr<const Ring> built = BuildRing(snapshot);
  std::shared_ptr<const Ring> evicted = built;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rings_[next_slot_].swap(evicted);
    next_slot_ = (next_slot_ + 1) % kCachedRings;
  }
  return built;  // `evicted` is released outside the lock
}

Result<std::size_t> ConsistentHashPicker::Pick(const PeerSnapshot& snapshot,
                                               const RequestTraits& traits,
                                               std::span<const std::size_t> candidates,
                                               DecisionRecord* record) const {
  if (!traits.hash_key.has_value()) {
    return Status::InvalidArgument("consistent_hash needs a hash key (RequestTraits::hash_key)");
  }
  if (candidates.empty()) return Status::Internal("consistent_hash: no candidates");
  const std::shared_ptr<const Ring> ring = RingFor(snapshot);
  std::vector<Seen> seen(snapshot.size(), Seen::kNotCandidate);
  double total_load = 0.0;
  double total_weight = 0.0;
  for (const std::size_t i : candidates) {
    seen[i] = Seen::kUnchecked;
    total_load += double(LoadUnits(snapshot.peers()[i]));
    total_weight += snapshot.peers()[i].capacity_weight;
  }
  // The bound of the paper, weighted: the + 1 is the request being placed. Some candidate is
  // always below it, because the capacities sum to at least c * (U + 1) > U.
  const double scale = options_.load_factor * (total_load + 1.0) / total_weight;
  const auto& points = ring->points;
  const auto start = std::lower_bound(points.begin(), points.end(),
                                      std::make_pair(HashKey(*traits.hash_key), std::size_t{0})) -
                     points.begin();
  for (std::size_t step = 0; step < points.size(); ++step) {
    const std::size_t peer = points[(std::size_t(start) + step) % points.size()].second;
    if (seen[peer] != Seen::kUnchecked) continue;
    const PeerState& state = snapshot.peers()[peer];
    const double capacity = std::ceil(scale * state.capacity_weight);
    const double load = double(LoadUnits(state));
    if (record != nullptr) record->scores.push_back({peer, load / capacity});
    if (load < capacity) return peer;
    seen[peer] = Seen::kFull;
  }
  // Unreachable by the argument above (floating-point rounding aside): fall back to the least
  // loaded candidate rather than fail the request.
  return *std::min_element(candidates.begin(), candidates.end(), [&](std::size_t a, std::size_t b) {
    return LeastLoadedScore(snapshot.peers()[a]) < LeastLoadedScore(snapshot.peers()[b]);
  });
}

}  // namespace blazen::client::pool
