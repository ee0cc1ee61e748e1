// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/resource_filter.h"

#include <algorithm>

namespace blazen::client::pool {

namespace {

bool HasRoom(const LoadReport& load, std::uint64_t need) {
  if (load.pool_budget_bytes == 0) return true;  // no budget reported: nothing to check against
  // A report may show more in use than the budget (the pool grew past it); that is no room.
  const std::uint64_t free_bytes = load.pool_in_use_bytes >= load.pool_budget_bytes
                                       ? 0
                                       : load.pool_budget_bytes - load.pool_in_use_bytes;
  return free_bytes >= need;
}

}  // namespace

void ResourceFilter::Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
                           std::vector<std::size_t>& candidates) const {
  if (!traits.device_bytes.has_value()) return;
  const std::uint64_t need = *traits.device_bytes;
  std::erase_if(candidates,
                [&](std::size_t i) { return !HasRoom(CurrentLoad(snapshot.peers()[i]), need); });
}

}  // namespace blazen::client::pool
