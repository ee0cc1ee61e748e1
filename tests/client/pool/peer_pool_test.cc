// SPDX-License-Identifier: Apache-2.0
// PeerPool over a scripted fleet (fake:// peers): routing and the trace of who served, refs routed
// to their holder, admission (RESOURCE_EXHAUSTED vs UNAVAILABLE, both naming peers), retries (only
// when safe, never twice on one peer, within the budget), health (a dead peer leaves the pick set,
// a revived one comes back), passive ejection, and bad construction input.

#include "client/pool/peer_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "tests/client/pool/fake_fleet.h"

namespace blazen::client::pool {
namespace {

using ::testing::AllOf;
using testing::FakeFleet;
using testing::FakeMode;
using testing::FakePeer;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Peers named `<test>-<i>` (unique per test: the fleet is process-wide).
std::vector<std::shared_ptr<FakePeer>> MakeFleet(const std::string& prefix, int n) {
  std::vector<std::shared_ptr<FakePeer>> peers;
  for (int i = 0; i < n; ++i)
    peers.push_back(FakeFleet::Get().Add(prefix + "-" + std::to_string(i)));
  return peers;
}

PeerPoolOptions OptionsFor(const std::vector<std::shared_ptr<FakePeer>>& peers,
                           std::string policy = "least_loaded") {
  PeerPoolOptions options;
  for (const auto& peer : peers) options.endpoints.push_back("fake://" + peer->node_id);
  options.policy = std::move(policy);
  options.health.retry_min = 10ms;
  options.health.retry_max = 50ms;
  return options;
}

SubWorkflowRequest Echo(std::string workflow = "wf") {
  SubWorkflowRequest request;
  request.workflow_name = std::move(workflow);
  request.step_ids = {"echo"};
  request.input_json = "{}";
  return request;
}

// Polls `condition` for up to `timeout`; returns whether it held.
template <typename F>
bool Eventually(F condition, std::chrono::milliseconds timeout = 2000ms) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

std::size_t HealthyCount(const PeerPool& pool) {
  std::size_t n = 0;
  for (const auto& p : pool.Peers()) n += p.healthy ? 1 : 0;
  return n;
}

TEST(PeerPoolTest, RoutesOverEveryPeerAndSaysWhichServed) {
  auto peers = MakeFleet("route", 3);
  auto pool = PeerPool::Make(OptionsFor(peers, "round_robin"), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(3, 2s));
  std::map<std::string, int> served;
  for (int i = 0; i < 30; ++i) {
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    const SubWorkflowResponse response = pool->InvokeSubWorkflow(Echo(), call);
    // The peer that answered is the one the trace names.
    EXPECT_EQ(response.result_json, "\"" + trace.node_id + "\"");
    EXPECT_EQ(trace.endpoint, "fake://" + trace.node_id);
    ASSERT_EQ(trace.tried.size(), 1u);
    EXPECT_TRUE(trace.load.has_value());
    ++served[trace.node_id];
  }
  EXPECT_EQ(served.size(), 3u);
  for (const auto& [node, count] : served) EXPECT_EQ(count, 10) << node;
  const PoolMetrics metrics = pool->Metrics();
  EXPECT_EQ(metrics.requests, 30u);
  EXPECT_EQ(metrics.retries, 0u);
  for (const auto& [endpoint, picks] : metrics.picks) EXPECT_EQ(picks, 10u) << endpoint;
}

TEST(PeerPoolTest, RoutedInvokeRecordsTheDecisionAndFiltersByLabelsAndSteps) {
  auto peers = MakeFleet("labels", 3);
  peers[1]->labels = {{"gpu", "h100"}};
  peers[2]->step_ids = {"echo", "embed"};
  auto pool = PeerPool::Make(OptionsFor(peers), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(3, 2s));
  RouteOptions route;
  route.required_labels = {{"gpu", "h100"}};
  route.record = true;
  for (int i = 0; i < 5; ++i) {
    const RoutedCall routed = pool->Invoke(Echo(), route);
    EXPECT_EQ(routed.trace.node_id, "labels-1");
    ASSERT_TRUE(routed.decision.has_value());
    EXPECT_EQ(routed.decision->policy, "least_loaded");
    EXPECT_EQ(routed.decision->candidates.size(), 1u);
  }
  SubWorkflowRequest embed = Echo();
  embed.step_ids = {"embed"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(pool->Invoke(embed, {}).trace.node_id, "labels-2");
  }
  // Pinned to one peer.
  RouteOptions pinned;
  pinned.endpoint = "fake://labels-0";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pool->Invoke(Echo(), pinned).trace.node_id, "labels-0");
  // No peer serves the step: UNAVAILABLE naming the peers the filter saw.
  embed.step_ids = {"rerank"};
  try {
    (void)pool->InvokeSubWorkflow(embed);
    FAIL() << "expected TransportError";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnavailable);
    EXPECT_THAT(e.message(), AllOf(HasSubstr("steps_labels"),
                                   HasSubstr("labels-0 (fake://labels-0)"), HasSubstr("labels-2")));
  }
}

