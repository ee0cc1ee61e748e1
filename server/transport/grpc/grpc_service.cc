// SPDX-License-Identifier: Apache-2.0
// BlazenPeer handlers: decode -> PeerOperations -> encode.

#include "server/transport/grpc/grpc_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "core/envelope.h"
#include "core/postcard.h"
#include "core/uuid.h"
#include "proto/proto_convert.h"
#include "proto/wire_codec.h"
#include "server/transport/grpc/grpc_reactors.h"

namespace blazen::server::grpc_transport {
namespace {

namespace pb = ::blazen::peer::v1;

template <typename T>
Status EncodeInto(const T& value, pb::PostcardResponse* response) {
  Result<ByteVector> bytes = EncodePostcard(value);
  if (!bytes.ok()) return Status::Internal(bytes.status().message());
  response->set_postcard_payload(bytes->data(), bytes->size());
  return Status::Ok();
}

template <typename Message>
Status ParseRaw(const grpc::ByteBuffer* buffer, Message* message) {
  grpc::ByteBuffer copy(*buffer);  // refcounted, no payload copy
  grpc::Status st = grpc::SerializationTraits<Message>::Deserialize(&copy, message);
  if (!st.ok()) return Status::InvalidArgument("malformed request message: " + st.error_message());
  return Status::Ok();
}

// An owned byte buffer handed to gRPC as a slice; freed when gRPC drops the slice.
grpc::Slice OwnedSlice(std::vector<std::uint8_t>* bytes) {
  return grpc::Slice(
      bytes->data(), bytes->size(),
      [](void* p) { delete static_cast<std::vector<std::uint8_t>*>(p); }, bytes);
}

// The call's deadline on the steady clock (max() when it has none).
std::chrono::steady_clock::time_point SteadyDeadlineOf(const grpc::CallbackServerContext& context) {
  const auto deadline = context.deadline();
  const auto now = std::chrono::system_clock::now();
  if (deadline >= now + std::chrono::hours(24 * 365)) {
    return std::chrono::steady_clock::time_point::max();
  }
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now);
}

}  // namespace

BlazenPeerService::BlazenPeerService(GrpcServiceOptions options,
                                     std::shared_ptr<detail::PeerOperations> ops)
    : options_(options),
      ops_(std::move(ops)),
      deref_executor_(std::make_unique<ThreadPool>(std::max<std::size_t>(1, options.deref_threads),
                                                   options.deref_queue)) {
  options_.max_chunk_bytes = std::max(options_.max_chunk_bytes, options_.default_chunk_bytes);
}

grpc::ServerUnaryReactor* BlazenPeerService::InvokeSubWorkflow(grpc::CallbackServerContext* context,
                                                               const pb::PostcardRequest* request,
                                                               pb::PostcardResponse* response) {
  auto token = std::make_shared<CancellationToken>();
  auto* reactor = new CancellableUnaryReactor(context, token, ops_);
  const Status st = detail::RunGuarded([&]() -> Status {
    const detail::CallMeta call = CallMetaOf(context);
    Result<SubWorkflowRequest> decoded = [&]() -> Result<SubWorkflowRequest> {
      BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, "invoke"));
      return DecodeSubWorkflowRequest(AsBytes(request->postcard_payload()));
    }();
    if (!decoded.ok()) {
      ops_->RecordRejectedInvocation(call, decoded.status());
      return decoded.status();
    }
    // The completion only encodes and finishes the call: the run may execute inline.
    ops_->Invoke(
        call, *decoded, std::move(token), /*allow_inline=*/true,
        [response](const SubWorkflowResponse& result) { return EncodeInto(result, response); },
        [reactor](const Status& done) { reactor->FinishOnce(done); });
    return Status::Ok();
  });
  if (!st.ok()) reactor->FinishOnce(st);
  return reactor;
}

grpc::ServerWriteReactor<pb::PostcardResponse>* BlazenPeerService::StreamSubWorkflowEvents(
    grpc::CallbackServerContext* context, const pb::PostcardRequest* request) {
  return GuardedStream<pb::PostcardResponse>(
      context, *ops_, [&]() -> Result<grpc::ServerWriteReactor<pb::PostcardResponse>*> {
        const detail::CallMeta call = CallMetaOf(context);
        BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, "event stream"));
        BLAZEN_ASSIGN_OR_RETURN(SubWorkflowRequest decoded,
                                DecodeSubWorkflowRequest(AsBytes(request->postcard_payload())));
        auto token = std::make_shared<CancellationToken>();
        std::shared_ptr<EventStream> stream = EventStream::Create(token);
        Status run =
            ops_->StartEventStream(call, decoded, token, [stream](const SubWorkflowEvent& event) {
              Result<ByteVector> bytes = EncodePostcard(event);
              if (!bytes.ok()) {
                stream->FinishWith(
                    Status::Internal("postcard encode failed: " + bytes.status().message()));
                return;
              }
              pb::PostcardResponse item;
              item.set_postcard_payload(bytes->data(), bytes->size());
              stream->Push(std::move(item), /*last=*/event.response.has_value());
            });
        if (!run.ok()) {
          grpc_util::AddErrorKindTrailer(*context, run);
          stream->FinishWith(run);
        }
        return stream.get();
      });
}

