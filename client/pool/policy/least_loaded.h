// SPDX-License-Identifier: Apache-2.0
#pragma once
// LeastLoadedPicker ("least_loaded", the default policy): power of two choices weighted by
// capacity and by observed latency. Two distinct random candidates; the one with the lower
// (outstanding + in_flight + queued + 1) / capacity_weight x latency wins (Mitzenmacher 2001: two
// choices cut the maximum load from ~ln n / ln ln n to ~ln ln n / ln 2 at the cost of one
// comparison). The score is an expected cost of one more call: its latency (each peer's moving
// average of completed calls, as latency-aware balancers such as peak-EWMA use) times
// 1 + (calls in flight + 1) / slots (the reported max_concurrency; without it, the calls in flight
// + 1), over the capacity weight. A peer that serves each call four times slower then costs four
// times more, which outstanding counts alone do not see. Latencies within a factor 2 of each other
// are treated as equal (the moving average of an exponential service time spreads that much), and
// a peer without a latency yet takes the other's: those pairs are compared on load alone.

#include <memory>

#include "client/pool/policy/policy.h"
#include "client/pool/policy/random_source.h"

namespace blazen::client::pool {

/// The load score LeastLoadedPicker compares: (LoadUnits(peer) + 1) / capacity_weight. The + 1
/// counts the request being placed, so an idle heavy peer still beats an idle light one.
[[nodiscard]] double LeastLoadedScore(const PeerState& peer);
/// The expected-cost score: latency_ms (a latency <= 0 counts as 1) x (1 + (LoadUnits + 1) /
/// max_concurrency), or x (LoadUnits + 1) when the peer reported no max_concurrency, over the
/// capacity weight.
[[nodiscard]] double LeastLoadedScore(const PeerState& peer, double latency_ms);

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
