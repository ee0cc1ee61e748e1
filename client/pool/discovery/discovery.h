// SPDX-License-Identifier: Apache-2.0
#pragma once
// Discovery: where the routing peer pool learns which peers exist. A Discovery source delivers the
// whole current peer set (never a diff) to a callback; MakeDiscovery builds one from a URL:
// a fixed list (`static:`), the A/AAAA records of a DNS name (`dns:///`), or the keys under an
// etcd prefix that peers register themselves under (`etcd://`, see etcd_registration.h).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace blazen::client::pool {

/// One peer a discovery source knows. Value type.
struct DiscoveredPeer {
  /// A URL ConnectPeer accepts: `host:port` (gRPC), `http://host:port`, `https://host:port`,
  /// `http+json://host:port`, ...
  std::string endpoint;
  /// The peer's node id; empty when the source does not know it (DNS, a static list).
  std::string node_id;
  /// Labels the peer registered (etcd only).
  std::map<std::string, std::string> labels;
  /// Relative capacity the peer registered (etcd only); unset when unknown.
  std::optional<double> capacity_weight;

  friend bool operator==(const DiscoveredPeer&, const DiscoveredPeer&) = default;
};

/// Settings of the sources MakeDiscovery builds. Each field says which source reads it. Value type.
struct DiscoveryOptions {
  /// dns: how often the name is resolved again.
  std::chrono::milliseconds dns_refresh{5000};
  /// etcd: connect and request timeout of every call to etcd. Start fails after it, never hangs.
  std::chrono::milliseconds etcd_timeout{3000};
  /// dns, test hook: resolves a host name to its addresses (IPv4 dotted or IPv6 text, brackets
  /// optional). Unset: getaddrinfo, every A and AAAA record. Must be thread-safe.
  std::function<Result<std::vector<std::string>>(const std::string& host)> resolver;
};

/// Receives the whole current peer set, sorted by endpoint, one entry per endpoint.
using DiscoveryCallback = std::function<void(std::vector<DiscoveredPeer>)>;

/// A source of the peer set.
///
/// Start() delivers the current set through `on_update` at least once before it returns OK (on
/// the calling thread), then again on every change (from a thread of the source; never twice the
/// same set in a row). Stop() ends it: after Stop returns, no callback runs. Stop is idempotent
/// and is called by the destructor; it must not be called from inside `on_update`.
///
/// Thread-safe. Start may be called again after it failed, not after it succeeded or after Stop.
class Discovery {
 public:
  /// Stops the source (derived classes stop in their own destructor).
  virtual ~Discovery();

  /// "static", "dns" or "etcd".
  [[nodiscard]] virtual std::string_view scheme() const = 0;
  /// The URL the source was made from (for logs and JSON).
  [[nodiscard]] virtual std::string describe() const = 0;

  /// Starts delivering the peer set to `on_update` (see the class comment). Returns kUnavailable
  /// (message naming the URL) when the source cannot produce a first set: a DNS name that does
  /// not resolve, an etcd that does not answer within DiscoveryOptions::etcd_timeout.
  /// kFailedPrecondition when already started or stopped.
  [[nodiscard]] virtual Status Start(DiscoveryCallback on_update) = 0;

  /// Stops delivering; returns once no callback runs any more. Idempotent.
  virtual void Stop() = 0;
};

/// Makes the source a discovery URL names:
///  - `static:A,B,C`: a fixed list of endpoints (comma separated, each non-empty);
///  - `dns:///NAME:PORT`: every A/AAAA record of NAME as `ADDR:PORT` (gRPC), resolved again every
///    `options.dns_refresh`; `dns:///NAME:PORT?scheme=S` with S one of grpc, http, https,
///    http+json, https+json makes each endpoint `S://ADDR:PORT` instead (grpc: bare);
///  - `etcd://HOST:PORT/PREFIX`: every key under PREFIX/ in that etcd (v3 JSON gateway over plain
///    HTTP), whose values peers write with EtcdRegistration.
/// Schemes are case-insensitive. Nothing is contacted before Start.
/// Returns kInvalidArgument, message naming `url` and what is wrong, for an empty URL, an unknown
/// scheme, an empty list or list element, a missing host or port, a port outside 1..65535, an
/// unknown query, or an empty etcd prefix. Thread-safe.
[[nodiscard]] Result<std::unique_ptr<Discovery>> MakeDiscovery(std::string_view url,
                                                               DiscoveryOptions options = {});

/// A source that delivers `endpoints` once, at Start. kInvalidArgument for an empty list or an
/// empty element. Thread-safe.
[[nodiscard]] Result<std::unique_ptr<Discovery>> MakeStaticDiscovery(
    std::vector<std::string> endpoints);

}  // namespace blazen::client::pool
