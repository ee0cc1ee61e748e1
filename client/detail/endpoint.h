// SPDX-License-Identifier: Apache-2.0
#pragma once
// Parsing of the endpoint strings BlazenPeerClient::Connect accepts, into the gRPC target to dial
// and whether to use TLS. Kept apart from the channel code so the rules are testable without a
// network.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace blazen::client::detail {

/// How the endpoint asked to be dialed.
enum class EndpointScheme : std::uint8_t {
  kBare,   ///< `host:port`: plaintext h2c unless the client has TLS options
  kHttp,   ///< `http://host[:port]`: plaintext h2c (upstream's only transport)
  kHttps,  ///< `https://host[:port]`: TLS
};

/// A parsed endpoint. Value type.
struct ParsedEndpoint {
  EndpointScheme scheme = EndpointScheme::kBare;
  /// Host name or address; IPv6 addresses without brackets.
  std::string host;
  std::uint16_t port = 0;
  /// What gRPC dials: `host:port`, or `[v6addr]:port`.
  std::string target;
};

/// Parses `endpoint`: `http://host[:port][/]`, `https://host[:port][/]` (scheme letters in any
/// case; the port defaults to 80 / 443) or bare `host:port`. Hosts are DNS names, IPv4 addresses
/// or bracketed IPv6 addresses. Returns kInvalidArgument with ErrorKind::kTransport (a
/// TransportError at the public edge), message `invalid endpoint '<endpoint>': <reason>`, for an
/// empty string, another scheme, user info, a path other than `/`, a query or fragment, an empty or
/// malformed host, a missing port on a bare endpoint, or a port outside 1..65535. Thread-safe.
[[nodiscard]] Result<ParsedEndpoint> ParseEndpoint(std::string_view endpoint);

}  // namespace blazen::client::detail
