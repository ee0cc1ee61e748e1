// SPDX-License-Identifier: Apache-2.0
// PeerPool against real in-process peers: gRPC and HTTP/JSON peers in one pool, load reports
// learned from answers, a ref dereffed from its holder byte for byte, a peer shut down under load
// (it leaves the pick set within 500 ms and no call fails) and restarted on the same port (it is
// picked again within 5 s), and the weighted spread of least_loaded.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "client/deref_sink.h"
#include "client/pool/peer_pool.h"
#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/peer_error.h"
#include "core/postcard.h"
#include "server/peer_node.h"

namespace blazen::client::pool {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::unique_ptr<server::PeerNode> StartNode(const std::string& id, int port = 0,
                                            std::size_t workers = 2, bool http = false) {
  server::PeerNodeOptions options;
  options.node_id = id;
  options.listen_address = "127.0.0.1:" + std::to_string(port);
  if (http) options.http_listen_address = "127.0.0.1:0";
  options.engine.worker_threads = workers;
  options.shutdown_grace = 2s;
  auto node = server::PeerNode::Start(options);
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(node).value() : nullptr;
}

SubWorkflowRequest Request(std::vector<std::string> steps, const nlohmann::json& input) {
  SubWorkflowRequest request;
  request.workflow_name = "wf";
  request.step_ids = std::move(steps);
  request.input_json = input.dump();
  request.timeout_secs = 30;
  return request;
}

PeerPoolOptions FastHealth(PeerPoolOptions options) {
  options.health.retry_min = 20ms;
  options.health.retry_max = 200ms;
  options.health.poll_interval = 50ms;
  return options;
}

class CollectSink final : public DerefSink {
 public:
  Status Begin(std::uint64_t total, std::string_view) override {
    bytes.resize(total);
    return Status::Ok();
  }
  Status Write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    std::copy(data.begin(), data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset));
    return Status::Ok();
  }
  Status Finish() override { return Status::Ok(); }
  ByteVector bytes;
};

TEST(PeerPoolE2eTest, GrpcAndHttpPeersInOnePoolWithLoadReportsAndRefsAtTheirHolder) {
  auto a = StartNode("e2e-a");
  auto b = StartNode("e2e-b", 0, 2, /*http=*/true);
  ASSERT_TRUE(a && b);
  PeerPoolOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(a->port()),
                       "http+json://127.0.0.1:" + std::to_string(b->http_port())};
  options.policy = "round_robin";
  auto pool = PeerPool::Make(FastHealth(options), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 3s)) << pool->DescribeJson();

  std::map<std::string, Uuid> refs;
  for (int i = 0; i < 4; ++i) {
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    const SubWorkflowResponse response =
        pool->InvokeSubWorkflow(Request({"blazen::host_blob"}, {{"bytes", 5000 + i}}), call);
    ASSERT_FALSE(response.error.has_value()) << *response.error;
    ASSERT_EQ(response.remote_refs.size(), 1u);
    ASSERT_TRUE(trace.load.has_value()) << "no load report from " << trace.endpoint;
    EXPECT_GT(trace.load->seq, 0u);
    EXPECT_EQ(trace.load->max_concurrency, 2u);
    EXPECT_EQ(response.remote_refs.begin()->second.origin_node_id, trace.node_id);
    refs[trace.node_id + "#" + std::to_string(i)] = response.remote_refs.begin()->first;
  }
  std::set<std::string> holders;
  for (const auto& [key, ref] : refs) {
    const std::string holder = key.substr(0, key.find('#'));
    const int i = std::stoi(key.substr(key.find('#') + 1));
    holders.insert(holder);
    CollectSink sink;
    CallTrace trace;
    CallOptions call;
    call.trace = &trace;
    const DerefResult result = pool->DerefTo(ref, sink, {}, call);
    EXPECT_EQ(trace.node_id, holder);
    ASSERT_EQ(result.total_size, static_cast<std::uint64_t>(5000 + i));
    for (std::size_t k = 0; k < sink.bytes.size(); k += 997) {
      ASSERT_EQ(sink.bytes[k], HostBlobByte(k)) << "byte " << k << " of " << key;
    }
    EXPECT_TRUE(pool->ReleaseSessionRef(ref));
  }
  EXPECT_EQ(holders, (std::set<std::string>{"e2e-a", "e2e-b"}));
  for (const auto& info : pool->Peers()) {
    EXPECT_TRUE(info.healthy) << info.endpoint;
    EXPECT_EQ(info.picks, 2u) << info.endpoint;
    EXPECT_GT(info.load.seq, 0u) << info.endpoint;
  }
}

