// SPDX-License-Identifier: Apache-2.0
#pragma once
// CapacityFilter ("capacity"): admission. Keeps peers with room for one more call from this
// client; when it removes the last candidates the request fails fast with RESOURCE_EXHAUSTED
// (every eligible peer is at its limit: overload), distinct from the UNAVAILABLE of the other
// filters (no healthy eligible peer).

#include <cstdint>

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// How many calls this client may have in flight to one peer. Value type.
struct CapacityOptions {
  /// A fixed limit for every peer; 0 derives it from the peer's reports.
  std::uint64_t max_outstanding_per_peer = 0;
  /// With no fixed limit: calls per reported worker slot (`max_concurrency`), at least 1 call.
  /// A peer that has not reported yet has no limit. 2 lets one call wait in the peer's queue per
  /// running call: enough to keep every slot busy, short enough to bound queueing delay.
  double outstanding_per_slot = 2.0;
};

/// Keeps peers whose Outstanding() is below their limit (see CapacityOptions). Immutable;
/// thread-safe.
class CapacityFilter final : public Filter {
 public:
  explicit CapacityFilter(CapacityOptions options) : options_(options) {}
  [[nodiscard]] std::string_view name() const override { return "capacity"; }
  [[nodiscard]] StatusCode rejection_code() const override {
    return StatusCode::kResourceExhausted;
  }
  void Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
             std::vector<std::size_t>& candidates) const override;

  /// The limit for `peer`; 0 means none.
  [[nodiscard]] std::uint64_t LimitOf(const PeerState& peer) const;

 private:
  CapacityOptions options_;
};

}  // namespace blazen::client::pool
