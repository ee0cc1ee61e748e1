// SPDX-License-Identifier: Apache-2.0
// ConsistentHashPicker: stable mapping, minimal movement on membership change, weights, and the
// bounded-load guarantee (no peer above ceil(c * weighted share)).

#include "client/pool/policy/consistent_hash.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "tests/client/pool/pool_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client::pool {
namespace {

using ::blazen::testing::StatusIs;
using testing::AllIndices;
using testing::MakePeer;
using testing::MakePeers;
using testing::Snap;

RequestTraits Key(const std::string& key) {
  RequestTraits traits;
  traits.hash_key = key;
  return traits;
}

std::size_t PickKey(const ConsistentHashPicker& picker, const PeerSnapshot& snapshot,
                    const std::string& key) {
  auto picked = picker.Pick(snapshot, Key(key), AllIndices(snapshot), nullptr);
  EXPECT_TRUE(picked.ok()) << picked.status().ToString();
  return picked.ok() ? *picked : snapshot.size();
}

TEST(ConsistentHashPickerTest, SameKeySamePeer) {
  ConsistentHashPicker picker, other;
  auto snapshot = Snap(MakePeers(8));
  auto reloaded = Snap(MakePeers(8), 2);  // same membership, new version
  for (int k = 0; k < 500; ++k) {
    const std::string key = "session-" + std::to_string(k);
    const std::size_t first = PickKey(picker, *snapshot, key);
    EXPECT_EQ(PickKey(picker, *snapshot, key), first);
    EXPECT_EQ(PickKey(other, *reloaded, key), first);
  }
}

TEST(ConsistentHashPickerTest, AddingAPeerMovesAboutOneNthOfKeysAllToIt) {
  ConsistentHashPicker picker;
  auto ten = Snap(MakePeers(10));
  auto eleven = Snap(MakePeers(11), 2);
  constexpr int kKeys = 20000;
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "k" + std::to_string(k);
    const std::size_t before = PickKey(picker, *ten, key);
    const std::size_t after = PickKey(picker, *eleven, key);
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, 10u) << "key " << key << " moved between old peers";
    }
  }
  EXPECT_NEAR(double(moved) / kKeys, 1.0 / 11.0, 0.04);
}

TEST(ConsistentHashPickerTest, KeysSpreadInProportionToWeight) {
  ConsistentHashPicker picker;
  std::vector<PeerState> peers = {MakePeer(0, 2.0), MakePeer(1), MakePeer(2), MakePeer(3)};
  auto snapshot = Snap(std::move(peers));
  constexpr int kKeys = 20000;
  std::vector<int> counts(4, 0);
  for (int k = 0; k < kKeys; ++k) ++counts[PickKey(picker, *snapshot, "k" + std::to_string(k))];
  // Shares 2/5, 1/5, 1/5, 1/5, within the ring's granularity (~6 % relative with
  // 256 virtual nodes per average peer, i.e. about 0.012 here).
  EXPECT_NEAR(double(counts[0]) / kKeys, 0.4, 0.06);
  for (const int i : {1, 2, 3}) EXPECT_NEAR(double(counts[std::size_t(i)]) / kKeys, 0.2, 0.05);
}

// Places `keys` one after the other, each adding one outstanding call to its peer, and checks the
// bound after every placement.
void PlaceAndCheckBound(std::vector<PeerState> peers, const std::vector<std::string>& keys) {
  ConsistentHashPicker picker;  // c = 1.25
  double total_weight = 0.0;
  for (const auto& peer : peers) total_weight += peer.capacity_weight;
  std::uint64_t total = 0;
  for (const auto& key : keys) {
    auto snapshot = Snap(peers, total);
    const std::size_t peer = PickKey(picker, *snapshot, key);
    ASSERT_LT(peer, peers.size());
    ++peers[peer].outstanding;
    ++total;
    for (const auto& p : peers) {
      const double bound = std::ceil(1.25 * double(total) * p.capacity_weight / total_weight);
      ASSERT_LE(double(p.outstanding), bound) << p.node_id << " after " << total << " keys";
    }
  }
}

TEST(ConsistentHashPickerTest, HotKeyNeverExceedsTheBound) {
  PlaceAndCheckBound(MakePeers(6), std::vector<std::string>(3000, "hot"));
}

TEST(ConsistentHashPickerTest, WeightedPeersNeverExceedTheirBound) {
  std::vector<PeerState> peers = {MakePeer(0, 3.0), MakePeer(1), MakePeer(2, 0.5), MakePeer(3)};
  std::vector<std::string> keys;
  for (int k = 0; k < 3000; ++k) keys.push_back(k % 3 == 0 ? "hot" : "k" + std::to_string(k));
  PlaceAndCheckBound(std::move(peers), keys);
}

TEST(ConsistentHashPickerTest, SkipsPeersThatAreNotCandidates) {
  ConsistentHashPicker picker;
  auto snapshot = Snap(MakePeers(5));
  for (int k = 0; k < 200; ++k) {
    const std::string key = "k" + std::to_string(k);
    const std::size_t owner = PickKey(picker, *snapshot, key);
    std::vector<std::size_t> others;
    for (std::size_t i = 0; i < 5; ++i) {
      if (i != owner) others.push_back(i);
    }
    auto picked = picker.Pick(*snapshot, Key(key), others, nullptr);
    ASSERT_TRUE(picked.ok());
    EXPECT_NE(*picked, owner);
  }
}

TEST(ConsistentHashPickerTest, MissingHashKeyIsInvalidArgument) {
  ConsistentHashPicker picker;
  auto snapshot = Snap(MakePeers(3));
  EXPECT_THAT(picker.Pick(*snapshot, {}, AllIndices(*snapshot), nullptr),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(ConsistentHashPickerTest, ConcurrentPicksAcrossMembershipChangesAgree) {
  // Six memberships rotate through a cache of four rings, so threads race on building, evicting
  // and reading rings; every answer must still be the one a fresh picker gives.
  constexpr int kKeys = 200, kMemberships = 6;
  std::vector<std::shared_ptr<const PeerSnapshot>> snaps;
  std::vector<std::vector<std::size_t>> want(kMemberships);
  ConsistentHashPicker reference;
  for (int m = 0; m < kMemberships; ++m) {
    snaps.push_back(Snap(MakePeers(4 + m), std::uint64_t(m)));
    for (int k = 0; k < kKeys; ++k) {
      want[std::size_t(m)].push_back(PickKey(reference, *snaps.back(), "k" + std::to_string(k)));
    }
  }
  ConsistentHashPicker shared;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 30; ++round) {
        const auto m = std::size_t((round + t) % kMemberships);
        const PeerSnapshot& snap = *snaps[m];
        for (int k = 0; k < kKeys; ++k) {
          auto picked = shared.Pick(snap, Key("k" + std::to_string(k)), AllIndices(snap), nullptr);
          if (!picked.ok() || *picked != want[m][std::size_t(k)]) ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace blazen::client::pool
