// SPDX-License-Identifier: Apache-2.0
// BlazenPeerClient::Connect failures that need no peer: bad endpoints, contradictory options,
// metadata that cannot travel, and a port nobody listens on.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "client/peer_client.h"
#include "core/peer_error.h"

namespace blazen::client {
namespace {

using namespace std::chrono_literals;

// A loopback port that was free a moment ago (bound, read back, closed).
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

ClientOptions NoEnvToken() {
  ClientOptions options;
  options.token_from_env = false;
  return options;
}

TEST(ConnectTest, PortNobodyListensOnFailsQuicklyWithTransportError) {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(UnusedPort());
  const auto start = std::chrono::steady_clock::now();
  try {
    auto client = BlazenPeerClient::Connect(endpoint, "parent", NoEnvToken());
    FAIL() << "connected to " << endpoint;
  } catch (const TransportError& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find(endpoint), std::string::npos) << e.what();
  }
  // Refused connections fail at once, not after the 10 s connect timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ConnectTest, ConnectTimeoutBoundsTheWait) {
  // 192.0.2.0/24 is TEST-NET-1 (never routed): the connection attempt hangs or fails.
  ClientOptions options = NoEnvToken();
  options.connect_timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(BlazenPeerClient::Connect("192.0.2.1:50051", "parent", options), TransportError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(ConnectTest, GarbageEndpointIsATransportErrorNamingIt) {
  for (const char* bad : {"", "no port here", "ftp://x:1", "http://host:99999", "host"}) {
    try {
      auto client = BlazenPeerClient::Connect(bad, "parent", NoEnvToken());
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const TransportError& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(e.message().find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(ConnectTest, TlsOptionsWithAPlaintextEndpointAreRefused) {
  ClientOptions options = NoEnvToken();
  options.tls = ClientTlsConfig{};
  EXPECT_THROW(BlazenPeerClient::Connect("http://127.0.0.1:1", "parent", options), TransportError);
}

TEST(ConnectTest, MetadataThatCannotTravelIsRefusedUpFront) {
  EXPECT_THROW(BlazenPeerClient::Connect("http://127.0.0.1:1", "bad\nnode", NoEnvToken()),
               InvalidArgumentError);
  ClientOptions options = NoEnvToken();
  options.token = "tok\x01en";
  EXPECT_THROW(BlazenPeerClient::Connect("http://127.0.0.1:1", "parent", options),
               InvalidArgumentError);
  options = NoEnvToken();
  options.parent_run_id = "r\xC3\xA9";
  EXPECT_THROW(BlazenPeerClient::Connect("http://127.0.0.1:1", "parent", options),
               InvalidArgumentError);
}

}  // namespace
}  // namespace blazen::client