TEST(PeerPoolTest, RefsGoToTheirHolderAndUnknownRefsAreNotFound) {
  auto peers = MakeFleet("refs", 3);
  auto pool = PeerPool::Make(OptionsFor(peers, "round_robin"), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(3, 2s));
  std::map<Uuid, std::string> holder;
  for (int i = 0; i < 6; ++i) {
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    const SubWorkflowResponse response = pool->InvokeSubWorkflow(Echo("make_ref"), call);
    ASSERT_EQ(response.remote_refs.size(), 1u);
    holder[response.remote_refs.begin()->first] = trace.node_id;
  }
  for (const auto& [ref, node] : holder) {
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    const ByteVector bytes = pool->DerefSessionRef(ref, call);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), node + ":" + ref.ToString());
    EXPECT_EQ(trace.node_id, node);
    EXPECT_TRUE(pool->ReleaseSessionRef(ref));
    // Released: the pool forgot it.
    EXPECT_THROW((void)pool->DerefSessionRef(ref), NotFoundError);
  }
  const Uuid unknown = Uuid::NewV4();
  try {
    (void)pool->DerefSessionRef(unknown);
    FAIL() << "expected NotFoundError";
  } catch (const NotFoundError& e) {
    EXPECT_THAT(e.message(), HasSubstr(unknown.ToString()));
  }
}

TEST(PeerPoolTest, UnknownRefsAreLookedForOnEveryPeerWhenAsked) {
  auto peers = MakeFleet("locate", 3);
  PeerPoolOptions options = OptionsFor(peers);
  options.locate_unknown_refs = true;
  auto pool = PeerPool::Make(options, "parent");
  ASSERT_TRUE(pool->WaitForHealthy(3, 2s));
  // Fake peers hold every ref: the first one asked answers, and is remembered as the holder.
  const Uuid ref = Uuid::NewV4();
  CallTrace trace;
  CallOptions call;
  call.trace = &trace;
  const ByteVector bytes = pool->DerefSessionRef(ref, call);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), trace.node_id + ":" + ref.ToString());
  EXPECT_TRUE(pool->ReleaseSessionRef(Uuid::NewV4()));
}

TEST(PeerPoolTest, AHolderThatDiedIsUnavailableNamingIt) {
  auto peers = MakeFleet("holder", 2);
  auto pool = PeerPool::Make(OptionsFor(peers, "round_robin"), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 2s));
  CallTrace trace;
  CallOptions call;
  call.trace = &trace;
  const Uuid ref = pool->InvokeSubWorkflow(Echo("make_ref"), call).remote_refs.begin()->first;
  const auto dead = FakeFleet::Get().Find(trace.node_id);
  dead->Kill();
  ASSERT_TRUE(Eventually([&] { return HealthyCount(*pool) == 1; }));
  try {
    (void)pool->DerefSessionRef(ref);
    FAIL() << "expected TransportError";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnavailable);
    EXPECT_THAT(e.message(), AllOf(HasSubstr(trace.node_id), HasSubstr(ref.ToString())));
  }
}

