// SPDX-License-Identifier: Apache-2.0
// PeerSnapshot construction and SnapshotHolder under concurrent publish and load.

#include "client/pool/peer_snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "tests/client/pool/pool_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client::pool {
namespace {

using ::blazen::testing::StatusIs;
using testing::MakePeer;
using testing::MakePeers;
using testing::Snap;

TEST(PeerSnapshotTest, MakeIndexesPeersAndSortsSteps) {
  auto peers = MakePeers(3);
  peers[1].step_ids = {"b", "a", "b"};
  auto snapshot = Snap(std::move(peers), 7);
  EXPECT_EQ(snapshot->version(), 7u);
  ASSERT_EQ(snapshot->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(snapshot->peers()[i].index, i);
  EXPECT_EQ(snapshot->peers()[1].step_ids, (std::vector<std::string>{"a", "b"}));
}

TEST(PeerSnapshotTest, RejectsBadCapacityWeight) {
  for (const double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_THAT(PeerSnapshot::Make({MakePeer(0, bad)}, 1), StatusIs(StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(PeerSnapshotTest, FingerprintTracksMembershipOnly) {
  auto base = MakePeers(3);
  auto loaded = base;
  loaded[0].outstanding = 9;
  loaded[1].healthy = false;
  loaded[2].labels = {{"gpu", "h100"}};
  EXPECT_EQ(Snap(base)->membership_fingerprint(), Snap(loaded, 2)->membership_fingerprint());
  auto reweighted = base;
  reweighted[0].capacity_weight = 2.0;
  EXPECT_NE(Snap(base)->membership_fingerprint(), Snap(reweighted)->membership_fingerprint());
  EXPECT_NE(Snap(base)->membership_fingerprint(), Snap(MakePeers(4))->membership_fingerprint());
}

TEST(SnapshotHolderTest, StartsEmptyAndRejectsNull) {
  SnapshotHolder holder;
  EXPECT_TRUE(holder.Load()->empty());
  EXPECT_THAT(holder.Publish(nullptr), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_NE(holder.Load(), nullptr);
}

TEST(SnapshotHolderTest, ReaderKeepsItsSnapshotAfterPublish) {
  SnapshotHolder holder(Snap(MakePeers(2), 1));
  auto held = holder.Load();
  BLAZEN_ASSERT_OK(holder.Publish(Snap(MakePeers(5), 2)));
  EXPECT_EQ(held->size(), 2u);
  EXPECT_EQ(holder.Load()->version(), 2u);
}

TEST(SnapshotHolderTest, ConcurrentPublishAndLoadSeeWholeSnapshotsInOrder) {
  // One writer publishes versions 1..N; snapshot v has v % 7 + 1 peers, each with outstanding v.
  // Readers must only ever see whole snapshots, with versions that never go back.
  SnapshotHolder holder;
  constexpr std::uint64_t kVersions = 3000;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&] {
      std::uint64_t last = 0;
      while (!done.load()) {
        const auto snapshot = holder.Load();
        const std::uint64_t v = snapshot->version();
        if (v < last) ++errors;
        last = v;
        if (v == 0) continue;
        if (snapshot->size() != v % 7 + 1) ++errors;
        for (const auto& peer : snapshot->peers()) {
          if (peer.outstanding != v) ++errors;
        }
      }
    });
  }
  for (std::uint64_t v = 1; v <= kVersions; ++v) {
    auto peers = MakePeers(int(v % 7 + 1));
    for (auto& peer : peers) peer.outstanding = v;
    ASSERT_TRUE(holder.Publish(Snap(std::move(peers), v)).ok());
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(holder.Load()->version(), kVersions);
}

}  // namespace
}  // namespace blazen::client::pool
