// SPDX-License-Identifier: Apache-2.0
#pragma once
// EtcdClient: the few etcd v3 calls discovery and registration need (leases, put, prefix range,
// delete, watch), spoken over etcd's JSON gateway (`POST /v3/...`, keys and values base64) with
// plain HTTP. etcd's gRPC API would need its protos, which Debian does not ship.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace blazen::client::pool {

/// One key of etcd. Value type.
struct EtcdKeyValue {
  std::string key;
  std::string value;
  std::int64_t mod_revision = 0;
  /// The lease the key is attached to; 0 for none.
  std::int64_t lease = 0;
};

/// The answer of a range: the keys, and the store revision the answer reflects. Value type.
struct EtcdRangeResult {
  std::vector<EtcdKeyValue> kvs;
  std::int64_t revision = 0;
};

/// One change a watch reports. A delete carries only the key and its mod_revision. Value type.
struct EtcdWatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;
};

/// One message of a watch stream. Value type.
struct EtcdWatchResponse {
  /// The first message: the watch is in place.
  bool created = false;
  /// etcd ended the watch (e.g. its start revision was compacted away: `compact_revision` > 0).
  bool canceled = false;
  std::int64_t compact_revision = 0;
  std::string cancel_reason;
  /// The store revision when the message was sent.
  std::int64_t header_revision = 0;
  std::vector<EtcdWatchEvent> events;
};

/// Ends a Watch in progress from another thread. Once cancelled it stays cancelled: a Watch
/// started with it afterwards returns kCancelled at once. Thread-safe.
class EtcdWatchCancel {
 public:
  EtcdWatchCancel() = default;
  EtcdWatchCancel(const EtcdWatchCancel&) = delete;
  EtcdWatchCancel& operator=(const EtcdWatchCancel&) = delete;

  /// Cancels; returns once the watch using this token (if any) has returned.
  void Cancel();
  [[nodiscard]] bool cancelled() const;

 private:
  friend class EtcdClient;
  // Attaches the connection of a starting watch; false when already cancelled.
  bool Attach(httplib::Client* client);
  void Detach();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  httplib::Client* active_ = nullptr;
};

/// A client of one etcd server. Every call opens its own connection and is bounded by `timeout`
/// (connect, send and each wait for an answer), so a call never hangs. Errors name the call and
/// the server: kUnavailable when etcd cannot be reached or does not answer in time; otherwise the
/// code etcd reports (its gRPC code, numbered as StatusCode) with the HTTP status and etcd's text.
///
/// Thread-safe (calls share nothing).
class EtcdClient {
 public:
  /// A client of the etcd listening on `host`:`port` (IPv6 hosts without brackets).
  EtcdClient(std::string host, int port, std::chrono::milliseconds timeout);

  /// `host:port` of the server, for messages.
  [[nodiscard]] std::string address() const;

  /// Grants a lease of `ttl` (at least 1 s); returns its id.
  [[nodiscard]] Result<std::int64_t> Grant(std::chrono::seconds ttl);
  /// Renews `lease` once; returns the TTL it now has, in seconds. kNotFound when the lease is gone
  /// (expired or revoked).
  [[nodiscard]] Result<std::int64_t> KeepAliveOnce(std::int64_t lease);
  /// Revokes `lease`, deleting every key attached to it. kNotFound when it is already gone.
  [[nodiscard]] Status Revoke(std::int64_t lease);
  /// Sets `key` to `value`, attached to `lease` (0: none). kNotFound when the lease is gone.
  [[nodiscard]] Status Put(const std::string& key, const std::string& value,
                           std::int64_t lease = 0);
  /// Every key starting with `prefix` (non-empty), in key order, and the store revision.
  [[nodiscard]] Result<EtcdRangeResult> Range(const std::string& prefix);
  /// Deletes `key`; returns how many keys were deleted (0 or 1).
  [[nodiscard]] Result<std::int64_t> Delete(const std::string& key);

  /// Watches every key starting with `prefix` from `start_revision` (0: from now), calling
  /// `on_response` with each message of the stream, in order, on the calling thread, until it
  /// returns false (then OK), etcd cancels the watch (kAborted; kOutOfRange when the revision was
  /// compacted), `cancel` is cancelled (kCancelled), the connection breaks (kUnavailable) or no
  /// byte arrives for `idle_timeout` (kDeadlineExceeded; etcd sends nothing while nothing
  /// changes, so the caller simply watches again from where it was).
  [[nodiscard]] Status Watch(const std::string& prefix, std::int64_t start_revision,
                             const std::function<bool(const EtcdWatchResponse&)>& on_response,
                             EtcdWatchCancel& cancel, std::chrono::milliseconds idle_timeout);

 private:
  std::string host_;
  int port_;
  std::chrono::milliseconds timeout_;
};

}  // namespace blazen::client::pool
