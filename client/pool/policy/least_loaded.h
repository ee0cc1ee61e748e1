// SPDX-License-Identifier: Apache-2.0
#pragma once
// LeastLoadedPicker ("least_loaded", the default policy): power of two choices weighted by
// capacity. Two distinct random candidates; the one with the lower
// (outstanding + in_flight + queued + 1) / capacity_weight wins (Mitzenmacher 2001: two choices
// cut the maximum load from ~ln n / ln ln n to ~ln ln n / ln 2 at the cost of one comparison).

#include <memory>

#include "client/pool/policy/policy.h"
#include "client/pool/policy/random_source.h"

namespace blazen::client::pool {

/// The load score LeastLoadedPicker compares: (LoadUnits(peer) + 1) / capacity_weight. The + 1
/// counts the request being placed, so an idle heavy peer still beats an idle light one.
[[nodiscard]] double LeastLoadedScore(const PeerState& peer);

/// Power of two choices, weighted by capacity. Ties go to the first sampled candidate (itself
/// random). Thread-safe when the RandomSource is (every RandomSource is).
class LeastLoadedPicker final : public Picker {
 public:
  /// `random` must not be null.
  explicit LeastLoadedPicker(std::shared_ptr<RandomSource> random) : random_(std::move(random)) {}
  [[nodiscard]] std::string_view name() const override { return "least_loaded"; }
  /// With a record, scores both sampled candidates.
  [[nodiscard]] Result<std::size_t> Pick(const PeerSnapshot& snapshot, const RequestTraits& traits,
                                         std::span<const std::size_t> candidates,
                                         DecisionRecord* record) const override;

 private:
  std::shared_ptr<RandomSource> random_;
};

}  // namespace blazen::client::pool
