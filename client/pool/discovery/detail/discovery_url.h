// SPDX-License-Identifier: Apache-2.0
#pragma once
// The address grammar shared by the discovery URLs and the etcd registration: `host:port` with
// bracketed IPv6 hosts, the etcd endpoint forms, and the normalization of an etcd key prefix.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace blazen::client::pool::detail {

/// A host and a port. `host` has no brackets. Value type.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

/// Parses `text` as `host:port` or `[v6]:port`, port 1..65535. kInvalidArgument, message
/// `invalid <what> '<url>': <reason>`, for an empty host, a missing or malformed port.
[[nodiscard]] Result<HostPort> ParseHostPort(std::string_view text, std::string_view url,
                                             std::string_view what);

/// An etcd to talk to: where it listens and the key prefix (already normalized, see
/// NormalizeEtcdPrefix; empty when the URL has none). Value type.
struct EtcdAddress {
  HostPort server;
  std::string prefix;
};

/// Parses an etcd URL: `etcd://host:port[/prefix]` or `http://host:port[/prefix]` (scheme letters
/// in any case). kInvalidArgument naming `url` for another scheme (https included: the client
/// speaks plain HTTP), a malformed authority, or a query or fragment. A missing path, or one of
/// slashes only, gives an empty prefix.
[[nodiscard]] Result<EtcdAddress> ParseEtcdUrl(std::string_view url);

/// `prefix` without trailing slashes; kInvalidArgument when nothing is left. Keys live at
/// `<prefix>/<node_id>`, and discovery lists the keys starting with `<prefix>/`.
[[nodiscard]] Result<std::string> NormalizeEtcdPrefix(std::string_view prefix);

/// ASCII lower-case copy of `text`.
[[nodiscard]] std::string AsciiLower(std::string_view text);

}  // namespace blazen::client::pool::detail
