// SPDX-License-Identifier: Apache-2.0
// Listen-address parsing shared by the transports.

#include "server/detail/listen_address.h"

namespace blazen::server::detail {

Result<ListenAddress> ParseListenAddress(const std::string& address, const std::string& what) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return Status::InvalidArgument(what + " '" + address + "' is not host:port");
  }
  ListenAddress out;
  out.host = address.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  for (char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9' || out.port > 65535) {
      return Status::InvalidArgument(what + " '" + address + "' has a bad port");
    }
    out.port = out.port * 10 + (c - '0');
  }
  if (out.port > 65535) return Status::InvalidArgument(what + " '" + address + "' has a bad port");
  return out;
}

std::string DialHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0" || host == "::") return "127.0.0.1";
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace blazen::server::detail
