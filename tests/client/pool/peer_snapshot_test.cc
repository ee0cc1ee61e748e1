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

TEST(PeerLiveTest, KeepsOnlyNewerReportsAndCountsCalls) {
  PeerLive live;
  EXPECT_EQ(live.load().seq, 0u);
  LoadReport report;
  report.seq = 5;
  report.in_flight = 3;
  report.queued = 2;
  report.max_concurrency = 4;
  report.pool_in_use_bytes = 10;
  report.pool_budget_bytes = 100;
  report.resident_ref_bytes = 7;
  report.capacity_weight = 2.5;
  EXPECT_TRUE(live.Offer(report));
  EXPECT_EQ(live.load(), report);
  EXPECT_EQ(live.reported_units(), 5u);

  LoadReport older = report;
  older.seq = 4;
  older.in_flight = 99;
  EXPECT_FALSE(live.Offer(older));   // arrived late: dropped
  EXPECT_FALSE(live.Offer(report));  // same seq: dropped
  EXPECT_EQ(live.load().in_flight, 3u);

  live.ResetSequence();  // the peer restarted and counts from 1 again
  older.seq = 1;
  EXPECT_TRUE(live.Offer(older));
  EXPECT_EQ(live.load().in_flight, 99u);

  live.BeginCall();
  live.BeginCall();
  live.EndCall();
  EXPECT_EQ(live.outstanding(), 1u);
}

TEST(PeerLiveTest, LoadUnitsAndCurrentLoadPreferTheLiveFigures) {
  PeerState peer;
  peer.outstanding = 7;
  peer.load.in_flight = 1;
  EXPECT_EQ(LoadUnits(peer), 7u);  // the larger of our calls and the report, not their sum
  peer.load.queued = 9;
  EXPECT_EQ(LoadUnits(peer), 10u);  // other clients' runs show in the report
  EXPECT_EQ(Outstanding(peer), 7u);
  peer.live = std::make_shared<PeerLive>();
  EXPECT_EQ(LoadUnits(peer), 0u);
  peer.live->BeginCall();
  peer.live->BeginCall();
  EXPECT_EQ(LoadUnits(peer), 2u);  // no report yet: our own count
  LoadReport report;
  report.seq = 1;
  report.in_flight = 2;
  report.queued = 3;
  peer.live->Offer(report);
  EXPECT_EQ(LoadUnits(peer), 5u);
  EXPECT_EQ(Outstanding(peer), 2u);
  EXPECT_EQ(CurrentLoad(peer).queued, 3u);
}

TEST(PeerLiveTest, ConcurrentOffersKeepTheHighestSequence) {
  PeerLive live;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&live, t] {
      for (std::uint64_t i = 1; i <= 5000; ++i) {
        LoadReport report;
        report.seq = i * 4 + static_cast<std::uint64_t>(t);
        live.Offer(report);
        live.BeginCall();
        live.EndCall();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(live.load().seq, 5000u * 4 + 3);
  EXPECT_EQ(live.outstanding(), 0u);
}

TEST(PeerLiveTest, AStaleLatencyIsForgottenForOneProbeAtATime) {
  PeerLive live;
  live.RecordLatency(50);
  EXPECT_DOUBLE_EQ(live.latency_ms(), 50.0);
  std::this_thread::sleep_for(PeerLive::kLatencyTtl + std::chrono::milliseconds(100));
  EXPECT_EQ(live.latency_ms(), 0.0);  // stale and idle: unknown, so the router tries it again
  live.BeginCall();                   // the probe is in flight: the old figure holds meanwhile
  EXPECT_DOUBLE_EQ(live.latency_ms(), 50.0);
  live.RecordLatency(50);  // the probe completed: fresh again
  live.EndCall();
  EXPECT_DOUBLE_EQ(live.latency_ms(), 50.0);
  live.ResetLatency();
  EXPECT_EQ(live.latency_ms(), 0.0);
}

}  // namespace
}  // namespace blazen::client::pool