TEST(PeerPoolTest, EveryPeerAtItsLimitIsResourceExhaustedNamingThePeers) {
  auto peers = MakeFleet("admit", 2);
  for (auto& peer : peers) peer->mode = FakeMode::kBlock;
  PeerPoolOptions options = OptionsFor(peers);
  options.policy_options.capacity.max_outstanding_per_peer = 1;
  auto pool = PeerPool::Make(options, "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 2s));
  auto first = std::async(std::launch::async, [&] { return pool->InvokeSubWorkflow(Echo()); });
  auto second = std::async(std::launch::async, [&] { return pool->InvokeSubWorkflow(Echo()); });
  ASSERT_TRUE(Eventually([&] { return peers[0]->invokes + peers[1]->invokes == 2; }));
  const auto started = std::chrono::steady_clock::now();
  try {
    (void)pool->InvokeSubWorkflow(Echo());
    FAIL() << "expected ResourceExhaustedError";
  } catch (const ResourceExhaustedError& e) {
    EXPECT_THAT(e.message(), AllOf(HasSubstr("admit-0 (fake://admit-0)"), HasSubstr("admit-1")));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms);  // fails fast, sends nothing
  EXPECT_EQ(peers[0]->invokes + peers[1]->invokes, 2);
  for (auto& peer : peers) peer->Release();
  first.get();
  second.get();
  EXPECT_EQ(pool->Metrics().rejections, 1u);
}

TEST(PeerPoolTest, NoHealthyPeerIsUnavailableNamingThePeers) {
  auto peers = MakeFleet("down", 2);
  for (auto& peer : peers) peer->reachable = false;
  PeerPoolOptions options = OptionsFor(peers);
  options.startup_wait = 200ms;
  auto pool = PeerPool::Make(options, "parent");
  try {
    (void)pool->InvokeSubWorkflow(Echo());
    FAIL() << "expected TransportError";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnavailable);
    EXPECT_THAT(e.message(), AllOf(HasSubstr("health"), HasSubstr("down-0"), HasSubstr("down-1")));
  }
  for (const auto& info : pool->Peers()) {
    EXPECT_FALSE(info.healthy);
    EXPECT_THAT(info.last_error, HasSubstr("connect"));
  }
  EXPECT_EQ(pool->Metrics().unavailable, 1u);
}

TEST(PeerPoolTest, CallsThatNeverLeftAreRetriedOnAnotherPeerNeverTheSame) {
  auto peers = MakeFleet("retry", 4);
  auto pool = PeerPool::Make(OptionsFor(peers, "round_robin"), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(4, 2s));
  peers[0]->mode = FakeMode::kFailBeforeSending;
  peers[1]->mode = FakeMode::kOverload;  // refused before running: also safe to resend
  peers[3]->mode = FakeMode::kDraining;  // refused while shutting down: the same
  for (int i = 0; i < 6; ++i) {
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    const SubWorkflowResponse response = pool->InvokeSubWorkflow(Echo(), call);
    EXPECT_EQ(response.result_json, "\"retry-2\"");
    EXPECT_EQ(trace.node_id, "retry-2");
    const std::set<std::string> distinct(trace.tried.begin(), trace.tried.end());
    EXPECT_EQ(distinct.size(), trace.tried.size()) << "a peer was tried twice";
  }
  EXPECT_GT(pool->Metrics().retries, 0u);
  // Every peer fails before sending: each is tried once (up to max_attempts, 3), then the last
  // failure is reported.
  peers[2]->mode = FakeMode::kFailBeforeSending;
  peers[1]->mode = FakeMode::kFailBeforeSending;
  peers[3]->mode = FakeMode::kFailBeforeSending;
  CallTrace trace;
  CallOptions call;
  call.trace = &trace;
  const auto total = [&] {
    int n = 0;
    for (const auto& peer : peers) n += peer->invokes;
    return n;
  };
  const int before = total();
  EXPECT_THROW((void)pool->InvokeSubWorkflow(Echo(), call), TransportError);
  EXPECT_EQ(total() - before, 3);
  EXPECT_EQ(trace.tried.size(), 3u);
}

