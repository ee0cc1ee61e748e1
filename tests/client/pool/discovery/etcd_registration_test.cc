// SPDX-License-Identifier: Apache-2.0
// EtcdRegistration and EtcdClient against a real etcd: the registered key and value, renewal past
// the TTL, registering again after the lease is lost, graceful deregistration, option validation
// and an unreachable etcd.

#include "client/pool/discovery/etcd_registration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::SetRecorder;
using namespace std::chrono_literals;

class EtcdRegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = EtcdServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    etcd_ = std::move(server).value();
  }

  EtcdRegistrationOptions Options(const std::string& node_id) const {
    EtcdRegistrationOptions options;
    options.etcd_url = etcd_->url();
    options.prefix = "/fleet/";
    options.ttl = 1s;
    options.self.endpoint = "https://10.0.0.1:50051";
    options.self.node_id = node_id;
    options.self.labels = {{"gpu", "h100"}};
    options.self.capacity_weight = 2.0;
    return options;
  }

  // The keys under /fleet/.
  std::vector<EtcdKeyValue> Keys() const {
    Result<EtcdRangeResult> range = etcd_->client().Range("/fleet/");
    EXPECT_TRUE(range.ok()) << range.status();
    return range.ok() ? range->kvs : std::vector<EtcdKeyValue>();
  }

  std::unique_ptr<EtcdServer> etcd_;
};

TEST_F(EtcdRegistrationTest, PutsTheValueUnderALeaseAndRenewsItPastTheTtl) {
  auto reg = EtcdRegistration::Start(Options("gpu-1"));
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ((*reg)->key(), "/fleet/gpu-1");
  auto keys = Keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].key, "/fleet/gpu-1");
  EXPECT_EQ(keys[0].lease, (*reg)->lease_id());
  EXPECT_EQ(detail::DecodePeerValue(keys[0].value).value(), Options("gpu-1").self);
  // Renewed every ttl/3: still there well past the TTL.
  std::this_thread::sleep_for(1800ms);
  EXPECT_EQ(Keys().size(), 1u);
  EXPECT_EQ((*reg)->reregistrations(), 0u);
}

TEST_F(EtcdRegistrationTest, StopDeregistersAtOnce) {
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery(etcd_->discovery_url("/fleet"));
  ASSERT_TRUE(d.ok()) << d.status();
  auto reg = EtcdRegistration::Start(Options("gpu-1"));
  ASSERT_TRUE(reg.ok()) << reg.status();
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  ASSERT_TRUE(recorder.WaitForEndpoints({"https://10.0.0.1:50051"}));

  const auto start = std::chrono::steady_clock::now();
  (*reg)->Stop();
  EXPECT_THAT(Keys(), IsEmpty());  // revoked, not left to expire
  ASSERT_TRUE(recorder.WaitForEndpoints({}, 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ((*reg)->lease_id(), 0);
  (*reg)->Stop();  // idempotent
}

TEST_F(EtcdRegistrationTest, RegistersAgainWhenTheLeaseIsLost) {
  auto reg = EtcdRegistration::Start(Options("gpu-1"));
  ASSERT_TRUE(reg.ok()) << reg.status();
  const std::int64_t first = (*reg)->lease_id();
  // etcd loses the lease (as after a long partition): the key goes with it.
  BLAZEN_ASSERT_OK(etcd_->client().Revoke(first));
  EXPECT_THAT(Keys(), IsEmpty());
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (Keys().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  auto keys = Keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_NE(keys[0].lease, first);
  EXPECT_EQ(keys[0].lease, (*reg)->lease_id());
  EXPECT_EQ((*reg)->reregistrations(), 1u);
  // The destructor deregisters.
  reg->reset();
  EXPECT_THAT(Keys(), IsEmpty());
}

TEST_F(EtcdRegistrationTest, RejectsBadOptions) {
  auto bad = [&](auto mutate) {
    EtcdRegistrationOptions options = Options("n");
    mutate(options);
    return EtcdRegistration::Start(options).status();
  };
  EXPECT_THAT(bad([](auto& o) { o.etcd_url = "127.0.0.1:2379"; }),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad([](auto& o) { o.etcd_url = "https://127.0.0.1:2379"; }),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad([&](auto& o) { o.etcd_url = etcd_->discovery_url("/fleet"); }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("prefix")));
  EXPECT_THAT(bad([](auto& o) { o.prefix = "/"; }), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad([](auto& o) { o.self.node_id.clear(); }), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad([](auto& o) { o.self.endpoint.clear(); }),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad([](auto& o) { o.ttl = 0s; }), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Keys(), IsEmpty());
  // etcd:// works as well as http://.
  auto ok = EtcdRegistration::Start([&] {
    EtcdRegistrationOptions o = Options("n");
    o.etcd_url = "etcd://127.0.0.1:" + std::to_string(etcd_->port());
    return o;
  }());
  BLAZEN_EXPECT_OK(ok);
}

TEST_F(EtcdRegistrationTest, ClientReportsEtcdErrors) {
  auto client = etcd_->client();
  EXPECT_THAT(client.KeepAliveOnce(12345), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(client.Revoke(12345), StatusIs(StatusCode::kNotFound, HasSubstr("lease revoke")));
  EXPECT_THAT(client.Put("/k", "v", 12345),
              StatusIs(StatusCode::kNotFound, HasSubstr("lease not found")));
  EXPECT_THAT(client.Range(""), StatusIs(StatusCode::kInvalidArgument));
  const Result<std::int64_t> lease = client.Grant(5s);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_GE(client.KeepAliveOnce(*lease).value(), 1);
  BLAZEN_EXPECT_OK(client.Revoke(*lease));
  EXPECT_EQ(client.Delete("/absent").value(), 0);
}

TEST(EtcdRegistrationUnreachableTest, FailsQuicklyNamingTheUrl) {
  EtcdRegistrationOptions options;
  options.etcd_url = "http://127.0.0.1:" + std::to_string(blazen::testing::FreeLoopbackPort());
  options.self.endpoint = "10.0.0.1:1";
  options.self.node_id = "n";
  options.timeout = 1s;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(EtcdRegistration::Start(options),
              StatusIs(StatusCode::kUnavailable, HasSubstr(options.etcd_url)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace blazen::client::pool
