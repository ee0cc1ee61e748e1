// SPDX-License-Identifier: Apache-2.0
// EtcdRegistration: grant, put, renew every ttl/3 on a thread, register again when the lease is
// lost, revoke on Stop.

#include "client/pool/discovery/etcd_registration.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "client/pool/discovery/detail/discovery_url.h"
#include "client/pool/discovery/detail/etcd_codec.h"
#include "client/pool/discovery/etcd_client.h"
#include "core/logging.h"

namespace blazen::client::pool {

struct EtcdRegistration::Impl {
  Impl(EtcdRegistrationOptions opts, detail::EtcdAddress address, std::string key_in)
      : options(std::move(opts)),
        key(std::move(key_in)),
        value(detail::EncodePeerValue(options.self)),
        client(address.server.host, address.server.port, options.timeout) {}

  // Grants a lease and puts the key with it; returns the lease.
  Result<std::int64_t> Register() {
    BLAZEN_ASSIGN_OR_RETURN(const std::int64_t granted, client.Grant(options.ttl));
    if (Status put = client.Put(key, value, granted); !put.ok()) {
      client.Revoke(granted).IgnoreError();  // best effort: it expires anyway
      return put;
    }
    return granted;
  }

  void Run() {
    const auto period = std::max<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options.ttl) / 3,
        std::chrono::milliseconds(100));
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, period, [this] { return stopping; })) {
      const std::int64_t current = lease;
      lock.unlock();
      Renew(current);
      lock.lock();
    }
  }

  // One renewal of `current`; registers again when it is gone.
  void Renew(std::int64_t current) {
    Result<std::int64_t> renewed = client.KeepAliveOnce(current);
    if (renewed.ok()) return;
    if (renewed.status().code() != StatusCode::kNotFound) {
      BLAZEN_LOG_WARN("etcd registration of '{}': {}; retrying", key, renewed.status().message());
      return;
    }
    BLAZEN_LOG_WARN("etcd registration of '{}': lease {} is gone; registering again", key, current);
    Result<std::int64_t> fresh = Register();
    if (!fresh.ok()) {
      BLAZEN_LOG_WARN("etcd registration of '{}': {}; retrying", key, fresh.status().message());
      return;
    }
    std::lock_guard lock(mu);
    lease = *fresh;
    ++reregistrations;
  }

  const EtcdRegistrationOptions options;
  const std::string key;
  const std::string value;
  EtcdClient client;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::int64_t lease = 0;
  std::uint64_t reregistrations = 0;

  std::mutex stop_mu;
  bool stopped = false;
  std::thread thread;
};

Result<std::unique_ptr<EtcdRegistration>> EtcdRegistration::Start(EtcdRegistrationOptions options) {
  BLAZEN_ASSIGN_OR_RETURN(detail::EtcdAddress address, detail::ParseEtcdUrl(options.etcd_url));
  if (!address.prefix.empty()) {
    return Status::InvalidArgument("invalid etcd URL '" + options.etcd_url +
                                   "': no path allowed (the key prefix is a separate option)");
  }
  Result<std::string> prefix = detail::NormalizeEtcdPrefix(options.prefix);
  if (!prefix.ok()) {
    return Status::InvalidArgument("invalid etcd key prefix '" + options.prefix +
                                   "': " + prefix.status().message());
  }
  if (options.self.node_id.empty()) {
    return Status::InvalidArgument("etcd registration needs a node id");
  }
  if (options.self.endpoint.empty()) {
    return Status::InvalidArgument("etcd registration needs an endpoint");
  }
  if (options.ttl < std::chrono::seconds(1)) {
    return Status::InvalidArgument("etcd registration TTL must be at least 1 s");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("etcd registration timeout must be positive");
  }
  std::string key = *prefix + "/" + options.self.node_id;
  const std::string url = options.etcd_url;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(address), std::move(key));
  Result<std::int64_t> lease = impl->Register();
  if (!lease.ok()) {
    return Status::Unavailable("etcd registration at '" + url + "': " + lease.status().message());
  }
  impl->lease = *lease;
  BLAZEN_LOG_INFO("registered '{}' in etcd at '{}' (lease {}, TTL {} s)", impl->key, url, *lease,
                  impl->options.ttl.count());
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<EtcdRegistration>(new EtcdRegistration(std::move(impl)));
}

EtcdRegistration::EtcdRegistration(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EtcdRegistration::~EtcdRegistration() { Stop(); }

void EtcdRegistration::Stop() {
  std::lock_guard stop_lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::int64_t lease = 0;
  {
    std::lock_guard lock(impl_->mu);
    lease = std::exchange(impl_->lease, 0);
  }
  if (lease == 0) return;
  if (Status revoked = impl_->client.Revoke(lease);
      !revoked.ok() && revoked.code() != StatusCode::kNotFound) {
    BLAZEN_LOG_WARN("etcd registration of '{}': {}; the key expires with its lease", impl_->key,
                    revoked.message());
    return;
  }
  BLAZEN_LOG_INFO("deregistered '{}' from etcd", impl_->key);
}

const std::string& EtcdRegistration::key() const { return impl_->key; }

std::int64_t EtcdRegistration::lease_id() const {
  std::lock_guard lock(impl_->mu);
  return impl_->lease;
}

std::uint64_t EtcdRegistration::reregistrations() const {
  std::lock_guard lock(impl_->mu);
  return impl_->reregistrations;
}

}  // namespace blazen::client::pool
