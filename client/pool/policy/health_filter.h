// SPDX-License-Identifier: Apache-2.0
#pragma once
// HealthFilter ("health"): keeps only peers marked healthy in the snapshot (health checking and
// outlier ejection set the flag; the filter only reads it) that the request does not exclude
// (RequestTraits::exclude_endpoints: peers a retried call already tried; only_endpoint: a
// request pinned to one peer).

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// Keeps healthy peers. Immutable; thread-safe.
class HealthFilter final : public Filter {
 public:
  HealthFilter() = default;
  [[nodiscard]] std::string_view name() const override { return "health"; }
  void Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
             std::vector<std::size_t>& candidates) const override;
};

}  // namespace blazen::client::pool
