// SPDX-License-Identifier: Apache-2.0
// Endpoint string -> gRPC target.

#include "client/detail/endpoint.h"

#include <cctype>

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

}  // namespace

Result<ParsedEndpoint> ParseEndpoint(std::string_view endpoint) {
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
  }

  // Authority ends at the first '/', '?' or '#'; only an empty path or "/" may follow.
  const std::size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos) {
    const std::string_view tail = rest.substr(authority_end);
    if (parsed.scheme == EndpointScheme::kBare) {
      return Invalid(endpoint, "a bare endpoint is host:port without a path");
    }
    if (tail != "/") return Invalid(endpoint, "paths, queries and fragments are not supported");
  }
  if (authority.empty()) return Invalid(endpoint, "missing host");
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(endpoint, "user info is not supported");
  }

  std::string_view port_text;
  bool has_port = false;
  bool ipv6 = false;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid(endpoint, "unterminated IPv6 address");
    parsed.host = std::string(authority.substr(1, close - 1));
    ipv6 = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid(endpoint, "unexpected text after IPv6 address");
      port_text = after.substr(1);
      has_port = true;
    }
    if (parsed.host.empty() || parsed.host.find(':') == std::string::npos) {
      return Invalid(endpoint, "malformed IPv6 address");
    }
    for (char c : parsed.host) {
      if (!IsIpv6Char(c)) return Invalid(endpoint, "malformed IPv6 address");
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':') != colon) {
        return Invalid(endpoint, "IPv6 addresses must be written in brackets");
      }
      port_text = authority.substr(colon + 1);
      has_port = true;
      authority = authority.substr(0, colon);
    }
    if (authority.empty()) return Invalid(endpoint, "missing host");
    for (char c : authority) {
      if (!IsHostNameChar(c)) return Invalid(endpoint, "invalid character in host");
    }
    parsed.host = std::string(authority);
  }

  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return Invalid(endpoint, "invalid port");
    unsigned value = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return Invalid(endpoint, "invalid port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return Invalid(endpoint, "port must be in 1..65535");
    parsed.port = static_cast<std::uint16_t>(value);
  } else if (parsed.scheme == EndpointScheme::kHttp) {
    parsed.port = 80;
  } else if (parsed.scheme == EndpointScheme::kHttps) {
    parsed.port = 443;
  } else {
    return Invalid(endpoint, "missing port (use host:port)");
  }

  parsed.target =
      (ipv6 ? "[" + parsed.host + "]" : parsed.host) + ":" + std::to_string(parsed.port);
  return parsed;
}

}  // namespace blazen::client::detail
