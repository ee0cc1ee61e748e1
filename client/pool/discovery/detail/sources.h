// SPDX-License-Identifier: Apache-2.0
#pragma once
// The discovery sources behind MakeDiscovery, made from an already parsed URL.

#include <memory>
#include <string>
#include <vector>

#include "client/pool/discovery/detail/discovery_url.h"
#include "client/pool/discovery/discovery.h"

namespace blazen::client::pool::detail {

/// The `static:` source: delivers `endpoints` (validated by the caller) once, at Start.
[[nodiscard]] std::unique_ptr<Discovery> MakeStaticSource(std::string url,
                                                          std::vector<std::string> endpoints);

/// The `dns:///` source: every address of `target.host` as an endpoint `[scheme://]addr:port`
/// (`endpoint_scheme` empty: bare, i.e. gRPC), resolved again every `options.dns_refresh`.
[[nodiscard]] std::unique_ptr<Discovery> MakeDnsSource(std::string url, HostPort target,
                                                       std::string endpoint_scheme,
                                                       DiscoveryOptions options);

/// The `etcd://` source: the values under `address.prefix` + "/" (prefix non-empty), listed at
/// Start and then followed with a watch.
[[nodiscard]] std::unique_ptr<Discovery> MakeEtcdSource(std::string url, EtcdAddress address,
                                                        DiscoveryOptions options);

/// The addresses of `host` from getaddrinfo (AF_UNSPEC, SOCK_STREAM), deduplicated, in the
/// resolver's order. kUnavailable naming `host` when it does not resolve.
[[nodiscard]] Result<std::vector<std::string>> ResolveHost(const std::string& host);

}  // namespace blazen::client::pool::detail