TEST(PeerPoolTest, ACallThatMayHaveRunIsRetriedOnlyWhenIdempotent) {
  auto peers = MakeFleet("idem", 2);
  auto pool = PeerPool::Make(OptionsFor(peers, "round_robin"), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 2s));
  peers[0]->mode = FakeMode::kFailAfterSending;
  peers[1]->mode = FakeMode::kFailAfterSending;
  EXPECT_THROW((void)pool->InvokeSubWorkflow(Echo()), TransportError);
  EXPECT_EQ(peers[0]->invokes + peers[1]->invokes, 1);  // not retried
  peers[1]->mode = FakeMode::kOk;
  int ok = 0;
  for (int i = 0; i < 4; ++i) {
    CallOptions call;
    call.idempotent = true;
    const SubWorkflowResponse response = pool->InvokeSubWorkflow(Echo(), call);
    ok += response.result_json == "\"idem-1\"" ? 1 : 0;
  }
  EXPECT_EQ(ok, 4);
}

TEST(PeerPoolTest, TheRetryBudgetBoundsExtraLoad) {
  auto peers = MakeFleet("budget", 2);
  PeerPoolOptions options = OptionsFor(peers, "round_robin");
  options.retry.max_tokens = 2;
  options.retry.ratio = 0.1;
  options.health.outlier.consecutive_failures = 0;  // keep the failing peer in the pick set
  options.health.outlier.failure_rate = 0;
  auto pool = PeerPool::Make(options, "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 2s));
  peers[0]->mode = FakeMode::kFailBeforeSending;
  int failed = 0;
  for (int i = 0; i < 40; ++i) {
    try {
      (void)pool->InvokeSubWorkflow(Echo());
    } catch (const TransportError&) {
      ++failed;
    }
  }
  const PoolMetrics metrics = pool->Metrics();
  // 40 requests deposit at most 4 tokens on top of the 2 at start: at most 6 retries.
  EXPECT_LE(metrics.retries, 6u);
  EXPECT_GE(metrics.retries, 2u);
  EXPECT_GT(metrics.retries_refused, 0u);
  EXPECT_EQ(static_cast<std::uint64_t>(failed), metrics.retries_refused);
}

TEST(PeerPoolTest, ADeadPeerLeavesThePickSetAndARevivedOneComesBack) {
  auto peers = MakeFleet("health", 3);
  auto pool = PeerPool::Make(OptionsFor(peers), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(3, 2s));
  const auto killed_at = std::chrono::steady_clock::now();
  peers[1]->Kill();
  ASSERT_TRUE(Eventually([&] { return HealthyCount(*pool) == 2; }, 500ms));
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 500ms);
  for (int i = 0; i < 20; ++i) {
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    (void)pool->InvokeSubWorkflow(Echo(), call);
    EXPECT_NE(trace.node_id, "health-1");
  }
  // Draining (NOT_SERVING) also takes a peer out.
  peers[2]->SetServing(false);
  ASSERT_TRUE(Eventually([&] { return HealthyCount(*pool) == 1; }, 500ms));
  peers[2]->SetServing(true);
  peers[1]->Revive();
  ASSERT_TRUE(Eventually([&] { return HealthyCount(*pool) == 3; }, 5000ms));
  EXPECT_GE(peers[1]->connects.load(), 2);  // reconnected on a fresh client
}

