// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers of the pool tests: peers and snapshots in one line, and a tally of picks per peer.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/pool/peer_snapshot.h"
#include "client/pool/policy/policy.h"

namespace blazen::client::pool::testing {

/// A healthy peer "p<i>" at "10.0.0.<i>:50051" with the given weight and load units (all in
/// `outstanding`).
inline PeerState MakePeer(int i, double weight = 1.0, std::uint64_t outstanding = 0) {
  PeerState peer;
  peer.node_id = "p" + std::to_string(i);
  peer.endpoint = "10.0.0." + std::to_string(i) + ":50051";
  peer.capacity_weight = weight;
  peer.outstanding = outstanding;
  return peer;
}

/// `n` peers of weight 1 and no load.
inline std::vector<PeerState> MakePeers(int n) {
  std::vector<PeerState> peers;
  for (int i = 0; i < n; ++i) peers.push_back(MakePeer(i));
  return peers;
}

/// A snapshot of `peers` (aborts the test on a bad peer).
inline std::shared_ptr<const PeerSnapshot> Snap(std::vector<PeerState> peers,
                                                std::uint64_t version = 1) {
  auto snapshot = PeerSnapshot::Make(std::move(peers), version);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  return snapshot.ok() ? *snapshot : PeerSnapshot::Empty();
}

/// Every index of `snapshot`, the candidates before any filter.
inline std::vector<std::size_t> AllIndices(const PeerSnapshot& snapshot) {
  std::vector<std::size_t> all;
  for (std::size_t i = 0; i < snapshot.size(); ++i) all.push_back(i);
  return all;
}

/// Picks `n` times from a fixed snapshot and counts the picks per peer.
inline std::vector<int> Tally(const Picker& picker, const PeerSnapshot& snapshot, int n,
                              const RequestTraits& traits = {}) {
  std::vector<int> counts(snapshot.size(), 0);
  const std::vector<std::size_t> all = AllIndices(snapshot);
  for (int i = 0; i < n; ++i) {
    auto picked = picker.Pick(snapshot, traits, all, nullptr);
    EXPECT_TRUE(picked.ok()) << picked.status().ToString();
    if (picked.ok()) ++counts[*picked];
  }
  return counts;
}

}  // namespace blazen::client::pool::testing
