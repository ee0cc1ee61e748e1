// SPDX-License-Identifier: Apache-2.0
// The dns:/// discovery source: getaddrinfo (or an injected resolver) on a refresh thread.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "client/pool/discovery/detail/peer_set.h"
#include "client/pool/discovery/detail/sources.h"
#include "core/logging.h"

namespace blazen::client::pool::detail {
namespace {

class DnsSource final : public Discovery {
 public:
  DnsSource(std::string url, HostPort target, std::string endpoint_scheme, DiscoveryOptions options)
      : url_(std::move(url)),
        target_(std::move(target)),
        endpoint_scheme_(std::move(endpoint_scheme)),
        options_(std::move(options)) {
    if (!options_.resolver) options_.resolver = ResolveHost;
  }
  ~DnsSource() override { Stop(); }

  std::string_view scheme() const override { return "dns"; }
  std::string describe() const override { return url_; }

  Status Start(DiscoveryCallback on_update) override {
    {
      std::lock_guard lock(mu_);
      if (started_ || stopping_) {
        return Status::FailedPrecondition("discovery '" + url_ + "' was already started");
      }
      started_ = true;
    }
    publisher_.Open(std::move(on_update));
    Result<std::vector<DiscoveredPeer>> peers = Resolve();
    if (!peers.ok()) {
      // Nothing was delivered; a later Start may try again.
      std::lock_guard lock(mu_);
      started_ = false;
      return Status::Unavailable("dns discovery '" + url_ + "': " + peers.status().message());
    }
    publisher_.Publish(*std::move(peers));
    std::lock_guard lock(mu_);
    if (!stopping_) thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    publisher_.Close();
    std::lock_guard join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  // The endpoints the name resolves to now.
  Result<std::vector<DiscoveredPeer>> Resolve() const {
    Result<std::vector<std::string>> addresses = options_.resolver(target_.host);
    if (!addresses.ok()) return addresses.status();
    if (addresses->empty()) {
      return Status::Unavailable("'" + target_.host + "' resolved to no address");
    }
    std::vector<DiscoveredPeer> peers;
    for (const std::string& address : *addresses) {
      if (address.empty()) continue;
      const bool v6 = address.find(':') != std::string::npos && address.front() != '[';
      DiscoveredPeer peer;
      peer.endpoint = (endpoint_scheme_.empty() ? "" : endpoint_scheme_ + "://") +
                      (v6 ? "[" + address + "]" : address) + ":" + std::to_string(target_.port);
      peers.push_back(std::move(peer));
    }
    return peers;
  }

  void Run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (cv_.wait_for(lock, options_.dns_refresh, [this] { return stopping_; })) break;
      lock.unlock();
      Result<std::vector<DiscoveredPeer>> peers = Resolve();
      if (peers.ok()) {
        publisher_.Publish(*std::move(peers));
      } else {
        BLAZEN_LOG_WARN("dns discovery '{}': {}; keeping the last peer set", url_,
                        peers.status().message());
      }
      lock.lock();
    }
  }

  const std::string url_;
  const HostPort target_;
  const std::string endpoint_scheme_;
  DiscoveryOptions options_;
  PeerSetPublisher publisher_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace

Result<std::vector<std::string>> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    return Status::Unavailable("cannot resolve '" + host + "': " + ::gai_strerror(rc));
  }
  std::vector<std::string> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = nullptr;
    if (ai->ai_family == AF_INET) {
      addr = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
    } else if (ai->ai_family == AF_INET6) {
      addr = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    if (::inet_ntop(ai->ai_family, addr, text, sizeof(text)) == nullptr) continue;
    std::string address(text);
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(std::move(address));
  }
  ::freeaddrinfo(list);
  if (out.empty()) return Status::Unavailable("'" + host + "' resolved to no address");
  return out;
}

std::unique_ptr<Discovery> MakeDnsSource(std::string url, HostPort target,
                                         std::string endpoint_scheme, DiscoveryOptions options) {
  return std::make_unique<DnsSource>(std::move(url), std::move(target), std::move(endpoint_scheme),
                                     std::move(options));
}

}  // namespace blazen::client::pool::detail
