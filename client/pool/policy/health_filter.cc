// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/health_filter.h"

#include <algorithm>

namespace blazen::client::pool {

void HealthFilter::Apply(const PeerSnapshot& snapshot, const RequestTraits& /*traits*/,
                         std::vector<std::size_t>& candidates) const {
  std::erase_if(candidates, [&](std::size_t i) { return !snapshot.peers()[i].healthy; });
}

}  // namespace blazen::client::pool
