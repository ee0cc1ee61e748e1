// SPDX-License-Identifier: Apache-2.0
// The grpc::Server of a node, behind ServerTransport.

#include "server/transport/grpc/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <limits>
#include <mutex>

#include "core/logging.h"
#include "server/detail/listen_address.h"

namespace blazen::server::grpc_transport {
namespace {

// The host of a listen address as a client dials it (wildcards become 127.0.0.1).
std::string DialHostOf(const std::string& listen_address) {
  const auto colon = listen_address.rfind(':');
  return detail::DialHost(colon == std::string::npos ? listen_address
                                                     : listen_address.substr(0, colon));
}

std::shared_ptr<grpc::ServerCredentials> Credentials(const GrpcTransportOptions& options) {
  if (!options.tls) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = options.tls->ca_pem;
  ssl.pem_key_cert_pairs.push_back({options.tls->private_key_pem, options.tls->cert_chain_pem});
  return grpc::SslServerCredentials(ssl);
}

class GrpcTransport final : public ServerTransport {
 public:
  GrpcTransport(GrpcTransportOptions options, std::unique_ptr<BlazenPeerService> service,
                std::unique_ptr<grpc::Server> server, int port)
      : options_(std::move(options)),
        service_(std::move(service)),
        server_(std::move(server)),
        port_(port) {}

  ~GrpcTransport() override {
    Shutdown(std::chrono::system_clock::now());
    Wait();
  }

  std::string_view name() const override { return "grpc"; }
  int port() const override { return port_; }
  std::string endpoint() const override {
    return std::string(options_.tls ? "https://" : "http://") +
           DialHostOf(options_.listen_address) + ":" + std::to_string(port_);
  }

  void BeginShutdown() override {
    if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  }

  // In-flight calls get until `deadline`; then gRPC cancels them, which cancels their runs.
  void Shutdown(std::chrono::system_clock::time_point deadline) override {
    std::call_once(shutdown_once_, [&] {
      BeginShutdown();
      server_->Shutdown(deadline);
    });
  }

  void Wait() override {
    std::call_once(wait_once_, [&] { server_->Wait(); });
  }

 private:
  GrpcTransportOptions options_;
  std::unique_ptr<BlazenPeerService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::once_flag shutdown_once_;
  std::once_flag wait_once_;
};

}  // namespace

Result<std::unique_ptr<ServerTransport>> StartGrpcTransport(
    GrpcTransportOptions options, std::shared_ptr<detail::PeerOperations> ops) {
  const std::string node_id = ops->node_id();
  const bool token = ops->requires_token();
  auto service = std::make_unique<BlazenPeerService>(options.service, std::move(ops));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, Credentials(options), &port);
  builder.RegisterService(service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<std::size_t>(options.max_request_bytes, std::numeric_limits<int>::max())));
  builder.SetMaxSendMessageSize(-1);  // deref payloads may be large; our client lifts its limit
  // Without this, gRPC binds with SO_REUSEPORT and a second peer on the same port would silently
  // share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return Status::Unavailable("cannot listen on " + options.listen_address +
                               " (address in use, invalid, or not permitted)");
  }
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(true);
  BLAZEN_LOG_INFO("[{}] serving blazen.peer.v1 on {}:{} ({}{})", node_id,
                  DialHostOf(options.listen_address), port, options.tls ? "mTLS" : "h2c plaintext",
                  token ? ", token required" : "");
  return std::unique_ptr<ServerTransport>(
      new GrpcTransport(std::move(options), std::move(service), std::move(server), port));
}

}  // namespace blazen::server::grpc_transport
