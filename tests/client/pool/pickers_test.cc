// SPDX-License-Identifier: Apache-2.0
// RoundRobinPicker, RandomPicker and LeastLoadedPicker: shares of picks over fixed and evolving
// snapshots. Every random source is seeded, so these tests are deterministic.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "client/pool/policy/least_loaded.h"
#include "client/pool/policy/random.h"
#include "client/pool/policy/random_source.h"
#include "client/pool/policy/round_robin.h"
#include "tests/client/pool/pool_test_util.h"

namespace blazen::client::pool {
namespace {

using testing::AllIndices;
using testing::MakePeer;
using testing::MakePeers;
using testing::Snap;
using testing::Tally;

TEST(RoundRobinPickerTest, CyclesEvenlyInIndexOrder) {
  RoundRobinPicker picker;
  auto snapshot = Snap(MakePeers(5));
  const auto all = AllIndices(*snapshot);
  for (std::size_t i = 0; i < 12; ++i) {
    auto picked = picker.Pick(*snapshot, {}, all, nullptr);
    ASSERT_TRUE(picked.ok());
    EXPECT_EQ(*picked, i % 5);
  }
  EXPECT_EQ(Tally(picker, *snapshot, 5000), std::vector<int>(5, 1000));
}

TEST(RoundRobinPickerTest, PicksOnlyAmongCandidates) {
  RoundRobinPicker picker;
  auto snapshot = Snap(MakePeers(6));
  const std::vector<std::size_t> candidates = {1, 4};
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 100; ++i) ++counts[*picker.Pick(*snapshot, {}, candidates, nullptr)];
  EXPECT_EQ(counts, (std::vector<int>{0, 50, 0, 0, 50, 0}));
}

TEST(RandomSourceTest, SameSeedReplaysDifferentSeedDiffers) {
  CounterRandomSource a(42), b(42), c(43);
  int same = 0;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.Next();
    EXPECT_EQ(x, b.Next());
    same += x == c.Next() ? 1 : 0;
  }
  EXPECT_EQ(same, 0);
}

TEST(RandomSourceTest, ConcurrentDrawsAreDistinct) {
  CounterRandomSource source(7);
  constexpr int kThreads = 8, kDraws = 20000;
  std::vector<std::vector<std::uint64_t>> drawn(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kDraws; ++i) drawn[std::size_t(t)].push_back(source.Next());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::uint64_t> all;
  for (const auto& values : drawn) all.insert(values.begin(), values.end());
  // A lost ticket update would hand two threads the same ticket, hence the same value.
  EXPECT_EQ(all.size(), std::size_t{kThreads} * kDraws);
}

TEST(RandomPickerTest, IsUniformWithFixedSeed) {
  RandomPicker picker(MakeRandomSource(1234));
  auto snapshot = Snap(MakePeers(8));
  constexpr int kPicks = 80000;
  const auto counts = Tally(picker, *snapshot, kPicks);
  // Chi-square with 7 degrees of freedom: 24.3 is the 0.1 % critical value.
  const double expected = kPicks / 8.0;
  double chi2 = 0.0;
  for (const int c : counts) {
    EXPECT_NEAR(c, expected, 0.05 * expected);
    chi2 += (c - expected) * (c - expected) / expected;
  }
  EXPECT_LT(chi2, 24.3);
}

TEST(RandomPickerTest, SameSeedSameChoices) {
  RandomPicker a(MakeRandomSource(9)), b(MakeRandomSource(9));
  auto snapshot = Snap(MakePeers(16));
  const auto all = AllIndices(*snapshot);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(*a.Pick(*snapshot, {}, all, nullptr), *b.Pick(*snapshot, {}, all, nullptr));
  }
}

TEST(LeastLoadedPickerTest, HeavilyLoadedPeerIsAlmostNeverPicked) {
  LeastLoadedPicker picker(MakeRandomSource(5));
  std::vector<PeerState> peers = MakePeers(4);
  peers[2].outstanding = 50;
  peers[2].load.queued = 50;
  auto snapshot = Snap(std::move(peers));
  constexpr int kPicks = 20000;
  const auto counts = Tally(picker, *snapshot, kPicks);
  EXPECT_LT(counts[2], kPicks / 100);
  for (const std::size_t i : {0u, 1u, 3u})
    EXPECT_NEAR(counts[i], kPicks / 3.0, 0.05 * kPicks / 3.0);
}

