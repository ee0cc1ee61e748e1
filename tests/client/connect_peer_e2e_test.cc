// SPDX-License-Identifier: Apache-2.0
// ConnectPeer end to end against an in-process PeerNode serving gRPC and HTTP/JSON on 127.0.0.1:0:
// each scheme reaches the peer over the transport it names (plaintext, and TLS with a test PKI).

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "client/connect.h"
#include "client/deref_sink.h"
#include "client/http_client.h"
#include "client/peer_client.h"
#include "core/builtin_steps.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "server/peer_node.h"
#include "tests/testing/test_pki.h"

namespace blazen::client {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kNodeId = "connect-peer-e2e";

std::unique_ptr<server::PeerNode> StartNode(std::optional<ServerTlsConfig> tls = std::nullopt) {
  server::PeerNodeOptions options;
  options.node_id = kNodeId;
  options.listen_address = "127.0.0.1:0";
  options.http_listen_address = "127.0.0.1:0";
  options.tls = std::move(tls);
  Result<std::unique_ptr<server::PeerNode>> node = server::PeerNode::Start(std::move(options));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(node).value() : nullptr;
}

ConnectOptions Options() {
  ConnectOptions options;
  options.token_from_env = false;
  options.default_deadline = 60s;  // a hung test fails instead of hanging
  options.read_timeout = 60s;
  return options;
}

// One round trip that touches every kind of call: invoke, deref (unary and streamed), release,
// describe.
void ExpectWorkingPeer(PeerClient& client) {
  const SubWorkflowResponse echo = client.InvokeSubWorkflow(
      MakeSubWorkflowRequest("wf", {"blazen::echo"}, json({{"k", 1}}), 30).value());
  ASSERT_FALSE(echo.error.has_value()) << *echo.error;
  EXPECT_EQ(ParseJson(echo.result_json.value_or("null")).value(), json({{"k", 1}}));

  const SubWorkflowResponse blob = client.InvokeSubWorkflow(
      MakeSubWorkflowRequest("wf", {"blazen::host_blob"}, json({{"bytes", 100}}), 30).value());
  ASSERT_EQ(blob.remote_refs.size(), 1u);
  const Uuid ref = blob.remote_refs.begin()->first;
  EXPECT_EQ(client.DerefSessionRef(ref).size(), 100u);
  HostBufferSink sink;
  EXPECT_EQ(client.DerefTo(ref, sink).total_size, 100u);
  EXPECT_TRUE(client.ReleaseSessionRef(ref));
  EXPECT_FALSE(client.ReleaseSessionRef(ref));
  EXPECT_EQ(client.DescribePeer().node_id, kNodeId);
}

class ConnectPeerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { spdlog::set_level(spdlog::level::warn); }
  void SetUp() override {
    node_ = StartNode();
    ASSERT_NE(node_, nullptr);
    grpc_port_ = std::to_string(node_->port());
    http_port_ = std::to_string(node_->http_port());
  }
  void TearDown() override {
    if (node_) node_->Shutdown(0ms);
  }

  std::unique_ptr<server::PeerNode> node_;
  std::string grpc_port_;
  std::string http_port_;
};

TEST_F(ConnectPeerE2eTest, HttpUrlIsGrpc) {
  const std::string url = "http://127.0.0.1:" + grpc_port_;
  std::unique_ptr<PeerClient> client = ConnectPeer(url, "parent", Options());
  EXPECT_NE(dynamic_cast<BlazenPeerClient*>(client.get()), nullptr);
  EXPECT_EQ(client->endpoint(), url);
  EXPECT_EQ(client->node_id(), "parent");
  ExpectWorkingPeer(*client);
}

TEST_F(ConnectPeerE2eTest, BareHostPortIsGrpc) {
  const std::string url = "127.0.0.1:" + grpc_port_;
  std::unique_ptr<PeerClient> client = ConnectPeer(url, "parent", Options());
  EXPECT_NE(dynamic_cast<BlazenPeerClient*>(client.get()), nullptr);
  EXPECT_EQ(client->endpoint(), url);
  ExpectWorkingPeer(*client);
}

TEST_F(ConnectPeerE2eTest, HttpJsonUrlIsHttpOnTheHttpPort) {
  std::unique_ptr<PeerClient> client =
      ConnectPeer("http+json://127.0.0.1:" + http_port_, "parent", Options());
  EXPECT_NE(dynamic_cast<HttpPeerClient*>(client.get()), nullptr);
  EXPECT_EQ(client->endpoint(), "http://127.0.0.1:" + http_port_);
  EXPECT_EQ(client->endpoint(), node_->http_endpoint());
  ExpectWorkingPeer(*client);
}

TEST_F(ConnectPeerE2eTest, HttpJsonUrlAgainstTheGrpcPortFailsOnTheFirstCall) {
  // The HTTP/JSON client connects lazily and speaks HTTP/1.1, which the gRPC port does not answer:
  // proof that the scheme, not the port, chose the transport.
  ConnectOptions options = Options();
  options.read_timeout = 3s;
  std::unique_ptr<PeerClient> client =
      ConnectPeer("http+json://127.0.0.1:" + grpc_port_, "parent", options);
  EXPECT_THROW((void)client->DescribePeer(), TransportError);
}

TEST(ConnectPeerTlsTest, HttpsAndHttpsJsonUrlsUseTlsOverTheirTransports) {
  blazen::testing::TestPki pki;
  if (!pki.error().empty()) GTEST_SKIP() << "cannot generate test certificates: " << pki.error();
  Result<ServerTlsConfig> server_tls =
      LoadServerTls(pki.Path("server.pem"), pki.Path("server.key"), pki.Path("ca.pem"));
  ASSERT_TRUE(server_tls.ok()) << server_tls.status();
  std::unique_ptr<server::PeerNode> node = StartNode(*server_tls);
  ASSERT_NE(node, nullptr);
  Result<ClientTlsConfig> client_tls =
      LoadClientTls(pki.Path("client.pem"), pki.Path("client.key"), pki.Path("ca.pem"));
  ASSERT_TRUE(client_tls.ok()) << client_tls.status();
  ConnectOptions options = Options();
  options.tls = *client_tls;

  const std::string grpc_url = "https://127.0.0.1:" + std::to_string(node->port());
  std::unique_ptr<PeerClient> grpc = ConnectPeer(grpc_url, "parent", options);
  EXPECT_NE(dynamic_cast<BlazenPeerClient*>(grpc.get()), nullptr);
  EXPECT_EQ(grpc->endpoint(), grpc_url);
  ExpectWorkingPeer(*grpc);

  const std::string http_port = std::to_string(node->http_port());
  std::unique_ptr<PeerClient> http =
      ConnectPeer("https+json://127.0.0.1:" + http_port, "parent", options);
  EXPECT_NE(dynamic_cast<HttpPeerClient*>(http.get()), nullptr);
  EXPECT_EQ(http->endpoint(), "https://127.0.0.1:" + http_port);
  ExpectWorkingPeer(*http);
  node->Shutdown(0ms);
}

}  // namespace
}  // namespace blazen::client
