// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/least_loaded.h"

namespace blazen::client::pool {

double LeastLoadedScore(const PeerState& peer) {
  return static_cast<double>(LoadUnits(peer) + 1) / peer.capacity_weight;
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
  const double first_score = LeastLoadedScore(first);
  const double second_score = LeastLoadedScore(second);
  if (record != nullptr) {
    record->scores.push_back({first.index, first_score});
    record->scores.push_back({second.index, second_score});
  }
  return second_score < first_score ? second.index : first.index;
}

}  // namespace blazen::client::pool
