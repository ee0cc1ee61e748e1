// SPDX-License-Identifier: Apache-2.0
#pragma once
// StepsLabelsFilter ("steps_labels"): keeps peers that serve every step id the request runs (from
// DescribePeer) and carry every required label with the required value.

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// Keeps peers serving all RequestTraits::step_ids and matching all required_labels. A request
/// with neither keeps every peer. Immutable; thread-safe.
class StepsLabelsFilter final : public Filter {
 public:
  StepsLabelsFilter() = default;
  [[nodiscard]] std::string_view name() const override { return "steps_labels"; }
  void Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
             std::vector<std::size_t>& candidates) const override;
};

}  // namespace blazen::client::pool
