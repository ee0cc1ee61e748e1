// SPDX-License-Identifier: Apache-2.0
// A PeerNode with etcd options against a real etcd: it registers its endpoint, node id, labels
// and capacity weight once serving, deregisters at the start of Shutdown, honours an advertised
// endpoint, and does not start when etcd is unreachable.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "client/pool/discovery/etcd_client.h"
#include "server/peer_node.h"
#include "tests/testing/etcd_server.h"
#include "tests/testing/status_matchers.h"

namespace blazen::server {
namespace {

using ::blazen::testing::EtcdServer;
using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;
using namespace std::chrono_literals;

class PeerNodeEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = EtcdServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    etcd_ = std::move(server).value();
  }

  PeerNodeOptions Options() const {
    PeerNodeOptions options;
    options.node_id = "etcd-node";
    options.listen_address = "127.0.0.1:0";
    options.engine.worker_threads = 1;
    options.gpu.force_host = true;
    options.embedding.vocab = 16;
    options.embedding.dim = 4;
    options.etcd_url = etcd_->url();
    options.etcd_prefix = "/test/peers";
    return options;
  }

  std::vector<client::pool::EtcdKeyValue> Keys() const {
    auto range = etcd_->client().Range("/test/peers/");
    EXPECT_TRUE(range.ok()) << range.status();
    return range.ok() ? range->kvs : std::vector<client::pool::EtcdKeyValue>();
  }

  std::unique_ptr<EtcdServer> etcd_;
};

TEST_F(PeerNodeEtcdTest, RegistersWhileServingAndLeavesAtShutdown) {
  PeerNodeOptions options = Options();
  options.labels = {{"gpu", "h100"}, {"region", "eu"}};
  options.capacity_weight = 2.5;
  auto node = PeerNode::Start(options);
  ASSERT_TRUE(node.ok()) << node.status();

  auto keys = Keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].key, "/test/peers/etcd-node");
  EXPECT_NE(keys[0].lease, 0);
  const json value = json::parse(keys[0].value);
  EXPECT_EQ(value["endpoint"], (*node)->endpoint());
  EXPECT_EQ(value["endpoint"], "http://127.0.0.1:" + std::to_string((*node)->port()));
  EXPECT_EQ(value["node_id"], "etcd-node");
  EXPECT_EQ(value["labels"], (json{{"gpu", "h100"}, {"region", "eu"}}));
  EXPECT_EQ(value["capacity_weight"], 2.5);

  const auto start = std::chrono::steady_clock::now();
  (*node)->Shutdown(0ms);
  EXPECT_THAT(Keys(), IsEmpty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(PeerNodeEtcdTest, RegistersTheAdvertisedEndpointAndTheDefaultWeight) {
  PeerNodeOptions options = Options();
  options.listen_address = "0.0.0.0:0";
  options.advertise_endpoint = "http+json://peer-7.example:8080";
  auto node = PeerNode::Start(options);
  ASSERT_TRUE(node.ok()) << node.status();
  auto keys = Keys();
  ASSERT_EQ(keys.size(), 1u);
  const json value = json::parse(keys[0].value);
  EXPECT_EQ(value["endpoint"], "http+json://peer-7.example:8080");
  EXPECT_EQ(value["capacity_weight"], 1.0);  // the host fallback's default
  EXPECT_EQ(value["labels"], json::object());
  node->reset();  // the destructor shuts down, and so deregisters
  EXPECT_THAT(Keys(), IsEmpty());
}

TEST_F(PeerNodeEtcdTest, WildcardListenAddressRegistersLoopback) {
  PeerNodeOptions options = Options();
  options.listen_address = "0.0.0.0:0";
  auto node = PeerNode::Start(options);
  ASSERT_TRUE(node.ok()) << node.status();
  auto keys = Keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(json::parse(keys[0].value)["endpoint"],
            "http://127.0.0.1:" + std::to_string((*node)->port()));
}

TEST(PeerNodeEtcdUnreachableTest, StartFailsWhenEtcdDoesNotAnswer) {
  PeerNodeOptions options;
  options.node_id = "lonely";
  options.listen_address = "127.0.0.1:0";
  options.engine.worker_threads = 1;
  options.gpu.force_host = true;
  options.embedding.vocab = 16;
  options.embedding.dim = 4;
  options.etcd_url = "http://127.0.0.1:" + std::to_string(blazen::testing::FreeLoopbackPort());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(PeerNode::Start(options),
              StatusIs(StatusCode::kUnavailable, HasSubstr(*options.etcd_url)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(PeerNodeEtcdUnreachableTest, MalformedEtcdUrlIsInvalidArgument) {
  PeerNodeOptions options;
  options.listen_address = "127.0.0.1:0";
  options.engine.worker_threads = 1;
  options.gpu.force_host = true;
  options.embedding.vocab = 16;
  options.embedding.dim = 4;
  options.etcd_url = "127.0.0.1:2379";
  EXPECT_THAT(PeerNode::Start(options), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace blazen::server
