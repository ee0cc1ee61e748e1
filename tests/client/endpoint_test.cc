// SPDX-License-Identifier: Apache-2.0
// Endpoint strings accepted by BlazenPeerClient::Connect.

#include "client/detail/endpoint.h"

#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace blazen::client::detail {
namespace {

using ::blazen::testing::StatusIs;

TEST(ParseEndpointTest, HttpIsPlaintext) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ParsedEndpoint e, ParseEndpoint("http://127.0.0.1:50051"));
  EXPECT_EQ(e.scheme, EndpointScheme::kHttp);
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 50051);
  EXPECT_EQ(e.target, "127.0.0.1:50051");
}

TEST(ParseEndpointTest, HttpsIsTls) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ParsedEndpoint e, ParseEndpoint("https://peer.example.com:8443/"));
  EXPECT_EQ(e.scheme, EndpointScheme::kHttps);
  EXPECT_EQ(e.host, "peer.example.com");
  EXPECT_EQ(e.port, 8443);
  EXPECT_EQ(e.target, "peer.example.com:8443");
}

TEST(ParseEndpointTest, SchemeIsCaseInsensitiveAndPortDefaults) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ParsedEndpoint e, ParseEndpoint("HTTP://localhost"));
  EXPECT_EQ(e.scheme, EndpointScheme::kHttp);
  EXPECT_EQ(e.target, "localhost:80");
  BLAZEN_ASSERT_OK_AND_ASSIGN(e, ParseEndpoint("Https://localhost"));
  EXPECT_EQ(e.scheme, EndpointScheme::kHttps);
  EXPECT_EQ(e.target, "localhost:443");
}

TEST(ParseEndpointTest, BareHostPort) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ParsedEndpoint e, ParseEndpoint("gpu-node-1:7000"));
  EXPECT_EQ(e.scheme, EndpointScheme::kBare);
  EXPECT_EQ(e.target, "gpu-node-1:7000");
}

TEST(ParseEndpointTest, BracketedIpv6) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ParsedEndpoint e, ParseEndpoint("http://[::1]:9000"));
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 9000);
  EXPECT_EQ(e.target, "[::1]:9000");
  BLAZEN_ASSERT_OK_AND_ASSIGN(e, ParseEndpoint("[fe80::1]:1"));
  EXPECT_EQ(e.scheme, EndpointScheme::kBare);
  EXPECT_EQ(e.target, "[fe80::1]:1");
}

TEST(ParseEndpointTest, RejectsGarbageWithATransportKindNamingTheEndpoint) {
  for (const char* bad : {"",
                          "not an endpoint",
                          "localhost",
                          "ftp://host:1",
                          "http://",
                          "http://:80",
                          "host:",
                          "host:0",
                          "host:65536",
                          "host:12ab",
                          "http://host:1/path",
                          "http://host:1?x=1",
                          "http://user@host:1",
                          "::1:80",
                          "[::1",
                          "[]:80",
                          "[::1]x",
                          "host:1/",
                          "ho st:1",
                          "http://host:123456",
                          "dns:///host:1",
                          "unix:/tmp/socket"}) {
    Result<ParsedEndpoint> e = ParseEndpoint(bad);
    EXPECT_THAT(e, StatusIs(StatusCode::kInvalidArgument)) << "'" << bad << "'";
    if (!e.ok()) {
      EXPECT_EQ(e.status().kind(), ErrorKind::kTransport) << bad;
      EXPECT_NE(e.status().message().find(std::string("'") + bad + "'"), std::string::npos)
          << e.status().message();
    }
  }
}

TEST(ParseEndpointTest, HttpBaseUrlRulesRequireASchemeAndKeepAPathPrefix) {
  const EndpointRules http{.require_scheme = true, .allow_path_prefix = true};
  BLAZEN_ASSERT_OK_AND_ASSIGN(ParsedEndpoint e,
                              ParseEndpoint("https://peer.example:8443/a/b//", http));
  EXPECT_EQ(e.scheme, EndpointScheme::kHttps);
  EXPECT_EQ(e.host, "peer.example");
  EXPECT_EQ(e.port, 8443);
  EXPECT_EQ(e.path_prefix, "/a/b");
  BLAZEN_ASSERT_OK_AND_ASSIGN(e, ParseEndpoint("http://[::1]/", http));
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 80);
  EXPECT_EQ(e.path_prefix, "");
  for (const char* bad : {"127.0.0.1:80", "ftp://x:1", "http://:80", "http://h:99999",
                          "http://h:1/p?q=1", "http://h:1/#f", "http://u@h:1"}) {
    EXPECT_THAT(ParseEndpoint(bad, http), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  // The gRPC rules refuse a path prefix.
  EXPECT_THAT(ParseEndpoint("http://h:1/a"), StatusIs(StatusCode::kInvalidArgument));
  BLAZEN_EXPECT_OK(ParseEndpoint("http://h:1/").status());
}

}  // namespace
}  // namespace blazen::client::detail
