// SPDX-License-Identifier: Apache-2.0
// The etcd:// source against a real etcd: the first list, joins, leaves, lease expiry, malformed
// values, keys outside the prefix, an unreachable or mute etcd, an etcd restart, and Stop.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "client/pool/discovery/detail/etcd_codec.h"
#include "client/pool/discovery/discovery.h"
#include "client/pool/discovery/etcd_client.h"
#include "tests/client/pool/discovery/discovery_test_util.h"
#include "tests/testing/etcd_server.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client::pool {
namespace {

using ::blazen::testing::EtcdServer;
using ::blazen::testing::StatusIs;
using ::testing::ElementsAre;
using testing::Endpoints;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::SetRecorder;
using namespace std::chrono_literals;

constexpr const char* kPrefix = "/blazen/peers";

std::string Value(const std::string& endpoint, const std::string& node_id) {
  DiscoveredPeer peer;
  peer.endpoint = endpoint;
  peer.node_id = node_id;
  return detail::EncodePeerValue(peer);
}

class EtcdDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = EtcdServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    etcd_ = std::move(server).value();
  }

  // Starts discovery of kPrefix into recorder_.
  void StartDiscovery() {
    auto d = MakeDiscovery(etcd_->discovery_url(kPrefix));
    ASSERT_TRUE(d.ok()) << d.status();
    discovery_ = std::move(d).value();
    BLAZEN_ASSERT_OK(discovery_->Start(recorder_.callback()));
    ASSERT_GE(recorder_.count(), 1u);
  }

  void Put(const std::string& node, const std::string& endpoint, std::int64_t lease = 0) {
    BLAZEN_ASSERT_OK(
        etcd_->client().Put(std::string(kPrefix) + "/" + node, Value(endpoint, node), lease));
  }

  std::unique_ptr<EtcdServer> etcd_;
  SetRecorder recorder_;
  std::unique_ptr<Discovery> discovery_;
};

TEST_F(EtcdDiscoveryTest, FirstSetHoldsTheRegisteredPeersWithTheirMetadata) {
  DiscoveredPeer peer;
  peer.endpoint = "https://10.0.0.2:50051";
  peer.node_id = "gpu-2";
  peer.labels = {{"gpu", "h100"}};
  peer.capacity_weight = 5.0;
  BLAZEN_ASSERT_OK(
      etcd_->client().Put(std::string(kPrefix) + "/gpu-2", detail::EncodePeerValue(peer)));
  Put("gpu-1", "10.0.0.1:50051");
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  EXPECT_EQ(recorder_.count(), 1u);
  const auto set = recorder_.latest();
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0].endpoint, "10.0.0.1:50051");
  EXPECT_EQ(set[0].node_id, "gpu-1");
  EXPECT_EQ(set[1], peer);
  EXPECT_EQ(discovery_->scheme(), "etcd");
  EXPECT_EQ(discovery_->describe(), etcd_->discovery_url(kPrefix));
}

TEST_F(EtcdDiscoveryTest, JoinAppearsAndLeaveDisappears) {
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  EXPECT_THAT(recorder_.latest(), IsEmpty());
  Put("a", "10.0.0.1:1");
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.1:1"}));
  Put("b", "10.0.0.2:1");
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.1:1", "10.0.0.2:1"}));
  EXPECT_EQ(etcd_->client().Delete(std::string(kPrefix) + "/a").value(), 1);
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.2:1"}));
  // Moving a peer (same key, new endpoint) is one update.
  Put("b", "10.0.0.3:1");
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.3:1"}));
}

TEST_F(EtcdDiscoveryTest, LeaseExpiryRemovesThePeer) {
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  const Result<std::int64_t> lease = etcd_->client().Grant(2s);
  ASSERT_TRUE(lease.ok()) << lease.status();
  Put("mortal", "10.0.0.9:1", *lease);
  const auto put_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.9:1"}));
  // Nobody renews the lease (a peer that died): the key goes within TTL + etcd's expiry check.
  ASSERT_TRUE(recorder_.WaitForEndpoints({}, 5s));
  EXPECT_LE(std::chrono::steady_clock::now() - put_at, 3500ms);
}

