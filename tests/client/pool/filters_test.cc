// SPDX-License-Identifier: Apache-2.0
// The filters: health, steps and labels, and the device-bytes hint against free pool bytes.

#include <gtest/gtest.h>

#include "client/pool/policy/capacity_filter.h"
#include "client/pool/policy/health_filter.h"
#include "client/pool/policy/resource_filter.h"
#include "client/pool/policy/steps_labels_filter.h"
#include "tests/client/pool/pool_test_util.h"

namespace blazen::client::pool {
namespace {

using testing::AllIndices;
using testing::MakePeers;
using testing::Snap;

std::vector<std::size_t> Kept(const Filter& filter, const PeerSnapshot& snapshot,
                              const RequestTraits& traits) {
  std::vector<std::size_t> candidates = AllIndices(snapshot);
  filter.Apply(snapshot, traits, candidates);
  return candidates;
}

TEST(HealthFilterTest, KeepsHealthyPeersOnly) {
  auto peers = MakePeers(4);
  peers[1].healthy = false;
  peers[3].healthy = false;
  auto snapshot = Snap(std::move(peers));
  EXPECT_EQ(Kept(HealthFilter(), *snapshot, {}), (std::vector<std::size_t>{0, 2}));
}

std::shared_ptr<const PeerSnapshot> StepsAndLabels() {
  auto peers = MakePeers(4);
  peers[0].step_ids = {"embed", "search"};
  peers[0].labels = {{"gpu", "h100"}, {"region", "eu"}};
  peers[1].step_ids = {"search", "embed", "rerank"};  // unsorted on purpose
  peers[1].labels = {{"gpu", "a100"}, {"region", "eu"}};
  peers[2].step_ids = {"embed"};
  peers[2].labels = {{"gpu", "h100"}};
  peers[3].step_ids = {};
  return Snap(std::move(peers));
}

TEST(StepsLabelsFilterTest, KeepsPeersServingEveryStep) {
  auto snapshot = StepsAndLabels();
  RequestTraits traits;
  traits.step_ids = {"search", "embed"};
  EXPECT_EQ(Kept(StepsLabelsFilter(), *snapshot, traits), (std::vector<std::size_t>{0, 1}));
  traits.step_ids = {"rerank"};
  EXPECT_EQ(Kept(StepsLabelsFilter(), *snapshot, traits), (std::vector<std::size_t>{1}));
  traits.step_ids = {"unknown"};
  EXPECT_TRUE(Kept(StepsLabelsFilter(), *snapshot, traits).empty());
}

TEST(StepsLabelsFilterTest, KeepsPeersWithEveryRequiredLabelValue) {
  auto snapshot = StepsAndLabels();
  RequestTraits traits;
  traits.required_labels = {{"gpu", "h100"}};
  EXPECT_EQ(Kept(StepsLabelsFilter(), *snapshot, traits), (std::vector<std::size_t>{0, 2}));
  traits.required_labels = {{"gpu", "h100"}, {"region", "eu"}};
  EXPECT_EQ(Kept(StepsLabelsFilter(), *snapshot, traits), (std::vector<std::size_t>{0}));
  traits.step_ids = {"rerank"};
  EXPECT_TRUE(Kept(StepsLabelsFilter(), *snapshot, traits).empty());
}

TEST(StepsLabelsFilterTest, EmptyRequestKeepsEveryone) {
  auto snapshot = StepsAndLabels();
  EXPECT_EQ(Kept(StepsLabelsFilter(), *snapshot, {}).size(), 4u);
}

TEST(ResourceFilterTest, KeepsPeersWithEnoughFreePoolBytes) {
  auto peers = MakePeers(5);
  peers[0].load.pool_budget_bytes = 1000;
  peers[0].load.pool_in_use_bytes = 200;  // 800 free
  peers[1].load.pool_budget_bytes = 1000;
  peers[1].load.pool_in_use_bytes = 500;  // 500 free
  peers[2].load.pool_budget_bytes = 0;    // no budget reported: passes
  peers[3].load.pool_budget_bytes = 100;
  peers[3].load.pool_in_use_bytes = 300;  // over budget: no room
  peers[4].load.pool_budget_bytes = 600;  // 600 free
  auto snapshot = Snap(std::move(peers));
  RequestTraits traits;
  traits.device_bytes = 600;
  EXPECT_EQ(Kept(ResourceFilter(), *snapshot, traits), (std::vector<std::size_t>{0, 2, 4}));
  traits.device_bytes = 0;
  EXPECT_EQ(Kept(ResourceFilter(), *snapshot, traits), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  traits.device_bytes.reset();
  EXPECT_EQ(Kept(ResourceFilter(), *snapshot, traits).size(), 5u);
}

TEST(CapacityFilterTest, DerivesTheLimitFromReportedSlotsOrUsesAFixedOne) {
  auto peers = MakePeers(4);
  peers[0].load.max_concurrency = 2;  // limit ceil(2 * 1.5) = 3
  peers[0].outstanding = 2;
  peers[1].load.max_concurrency = 2;
  peers[1].outstanding = 3;           // at its limit
  peers[2].outstanding = 100;         // never reported: no limit
  peers[3].load.max_concurrency = 1;  // limit ceil(1.5) = 2; at 0.5 per slot: at least 1
  peers[3].outstanding = 1;
  auto snapshot = Snap(std::move(peers));
  CapacityOptions derived;
  derived.outstanding_per_slot = 1.5;
  EXPECT_EQ(Kept(CapacityFilter(derived), *snapshot, {}), (std::vector<std::size_t>{0, 2, 3}));
  CapacityOptions half;
  half.outstanding_per_slot = 0.5;
  EXPECT_EQ(CapacityFilter(half).LimitOf(snapshot->peers()[3]), 1u);
  EXPECT_EQ(Kept(CapacityFilter(half), *snapshot, {}), (std::vector<std::size_t>{2}));

  CapacityOptions fixed;
  fixed.max_outstanding_per_peer = 3;  // overrides the reports, applies to p2 too
  EXPECT_EQ(Kept(CapacityFilter(fixed), *snapshot, {}), (std::vector<std::size_t>{0, 3}));
  EXPECT_EQ(CapacityFilter(fixed).rejection_code(), StatusCode::kResourceExhausted);
}

TEST(CapacityFilterTest, ReadsTheLiveCountersWhenThePoolKeepsThem) {
  auto peers = MakePeers(2);
  auto live = std::make_shared<PeerLive>();
  peers[0].live = live;
  peers[0].outstanding = 0;  // ignored: the live figures win
  auto snapshot = Snap(std::move(peers));
  CapacityOptions options;
  options.max_outstanding_per_peer = 2;
  const CapacityFilter filter(options);
  EXPECT_EQ(Kept(filter, *snapshot, {}), (std::vector<std::size_t>{0, 1}));
  live->BeginCall();
  live->BeginCall();
  EXPECT_EQ(Kept(filter, *snapshot, {}), (std::vector<std::size_t>{1}));  // same snapshot
  live->EndCall();
  EXPECT_EQ(Kept(filter, *snapshot, {}), (std::vector<std::size_t>{0, 1}));
}

}  // namespace
}  // namespace blazen::client::pool