TEST(LeastLoadedPickerTest, ASlowPeerCostsMorePerCallThanItsOutstandingCountSays) {
  // Equal loads, one peer four times slower: its expected time per call is four times larger.
  std::vector<PeerState> peers = MakePeers(2);
  for (auto& peer : peers) peer.live = std::make_shared<PeerLive>();
  LoadReport slots;
  slots.seq = 1;
  slots.max_concurrency = 4;
  for (auto& peer : peers) peer.live->Offer(slots);
  peers[0].live->RecordLatency(20);
  peers[1].live->RecordLatency(80);
  auto snapshot = Snap(peers);
  LeastLoadedPicker picker(MakeRandomSource(3));
  EXPECT_EQ(Tally(picker, *snapshot, 200)[1], 0);
  // Once the fast one has four times its slots in flight, the slow idle one is the cheaper way:
  // 80 ms x (1 + 1/4) = 100 < 20 ms x (1 + 17/4) = 105.
  for (int i = 0; i < 16; ++i) peers[0].live->BeginCall();
  EXPECT_EQ(Tally(picker, *snapshot, 200)[0], 0);
  // A moving average: a peer that recovers is seen within tens of calls.
  for (int i = 0; i < 30; ++i) peers[1].live->RecordLatency(20);
  EXPECT_LT(peers[1].live->latency_ms(), 25.0);
  // Within a factor 2, latencies are noise: equal loads then split the picks.
  std::vector<PeerState> close = MakePeers(2);
  for (auto& peer : close) peer.live = std::make_shared<PeerLive>();
  close[0].live->RecordLatency(20);
  close[1].live->RecordLatency(35);
  const auto counts = Tally(picker, *Snap(close), 2000);
  EXPECT_GT(counts[1], 800);
}

TEST(LeastLoadedPickerTest, APeerWithoutALatencyIsComparedOnLoadAlone) {
  std::vector<PeerState> peers = MakePeers(2);
  for (auto& peer : peers) peer.live = std::make_shared<PeerLive>();
  peers[0].live->RecordLatency(1000);  // only one peer has a latency: it does not count
  peers[0].live->BeginCall();
  auto snapshot = Snap(peers);
  LeastLoadedPicker picker(MakeRandomSource(4));
  EXPECT_EQ(Tally(picker, *snapshot, 100)[0], 0);
  peers[1].live->BeginCall();
  peers[1].live->BeginCall();
  EXPECT_EQ(Tally(picker, *snapshot, 100)[1], 0);
}

// Each pick adds one outstanding call to the chosen peer (no call completes), as a burst would:
// the picker must spread load in proportion to capacity.
std::vector<std::uint64_t> PlaceBurst(const Picker& picker, std::vector<PeerState> peers,
                                      int picks) {
  for (int i = 0; i < picks; ++i) {
    auto snapshot = Snap(peers, std::uint64_t(i));
    auto picked = picker.Pick(*snapshot, {}, AllIndices(*snapshot), nullptr);
    EXPECT_TRUE(picked.ok());
    if (!picked.ok()) break;
    ++peers[*picked].outstanding;
  }
  std::vector<std::uint64_t> load;
  for (const auto& peer : peers) load.push_back(peer.outstanding);
  return load;
}

TEST(LeastLoadedPickerTest, WeightTwoPeerGetsTwiceTheShare) {
  LeastLoadedPicker picker(MakeRandomSource(11));
  std::vector<PeerState> peers = {MakePeer(0, 2.0), MakePeer(1), MakePeer(2), MakePeer(3)};
  constexpr int kPicks = 5000;
  const auto load = PlaceBurst(picker, std::move(peers), kPicks);
  // Ideal shares 2/5, 1/5, 1/5, 1/5.
  EXPECT_NEAR(double(load[0]) / kPicks, 0.4, 0.02);
  for (const int i : {1, 2, 3}) EXPECT_NEAR(double(load[std::size_t(i)]) / kPicks, 0.2, 0.02);
}

TEST(LeastLoadedPickerTest, TwoChoicesBalanceBetterThanRandom) {
  // n requests on n idle peers: max load ~ ln n / ln ln n for random, ~ ln ln n / ln 2 for two
  // choices (Azar et al. 1994). With n = 1024: about 4.3-7 versus about 3.
  constexpr int kPeers = 1024;
  LeastLoadedPicker two(MakeRandomSource(3));
  RandomPicker one(MakeRandomSource(3));
  const auto two_load = PlaceBurst(two, MakePeers(kPeers), kPeers);
  const auto one_load = PlaceBurst(one, MakePeers(kPeers), kPeers);
  const auto two_max = *std::max_element(two_load.begin(), two_load.end());
  const auto one_max = *std::max_element(one_load.begin(), one_load.end());
  EXPECT_LE(two_max, 4u);
  EXPECT_GE(one_max, 5u);
}

TEST(LeastLoadedPickerTest, RecordsBothSampledScores) {
  LeastLoadedPicker picker(MakeRandomSource(1));
  std::vector<PeerState> peers = {MakePeer(0, 1.0, 3), MakePeer(1, 2.0, 3)};
  auto snapshot = Snap(std::move(peers));
  DecisionRecord record;
  auto picked = picker.Pick(*snapshot, {}, AllIndices(*snapshot), &record);
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(*picked, 1u);  // (3 + 1) / 2 < (3 + 1) / 1
  ASSERT_EQ(record.scores.size(), 2u);
  for (const auto& score : record.scores) {
    EXPECT_DOUBLE_EQ(score.score, score.peer == 0 ? 4.0 : 2.0);
  }
}

TEST(LeastLoadedPickerTest, SingleCandidateIsPicked) {
  LeastLoadedPicker picker(MakeRandomSource(1));
  auto snapshot = Snap(MakePeers(3));
  const std::vector<std::size_t> one = {2};
  EXPECT_EQ(*picker.Pick(*snapshot, {}, one, nullptr), 2u);
}

}  // namespace
}  // namespace blazen::client::pool
