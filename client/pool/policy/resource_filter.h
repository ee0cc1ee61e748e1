// SPDX-License-Identifier: Apache-2.0
#pragma once
// ResourceFilter ("resource"): keeps peers whose reported free pool bytes (budget - in use) cover
// the request's device-bytes hint, as upstream's control plane admits runs by VRAM budget.

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// Keeps peers with pool_budget_bytes - pool_in_use_bytes >= RequestTraits::device_bytes. Peers
/// that report no budget (0) pass, as does every peer when the request has no hint. Immutable;
/// thread-safe.
class ResourceFilter final : public Filter {
 public:
  ResourceFilter() = default;
  [[nodiscard]] std::string_view name() const override { return "resource"; }
  void Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
             std::vector<std::size_t>& candidates) const override;
};

}  // namespace blazen::client::pool
