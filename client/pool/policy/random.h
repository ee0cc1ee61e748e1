// SPDX-License-Identifier: Apache-2.0
#pragma once
// RandomPicker ("random"): a uniformly random candidate, ignoring load. The baseline the issue's
// routing benchmark compares the load-aware policies with.

#include <memory>

#include "client/pool/policy/policy.h"
#include "client/pool/policy/random_source.h"

namespace blazen::client::pool {

/// Picks a uniformly random candidate from an injected RandomSource. Thread-safe when the source
/// is (every RandomSource is; the default one is lock-free).
class RandomPicker final : public Picker {
 public:
  /// `random` must not be null.
  explicit RandomPicker(std::shared_ptr<RandomSource> random) : random_(std::move(random)) {}
  [[nodiscard]] std::string_view name() const override { return "random"; }
  [[nodiscard]] Result<std::size_t> Pick(const PeerSnapshot& snapshot, const RequestTraits& traits,
                                         std::span<const std::size_t> candidates,
                                         DecisionRecord* record) const override;

 private:
  std::shared_ptr<RandomSource> random_;
};

}  // namespace blazen::client::pool