TEST(PeerPoolE2eTest, APeerShutDownUnderLoadLeavesFastAndComesBackAfterARestart) {
  std::vector<std::unique_ptr<server::PeerNode>> nodes;
  for (const char* id : {"live-0", "live-1", "live-2"}) nodes.push_back(StartNode(id, 0, 4));
  PeerPoolOptions options;
  for (const auto& node : nodes)
    options.endpoints.push_back("127.0.0.1:" + std::to_string(node->port()));
  auto pool = PeerPool::Make(FastHealth(options), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(3, 3s));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::string first_failure;
  std::mutex failure_mu;
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&] {
      while (!stop) {
        try {
          const auto response = pool->InvokeSubWorkflow(Request({"blazen::busy"}, {{"ms", 5}}));
          if (response.error) throw std::runtime_error(*response.error);
          ++ok;
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(failure_mu);
          if (failed++ == 0) first_failure = e.what();
        }
      }
    });
  }
  std::this_thread::sleep_for(200ms);
  const int port = nodes[1]->port();
  const auto shutdown_at = std::chrono::steady_clock::now();
  std::thread shutdown([&] { nodes[1]->Shutdown(1s); });
  bool left = false;
  while (std::chrono::steady_clock::now() - shutdown_at < 2s) {
    const auto peers = pool->Peers();
    if (!peers[0].healthy || !peers[1].healthy || !peers[2].healthy) {
      left = true;
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  const auto left_after = std::chrono::steady_clock::now() - shutdown_at;
  shutdown.join();
  nodes[1].reset();
  EXPECT_TRUE(left);
  EXPECT_LT(left_after, 500ms);
  std::this_thread::sleep_for(200ms);

  // Restart on the same port: picked again.
  const auto restart_at = std::chrono::steady_clock::now();
  nodes[1] = StartNode("live-1", port, 4);
  ASSERT_TRUE(nodes[1]);
  EXPECT_TRUE(pool->WaitForHealthy(3, 5s)) << pool->DescribeJson();
  EXPECT_LT(std::chrono::steady_clock::now() - restart_at, 5s);
  std::uint64_t picks_before = 0;
  for (const auto& p : pool->Peers()) {
    if (p.node_id == "live-1") picks_before = p.picks;
  }
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& thread : load) thread.join();
  std::uint64_t picks_after = 0;
  for (const auto& p : pool->Peers()) {
    if (p.node_id == "live-1") picks_after = p.picks;
  }
  EXPECT_GT(picks_after, picks_before) << "the restarted peer is not picked";
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 50);
}

TEST(PeerPoolE2eTest, LeastLoadedSpreadsByCapacityWeight) {
  server::PeerNodeOptions heavy_options;
  heavy_options.node_id = "heavy";
  heavy_options.listen_address = "127.0.0.1:0";
  heavy_options.engine.worker_threads = 4;
  heavy_options.capacity_weight = 3.0;
  auto heavy = server::PeerNode::Start(heavy_options);
  ASSERT_TRUE(heavy.ok());
  auto light = StartNode("light", 0, 4);
  PeerPoolOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string((*heavy)->port()),
                       "127.0.0.1:" + std::to_string(light->port())};
  auto pool = PeerPool::Make(FastHealth(options), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(2, 3s));
  std::vector<std::thread> load;
  for (int t = 0; t < 6; ++t) {
    load.emplace_back([&] {
      for (int i = 0; i < 25; ++i)
        (void)pool->InvokeSubWorkflow(Request({"blazen::busy"}, {{"ms", 4}}));
    });
  }
  for (auto& thread : load) thread.join();
  std::map<std::string, std::uint64_t> picks;
  for (const auto& p : pool->Peers()) picks[p.node_id] = p.picks;
  // With weights 3:1, the heavy peer takes clearly more than half (ideal 3/4).
  EXPECT_GT(picks["heavy"], 2 * picks["light"]) << pool->DescribeJson();
}

// An upstream-shaped peer: the four upstream RPCs only (here: invoke), no DescribePeer, no health
// service, no load reports.
class UpstreamPeer final : public ::blazen::peer::v1::BlazenPeer::Service {
 public:
  std::atomic<int> invokes{0};
  grpc::Status InvokeSubWorkflow(grpc::ServerContext*, const ::blazen::peer::v1::PostcardRequest*,
                                 ::blazen::peer::v1::PostcardResponse* response) override {
    ++invokes;
    SubWorkflowResponse out;
    out.result_json = "\"upstream\"";
    const ByteVector bytes = EncodePostcard(out).value();
    response->set_postcard_payload(std::string(bytes.begin(), bytes.end()));
    return grpc::Status::OK;
  }
};

TEST(PeerPoolE2eTest, AnUpstreamPeerWithoutDescribeOrHealthServiceJoinsThePool) {
  UpstreamPeer service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  PeerPoolOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(port)};
  auto pool = PeerPool::Make(FastHealth(options), "parent");
  ASSERT_TRUE(pool->WaitForHealthy(1, 3s)) << pool->DescribeJson();
  // Its steps are unknown: a request naming any step goes to it, and it answers for itself.
  CallTrace trace;
  CallOptions call;
  call.trace = &trace;
  const SubWorkflowResponse response =
      pool->InvokeSubWorkflow(Request({"anything::step"}, nlohmann::json::object()), call);
  EXPECT_EQ(response.result_json, "\"upstream\"");
  EXPECT_EQ(trace.endpoint, options.endpoints[0]);
  EXPECT_FALSE(trace.load.has_value());  // upstream peers send no load report
  EXPECT_EQ(service.invokes.load(), 1);
  // It leaves the pick set when it goes away.
  server->Shutdown(std::chrono::system_clock::now());
  server.reset();
  const auto gone_at = std::chrono::steady_clock::now();
  bool left = false;
  while (std::chrono::steady_clock::now() - gone_at < 2s && !left) {
    left = !pool->Peers()[0].healthy;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(left);
}

}  // namespace
}  // namespace blazen::client::pool
