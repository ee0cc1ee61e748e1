// SPDX-License-Identifier: Apache-2.0
#pragma once
// RoundRobinPicker ("round_robin"): cycles through the candidates in index order, ignoring load.

#include <atomic>
#include <cstdint>

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// Picks candidates[ticket % candidates.size()] with a ticket from an atomic counter, so over a
/// stable candidate set every peer gets the same share. The first ticket is `start` (the registry
/// draws it at random, so that clients do not all begin with the same peer). Thread-safe,
/// lock-free: concurrent picks take distinct tickets.
class RoundRobinPicker final : public Picker {
 public:
  explicit RoundRobinPicker(std::uint64_t start = 0) : next_(start) {}
  [[nodiscard]] std::string_view name() const override { return "round_robin"; }
  [[nodiscard]] Result<std::size_t> Pick(const PeerSnapshot& snapshot, const RequestTraits& traits,
                                         std::span<const std::size_t> candidates,
                                         DecisionRecord* record) const override;

 private:
  mutable std::atomic<std::uint64_t> next_;
};

}  // namespace blazen::client::pool
