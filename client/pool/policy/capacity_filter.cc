// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/capacity_filter.h"

#include <algorithm>
#include <cmath>

namespace blazen::client::pool {

std::uint64_t CapacityFilter::LimitOf(const PeerState& peer) const {
  if (options_.max_outstanding_per_peer != 0) return options_.max_outstanding_per_peer;
  const std::uint64_t slots = MaxConcurrency(peer);
  if (slots == 0 || !(options_.outstanding_per_slot > 0.0)) return 0;
  const double limit = std::ceil(static_cast<double>(slots) * options_.outstanding_per_slot);
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(limit));
}

void CapacityFilter::Apply(const PeerSnapshot& snapshot, const RequestTraits& /*traits*/,
                           std::vector<std::size_t>& candidates) const {
  std::erase_if(candidates, [&](std::size_t i) {
    const PeerState& peer = snapshot.peers()[i];
    const std::uint64_t limit = LimitOf(peer);
    return limit != 0 && Outstanding(peer) >= limit;
  });
}

}  // namespace blazen::client::pool
