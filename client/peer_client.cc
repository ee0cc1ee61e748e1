// SPDX-License-Identifier: Apache-2.0
// BlazenPeerClient over gRPC: postcard envelopes for the upstream RPCs, native protobuf for the
// extensions. Channels and call metadata are in detail/grpc_channel, the streaming deref in
// detail/grpc_deref.

#include "client/peer_client.h"

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string_view>
#include <utility>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "blazen/peer/v1/blazen_peer.pb.h"
#include "client/detail/call_scope.h"
#include "client/detail/endpoint.h"
#include "client/detail/grpc_channel.h"
#include "client/detail/grpc_deref.h"
#include "core/auth.h"
#include "core/envelope.h"
#include "core/load_report.h"
#include "core/peer_error.h"
#include "core/postcard.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proto/grpc_status.h"
#include "proto/proto_convert.h"

namespace blazen::client {
namespace {

namespace pb = ::blazen::peer::v1;

// gRPC metadata values must be printable ASCII; anything else would make the call fail inside
// gRPC, so it is refused up front.
void RequireMetadataSafe(std::string_view what, std::string_view value) {
  detail::RequirePrintableAscii(what, value, "call metadata");
}

[[noreturn]] void ThrowCallFailure(const grpc::Status& status, const grpc::ClientContext& context) {
  ThrowPeerError(grpc_util::FromGrpcStatus(status, context));
}

// Whether a failed call never left this client: gRPC fails a call at once, without sending it,
// when its channel cannot connect (it does not wait for the connection: no wait_for_ready). gRPC
// has no structured field for this, so the status message is read; anything else, a broken
// connection mid-call included, counts as maybe sent.
bool NeverSent(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string& message = status.error_message();
  for (std::string_view marker :
       {"failed to connect", "Failed to connect", "Connection refused", "DNS resolution failed",
        "empty address list", "No address added out of total"}) {
    if (message.find(marker) != std::string::npos) return true;
  }
  return false;
}

// Fills CallOptions::trace after a call: the endpoint, the load report of the peer's trailing
// metadata (when the call got that far) and whether the call never left.
void RecordTrace(const CallOptions& call, const std::string& endpoint,
                 const grpc::ClientContext& context, const grpc::Status& status) {
  if (call.trace == nullptr) return;
  call.trace->endpoint = endpoint;
  call.trace->failed_before_sending = NeverSent(status);
  call.trace->load.reset();
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(std::string(kLoadReportHeader));
  if (it == trailers.end()) return;
  Result<LoadReport> report =
      ParseLoadReport(std::string_view(it->second.data(), it->second.size()));
  if (report.ok()) call.trace->load = *report;
}

pb::PostcardRequest ToEnvelope(const ByteVector& payload) {
  pb::PostcardRequest request;
  request.set_postcard_payload(std::string(payload.begin(), payload.end()));
  return request;
}

// Checks what a call would put into metadata (throws InvalidArgumentError).
void ValidateCall(const CallOptions& call) {
  if (call.parent_run_id.has_value()) RequireMetadataSafe("parent_run_id", *call.parent_run_id);
}

// One unary postcard RPC (`rpc` is a stub method) with the call's metadata, deadline and cancel.
template <typename Rpc>
pb::PostcardResponse CallPostcard(detail::GrpcClientCore& core, Rpc rpc, const ByteVector& payload,
                                  const CallOptions& call) {
  ValidateCall(call);
  grpc::ClientContext context;
  core.Prepare(context, call, core.DeadlineFor(call));
  const detail::CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  pb::PostcardResponse response;
  const grpc::Status status = (core.stub.get()->*rpc)(&context, ToEnvelope(payload), &response);
  RecordTrace(call, core.endpoint, context, status);
  if (!status.ok()) ThrowCallFailure(status, context);
  return response;
}

}  // namespace

struct BlazenPeerClient::Impl : detail::GrpcClientCore {};

std::unique_ptr<BlazenPeerClient> BlazenPeerClient::Connect(const std::string& endpoint,
                                                            std::string node_id,
                                                            ClientOptions options) {
  detail::TuneMallocOnce();
  auto impl = std::make_unique<Impl>();
  impl->endpoint = endpoint;
  impl->parsed = ValueOrThrow(detail::ParseEndpoint(endpoint));
  RequireMetadataSafe("node_id", node_id);
  impl->node_id = std::move(node_id);
  if (options.token.has_value()) {
    impl->token = options.token;
  } else if (options.token_from_env) {
    impl->token = ResolvePeerToken();
  }
  if (impl->token.has_value()) RequireMetadataSafe("token", *impl->token);
  if (options.parent_run_id.has_value()) {
    RequireMetadataSafe("parent_run_id", *options.parent_run_id);
  }

  const bool use_tls = detail::UsesTls(endpoint, impl->parsed, options);
  impl->credentials = detail::MakeCredentials(use_tls, options.tls);
  impl->options = std::move(options);
  impl->main = std::make_unique<detail::Lane>(
      grpc::CreateCustomChannel(impl->parsed.target, impl->credentials, detail::BaseChannelArgs()));
  impl->stub = pb::BlazenPeer::NewStub(impl->main->channel);
  detail::ConnectEagerly(*impl->main->channel, endpoint, impl->options.connect_timeout, use_tls);
  return std::unique_ptr<BlazenPeerClient>(new BlazenPeerClient(std::move(impl)));
}

BlazenPeerClient::BlazenPeerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BlazenPeerClient::~BlazenPeerClient() = default;

const std::string& BlazenPeerClient::node_id() const { return impl_->node_id; }

const std::string& BlazenPeerClient::endpoint() const { return impl_->endpoint; }

SubWorkflowResponse BlazenPeerClient::DoInvokeSubWorkflow(const SubWorkflowRequest& request,
                                                          const CallOptions& call) {
  const ByteVector payload = ValueOrThrow(EncodePostcard(request));
  const pb::PostcardResponse response =
      CallPostcard(*impl_, &pb::BlazenPeer::Stub::InvokeSubWorkflow, payload, call);
  return ValueOrThrow(DecodeSubWorkflowResponse(AsBytes(response.postcard_payload())));
}

SubWorkflowResponse BlazenPeerClient::DoStreamSubWorkflowEvents(
    const SubWorkflowRequest& request, const std::function<void(const SubWorkflowEvent&)>& on_event,
    const CallOptions& call) {
  ValidateCall(call);
  const ByteVector payload = ValueOrThrow(EncodePostcard(request));
  grpc::ClientContext context;
  impl_->Prepare(context, call, impl_->DeadlineFor(call));
  const detail::CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  std::unique_ptr<grpc::ClientReader<pb::PostcardResponse>> reader =
      impl_->stub->StreamSubWorkflowEvents(&context, ToEnvelope(payload));

  std::optional<SubWorkflowResponse> final_response;
  Status local;
  pb::PostcardResponse item;
  try {
    while (reader->Read(&item)) {
      Result<SubWorkflowEvent> event = DecodeSubWorkflowEvent(AsBytes(item.postcard_payload()));
      if (!event.ok()) {
        local = event.status();
        break;
      }
      if (event->response.has_value()) final_response = event->response;
      if (on_event) on_event(*event);
    }
  } catch (...) {
    context.TryCancel();
    reader->Finish();
    throw;
  }
  if (!local.ok()) context.TryCancel();
  const grpc::Status finished = reader->Finish();
  RecordTrace(call, impl_->endpoint, context, finished);
  ThrowIfError(local);
  if (!finished.ok()) ThrowCallFailure(finished, context);
  if (!final_response.has_value()) {
    throw TransportError(StatusCode::kDataLoss,
                         "event stream ended without a final response from " + impl_->endpoint);
  }
  return std::move(*final_response);
}

ByteVector BlazenPeerClient::DoDerefSessionRef(const Uuid& ref, const CallOptions& call) {
  const ByteVector payload = ValueOrThrow(EncodePostcard(DerefRequest{kEnvelopeVersion, ref}));
  const pb::PostcardResponse response =
      CallPostcard(*impl_, &pb::BlazenPeer::Stub::DerefSessionRef, payload, call);
  return ValueOrThrow(DecodeDerefResponse(AsBytes(response.postcard_payload()))).payload;
}

DerefResult BlazenPeerClient::DoDerefTo(const Uuid& ref, DerefSink& sink,
                                        const std::function<void(const DerefProgress&)>& progress,
                                        const CallOptions& call) {
  ValidateCall(call);
  return detail::GrpcDerefTo(*impl_, ref, sink, progress, call);
}

bool BlazenPeerClient::DoReleaseSessionRef(const Uuid& ref, const CallOptions& call) {
  const ByteVector payload = ValueOrThrow(EncodePostcard(ReleaseRequest{kEnvelopeVersion, ref}));
  const pb::PostcardResponse response =
      CallPostcard(*impl_, &pb::BlazenPeer::Stub::ReleaseSessionRef, payload, call);
  return ValueOrThrow(DecodeReleaseResponse(AsBytes(response.postcard_payload()))).released;
}

std::uint64_t BlazenPeerClient::DoReleaseScope(const std::string& parent_run_id,
                                               const CallOptions& call) {
  ValidateCall(call);
  pb::ReleaseScopeRequest request;
  request.set_envelope_version(kEnvelopeVersion);
  request.set_parent_run_id(parent_run_id);
  grpc::ClientContext context;
  impl_->Prepare(context, call, impl_->DeadlineFor(call));
  const detail::CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  pb::ReleaseScopeResponse response;
  const grpc::Status status = impl_->stub->ReleaseScope(&context, request, &response);
  RecordTrace(call, impl_->endpoint, context, status);
  if (!status.ok()) ThrowCallFailure(status, context);
  ThrowIfError(CheckEnvelopeVersion(response.envelope_version()));
  return response.released();
}

PeerDescription BlazenPeerClient::DoDescribePeer(const CallOptions& call) {
  ValidateCall(call);
  pb::DescribePeerRequest request;
  request.set_envelope_version(kEnvelopeVersion);
  grpc::ClientContext context;
  impl_->Prepare(context, call, impl_->DeadlineFor(call));
  const detail::CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  pb::DescribePeerResponse response;
  const grpc::Status status = impl_->stub->DescribePeer(&context, request, &response);
  RecordTrace(call, impl_->endpoint, context, status);
  if (!status.ok()) ThrowCallFailure(status, context);
  ThrowIfError(CheckEnvelopeVersion(response.envelope_version()));
  return proto_convert::FromProto(response);
}

void BlazenPeerClient::DoWatchHealth(const std::function<void(bool serving)>& on_change,
                                     std::chrono::milliseconds /*poll_interval*/,
                                     const CallOptions& call) {
  namespace health = ::grpc::health::v1;
  // The standard health service: one server stream per watch, an answer at once and on every
  // change. The stub is made per watch (watches are rare; calls do not pay for it).
  const auto stub = health::Health::NewStub(impl_->main->channel);
  grpc::ClientContext context;
  impl_->Prepare(context, CallOptions{}, std::nullopt);  // a watch has no deadline
  const detail::CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  if (call.cancel != nullptr && call.cancel->cancelled()) return;
  health::HealthCheckRequest request;  // service "": the whole server
  std::unique_ptr<grpc::ClientReader<health::HealthCheckResponse>> reader =
      stub->Watch(&context, request);
  health::HealthCheckResponse answer;
  std::optional<bool> last;
  try {
    while (reader->Read(&answer)) {
      const bool serving = answer.status() == health::HealthCheckResponse::SERVING;
      if (last != serving) {
        last = serving;
        on_change(serving);
      }
    }
  } catch (...) {
    context.TryCancel();
    reader->Finish();
    throw;
  }
  const grpc::Status finished = reader->Finish();
  if (finished.error_code() != grpc::StatusCode::UNIMPLEMENTED || last.has_value()) return;
  // A peer without the health service (an upstream peer): serving while its connection is up.
  // Follow the channel's state until it fails or the watch is cancelled.
  grpc::Channel& channel = *impl_->main->channel;
  on_change(true);
  for (;;) {
    if (call.cancel != nullptr && call.cancel->cancelled()) return;
    const grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return;
    channel.WaitForStateChange(state,
                               std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  }
}

}  // namespace blazen::client
