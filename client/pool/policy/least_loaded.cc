// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/least_loaded.h"

#include <algorithm>

namespace blazen::client::pool {

namespace {
constexpr double kLatencyMargin = 2.0;
}  // namespace

double LeastLoadedScore(const PeerState& peer) {
  return static_cast<double>(LoadUnits(peer) + 1) / peer.capacity_weight;
}

double LeastLoadedScore(const PeerState& peer, double latency_ms) {
  const double units = static_cast<double>(LoadUnits(peer) + 1);
  const auto slots = static_cast<double>(MaxConcurrency(peer));
  // Expected cost of one more call: its latency, stretched by how busy the peer's slots are (so
  // fewer calls in flight win even while slots are free). Without a slot count, every call in
  // flight counts as a queued one.
  const double queue = slots > 0.0 ? 1.0 + units / slots : units;
  return queue * (latency_ms > 0.0 ? latency_ms : 1.0) / peer.capacity_weight;
}

Result<std::size_t> LeastLoadedPicker::Pick(const PeerSnapshot& snapshot,
                                            const RequestTraits& /*traits*/,
                                            std::span<const std::size_t> candidates,
                                            DecisionRecord* record) const {
  const std::size_t n = candidates.size();
  if (n == 0) return Status::Internal("least_loaded: no candidates");
  if (n == 1) return candidates[0];
  // Two distinct positions, uniformly over all pairs: b skips over a.
  const std::size_t a = random_->Below(n);
  std::size_t b = random_->Below(n - 1);
  if (b >= a) ++b;
  const PeerState& first = snapshot.peers()[candidates[a]];
  const PeerState& second = snapshot.peers()[candidates[b]];
  double first_latency = LatencyMs(first);
  double second_latency = LatencyMs(second);
  if (first_latency <= 0.0) first_latency = second_latency;  // unknown: compare on load alone
  if (second_latency <= 0.0) second_latency = first_latency;
  // Latencies within a factor kLatencyMargin of each other are noise of the moving average (an
  // exponential service time alone spreads it about that much): compare on load alone then.
  if (std::max(first_latency, second_latency) <
      kLatencyMargin * std::min(first_latency, second_latency)) {
    first_latency = second_latency = 1.0;
  }
  const double first_score = LeastLoadedScore(first, first_latency);
  const double second_score = LeastLoadedScore(second, second_latency);
  if (record != nullptr) {
    record->scores.push_back({first.index, first_score});
    record->scores.push_back({second.index, second_score});
  }
  if (second_score != first_score) return second_score < first_score ? second.index : first.index;
  // Equal expected times (e.g. both have free slots and no latency yet): the lighter one.
  return LeastLoadedScore(second) < LeastLoadedScore(first) ? second.index : first.index;
}

}  // namespace blazen::client::pool
