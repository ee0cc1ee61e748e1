// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/random.h"

namespace blazen::client::pool {

Result<std::size_t> RandomPicker::Pick(const PeerSnapshot& /*snapshot*/,
                                       const RequestTraits& /*traits*/,
                                       std::span<const std::size_t> candidates,
                                       DecisionRecord* /*record*/) const {
  if (candidates.empty()) return Status::Internal("random: no candidates");
  return candidates[random_->Below(candidates.size())];
}

}  // namespace blazen::client::pool
