// SPDX-License-Identifier: Apache-2.0
// PeerNode: wires registry, engine and the gRPC service together and owns the server's lifetime.

#include "server/peer_node.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "core/builtin_steps.h"
#include "core/logging.h"
#include "server/detail/grpc_service.h"
#include "server/detail/http_service.h"
#include "server/gpu_steps.h"

namespace blazen::server {

struct PeerNode::Impl {
  PeerNodeOptions options;
  std::shared_ptr<gpu::GpuRuntime> runtime;
  std::shared_ptr<NodeServices> services;
  std::shared_ptr<SessionRefRegistry> refs;
  std::shared_ptr<Engine> engine;
  std::unique_ptr<detail::BlazenPeerService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
  std::unique_ptr<detail::HttpService> http;

  std::once_flag shutdown_once;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
};

namespace {

std::shared_ptr<grpc::ServerCredentials> Credentials(const PeerNodeOptions& options) {
  if (!options.tls) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = options.tls->ca_pem;
  ssl.pem_key_cert_pairs.push_back({options.tls->private_key_pem, options.tls->cert_chain_pem});
  return grpc::SslServerCredentials(ssl);
}

std::string HostOf(const std::string& address) {
  const auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host = "127.0.0.1";
  return host;
}

}  // namespace

Result<std::unique_ptr<PeerNode>> PeerNode::Start(PeerNodeOptions options) {
  if (options.node_id.empty()) return Status::InvalidArgument("node id must not be empty");
  if (options.token && options.token->empty()) options.token.reset();
  auto impl = std::make_unique<Impl>();
  BLAZEN_ASSIGN_OR_RETURN(impl->runtime, gpu::GpuRuntime::Create(options.gpu));
  impl->services = std::make_shared<NodeServices>();
  impl->services->runtime = impl->runtime;
  BLAZEN_ASSIGN_OR_RETURN(impl->services->embedding, EmbeddingModel::Create(options.embedding));
  RegistryOptions registry = options.registry;
  if (impl->runtime->is_cuda()) {
    // Device refs are bounded by the pool's budget (which the pool enforces as well).
    registry.max_bytes_per_location.try_emplace(impl->runtime->location(),
                                                impl->runtime->budget_bytes());
  }
  impl->refs = options.session_refs != nullptr
                   ? options.session_refs
                   : std::make_shared<SessionRefRegistry>(std::move(registry));
  EngineOptions engine_options = options.engine;
  engine_options.node_id = options.node_id;
  engine_options.services = impl->services;
  impl->engine = std::make_shared<Engine>(std::move(engine_options), impl->refs);
  AddBuiltinWorkflows(*impl->engine);
  AddGpuWorkflows(*impl->engine);

  detail::ServiceOptions service_options;
  service_options.node_id = options.node_id;
  service_options.token = options.token;
  service_options.default_chunk_bytes = options.default_chunk_bytes;
  service_options.max_chunk_bytes = std::max(options.max_chunk_bytes, options.default_chunk_bytes);
  service_options.stream_buffers = options.stream_buffers;
  service_options.runtime = impl->runtime;
  service_options.metrics = impl->metrics;
  impl->service = std::make_unique<detail::BlazenPeerService>(service_options, impl->engine);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, Credentials(options), &impl->port);
  builder.RegisterService(impl->service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<std::size_t>(options.max_request_bytes, std::numeric_limits<int>::max())));
  builder.SetMaxSendMessageSize(-1);  // deref payloads may be large; our client lifts its limit
  // Without this, gRPC binds with SO_REUSEPORT and a second peer on the same port would silently
  // share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    impl->engine->Shutdown(std::chrono::milliseconds(0));
    return Status::Unavailable("cannot listen on " + options.listen_address +
                               " (address in use, invalid, or not permitted)");
  }
  if (options.http_listen_address) {
    detail::HttpServiceOptions http;
    http.node_id = options.node_id;
    http.listen_address = *options.http_listen_address;
    http.tls = options.tls;
    http.token = options.token;
    http.max_request_bytes = options.max_request_bytes;
    http.threads = options.http_threads;
    http.max_json_deref_bytes = options.http_max_json_deref_bytes;
    http.chunk_bytes = options.default_chunk_bytes;
    http.runtime = impl->runtime;
    http.metrics = impl->metrics;
    Result<std::unique_ptr<detail::HttpService>> started =
        detail::HttpService::Start(std::move(http), impl->engine);
    if (!started.ok()) {
      impl->server->Shutdown(std::chrono::system_clock::now());
      impl->engine->Shutdown(std::chrono::milliseconds(0));
      impl->server->Wait();
      return started.status();
    }
    impl->http = std::move(started).value();
  }
  if (auto* health = impl->server->GetHealthCheckService()) {
    health->SetServingStatus(true);
  }
  BLAZEN_LOG_INFO("[{}] serving blazen.peer.v1 on {}:{} ({}{}), {} workers", options.node_id,
                  HostOf(options.listen_address), impl->port,
                  options.tls ? "mTLS" : "h2c plaintext", options.token ? ", token required" : "",
                  options.engine.worker_threads);
  impl->options = std::move(options);
  return std::unique_ptr<PeerNode>(new PeerNode(std::move(impl)));
}

