// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one grammar of the addresses a peer listens on (`host:port`, `[v6]:port`, `:port`), shared
// by every transport, and how a client dials such an address back.

#include <string>

#include "core/status.h"

namespace blazen::server::detail {

/// A listen address split into host and port. `host` has no brackets; an empty host means every
/// interface ("0.0.0.0").
struct ListenAddress {
  std::string host;
  int port = 0;
};

/// Parses `address`. kInvalidArgument (message naming `what`, e.g. "http listen address", and the
/// address) when it is not host:port or the port is not 0..65535.
[[nodiscard]] Result<ListenAddress> ParseListenAddress(const std::string& address,
                                                       const std::string& what);

/// The host a client dials for a listen host: wildcards ("", "0.0.0.0", "::", "[::]") become
/// 127.0.0.1, IPv6 addresses get brackets.
[[nodiscard]] std::string DialHost(std::string host);

}  // namespace blazen::server::detail