TEST_F(EtcdDiscoveryTest, MalformedValuesAreSkipped) {
  auto client = etcd_->client();
  BLAZEN_ASSERT_OK(client.Put(std::string(kPrefix) + "/junk", "not json"));
  BLAZEN_ASSERT_OK(client.Put(std::string(kPrefix) + "/no-endpoint", R"({"node_id":"x"})"));
  Put("good", "10.0.0.1:1");
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  EXPECT_THAT(Endpoints(recorder_.latest()), ElementsAre("10.0.0.1:1"));
  BLAZEN_ASSERT_OK(client.Put(std::string(kPrefix) + "/bad-weight",
                              R"({"endpoint":"10.0.0.5:1","capacity_weight":-1})"));
  Put("good2", "10.0.0.2:1");
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.1:1", "10.0.0.2:1"}));
  // A good key overwritten with garbage leaves the set.
  BLAZEN_ASSERT_OK(client.Put(std::string(kPrefix) + "/good", "{"));
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.2:1"}));
}

TEST_F(EtcdDiscoveryTest, KeysOutsideThePrefixAreIgnored) {
  auto client = etcd_->client();
  BLAZEN_ASSERT_OK(client.Put("/blazen/peers2/x", Value("10.9.9.9:1", "x")));
  BLAZEN_ASSERT_OK(client.Put("/blazen/peers", Value("10.9.9.8:1", "y")));
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  EXPECT_THAT(recorder_.latest(), IsEmpty());
  BLAZEN_ASSERT_OK(client.Put("/other/z", Value("10.9.9.7:1", "z")));
  Put("in", "10.0.0.1:1");
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.1:1"}));
}

TEST_F(EtcdDiscoveryTest, WatchSurvivesAnEtcdRestart) {
  Put("a", "10.0.0.1:1");
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  EXPECT_THAT(Endpoints(recorder_.latest()), ElementsAre("10.0.0.1:1"));
  etcd_->Kill();
  std::this_thread::sleep_for(300ms);
  // While etcd is down the last set stays.
  EXPECT_THAT(Endpoints(recorder_.latest()), ElementsAre("10.0.0.1:1"));
  BLAZEN_ASSERT_OK(etcd_->Restart());
  Put("b", "10.0.0.2:1");
  ASSERT_TRUE(recorder_.WaitForEndpoints({"10.0.0.1:1", "10.0.0.2:1"}, 10s));
}

TEST_F(EtcdDiscoveryTest, StopIsPromptAndFinal) {
  ASSERT_NO_FATAL_FAILURE(StartDiscovery());
  const std::size_t delivered = recorder_.count();
  const auto start = std::chrono::steady_clock::now();
  discovery_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  discovery_->Stop();
  Put("late", "10.0.0.1:1");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(recorder_.count(), delivered);
}

TEST(EtcdDiscoveryUnreachableTest, RefusedConnectionFailsStartQuickly) {
  const int port = blazen::testing::FreeLoopbackPort();
  const std::string url = "etcd://127.0.0.1:" + std::to_string(port) + "/p";
  DiscoveryOptions options;
  options.etcd_timeout = 1s;
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery(url, options);
  ASSERT_TRUE(d.ok()) << d.status();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT((*d)->Start(recorder.callback()), StatusIs(StatusCode::kUnavailable, HasSubstr(url)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, options.etcd_timeout + 1s);
  EXPECT_EQ(recorder.count(), 0u);
}

TEST(EtcdDiscoveryUnreachableTest, MuteServerFailsStartAfterTheTimeout) {
  // A socket that listens but never answers: the connection opens, the answer never comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "etcd://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/p";
  DiscoveryOptions options;
  options.etcd_timeout = 500ms;
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery(url, options);
  ASSERT_TRUE(d.ok()) << d.status();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT((*d)->Start(recorder.callback()), StatusIs(StatusCode::kUnavailable, HasSubstr(url)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, options.etcd_timeout + 1s);
  ::close(fd);
}

}  // namespace
}  // namespace blazen::client::pool
