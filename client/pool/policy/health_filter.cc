// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/health_filter.h"

#include <algorithm>

namespace blazen::client::pool {

void HealthFilter::Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
                         std::vector<std::size_t>& candidates) const {
  std::erase_if(candidates, [&](std::size_t i) {
    const PeerState& peer = snapshot.peers()[i];
    if (!peer.healthy) return true;
    if (traits.only_endpoint && peer.endpoint != *traits.only_endpoint) return true;
    return !traits.exclude_endpoints.empty() &&
           std::find(traits.exclude_endpoints.begin(), traits.exclude_endpoints.end(),
                     peer.endpoint) != traits.exclude_endpoints.end();
  });
}

}  // namespace blazen::client::pool
