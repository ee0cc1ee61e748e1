// SPDX-License-Identifier: Apache-2.0
// Endpoint string -> gRPC target.

#include "client/detail/endpoint.h"

#include <cctype>
#include <optional>
#include <string>
#include <utility>

namespace blazen::client::detail {
namespace {

Status Invalid(std::string_view endpoint, std::string_view reason) {
  return Status(StatusCode::kInvalidArgument,
                "invalid endpoint '" + std::string(endpoint) + "': " + std::string(reason),
                ErrorKind::kTransport);
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

// The host of an authority (`host[:port]` or `[v6]:[port]`) and the port text after it, if any.
struct HostPort {
  std::string host;
  bool ipv6 = false;
  std::optional<std::string_view> port_text;
};

Result<HostPort> ParseBracketedHost(std::string_view endpoint, std::string_view authority) {
  HostPort out;
  const std::size_t close = authority.find(']');
  if (close == std::string_view::npos) return Invalid(endpoint, "unterminated IPv6 address");
  out.host = std::string(authority.substr(1, close - 1));
  out.ipv6 = true;
  const std::string_view after = authority.substr(close + 1);
  if (!after.empty()) {
    if (after.front() != ':') return Invalid(endpoint, "unexpected text after IPv6 address");
    out.port_text = after.substr(1);
  }
  if (out.host.empty() || out.host.find(':') == std::string::npos) {
    return Invalid(endpoint, "malformed IPv6 address");
  }
  for (char c : out.host) {
    if (!IsIpv6Char(c)) return Invalid(endpoint, "malformed IPv6 address");
  }
  return out;
}

Result<HostPort> ParseHost(std::string_view endpoint, std::string_view authority) {
  if (authority.front() == '[') return ParseBracketedHost(endpoint, authority);
  HostPort out;
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    if (authority.find(':') != colon) {
      return Invalid(endpoint, "IPv6 addresses must be written in brackets");
    }
    out.port_text = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return Invalid(endpoint, "missing host");
  for (char c : authority) {
    if (!IsHostNameChar(c)) return Invalid(endpoint, "invalid character in host");
  }
  out.host = std::string(authority);
  return out;
}

// The port: the explicit one (1..65535), else the scheme's default; a bare endpoint needs one.
Result<std::uint16_t> ParsePort(std::string_view endpoint,
                                std::optional<std::string_view> port_text, EndpointScheme scheme) {
  if (!port_text) {
    if (scheme == EndpointScheme::kHttp) return std::uint16_t{80};
    if (scheme == EndpointScheme::kHttps) return std::uint16_t{443};
    return Invalid(endpoint, "missing port (use host:port)");
  }
  if (port_text->empty() || port_text->size() > 5) return Invalid(endpoint, "invalid port");
  unsigned value = 0;
  for (char c : *port_text) {
    if (c < '0' || c > '9') return Invalid(endpoint, "invalid port");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return Invalid(endpoint, "port must be in 1..65535");
  return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<ParsedEndpoint> ParseEndpoint(std::string_view endpoint, EndpointRules rules) {
  if (endpoint.empty()) return Invalid(endpoint, "empty");
  ParsedEndpoint parsed;
  std::string_view rest = endpoint;
  if (StartsWithNoCase(rest, "http://")) {
    parsed.scheme = EndpointScheme::kHttp;
    rest.remove_prefix(7);
  } else if (StartsWithNoCase(rest, "https://")) {
    parsed.scheme = EndpointScheme::kHttps;
    rest.remove_prefix(8);
  } else if (rest.find("://") != std::string_view::npos) {
    return Invalid(endpoint, "unsupported scheme (use http://, https:// or host:port)");
  } else if (rules.require_scheme) {
    return Invalid(endpoint, "the scheme must be http:// or https://");
  }

  // Authority ends at the first '/', '?' or '#'; then only a path (prefix) may follow.
  const std::size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos) {
    std::string_view tail = rest.substr(authority_end);
    if (parsed.scheme == EndpointScheme::kBare) {
      return Invalid(endpoint, "a bare endpoint is host:port without a path");
    }
    if (tail.find_first_of("?#") != std::string_view::npos) {
      return Invalid(endpoint, "queries and fragments are not supported");
    }
    if (!rules.allow_path_prefix && tail != "/") {
      return Invalid(endpoint, "paths are not supported");
    }
    while (!tail.empty() && tail.back() == '/') tail.remove_suffix(1);
    parsed.path_prefix = std::string(tail);
  }
  if (authority.empty()) return Invalid(endpoint, "missing host");
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(endpoint, "user info is not supported");
  }
  BLAZEN_ASSIGN_OR_RETURN(HostPort host, ParseHost(endpoint, authority));
  BLAZEN_ASSIGN_OR_RETURN(parsed.port, ParsePort(endpoint, host.port_text, parsed.scheme));
  parsed.host = std::move(host.host);
  parsed.target =
      (host.ipv6 ? "[" + parsed.host + "]" : parsed.host) + ":" + std::to_string(parsed.port);
  return parsed;
}

}  // namespace blazen::client::detail
