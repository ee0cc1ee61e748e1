// SPDX-License-Identifier: Apache-2.0
// The transport registry behind ConnectPeer and its built-in gRPC and HTTP/JSON entries.

#include "client/connect.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/peer_error.h"

namespace blazen::client {
namespace {

constexpr std::string_view kSchemeSeparator = "://";

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). Empty stands for bare endpoints.
bool IsScheme(std::string_view scheme) {
  if (scheme.empty()) return true;
  if (std::isalpha(static_cast<unsigned char>(scheme.front())) == 0) return false;
  return std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
  });
}

// The scheme of `url`, lower case; empty for a URL without "://" (a bare host:port).
std::string SchemeOf(std::string_view url) {
  const std::size_t separator = url.find(kSchemeSeparator);
  return separator == std::string_view::npos ? std::string() : Lower(url.substr(0, separator));
}

// "host:port, http://, ..." for error messages.
std::string Describe(const std::vector<std::string>& schemes) {
  std::string out;
  for (const std::string& scheme : schemes) {
    if (!out.empty()) out += ", ";
    out += scheme.empty() ? "host:port" : scheme + std::string(kSchemeSeparator);
  }
  return out.empty() ? "none" : out;
}

std::unique_ptr<PeerClient> ConnectGrpc(const std::string& url, std::string node_id,
                                        const ConnectOptions& options) {
  return BlazenPeerClient::Connect(url, std::move(node_id), ToClientOptions(options));
}

// `http+json://rest` -> `http://rest`, `https+json://rest` -> `https://rest`.
std::unique_ptr<PeerClient> ConnectHttpJson(const std::string& url, std::string node_id,
                                            const ConnectOptions& options) {
  const std::size_t separator = url.find(kSchemeSeparator);
  const std::string scheme = SchemeOf(url);
  const std::string base_url =
      scheme.substr(0, scheme.find('+')) + url.substr(separator);  // "http" / "https" + "://..."
  return HttpPeerClient::NewHttp(base_url, std::move(node_id), ToHttpClientOptions(options));
}

}  // namespace

ClientOptions ToClientOptions(const ConnectOptions& options) {
  ClientOptions out;
  out.tls = options.tls;
  out.token = options.token;
  out.token_from_env = options.token_from_env;
  out.parent_run_id = options.parent_run_id;
  out.connect_timeout = options.connect_timeout;
  out.default_deadline = options.default_deadline;
  out.chunk_bytes = options.chunk_bytes;
  out.parallel_streams = options.parallel_streams;
  out.parallel_threshold_bytes = options.parallel_threshold_bytes;
  out.max_resume_attempts = options.max_resume_attempts;
  return out;
}

HttpClientOptions ToHttpClientOptions(const ConnectOptions& options) {
  HttpClientOptions out;
  out.tls = options.tls;
  out.token = options.token;
  out.token_from_env = options.token_from_env;
  out.parent_run_id = options.parent_run_id;
  out.connect_timeout = options.connect_timeout;
  out.read_timeout = options.read_timeout;
  out.max_resume_attempts = options.max_resume_attempts;
  return out;
}

// --- PeerTransportRegistry -----------------------------------------------------------------------

void PeerTransportRegistry::Register(std::string_view scheme, PeerTransportFactory factory) {
  if (!IsScheme(scheme)) {
    throw TransportError(StatusCode::kInvalidArgument,
                         "'" + std::string(scheme) + "' is not a URL scheme");
  }
  if (!factory) {
    throw TransportError(StatusCode::kInvalidArgument,
                         "no factory given for peer URL scheme '" + std::string(scheme) + "'");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!factories_.emplace(Lower(scheme), std::move(factory)).second) {
    throw TransportError(StatusCode::kAlreadyExists,
                         "peer URL scheme '" + std::string(scheme) + "' is already registered");
  }
}

std::unique_ptr<PeerClient> PeerTransportRegistry::Connect(const std::string& url,
                                                           std::string node_id,
                                                           const ConnectOptions& options) const {
  PeerTransportFactory factory;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = factories_.find(SchemeOf(url)); it != factories_.end()) factory = it->second;
  }
  if (!factory) {
    throw TransportError(
        StatusCode::kInvalidArgument,
        "unsupported scheme in peer URL '" + url + "' (known: " + Describe(schemes()) + ")");
  }
  std::unique_ptr<PeerClient> client = factory(url, std::move(node_id), options);
  if (client == nullptr) {
    throw TransportError(StatusCode::kInternal,
                         "the transport of peer URL '" + url + "' made no client");
  }
  return client;
}

std::vector<std::string> PeerTransportRegistry::schemes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(factories_.size());
  for (const auto& [scheme, factory] : factories_) out.push_back(scheme);
  return out;
}

// --- Built-ins and the default registry ----------------------------------------------------------

void RegisterBuiltinPeerTransports(PeerTransportRegistry& registry) {
  for (const char* scheme : {"", "http", "https"}) registry.Register(scheme, ConnectGrpc);
  for (const char* scheme : {"http+json", "https+json"}) {
    registry.Register(scheme, ConnectHttpJson);
  }
}

PeerTransportRegistry& DefaultPeerTransportRegistry() {
  // Built on first use (thread-safe static initialization) and never destroyed, so that clients
  // connecting from other static destructors still find it.
  static PeerTransportRegistry* const registry = [] {
    auto* built = new PeerTransportRegistry();
    RegisterBuiltinPeerTransports(*built);
    return built;
  }();
  return *registry;
}

std::unique_ptr<PeerClient> ConnectPeer(const std::string& url, std::string node_id,
                                        const ConnectOptions& options) {
  return DefaultPeerTransportRegistry().Connect(url, std::move(node_id), options);
}

void RegisterPeerTransport(std::string_view scheme, PeerTransportFactory factory) {
  DefaultPeerTransportRegistry().Register(scheme, std::move(factory));
}

}  // namespace blazen::client
