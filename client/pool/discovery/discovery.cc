// SPDX-License-Identifier: Apache-2.0
// MakeDiscovery: the discovery URL grammar, and the static source.

#include "client/pool/discovery/discovery.h"

#include <mutex>
#include <utility>

#include "client/pool/discovery/detail/discovery_url.h"
#include "client/pool/discovery/detail/peer_set.h"
#include "client/pool/discovery/detail/sources.h"

namespace blazen::client::pool {

Discovery::~Discovery() = default;

namespace detail {
namespace {

class StaticSource final : public Discovery {
 public:
  StaticSource(std::string url, std::vector<std::string> endpoints)
      : url_(std::move(url)), endpoints_(std::move(endpoints)) {}
  ~StaticSource() override { Stop(); }

  std::string_view scheme() const override { return "static"; }
  std::string describe() const override { return url_; }

  Status Start(DiscoveryCallback on_update) override {
    {
      std::lock_guard lock(mu_);
      if (started_ || stopped_) {
        return Status::FailedPrecondition("discovery '" + url_ + "' was already started");
      }
      started_ = true;
    }
    publisher_.Open(std::move(on_update));
    std::vector<DiscoveredPeer> peers;
    for (const std::string& endpoint : endpoints_) {
      DiscoveredPeer peer;
      peer.endpoint = endpoint;
      peers.push_back(std::move(peer));
    }
    publisher_.Publish(std::move(peers));
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    publisher_.Close();
  }

 private:
  const std::string url_;
  const std::vector<std::string> endpoints_;
  PeerSetPublisher publisher_;
  std::mutex mu_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Discovery> MakeStaticSource(std::string url, std::vector<std::string> endpoints) {
  return std::make_unique<StaticSource>(std::move(url), std::move(endpoints));
}

}  // namespace detail

namespace {

constexpr std::string_view kSchemes = "static:A,B | dns:///NAME:PORT | etcd://HOST:PORT/PREFIX";

Status Invalid(std::string_view url, std::string_view reason) {
  return Status::InvalidArgument("invalid discovery URL '" + std::string(url) +
                                 "': " + std::string(reason));
}

Result<std::unique_ptr<Discovery>> MakeStaticFromUrl(std::string_view url, std::string_view list) {
  if (list.substr(0, 2) == "//") list.remove_prefix(2);
  if (list.empty()) return Invalid(url, "empty endpoint list");
  std::vector<std::string> endpoints;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    const std::string_view element = list.substr(start, comma - start);
    if (element.empty()) {
      return Invalid(url, "endpoint " + std::to_string(endpoints.size() + 1) + " is empty");
    }
    endpoints.emplace_back(element);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return detail::MakeStaticSource(std::string(url), std::move(endpoints));
}

Result<std::unique_ptr<Discovery>> MakeDnsFromUrl(std::string_view url, std::string_view rest,
                                                  DiscoveryOptions options) {
  if (rest.substr(0, 3) != "///") return Invalid(url, "expected dns:///NAME:PORT");
  rest.remove_prefix(3);
  const std::size_t question = rest.find('?');
  const std::string_view authority = rest.substr(0, question);
  if (authority.find_first_of("/#") != std::string_view::npos) {
    return Invalid(url, "expected dns:///NAME:PORT (no path or fragment)");
  }
  BLAZEN_ASSIGN_OR_RETURN(detail::HostPort target,
                          detail::ParseHostPort(authority, url, "discovery URL"));
  std::string endpoint_scheme;
  if (question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    while (true) {
      const std::size_t amp = query.find('&');
      const std::string_view param = query.substr(0, amp);
      const std::size_t eq = param.find('=');
      if (eq == std::string_view::npos || param.substr(0, eq) != "scheme") {
        return Invalid(url, "unknown query parameter '" + std::string(param) +
                                "' (only scheme=grpc|http|https|http+json|https+json)");
      }
      const std::string value = detail::AsciiLower(param.substr(eq + 1));
      if (value == "grpc") {
        endpoint_scheme.clear();
      } else if (value == "http" || value == "https" || value == "http+json" ||
                 value == "https+json") {
        endpoint_scheme = value;
      } else {
        return Invalid(url, "unknown endpoint scheme '" + value +
                                "' (grpc, http, https, http+json or https+json)");
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  if (options.dns_refresh.count() <= 0) return Invalid(url, "the DNS refresh period must be > 0");
  return detail::MakeDnsSource(std::string(url), std::move(target), std::move(endpoint_scheme),
                               std::move(options));
}

Result<std::unique_ptr<Discovery>> MakeEtcdFromUrl(std::string_view url, DiscoveryOptions options) {
  BLAZEN_ASSIGN_OR_RETURN(detail::EtcdAddress address, detail::ParseEtcdUrl(url));
  if (address.prefix.empty()) return Invalid(url, "empty key prefix (etcd://HOST:PORT/PREFIX)");
  if (options.etcd_timeout.count() <= 0) return Invalid(url, "the etcd timeout must be > 0");
  return detail::MakeEtcdSource(std::string(url), std::move(address), std::move(options));
}

}  // namespace

Result<std::unique_ptr<Discovery>> MakeDiscovery(std::string_view url, DiscoveryOptions options) {
  if (url.empty()) {
    return Status::InvalidArgument("invalid discovery URL '': empty (" + std::string(kSchemes) +
                                   ")");
  }
  const std::size_t colon = url.find(':');
  if (colon == std::string_view::npos) {
    return Invalid(url, "missing scheme (" + std::string(kSchemes) + ")");
  }
  const std::string scheme = detail::AsciiLower(url.substr(0, colon));
  const std::string_view rest = url.substr(colon + 1);
  if (scheme == "static") return MakeStaticFromUrl(url, rest);
  if (scheme == "dns") return MakeDnsFromUrl(url, rest, std::move(options));
  if (scheme == "etcd") {
    if (rest.substr(0, 2) != "//") return Invalid(url, "expected etcd://HOST:PORT/PREFIX");
    return MakeEtcdFromUrl(url, std::move(options));
  }
  return Invalid(url, "unknown scheme '" + scheme + "' (" + std::string(kSchemes) + ")");
}

Result<std::unique_ptr<Discovery>> MakeStaticDiscovery(std::vector<std::string> endpoints) {
  if (endpoints.empty()) return Status::InvalidArgument("static discovery: empty endpoint list");
  std::string url = "static:";
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i].empty()) {
      return Status::InvalidArgument("static discovery: endpoint " + std::to_string(i + 1) +
                                     " is empty");
    }
    url += (i == 0 ? "" : ",") + endpoints[i];
  }
  return detail::MakeStaticSource(std::move(url), std::move(endpoints));
}

}  // namespace blazen::client::pool
