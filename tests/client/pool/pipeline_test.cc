// SPDX-License-Identifier: Apache-2.0
// Pipeline and PolicyRegistry: decisions with reasons when nothing is eligible, decision records,
// registry errors, and concurrent picks through one pipeline.

#include "client/pool/policy/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "client/pool/policy/policy_registry.h"
#include "tests/client/pool/pool_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client::pool {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakePeers;
using ::testing::Not;
using testing::Snap;

Pipeline MakeOrDie(std::string_view name, const PolicyOptions& options = {}) {
  auto pipeline = PolicyRegistry::WithBuiltins().MakePipeline(name, options);
  EXPECT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  return std::move(pipeline).value();
}

TEST(PolicyRegistryTest, BuiltinsAreRegistered) {
  EXPECT_THAT(PolicyRegistry::WithBuiltins().names(),
              ElementsAre("consistent_hash", "least_loaded", "random", "round_robin"));
  EXPECT_EQ(MakeOrDie(kDefaultPolicy).policy(), "least_loaded");
}

TEST(PolicyRegistryTest, UnknownPolicyIsInvalidArgumentNamingTheKnownOnes) {
  auto picker = PolicyRegistry::WithBuiltins().MakePicker("fastest", {});
  EXPECT_THAT(picker, StatusIs(StatusCode::kInvalidArgument,
                               ::testing::AllOf(HasSubstr("fastest"), HasSubstr("least_loaded"),
                                                HasSubstr("consistent_hash"))));
  EXPECT_THAT(PolicyRegistry::WithBuiltins().MakePipeline("", {}),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(PolicyRegistryTest, RegisterRejectsDuplicatesAndEmptyNames) {
  PolicyRegistry registry = PolicyRegistry::WithBuiltins();
  auto factory = [](const PolicyOptions&) -> Result<std::unique_ptr<Picker>> {
    return Status::Unimplemented("test");
  };
  EXPECT_THAT(registry.Register("random", factory), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.Register("", factory), StatusIs(StatusCode::kInvalidArgument));
  BLAZEN_EXPECT_OK(registry.Register("mine", factory));
  EXPECT_THAT(registry.MakePicker("mine", {}), StatusIs(StatusCode::kUnimplemented));
}

TEST(PolicyRegistryTest, RejectsBadConsistentHashOptions) {
  PolicyOptions options;
  options.consistent_hash.load_factor = 1.0;
  EXPECT_THAT(PolicyRegistry::WithBuiltins().MakePicker("consistent_hash", options),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(PipelineTest, EveryBuiltinPolicyPicksAnEligiblePeer) {
  auto peers = MakePeers(6);
  for (auto& peer : peers) peer.step_ids = {"embed"};
  peers[5].step_ids = {};
  peers[0].healthy = false;
  auto snapshot = Snap(std::move(peers));
  RequestTraits traits;
  traits.step_ids = {"embed"};
  traits.hash_key = "session-1";
  for (const auto& name : PolicyRegistry::WithBuiltins().names()) {
    const Pipeline pipeline = MakeOrDie(name);
    for (int i = 0; i < 50; ++i) {
      const Decision decision = pipeline.Pick(*snapshot, traits);
      ASSERT_TRUE(decision.picked()) << name << ": " << decision.reason;
      BLAZEN_EXPECT_OK(decision.status());
      EXPECT_NE(*decision.peer, 0u);
      EXPECT_NE(*decision.peer, 5u);
      EXPECT_EQ(decision.reason, name);
      EXPECT_FALSE(decision.record.has_value());
    }
  }
}

TEST(PipelineTest, EmptySnapshotGivesUnavailableWithReason) {
  const Decision decision = MakeOrDie("least_loaded").Pick(*PeerSnapshot::Empty(), {});
  EXPECT_FALSE(decision.picked());
  EXPECT_EQ(decision.code, StatusCode::kUnavailable);
  EXPECT_THAT(decision.reason, HasSubstr("empty"));
  EXPECT_TRUE(decision.rejected_by.empty());
  EXPECT_THAT(decision.status(), StatusIs(StatusCode::kUnavailable));
}

TEST(PipelineTest, EverythingFilteredNamesTheFilter) {
  auto peers = MakePeers(4);
  peers[0].healthy = false;
  for (auto& peer : peers) peer.step_ids = {"embed"};
  auto snapshot = Snap(std::move(peers));
  RequestTraits traits;
  traits.step_ids = {"search"};
  traits.record = true;
  const Decision decision = MakeOrDie("round_robin").Pick(*snapshot, traits);
  EXPECT_FALSE(decision.picked());
  EXPECT_EQ(decision.code, StatusCode::kUnavailable);
  EXPECT_EQ(decision.rejected_by, "steps_labels");
  EXPECT_THAT(decision.reason, HasSubstr("steps_labels"));
  ASSERT_TRUE(decision.record.has_value());
  ASSERT_EQ(decision.record->filters.size(), 2u);  // health, then steps_labels stopped it
  EXPECT_EQ(decision.record->filters[0].filter, "health");
  EXPECT_EQ(decision.record->filters[0].removed, 1u);
  EXPECT_EQ(decision.record->filters[1].removed, 3u);
}

TEST(PipelineTest, UnavailableNamesThePeersTheRejectingFilterSaw) {
  auto peers = MakePeers(3);
  peers[0].healthy = false;
  for (auto& peer : peers) peer.step_ids = {"embed"};
  RequestTraits traits;
  traits.step_ids = {"search"};
  const Decision decision = MakeOrDie("random").Pick(*Snap(std::move(peers)), traits);
  EXPECT_EQ(decision.code, StatusCode::kUnavailable);
  // p0 was removed by "health" before: only the peers "steps_labels" saw are named.
  EXPECT_THAT(decision.reason, HasSubstr("p1 (10.0.0.1:50051), p2 (10.0.0.2:50051)"));
  EXPECT_THAT(decision.reason, Not(HasSubstr("p0")));
}

TEST(PipelineTest, EveryEligiblePeerAtItsLimitIsResourceExhaustedNamingThem) {
  auto peers = MakePeers(3);
  peers[0].load.max_concurrency = 2;  // limit 4 at 2 calls per slot
  peers[0].outstanding = 4;
  peers[1].load.max_concurrency = 1;  // limit 2
  peers[1].outstanding = 2;
  peers[2].healthy = false;  // not eligible: UNAVAILABLE would name it, overload does not
  auto snapshot = Snap(std::move(peers));
  const Pipeline pipeline = MakeOrDie("least_loaded");
  Decision decision = pipeline.Pick(*snapshot, {});
  EXPECT_FALSE(decision.picked());
  EXPECT_EQ(decision.code, StatusCode::kResourceExhausted);
  EXPECT_EQ(decision.rejected_by, "capacity");
  EXPECT_EQ(decision.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(decision.reason, HasSubstr("p0 (10.0.0.0:50051), p1 (10.0.0.1:50051)"));
  EXPECT_THAT(decision.reason, Not(HasSubstr("p2")));

  // One slot frees up on p1: it is picked.
  auto freed = MakePeers(3);
  freed[0].load.max_concurrency = 2;
  freed[0].outstanding = 4;
  freed[1].load.max_concurrency = 1;
  freed[1].outstanding = 1;
  freed[2].healthy = false;
  decision = pipeline.Pick(*Snap(std::move(freed)), {});
  ASSERT_TRUE(decision.picked());
  EXPECT_EQ(*decision.peer, 1u);
}

TEST(PipelineTest, ConsistentHashWithoutKeyIsInvalidArgument) {
  const Decision decision = MakeOrDie("consistent_hash").Pick(*Snap(MakePeers(3)), {});
  EXPECT_FALSE(decision.picked());
  EXPECT_EQ(decision.code, StatusCode::kInvalidArgument);
}

TEST(PipelineTest, RecordListsCandidatesAndScores) {
  auto peers = MakePeers(5);
  peers[2].load.pool_budget_bytes = 10;
  auto snapshot = Snap(std::move(peers), 42);
  RequestTraits traits;
  traits.device_bytes = 100;
  traits.record = true;
  const Decision decision = MakeOrDie("least_loaded").Pick(*snapshot, traits);
  ASSERT_TRUE(decision.picked());
  ASSERT_TRUE(decision.record.has_value());
  const DecisionRecord& record = *decision.record;
  EXPECT_EQ(record.policy, "least_loaded");
  EXPECT_EQ(record.snapshot_version, 42u);
  EXPECT_EQ(record.peers, 5u);
  EXPECT_THAT(record.candidates, ElementsAre(0u, 1u, 3u, 4u));
  EXPECT_EQ(record.filters.size(), 4u);  // health, steps_labels, resource, capacity
  EXPECT_EQ(record.scores.size(), 2u);
}

TEST(PipelineTest, ConcurrentPicksFromEightThreadsAreSafeAndExact) {
  // Round robin over 8 peers: 8 threads x 20000 picks must give every peer exactly 20000, which
  // fails if two picks ever share a ticket.
  const Pipeline pipeline = MakeOrDie("round_robin");
  auto snapshot = Snap(MakePeers(8));
  constexpr int kThreads = 8, kPicks = 20000;
  std::vector<std::atomic<int>> counts(8);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPicks; ++i) {
        const Decision decision = pipeline.Pick(*snapshot, {});
        if (!decision.picked()) {
          ++failures;
          continue;
        }
        counts[*decision.peer].fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (auto& count : counts) EXPECT_EQ(count.load(), kPicks);
}

TEST(PipelineTest, ConcurrentRandomizedPicksFromEightThreads) {
  for (const char* name : {"random", "least_loaded", "consistent_hash"}) {
    const Pipeline pipeline = MakeOrDie(name);
    auto snapshot = Snap(MakePeers(16));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        RequestTraits traits;
        for (int i = 0; i < 5000; ++i) {
          traits.hash_key = std::to_string(t * 5000 + i);
          const Decision decision = pipeline.Pick(*snapshot, traits);
          if (!decision.picked() || *decision.peer >= 16) ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0) << name;
  }
}

}  // namespace
}  // namespace blazen::client::pool
