// SPDX-License-Identifier: Apache-2.0
#pragma once
// EtcdRegistration: how a peer announces itself to routers that discover through etcd. It keeps
// the key `<prefix>/<node_id>` = JSON {"endpoint","node_id","labels","capacity_weight"} alive under
// a lease: the key vanishes when the registration stops (at once) or when the peer dies (when the
// lease expires, within its TTL).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "client/pool/discovery/discovery.h"
#include "core/status.h"

namespace blazen::client::pool {

/// Settings of an EtcdRegistration. Value type.
struct EtcdRegistrationOptions {
  /// Where etcd listens: `http://HOST:PORT` or `etcd://HOST:PORT` (plain HTTP, no path: the key
  /// prefix is `prefix`).
  std::string etcd_url;
  /// Key prefix; the key is `<prefix>/<self.node_id>` (trailing slashes of the prefix dropped).
  /// Discovery URL of the same peers: `etcd://HOST:PORT<prefix>`.
  std::string prefix = "/blazen/peers";
  /// Lease TTL (at least 1 s): how long the key outlives a peer that stops renewing it. The lease
  /// is renewed every ttl/3.
  std::chrono::seconds ttl{2};
  /// Timeout of each call to etcd (connect and answer).
  std::chrono::milliseconds timeout{3000};
  /// What is registered. `endpoint` and `node_id` must not be empty.
  DiscoveredPeer self;
};

/// A live registration: the key exists while this object does.
///
/// A renewal thread renews the lease every ttl/3. When the lease is gone (it expired while etcd
/// was unreachable, or etcd lost it), it grants a new one and puts the key again. While etcd is
/// unreachable it logs a warning and keeps trying. Stop() (and the destructor) revokes the lease,
/// deleting the key at once.
///
/// Thread-safe; Stop is idempotent.
class EtcdRegistration {
 public:
  /// Grants a lease, puts the key with it and starts renewing it. Returns kInvalidArgument for a
  /// malformed `etcd_url` or prefix, an empty endpoint or node id, or a TTL under 1 s; kUnavailable
  /// (message naming the etcd URL) when etcd does not answer within `timeout` or refuses a call.
  [[nodiscard]] static Result<std::unique_ptr<EtcdRegistration>> Start(
      EtcdRegistrationOptions options);

  /// Stops (see Stop).
  ~EtcdRegistration();
  EtcdRegistration(const EtcdRegistration&) = delete;
  EtcdRegistration& operator=(const EtcdRegistration&) = delete;
  EtcdRegistration(EtcdRegistration&&) = delete;
  EtcdRegistration& operator=(EtcdRegistration&&) = delete;

  /// Stops renewing and revokes the lease, which deletes the key (graceful deregistration). A
  /// failure to revoke is logged; the key then expires with the lease. Idempotent.
  void Stop();

  /// The registered key.
  [[nodiscard]] const std::string& key() const;
  /// The lease the key is attached to now (it changes when the lease is granted again); 0 after
  /// Stop.
  [[nodiscard]] std::int64_t lease_id() const;
  /// How many times the key was put again under a new lease after its lease was found gone.
  [[nodiscard]] std::uint64_t reregistrations() const;

 private:
  struct Impl;
  explicit EtcdRegistration(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen::client::pool
