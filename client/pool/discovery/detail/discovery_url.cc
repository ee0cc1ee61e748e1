// SPDX-License-Identifier: Apache-2.0
// Host/port, etcd URL and etcd prefix parsing of the discovery sources.

#include "client/pool/discovery/detail/discovery_url.h"

#include <cctype>

namespace blazen::client::pool::detail {
namespace {

Status Invalid(std::string_view what, std::string_view url, std::string_view reason) {
  return Status::InvalidArgument("invalid " + std::string(what) + " '" + std::string(url) +
                                 "': " + std::string(reason));
}

}  // namespace

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text, std::string_view url, std::string_view what) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return Invalid(what, url, "unterminated '[' in host");
    out.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return Invalid(what, url, "missing port");
    port_text = rest.substr(1);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Invalid(what, url, "missing port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return Invalid(what, url, "an IPv6 host needs brackets ([addr]:port)");
    }
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return Invalid(what, url, "empty host");
  for (const char c : out.host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@' || c == '?' ||
        c == '#') {
      return Invalid(what, url, "malformed host '" + out.host + "'");
    }
  }
  if (port_text.empty()) return Invalid(what, url, "missing port");
  if (port_text.size() > 5) return Invalid(what, url, "port out of range 1..65535");
  unsigned port = 0;
  for (const char c : port_text) {
    if (c < '0' || c > '9') return Invalid(what, url, "port is not a number");
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return Invalid(what, url, "port out of range 1..65535");
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

Result<std::string> NormalizeEtcdPrefix(std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty()) return Status::InvalidArgument("etcd key prefix must not be empty");
  return std::string(prefix);
}

Result<EtcdAddress> ParseEtcdUrl(std::string_view url) {
  constexpr std::string_view kWhat = "etcd URL";
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Invalid(kWhat, url, "expected etcd://host:port or http://host:port");
  }
  const std::string scheme = AsciiLower(url.substr(0, sep));
  if (scheme != "etcd" && scheme != "http") {
    return Invalid(
        kWhat, url,
        "unsupported scheme '" + scheme + "' (etcd:// or http://; TLS is not supported)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Invalid(kWhat, url, "a query or fragment is not allowed");
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  EtcdAddress out;
  BLAZEN_ASSIGN_OR_RETURN(out.server, ParseHostPort(authority, url, kWhat));
  if (slash != std::string_view::npos) {
    // A path of slashes only is no prefix.
    out.prefix = NormalizeEtcdPrefix(rest.substr(slash)).value_or(std::string());
  }
  return out;
}

}  // namespace blazen::client::pool::detail
