// SPDX-License-Identifier: Apache-2.0
// Discovery URLs (every scheme, every malformed kind), the static source, peer-set normalization
// and change-only delivery, and the etcd encodings (base64, prefix ranges, the watch stream
// splitter, registered values).

#include "client/pool/discovery/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/pool/discovery/detail/discovery_url.h"
#include "client/pool/discovery/detail/etcd_codec.h"
#include "client/pool/discovery/detail/peer_set.h"
#include "tests/client/pool/discovery/discovery_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client::pool {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::ElementsAre;
using testing::Endpoints;
using ::testing::HasSubstr;
using testing::SetRecorder;

DiscoveredPeer Peer(std::string endpoint, std::string node_id = "") {
  DiscoveredPeer p;
  p.endpoint = std::move(endpoint);
  p.node_id = std::move(node_id);
  return p;
}

TEST(MakeDiscoveryTest, BuildsEachSchemeWithoutContactingAnything) {
  struct Case {
    const char* url;
    const char* scheme;
  };
  for (const Case& c :
       {Case{"static:a:1,b:2", "static"}, Case{"STATIC:a:1", "static"},
        Case{"static://a:1,http+json://b:2", "static"}, Case{"dns:///localhost:50051", "dns"},
        Case{"dns:///svc.example:7000?scheme=http+json", "dns"},
        Case{"dns:///[::1]:7000?scheme=grpc", "dns"},
        Case{"etcd://127.0.0.1:1/blazen/peers", "etcd"}, Case{"ETCD://[::1]:2379/p/", "etcd"}}) {
    Result<std::unique_ptr<Discovery>> d = MakeDiscovery(c.url);
    ASSERT_TRUE(d.ok()) << c.url << ": " << d.status();
    EXPECT_EQ((*d)->scheme(), c.scheme) << c.url;
    EXPECT_EQ((*d)->describe(), c.url);
  }
}

TEST(MakeDiscoveryTest, RejectsEveryMalformedUrlNamingIt) {
  for (const char* url : {"",
                          "peers",
                          "ftp://host:1",
                          "static:",
                          "static://",
                          "static:a:1,,b:2",
                          "static:a:1,",
                          "static:,a:1",
                          "dns:localhost:1",
                          "dns://localhost:1",
                          "dns:///localhost",
                          "dns:///localhost:",
                          "dns:///:80",
                          "dns:///host:0",
                          "dns:///host:65536",
                          "dns:///host:123456",
                          "dns:///host:8x",
                          "dns:///host:-1",
                          "dns:///::1:80",
                          "dns:///[::1:80",
                          "dns:///host:1/path",
                          "dns:///host:1?foo=bar",
                          "dns:///host:1?scheme",
                          "dns:///host:1?scheme=ftp",
                          "etcd:127.0.0.1:2379/p",
                          "etcd://127.0.0.1:2379",
                          "etcd://127.0.0.1:2379/",
                          "etcd://127.0.0.1:2379///",
                          "etcd://127.0.0.1/prefix",
                          "etcd://:2379/prefix",
                          "etcd://h:99999/prefix",
                          "etcd://h:1/prefix?x=1"}) {
    Result<std::unique_ptr<Discovery>> d = MakeDiscovery(url);
    EXPECT_THAT(d, StatusIs(StatusCode::kInvalidArgument, HasSubstr("'" + std::string(url) + "'")))
        << url;
  }
}

