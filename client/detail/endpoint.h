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
  /// With EndpointRules::allow_path_prefix: the path after the authority without trailing
  /// slashes ("" or "/x/y").
  std::string path_prefix;
};

/// What else an endpoint may or must hold, per client.
struct EndpointRules {
  /// `http://` or `https://` required (no bare `host:port`).
  bool require_scheme = false;
  /// A path after the authority is a prefix of every route (HTTP/JSON base URLs).
  bool allow_path_prefix = false;
};

/// Parses `endpoint`: `http://host[:port][/]`, `https://host[:port][/]` (scheme letters in any
/// case; the port defaults to 80 / 443) or bare `host:port`. Hosts are DNS names, IPv4 addresses
/// or bracketed IPv6 addresses. The one endpoint grammar of both clients: the gRPC client uses the
/// default rules, the HTTP/JSON client requires a scheme and allows a path prefix. Returns
/// kInvalidArgument with ErrorKind::kTransport (a TransportError at the public edge), message
/// `invalid endpoint '<endpoint>': <reason>`, for an empty string, another scheme (or none when
/// `rules` require one), user info, a path other than `/` (unless `rules` allow a prefix), a query
/// or fragment, an empty or malformed host, a missing port on a bare endpoint, or a port outside
/// 1..65535. Thread-safe.
[[nodiscard]] Result<ParsedEndpoint> ParseEndpoint(std::string_view endpoint,
                                                   EndpointRules rules = {});

}  // namespace blazen::client::detail