TEST(PeerPoolTest, RepeatedTransportFailuresEjectAPeerUntilItsBackoffEnds) {
  auto peers = MakeFleet("eject", 4);
  std::atomic<std::int64_t> now_ms{0};
  PeerPoolOptions options = OptionsFor(peers, "round_robin");
  options.clock = [&] {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(now_ms.load()));
  };
  options.health.outlier.consecutive_failures = 3;
  options.health.outlier.base_ejection = 1000ms;
  auto pool = PeerPool::Make(options, "parent");
  ASSERT_TRUE(pool->WaitForHealthy(4, 2s));
  peers[0]->mode = FakeMode::kFailAfterSending;
  for (int i = 0; i < 12; ++i) {
    try {
      (void)pool->InvokeSubWorkflow(Echo());
    } catch (const TransportError&) {
    }
  }
  EXPECT_EQ(peers[0]->invokes.load(), 3);  // ejected after its third failure in a row
  EXPECT_EQ(pool->Metrics().ejections, 1u);
  EXPECT_EQ(HealthyCount(*pool), 3u);
  // The backoff ends: re-admitted half-open; it works again, so it stays.
  peers[0]->mode = FakeMode::kOk;
  now_ms = 1001;
  ASSERT_TRUE(Eventually([&] { return HealthyCount(*pool) == 4; }));
  for (int i = 0; i < 8; ++i) (void)pool->InvokeSubWorkflow(Echo());
  EXPECT_GT(peers[0]->invokes.load(), 3);
}

TEST(PeerPoolTest, StreamedEventsComeFromTheChosenPeer) {
  auto peers = MakeFleet("stream", 2);
  auto pool = PeerPool::Make(OptionsFor(peers), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 2s));
  int events = 0;
  CallTrace trace;
  CallOptions call;
  call.trace = &trace;
  const SubWorkflowResponse response = pool->StreamSubWorkflowEvents(
      Echo(), [&](const SubWorkflowEvent&) { ++events; }, call);
  EXPECT_EQ(events, 1);
  EXPECT_EQ(response.result_json, "\"" + trace.node_id + "\"");
}

TEST(PeerPoolTest, DescribeJsonAndMetricsTextListEveryPeer) {
  auto peers = MakeFleet("json", 2);
  peers[0]->labels = {{"zone", "a"}};
  auto pool = PeerPool::Make(OptionsFor(peers), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 2s));
  (void)pool->InvokeSubWorkflow(Echo());
  const std::string json = pool->DescribeJson();
  EXPECT_THAT(json, AllOf(HasSubstr("\"policy\": \"least_loaded\""), HasSubstr("fake://json-0"),
                          HasSubstr("fake://json-1"), HasSubstr("\"zone\": \"a\"")));
  const std::string text = pool->MetricsText();
  EXPECT_THAT(
      text,
      AllOf(HasSubstr("blazen_pool_requests_total 1"),
            HasSubstr("blazen_pool_peer_healthy{peer=\"json-0\",endpoint=\"fake://json-0\"} 1")));
  EXPECT_EQ(pool->ReleaseScope("run-1"), 2u);  // every peer, summed
  EXPECT_THROW((void)pool->ReleaseScope(""), InvalidArgumentError);
}

TEST(PeerPoolTest, BadConstructionInputIsAClearErrorNeverAHang) {
  PeerPoolOptions options;
  EXPECT_THROW((void)PeerPool::Make(options, "parent"), InvalidArgumentError);  // no peers
  options.endpoints = {"fake://x"};
  options.discover = "dns:///localhost:1";
  EXPECT_THROW((void)PeerPool::Make(options, "parent"), InvalidArgumentError);  // both
  options.discover.clear();
  options.policy = "fastest";
  try {
    (void)PeerPool::Make(options, "parent");
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_THAT(e.message(), AllOf(HasSubstr("fastest"), HasSubstr("least_loaded")));
  }
  options.policy = "least_loaded";
  options.endpoints = {"fake://x", ""};
  EXPECT_THROW((void)PeerPool::Make(options, "parent"), InvalidArgumentError);
  PeerPoolOptions discover;
  discover.discover = "etcd://127.0.0.1";  // no port, no prefix
  EXPECT_THROW((void)PeerPool::Make(discover, "parent"), InvalidArgumentError);
  discover.discover = "gossip://x:1";
  EXPECT_THROW((void)PeerPool::Make(discover, "parent"), InvalidArgumentError);
}

}  // namespace
}  // namespace blazen::client::pool
