// SPDX-License-Identifier: Apache-2.0
// PeerNode: builds registry, engine and PeerOperations, and composes the node's transports.

#include "server/peer_node.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "client/pool/discovery/etcd_registration.h"
#include "core/builtin_steps.h"
#include "core/logging.h"
#include "server/detail/peer_operations.h"
#include "server/gpu_steps.h"
#include "server/transport/grpc/grpc_server.h"
#include "server/transport/http/http_service.h"

namespace blazen::server {

struct PeerNode::Impl {
  PeerNodeOptions options;
  std::shared_ptr<gpu::GpuRuntime> runtime;
  std::shared_ptr<NodeServices> services;
  std::shared_ptr<SessionRefRegistry> refs;
  std::shared_ptr<Engine> engine;
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
  std::shared_ptr<detail::PeerOperations> ops;
  // Every transport the node serves; the gRPC one first. Destroyed before the operations.
  std::vector<std::unique_ptr<ServerTransport>> transports;
  ServerTransport* grpc = nullptr;
  ServerTransport* http = nullptr;
  // The etcd registration (with PeerNodeOptions::etcd_url), stopped first at shutdown.
  std::unique_ptr<client::pool::EtcdRegistration> registration;

  std::once_flag shutdown_once;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;

  Status BuildCore();
  Status StartTransports();
  Status Register();
};

namespace {

// The capacity weight a node reports when it is not given one: 1 on the host fallback, the GPU's
// memory in units of 16 GiB (at least 1) on a CUDA device.
double DefaultCapacityWeight(const gpu::GpuRuntime& runtime) {
  if (!runtime.is_cuda()) return 1.0;
  constexpr double kUnit = 16.0 * (1ull << 30);
  return std::max(1.0, static_cast<double>(runtime.total_memory_bytes()) / kUnit);
}

}  // namespace

Status PeerNode::Impl::BuildCore() {
  if (options.capacity_weight && !(*options.capacity_weight > 0)) {
    return Status::InvalidArgument("capacity weight must be a positive number");
  }
  if (!(options.slowdown > 0)) return Status::InvalidArgument("slowdown must be positive");
  BLAZEN_ASSIGN_OR_RETURN(runtime, gpu::GpuRuntime::Create(options.gpu));
  services = std::make_shared<NodeServices>();
  services->runtime = runtime;
  services->slowdown = options.slowdown;
  BLAZEN_ASSIGN_OR_RETURN(services->embedding, EmbeddingModel::Create(options.embedding));
  RegistryOptions registry = options.registry;
  if (runtime->is_cuda()) {
    // Device refs are bounded by the pool's budget (which the pool enforces as well).
    registry.max_bytes_per_location.try_emplace(runtime->location(), runtime->budget_bytes());
  }
  refs = options.session_refs != nullptr
             ? options.session_refs
             : std::make_shared<SessionRefRegistry>(std::move(registry));
  EngineOptions engine_options = options.engine;
  engine_options.node_id = options.node_id;
  engine_options.services = services;
  engine = std::make_shared<Engine>(std::move(engine_options), refs);
  AddBuiltinWorkflows(*engine);
  AddGpuWorkflows(*engine);

  detail::PeerOperationsOptions ops_options;
  ops_options.node_id = options.node_id;
  ops_options.token = options.token;
  ops_options.runtime = runtime;
  ops_options.metrics = metrics;
  ops_options.labels = options.labels;
  ops_options.capacity_weight = options.capacity_weight.value_or(DefaultCapacityWeight(*runtime));
  ops = std::make_shared<detail::PeerOperations>(std::move(ops_options), engine);
  return Status::Ok();
}

Status PeerNode::Impl::StartTransports() {
  grpc_transport::GrpcTransportOptions grpc_options;
  grpc_options.listen_address = options.listen_address;
  grpc_options.tls = options.tls;
  grpc_options.max_request_bytes = options.max_request_bytes;
  grpc_options.service.default_chunk_bytes = options.default_chunk_bytes;
  grpc_options.service.max_chunk_bytes =
      std::max(options.max_chunk_bytes, options.default_chunk_bytes);
  grpc_options.service.stream_buffers = options.stream_buffers;
  BLAZEN_ASSIGN_OR_RETURN(std::unique_ptr<ServerTransport> grpc_server,
                          grpc_transport::StartGrpcTransport(std::move(grpc_options), ops));
  grpc = grpc_server.get();
  transports.push_back(std::move(grpc_server));

  if (options.http_listen_address) {
    http_transport::HttpServiceOptions http_options;
    http_options.listen_address = *options.http_listen_address;
    http_options.tls = options.tls;
    http_options.max_request_bytes = options.max_request_bytes;
    http_options.threads = options.http_threads;
    http_options.max_json_deref_bytes = options.http_max_json_deref_bytes;
    http_options.chunk_bytes = options.default_chunk_bytes;
    BLAZEN_ASSIGN_OR_RETURN(std::unique_ptr<http_transport::HttpService> http_server,
                            http_transport::HttpService::Start(std::move(http_options), ops));
    http = http_server.get();
    transports.push_back(std::move(http_server));
  }
  return Status::Ok();
}

Status PeerNode::Impl::Register() {
  if (!options.etcd_url) return Status::Ok();
  client::pool::EtcdRegistrationOptions etcd;
  etcd.etcd_url = *options.etcd_url;
  etcd.prefix = options.etcd_prefix;
  etcd.ttl = options.etcd_ttl;
  etcd.self.endpoint = options.advertise_endpoint.value_or(grpc->endpoint());
  etcd.self.node_id = options.node_id;
  etcd.self.labels = options.labels;
  etcd.self.capacity_weight = options.capacity_weight.value_or(DefaultCapacityWeight(*runtime));
  BLAZEN_ASSIGN_OR_RETURN(registration, client::pool::EtcdRegistration::Start(std::move(etcd)));
  return Status::Ok();
}

Result<std::unique_ptr<PeerNode>> PeerNode::Start(PeerNodeOptions options) {
  if (options.node_id.empty()) return Status::InvalidArgument("node id must not be empty");
  if (options.token && options.token->empty()) options.token.reset();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  BLAZEN_RETURN_IF_ERROR(impl->BuildCore());
  Status st = impl->StartTransports();
  if (st.ok()) st = impl->Register();
  if (!st.ok()) {
    for (auto& transport : impl->transports) {
      transport->Shutdown(std::chrono::system_clock::now());
    }
    impl->engine->Shutdown(std::chrono::milliseconds(0));
    impl->transports.clear();
    return st;
  }
  BLAZEN_LOG_INFO("[{}] {} transport(s), {} workers", impl->options.node_id,
                  impl->transports.size(), impl->options.engine.worker_threads);
  return std::unique_ptr<PeerNode>(new PeerNode(std::move(impl)));
}

PeerNode::PeerNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerNode::~PeerNode() { Shutdown(std::chrono::milliseconds(0)); }

int PeerNode::port() const { return impl_->grpc->port(); }

int PeerNode::http_port() const { return impl_->http ? impl_->http->port() : 0; }

std::string PeerNode::http_endpoint() const {
  return impl_->http ? impl_->http->endpoint() : std::string();
}

std::string PeerNode::endpoint() const { return impl_->grpc->endpoint(); }

const PeerNodeOptions& PeerNode::options() const { return impl_->options; }

void PeerNode::Shutdown(std::chrono::milliseconds grace) {
  std::call_once(impl_->shutdown_once, [this, grace] {
    // Leave the fleet first, so that routers stop sending before the drain.
    if (impl_->registration != nullptr) impl_->registration->Stop();
    BLAZEN_LOG_INFO("[{}] shutting down (grace {} ms, {} runs in flight)", impl_->options.node_id,
                    grace.count(), impl_->engine->active_runs());
    for (auto& transport : impl_->transports) transport->BeginShutdown();
    // Every transport stops accepting now and gives its in-flight calls the same grace, each on
    // a thread of its own; then the engine ends the runs still going (which lets the calls
    // waiting on them finish).
    const auto deadline = std::chrono::system_clock::now() + grace;
    std::vector<std::future<void>> stopping;
    for (auto& transport : impl_->transports) {
      ServerTransport* t = transport.get();
      stopping.push_back(std::async(std::launch::async, [t, deadline] { t->Shutdown(deadline); }));
    }
    for (auto& f : stopping) f.wait_until(deadline);
    impl_->engine->Shutdown(std::chrono::milliseconds(0));
    for (auto& f : stopping) f.wait();
    for (auto& transport : impl_->transports) transport->Wait();
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