grpc::ServerUnaryReactor* BlazenPeerService::DerefSessionRef(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return GuardedUnary(context, *ops_, [&]() -> Status {
    const detail::CallMeta call = CallMetaOf(context);
    BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, "deref"));
    pb::PostcardRequest envelope;
    BLAZEN_RETURN_IF_ERROR(ParseRaw(request, &envelope));
    BLAZEN_ASSIGN_OR_RETURN(DerefRequest decoded,
                            DecodeDerefRequest(AsBytes(envelope.postcard_payload())));
    BLAZEN_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes,
                            ops_->ReadWhole(call, decoded.ref_uuid));
    // PostcardResponse{1: postcard DerefResponse{version, payload}} without copying the payload.
    auto* payload = new std::vector<std::uint8_t>(std::move(bytes));
    grpc::Slice slices[2] = {grpc::Slice(proto_wire::EncodePostcardDerefResponseHeader(
                                 kEnvelopeVersion, payload->size())),
                             OwnedSlice(payload)};
    *response = grpc::ByteBuffer(slices, 2);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* BlazenPeerService::ReleaseSessionRef(grpc::CallbackServerContext* context,
                                                               const pb::PostcardRequest* request,
                                                               pb::PostcardResponse* response) {
  return GuardedUnary(context, *ops_, [&]() -> Status {
    const detail::CallMeta call = CallMetaOf(context);
    BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, "release"));
    BLAZEN_ASSIGN_OR_RETURN(ReleaseRequest decoded,
                            DecodeReleaseRequest(AsBytes(request->postcard_payload())));
    ReleaseResponse out;
    out.released = ops_->Release(call, decoded.ref_uuid);
    return EncodeInto(out, response);
  });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* BlazenPeerService::DerefSessionRefStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return GuardedStream<grpc::ByteBuffer>(
      context, *ops_, [&]() -> Result<grpc::ServerWriteReactor<grpc::ByteBuffer>*> {
        detail::CallMeta call = CallMetaOf(context);
        BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, "deref stream"));
        pb::DerefStreamRequest req;
        BLAZEN_RETURN_IF_ERROR(ParseRaw(request, &req));
        BLAZEN_RETURN_IF_ERROR(CheckEnvelopeVersion(req.envelope_version()));
        Result<Uuid> key = Uuid::Parse(req.ref_uuid());
        if (!key.ok()) return key.status().WithPrefix("ref_uuid: ");
        // length 0 means "to the end"; an offset equal to the size streams one empty chunk.
        std::optional<std::uint64_t> length;
        if (req.length() != 0) length = req.length();
        BLAZEN_ASSIGN_OR_RETURN(
            detail::DerefPlan plan,
            ops_->OpenDeref(call, *key, req.offset(), length, detail::EmptyAtEnd::kAllowed));
        DerefStreamOptions stream;
        stream.chunk_bytes = std::clamp<std::uint32_t>(
            req.chunk_bytes() == 0 ? options_.default_chunk_bytes : req.chunk_bytes(), 4096,
            options_.max_chunk_bytes);
        stream.buffers = options_.stream_buffers;
        DerefStreamContext stream_context;
        stream_context.ops = ops_;
        stream_context.call = std::move(call);
        stream_context.pump = pump_;
        stream_context.executor = deref_executor_.get();
        stream_context.deadline = SteadyDeadlineOf(*context);
        return StartDerefStream(std::move(stream_context), std::move(plan), stream);
      });
}

grpc::ServerUnaryReactor* BlazenPeerService::DescribePeer(grpc::CallbackServerContext* context,
                                                          const pb::DescribePeerRequest* request,
                                                          pb::DescribePeerResponse* response) {
  return GuardedUnary(context, *ops_, [&]() -> Status {
    BLAZEN_RETURN_IF_ERROR(
        ops_->Admit(CallMetaOf(context), "describe", request->envelope_version()));
    proto_convert::ToProto(ops_->Describe(), *response);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* BlazenPeerService::ReleaseScope(grpc::CallbackServerContext* context,
                                                          const pb::ReleaseScopeRequest* request,
                                                          pb::ReleaseScopeResponse* response) {
  return GuardedUnary(context, *ops_, [&]() -> Status {
    const detail::CallMeta call = CallMetaOf(context);
    BLAZEN_RETURN_IF_ERROR(ops_->Authorize(call, "release scope"));
    BLAZEN_ASSIGN_OR_RETURN(
        std::uint64_t released,
        ops_->ReleaseScope(call, request->envelope_version(), request->parent_run_id()));
    response->set_envelope_version(kEnvelopeVersion);
    response->set_released(released);
    return Status::Ok();
  });
}

}  // namespace blazen::server::grpc_transport
