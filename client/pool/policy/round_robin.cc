// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/round_robin.h"

namespace blazen::client::pool {

Result<std::size_t> RoundRobinPicker::Pick(const PeerSnapshot& /*snapshot*/,
                                           const RequestTraits& /*traits*/,
                                           std::span<const std::size_t> candidates,
                                           DecisionRecord* /*record*/) const {
  if (candidates.empty()) return Status::Internal("round_robin: no candidates");
  // Relaxed: the ticket only has to be unique; it orders no other memory.
  const std::uint64_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
  return candidates[static_cast<std::size_t>(ticket % candidates.size())];
}

}  // namespace blazen::client::pool