TEST(MakeDiscoveryTest, RejectsNonPositivePeriods) {
  DiscoveryOptions options;
  options.dns_refresh = std::chrono::milliseconds(0);
  EXPECT_THAT(MakeDiscovery("dns:///localhost:1", options), StatusIs(StatusCode::kInvalidArgument));
  options = {};
  options.etcd_timeout = std::chrono::milliseconds(0);
  EXPECT_THAT(MakeDiscovery("etcd://127.0.0.1:1/p", options),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(StaticDiscoveryTest, DeliversTheListSortedAndDedupedOnce) {
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery("static:c:3,a:1,b:2,a:1");
  ASSERT_TRUE(d.ok()) << d.status();
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  ASSERT_EQ(recorder.count(), 1u);
  EXPECT_THAT(Endpoints(recorder.latest()), ElementsAre("a:1", "b:2", "c:3"));
  for (const DiscoveredPeer& p : recorder.latest()) {
    EXPECT_TRUE(p.node_id.empty());
    EXPECT_FALSE(p.capacity_weight.has_value());
  }
  EXPECT_THAT((*d)->Start(recorder.callback()), StatusIs(StatusCode::kFailedPrecondition));
  (*d)->Stop();
  (*d)->Stop();
  EXPECT_EQ(recorder.count(), 1u);
}

TEST(StaticDiscoveryTest, MakeStaticDiscoveryValidatesAndDescribes) {
  EXPECT_THAT(MakeStaticDiscovery({}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeStaticDiscovery({"a:1", ""}), StatusIs(StatusCode::kInvalidArgument));
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeStaticDiscovery({"https://b:2", "a:1"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->scheme(), "static");
  EXPECT_EQ((*d)->describe(), "static:https://b:2,a:1");
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  EXPECT_THAT(Endpoints(recorder.latest()), ElementsAre("a:1", "https://b:2"));
}

TEST(PeerSetTest, NormalizeSortsByEndpointAndKeepsTheFirstOfEachEndpoint) {
  const auto out = detail::NormalizePeerSet({Peer("b:1", "x"), Peer("a:1", "y"), Peer("b:1", "z")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], Peer("a:1", "y"));
  EXPECT_EQ(out[1], Peer("b:1", "x"));
}

TEST(PeerSetTest, PublisherDeliversOnlyChangesAndNothingAfterClose) {
  detail::PeerSetPublisher publisher;
  SetRecorder recorder;
  EXPECT_FALSE(publisher.Publish({Peer("a:1")}));  // not open yet
  publisher.Open(recorder.callback());
  EXPECT_TRUE(publisher.Publish({}));  // the first set is always delivered, even empty
  EXPECT_TRUE(publisher.Publish({Peer("b:1"), Peer("a:1")}));
  EXPECT_FALSE(publisher.Publish({Peer("a:1"), Peer("b:1")}));  // same set, other order
  DiscoveredPeer relabeled = Peer("a:1");
  relabeled.labels["gpu"] = "h100";
  EXPECT_TRUE(publisher.Publish({relabeled, Peer("b:1")}));  // metadata changes count
  publisher.Close();
  EXPECT_FALSE(publisher.Publish({Peer("c:1")}));
  publisher.Open(recorder.callback());  // closed for good
  EXPECT_FALSE(publisher.Publish({Peer("d:1")}));
  EXPECT_EQ(recorder.count(), 3u);
}

TEST(DiscoveryUrlTest, ParsesEtcdUrlsAndPrefixes) {
  auto a = detail::ParseEtcdUrl("etcd://127.0.0.1:2379/blazen/peers/");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->server.host, "127.0.0.1");
  EXPECT_EQ(a->server.port, 2379);
  EXPECT_EQ(a->prefix, "/blazen/peers");
  auto b = detail::ParseEtcdUrl("http://[::1]:2379");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->server.host, "::1");
  EXPECT_EQ(b->prefix, "");
  EXPECT_THAT(detail::ParseEtcdUrl("https://h:1"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(detail::NormalizeEtcdPrefix("//"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(detail::NormalizeEtcdPrefix("p/").value(), "p");
}

TEST(EtcdCodecTest, Base64RoundTripsEveryLengthAndRejectsGarbage) {
  EXPECT_EQ(detail::Base64Encode(""), "");
  EXPECT_EQ(detail::Base64Encode("f"), "Zg==");
  EXPECT_EQ(detail::Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(detail::Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(detail::Base64Encode("/blazen/peers/"), "L2JsYXplbi9wZWVycy8=");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  for (std::size_t n = 0; n <= binary.size(); n += 37) {
    const std::string part = binary.substr(0, n);
    EXPECT_EQ(detail::Base64Decode(detail::Base64Encode(part)).value(), part) << n;
  }
  for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "=Zg=", "Zg==Zg=="}) {
    EXPECT_THAT(detail::Base64Decode(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(EtcdCodecTest, PrefixRangeEndIncrementsTheLastByte) {
  EXPECT_EQ(detail::PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(detail::PrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(detail::PrefixRangeEnd("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdCodecTest, Int64FieldReadsStringsAndNumbers) {
  const nlohmann::json j = {{"s", "7587868590128745478"}, {"n", 42}, {"bad", "12x"}, {"f", 1.5}};
  EXPECT_EQ(detail::Int64Field(j, "s").value(), 7587868590128745478);
  EXPECT_EQ(detail::Int64Field(j, "n").value(), 42);
  EXPECT_EQ(detail::Int64Field(j, "missing", -1).value(), -1);
  EXPECT_THAT(detail::Int64Field(j, "bad"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(detail::Int64Field(j, "f"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(EtcdCodecTest, PeerValueRoundTripsAndRejectsMalformedValues) {
  DiscoveredPeer peer = Peer("https://10.0.0.1:50051", "gpu-7");
  peer.labels = {{"gpu", "h100"}, {"region", "eu"}};
  peer.capacity_weight = 2.5;
  EXPECT_EQ(detail::DecodePeerValue(detail::EncodePeerValue(peer)).value(), peer);
  EXPECT_EQ(detail::DecodePeerValue(R"({"endpoint":"a:1","extra":[1]})").value(), Peer("a:1"));
  for (const char* bad :
       {"", "not json", "[]", "\"a:1\"", "{}", R"({"endpoint":""})", R"({"endpoint":5})",
        R"({"endpoint":"a:1","node_id":3})", R"({"endpoint":"a:1","labels":[]})",
        R"({"endpoint":"a:1","labels":{"k":1}})", R"({"endpoint":"a:1","capacity_weight":"1"})",
        R"({"endpoint":"a:1","capacity_weight":0})",
        R"({"endpoint":"a:1","capacity_weight":-2})"}) {
    EXPECT_THAT(detail::DecodePeerValue(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(EtcdCodecTest, SplitterFindsObjectsWhateverTheChunking) {
  const std::string first = R"({"result":{"a":"}{\"","b":[{"c":1},{}]}})";
  const std::string second = R"({"result":{"events":[]}})";
  const std::string stream = first + "\n" + second + "\r\n" + "[" + first + "," + second + "]";
  const std::vector<std::string> expected = {first, second, first, second};
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    detail::JsonObjectSplitter splitter;
    std::vector<std::string> objects;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      BLAZEN_ASSERT_OK(
          splitter.Feed(std::string_view(stream).substr(at, chunk), [&](std::string_view o) {
            objects.emplace_back(o);
            return true;
          }));
    }
    EXPECT_EQ(objects, expected) << "chunk " << chunk;
    EXPECT_EQ(splitter.buffered(), 0u);
  }
}

TEST(EtcdCodecTest, SplitterKeepsAnIncompleteObjectAndStopsWhenAsked) {
  detail::JsonObjectSplitter splitter;
  int seen = 0;
  BLAZEN_ASSERT_OK(splitter.Feed(R"({"a":1}{"b":2}{"c":)", [&](std::string_view) {
    ++seen;
    return false;
  }));
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace blazen::client::pool