PeerNode::PeerNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerNode::~PeerNode() { Shutdown(std::chrono::milliseconds(0)); }

int PeerNode::port() const { return impl_->port; }

int PeerNode::http_port() const { return impl_->http ? impl_->http->port() : 0; }

std::string PeerNode::http_endpoint() const {
  if (!impl_->http) return "";
  return std::string(impl_->options.tls ? "https://" : "http://") +
         HostOf(*impl_->options.http_listen_address) + ":" + std::to_string(impl_->http->port());
}

std::string PeerNode::endpoint() const {
  return std::string(impl_->options.tls ? "https://" : "http://") +
         HostOf(impl_->options.listen_address) + ":" + std::to_string(impl_->port);
}

const PeerNodeOptions& PeerNode::options() const { return impl_->options; }

void PeerNode::Shutdown(std::chrono::milliseconds grace) {
  std::call_once(impl_->shutdown_once, [this, grace] {
    BLAZEN_LOG_INFO("[{}] shutting down (grace {} ms, {} runs in flight)", impl_->options.node_id,
                    grace.count(), impl_->engine->active_runs());
    if (auto* health = impl_->server->GetHealthCheckService()) health->SetServingStatus(false);
    // HTTP stops accepting now and waits for its in-flight requests on a thread of its own, so
    // they get the same grace as gRPC's; the engine shutdown below ends runs still going.
    std::future<void> http_stopped;
    if (impl_->http) {
      impl_->http->BeginShutdown();
      http_stopped = std::async(std::launch::async, [this] { impl_->http->Stop(); });
    }
    // In-flight calls get `grace` to finish; then gRPC cancels them, which cancels their runs.
    const auto deadline = std::chrono::system_clock::now() + grace;
    impl_->server->Shutdown(deadline);
    if (http_stopped.valid()) http_stopped.wait_until(deadline);
    impl_->engine->Shutdown(std::chrono::milliseconds(0));
    impl_->server->Wait();
    if (http_stopped.valid()) http_stopped.wait();
    {
      std::lock_guard lock(impl_->mu);
      impl_->stopped = true;
    }
    impl_->cv.notify_all();
    BLAZEN_LOG_INFO("[{}] stopped", impl_->options.node_id);
  });
}

void PeerNode::Wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->stopped; });
}

Engine& PeerNode::engine() { return *impl_->engine; }
SessionRefRegistry& PeerNode::session_refs() { return *impl_->refs; }
gpu::GpuRuntime& PeerNode::gpu_runtime() { return *impl_->runtime; }
Metrics& PeerNode::metrics() { return *impl_->metrics; }
const std::shared_ptr<Metrics>& PeerNode::metrics_ptr() const { return impl_->metrics; }

}  // namespace blazen::server
