// SPDX-License-Identifier: Apache-2.0
// The main job while the peer is being built: a peer and a parent talk over real gRPC (h2c on
// 127.0.0.1). The peer serves InvokeSubWorkflow with the upstream postcard envelope and echoes the
// request's input as the result; the parent offloads a sub-workflow, decodes the response and
// prints it as the HTTP/JSON shape, then shows that a newer envelope version is refused.

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <string>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "core/json.h"
#include "core/json_codec.h"
#include "core/postcard.h"
#include "core/status.h"

namespace {

namespace pb = ::blazen::peer::v1;
using blazen::Result;
using blazen::Status;

grpc::Status ToGrpc(const Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

// A minimal peer: decode, run the echo step, encode. Issue-by-issue this grows into the full
// server (engine, session refs, streaming deref, auth, TLS).
class EchoPeer final : public pb::BlazenPeer::Service {
 public:
  explicit EchoPeer(std::string node_id) : node_id_(std::move(node_id)) {}

  grpc::Status InvokeSubWorkflow(grpc::ServerContext* /*context*/,
                                 const pb::PostcardRequest* request,
                                 pb::PostcardResponse* response) override {
    Result<blazen::SubWorkflowRequest> decoded =
        blazen::DecodeSubWorkflowRequest(blazen::AsBytes(request->postcard_payload()));
    if (!decoded.ok()) return ToGrpc(decoded.status());
    Result<nlohmann::json> input = blazen::InputValue(*decoded);
    if (!input.ok()) return ToGrpc(input.status());

    blazen::SubWorkflowResponse out;
    out.result_json = blazen::DumpJson(*input);
    out.state_json["served_by"] = blazen::DumpJson(node_id_);
    Result<blazen::ByteVector> bytes = blazen::EncodePostcard(out);
    if (!bytes.ok()) return ToGrpc(bytes.status().WithPrefix("postcard encode failed: "));
    response->set_postcard_payload(bytes->data(), bytes->size());
    return grpc::Status::OK;
  }

 private:
  std::string node_id_;
};

int Run() {
  EchoPeer peer("gpu-worker-1");
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&peer);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "peer: could not listen on 127.0.0.1\n");
    return 1;
  }
  const std::string endpoint = "127.0.0.1:" + std::to_string(port);
  std::printf("peer   gpu-worker-1 listening on %s (h2c)\n", endpoint.c_str());

  auto stub =
      pb::BlazenPeer::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));

  const nlohmann::json input = {{"hello", "world"}, {"n", 42}};
  Result<blazen::SubWorkflowRequest> request =
      blazen::MakeSubWorkflowRequest("echo", {"blazen::echo"}, input, 30);
  if (!request.ok()) {
    std::fprintf(stderr, "parent: %s\n", request.status().ToString().c_str());
    return 1;
  }
  blazen::ByteVector payload = blazen::EncodePostcard(*request).value();
  std::printf("parent invoking workflow 'echo' (%zu-byte postcard request)\n", payload.size());

  pb::PostcardRequest wire_request;
  wire_request.set_postcard_payload(payload.data(), payload.size());
  pb::PostcardResponse wire_response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->InvokeSubWorkflow(&context, wire_request, &wire_response);
  if (!status.ok()) {
    std::fprintf(stderr, "parent: InvokeSubWorkflow failed: %s\n", status.error_message().c_str());
    return 1;
  }
  Result<blazen::SubWorkflowResponse> response =
      blazen::DecodeSubWorkflowResponse(blazen::AsBytes(wire_response.postcard_payload()));
  if (!response.ok()) {
    std::fprintf(stderr, "parent: %s\n", response.status().ToString().c_str());
    return 1;
  }
  std::printf("parent got response: %s\n", blazen::EncodeJson(*response).value().c_str());

  // A request from the future: the peer refuses it with FAILED_PRECONDITION.
  request->envelope_version = 2;
  payload = blazen::EncodePostcard(*request).value();
  wire_request.set_postcard_payload(payload.data(), payload.size());
  grpc::ClientContext context2;
  status = stub->InvokeSubWorkflow(&context2, wire_request, &wire_response);
  std::printf(
      "parent sent envelope version 2: %s: %s\n",
      std::string(blazen::StatusCodeName(static_cast<blazen::StatusCode>(status.error_code())))
          .c_str(),
      status.error_message().c_str());

  server->Shutdown();
  Result<std::optional<nlohmann::json>> result = blazen::ResultValue(*response);
  const bool echoed = result.ok() && *result == input && !response->error.has_value() &&
                      status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
  std::printf("%s\n", echoed ? "main job: OK" : "main job: FAILED");
  return echoed ? 0 : 1;
}

}  // namespace

int main() { return Run(); }
