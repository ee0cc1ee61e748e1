// SPDX-License-Identifier: Apache-2.0
// BlazenPeerClient over gRPC: postcard envelopes for the upstream RPCs, native protobuf for the
// extensions, and a hand-rolled receive path for the streaming deref (grpc::ByteBuffer messages
// parsed in place and copied once into the sink: measured on gRPC 1.51 as the fastest receive path,
// well ahead of a protobuf parse of each chunk).

#include "client/peer_client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include "blazen/peer/v1/blazen_peer.grpc.pb.h"
#include "blazen/peer/v1/blazen_peer.pb.h"
#include "client/detail/deref_chunk.h"
#include "client/detail/deref_ranges.h"
#include "client/detail/endpoint.h"
#include "core/auth.h"
#include "core/envelope.h"
#include "core/peer_error.h"
#include "core/postcard.h"
#include "proto/grpc_status.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

namespace blazen::client {
namespace {

namespace pb = ::blazen::peer::v1;
using Clock = std::chrono::system_clock;
using Deadline = std::optional<Clock::time_point>;

constexpr char kDerefStreamMethod[] = "/blazen.peer.v1.BlazenPeer/DerefSessionRefStream";

// Raises glibc's malloc thresholds once per process. The deref receive path allocates and frees
// large buffers at a high rate (gRPC's receive slices, sink buffers). With glibc's defaults, freed
// blocks above the (dynamic) mmap threshold go straight back to the kernel and the heap top is
// trimmed past 128 KiB, so the next message faults every page in again: measured ~2x slower, and
// raising only the trim threshold made it 4x slower. Both are raised to 256 MiB: blocks up to that
// size are served from, and returned to, the heap. The cost: up to 256 MiB of freed memory may stay
// mapped in the process. Older glibc versions refuse an mmap threshold above 32 MiB; they get
// 32 MiB. Values set with MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ are left alone.
void TuneMallocOnce() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int kThreshold = 256 << 20;
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr &&
        mallopt(M_MMAP_THRESHOLD, kThreshold) == 0) {
      mallopt(M_MMAP_THRESHOLD, 32 << 20);
    }
    if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, kThreshold);
  });
#endif
}

// gRPC metadata values must be printable ASCII; anything else would make the call fail inside
// gRPC, so it is refused up front.
bool IsMetadataSafe(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

void RequireMetadataSafe(std::string_view what, std::string_view value) {
  if (!IsMetadataSafe(value)) {
    throw InvalidArgumentError(
        StatusCode::kInvalidArgument,
        std::string(what) + " must be printable ASCII to travel in call metadata");
  }
}

[[noreturn]] void ThrowCallFailure(const grpc::Status& status, const grpc::ClientContext& context) {
  ThrowPeerError(grpc_util::FromGrpcStatus(status, context));
}

pb::PostcardRequest ToEnvelope(const ByteVector& payload) {
  pb::PostcardRequest request;
  request.set_postcard_payload(std::string(payload.begin(), payload.end()));
  return request;
}

PeerDescription FromProto(const pb::DescribePeerResponse& response) {
  PeerDescription description;
  description.node_id = response.node_id();
  description.envelope_version = response.envelope_version();
  description.step_ids.assign(response.step_ids().begin(), response.step_ids().end());
  for (const pb::WorkflowDefault& workflow : response.default_workflows()) {
    description.default_workflows.push_back(
        {workflow.workflow_name(), {workflow.step_ids().begin(), workflow.step_ids().end()}});
  }
  for (const pb::DeviceInfo& device : response.devices()) {
    description.devices.push_back({device.location(), device.name(), device.total_memory_bytes(),
                                   device.pool_budget_bytes(), device.pool_in_use_bytes()});
  }
  for (const pb::RefCount& refs : response.live_refs()) {
    description.live_refs.push_back({refs.lifetime(), refs.location(), refs.count(), refs.bytes()});
  }
  description.version = response.version();
  return description;
}

// A channel plus the deref-stream method registered on it (a registered method skips gRPC's
// per-call method lookup).
struct Lane {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::internal::RpcMethod> deref_stream;

  explicit Lane(std::shared_ptr<grpc::Channel> ch)
      : channel(std::move(ch)),
        deref_stream(std::make_unique<grpc::internal::RpcMethod>(
            kDerefStreamMethod, grpc::internal::RpcMethod::SERVER_STREAMING, channel)) {}
};

constexpr int kStreamWindowBytes = 8 << 20;

std::size_t ParallelStreams(const ClientOptions& options) {
  if (options.parallel_streams != 0) return options.parallel_streams;
  const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<std::size_t>(threads / 2, 1, 8);
}

grpc::ChannelArguments BaseChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // unlimited: no 4 MiB cap on results or deref payloads
  args.SetMaxSendMessageSize(-1);
  // Bound what the transport buffers per stream when the sink is slower than the network. With
  // the BDP probe on, gRPC grows the HTTP/2 window to twice the estimated bandwidth-delay product,
  // which on loopback let a slow file sink accumulate hundreds of MiB of received data; a fixed
  // 8 MiB window keeps memory bounded (a few chunks per stream) and is still large enough to keep
  // one stream at full speed.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  return args;
}

// Ties one call to its CallOptions::cancel for the scope's lifetime (declare it after the
// grpc::ClientContext it cancels, so that it unregisters first).
class CancelScope {
 public:
  CancelScope(const std::shared_ptr<CallCancel>& cancel, std::function<void()> on_cancel)
      : cancel_(cancel) {
    if (cancel_) id_ = cancel_->Register(std::move(on_cancel));
  }
  ~CancelScope() {
    if (cancel_) cancel_->Unregister(id_);
  }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  std::shared_ptr<CallCancel> cancel_;
  std::uint64_t id_ = 0;
};

// Checks what a call would put into metadata (throws InvalidArgumentError).
void ValidateCall(const CallOptions& call) {
  if (call.parent_run_id.has_value()) RequireMetadataSafe("parent_run_id", *call.parent_run_id);
}

// --- Client state --------------------------------------------------------------------------------

// Everything a client holds; BlazenPeerClient::Impl is this type (declared here so that the deref
// machinery below can use it).
struct ClientCore {
  std::string endpoint;
  std::string node_id;
  ClientOptions options;
  std::optional<std::string> token;
  detail::ParsedEndpoint parsed;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::unique_ptr<Lane> main;
  std::unique_ptr<pb::BlazenPeer::Stub> stub;

  std::mutex lanes_mu;
  // Extra connections for parallel deref ranges, created on first use and kept: lanes[i] serves
  // range i + 1 of every parallel deref.
  std::vector<std::unique_ptr<Lane>> lanes;

  Deadline DeadlineFor(const CallOptions& call) const {
    const std::chrono::milliseconds timeout = call.deadline.value_or(options.default_deadline);
    if (!call.deadline.has_value() && timeout.count() <= 0) return std::nullopt;
    return Clock::now() + timeout;
  }

  // Fills in the metadata and the deadline of one call.
  void Prepare(grpc::ClientContext& context, const CallOptions& call,
               const Deadline& deadline) const {
    if (token.has_value()) {
      context.AddMetadata(std::string(grpc_util::kAuthorizationHeader),
                          std::string(kBearerPrefix) + *token);
    }
    if (!node_id.empty()) context.AddMetadata(std::string(grpc_util::kNodeIdHeader), node_id);
    const std::optional<std::string>& parent =
        call.parent_run_id.has_value() ? call.parent_run_id : options.parent_run_id;
    if (parent.has_value()) {
      context.AddMetadata(std::string(grpc_util::kParentRunIdHeader), *parent);
    }
    if (deadline.has_value()) context.set_deadline(*deadline);
  }

  Lane& ParallelLane(std::size_t index) {
    std::lock_guard<std::mutex> lock(lanes_mu);
    while (lanes.size() <= index) {
      grpc::ChannelArguments args = BaseChannelArgs();
      // A private subchannel pool plus a distinct argument per lane: gRPC would otherwise share
      // one subchannel (one TCP connection) between channels to the same target, and one HTTP/2
      // connection caps near one stream's throughput.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("blazen.client.deref_lane", static_cast<int>(lanes.size() + 1));
      lanes.push_back(
          std::make_unique<Lane>(grpc::CreateCustomChannel(parsed.target, credentials, args)));
    }
    return *lanes[index];
  }

  template <typename Rpc>
  pb::PostcardResponse CallPostcard(Rpc rpc, const ByteVector& payload, const CallOptions& call) {
    ValidateCall(call);
    grpc::ClientContext context;
    Prepare(context, call, DeadlineFor(call));
    const CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
    pb::PostcardResponse response;
    const grpc::Status status = (stub.get()->*rpc)(&context, ToEnvelope(payload), &response);
    if (!status.ok()) ThrowCallFailure(status, context);
    return response;
  }
};

// --- DerefTo -------------------------------------------------------------------------------------

using ProgressFn = std::function<void(const DerefProgress&)>;

// One DerefTo call: the first stream on the main connection, and the parallel range streams it
// starts once it knows the payload size. The first failure (status or exception) wins: it cancels
// every stream in flight and is reported after all threads are joined. Lives for one DerefTo; its
// methods run on the calling thread and on the range threads, which share only the state guarded by
// mu_ / progress_mu_ and what the first stream writes before it starts them.
class DerefOperation {
 public:
  DerefOperation(ClientCore& impl, const Uuid& ref, DerefSink& sink, const ProgressFn& progress,
                 const CallOptions& call)
      : impl_(impl),
        ref_text_(ref.ToString()),
        sink_(sink),
        progress_(progress),
        call_(call),
        deadline_(impl.DeadlineFor(call)) {}

  DerefOperation(const DerefOperation&) = delete;
  DerefOperation& operator=(const DerefOperation&) = delete;

  ~DerefOperation() { JoinWorkers(); }

  // Cancels every stream of the operation (CallOptions::cancel); Run then throws kCancelled.
  void Cancel() { Fail(Status::Cancelled("deref cancelled by the caller")); }

  DerefResult Run() {
    try {
      detail::RangeCursor first(0, std::nullopt);
      const Status status = RunRange(*impl_.main, first, /*is_first=*/true);
      if (!status.ok()) Fail(status);
    } catch (...) {
      FailWithException(std::current_exception());
    }
    JoinWorkers();
    if (first_exception_) std::rethrow_exception(first_exception_);
    ThrowIfError(first_error_);
    if (!begun_) {
      // The stream ended cleanly without a single chunk: an empty payload.
      ThrowIfError(sink_.Begin(0, {}));
      begun_ = true;
    }
    ThrowIfError(sink_.Finish());
    return DerefResult{total_, type_tag_, streams_, resumes_.load()};
  }

 private:
  // Fetches the range of `cursor` over `lane`, resuming after transient failures. Returns OK when
  // the range is complete or when another stream already failed (its failure is the one
  // reported), else this range's failure.
  Status RunRange(Lane& lane, detail::RangeCursor& cursor, bool is_first) {
    int resumes = 0;
    for (;;) {
      const detail::StreamRequestRange asked = cursor.StartAttempt();
      pb::DerefStreamRequest request;
      request.set_ref_uuid(ref_text_);
      request.set_envelope_version(kEnvelopeVersion);
      request.set_offset(asked.offset);
      request.set_length(asked.length);
      request.set_chunk_bytes(impl_.options.chunk_bytes);

      grpc::ClientContext context;
      impl_.Prepare(context, call_, deadline_);
      if (!Register(&context)) return Status::Ok();
      std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
          grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
              lane.channel.get(), *lane.deref_stream, &context, request));

      bool cancelled_by_us = false;
      Status local;
      grpc::ByteBuffer message;
      std::vector<grpc::Slice> slices;
      while (reader->Read(&message)) {
        try {
          local = HandleMessage(message, cursor, is_first, slices);
        } catch (...) {
          FailWithException(std::current_exception());
          local = Status::Cancelled("deref aborted by an exception");
        }
        message.Clear();
        if (!local.ok()) {
          cancelled_by_us = true;
          context.TryCancel();
          break;
        }
        if (cursor.complete() && cursor.overshoots()) {
          // The server was asked for more than this range (the first stream before the split):
          // the rest belongs to other streams.
          cancelled_by_us = true;
          context.TryCancel();
          break;
        }
      }
      const grpc::Status finished = reader->Finish();
      reader.reset();
      Unregister(&context);

      if (!local.ok()) return local;
      if (cursor.complete()) return Status::Ok();
      if (finished.ok()) {
        if (is_first && cursor.chunks() == 0) return Status::Ok();  // empty payload, no chunks
        return Status::DataLoss("deref stream of " + ref_text_ + " ended at byte " +
                                std::to_string(cursor.next()) + " before the end of its range " +
                                std::to_string(cursor.end().value_or(0)));
      }
      if (failed()) return Status::Ok();
      const Status status = grpc_util::FromGrpcStatus(finished, context);
      if (!detail::ShouldResume(status.code(), cancelled_by_us, cursor, resumes,
                                impl_.options.max_resume_attempts)) {
        return status;
      }
      ++resumes;
      resumes_.fetch_add(1);
      if (!Backoff(detail::ResumeBackoff(resumes))) return Status::Ok();
    }
  }

  // Parses one received message, checks it against the range, starts the sink (first chunk of
  // the first stream), writes the bytes and reports progress.
  // `slices` is scratch space reused across the messages of one stream.
  Status HandleMessage(const grpc::ByteBuffer& message, detail::RangeCursor& cursor, bool is_first,
                       std::vector<grpc::Slice>& slices) {
    slices.clear();
    if (!message.Dump(&slices).ok()) {
      return Status::DataLoss("cannot read a received deref message");
    }
    std::vector<detail::ByteSpan> segments;
    segments.reserve(slices.size());
    for (const grpc::Slice& slice : slices) segments.emplace_back(slice.begin(), slice.size());
    BLAZEN_ASSIGN_OR_RETURN(detail::DerefChunkView chunk, detail::ParseDerefChunk(segments));
    BLAZEN_ASSIGN_OR_RETURN(const std::uint64_t take,
                            cursor.Accept(chunk.offset, chunk.data_size, chunk.total_size));
    if (!begun_) {
      // Only the first stream runs before begun_ is set; the others start after it (thread
      // creation orders these writes before their reads).
      total_ = chunk.total_size;
      type_tag_ = chunk.type_tag;
      BLAZEN_RETURN_IF_ERROR(sink_.Begin(total_, type_tag_));
      begun_ = true;
      if (is_first) StartParallelRanges(cursor, take);
    } else if (!chunk.type_tag.empty() && chunk.type_tag != type_tag_) {
      return Status::DataLoss("deref stream changed the type tag from '" + type_tag_ + "' to '" +
                              chunk.type_tag + "'");
    }
    std::uint64_t offset = chunk.offset;
    std::uint64_t left = take;
    for (const detail::ByteSpan& piece : chunk.data) {
      if (left == 0) break;
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), left));
      BLAZEN_RETURN_IF_ERROR(sink_.Write(offset, piece.first(n)));
      offset += n;
      left -= n;
    }
    ReportProgress(take);
    return Status::Ok();
  }

  void StartParallelRanges(detail::RangeCursor& first, std::uint64_t received) {
    const detail::DerefPlan plan =
        detail::PlanDeref(total_, received, received, ParallelStreams(impl_.options),
                          impl_.options.parallel_threshold_bytes);
    first.SetEnd(plan.first_end);
    streams_ = 1 + static_cast<int>(plan.others.size());
    for (std::size_t i = 0; i < plan.others.size(); ++i) {
      Lane& lane = impl_.ParallelLane(i);
      cursors_.push_back(
          std::make_unique<detail::RangeCursor>(plan.others[i].begin, plan.others[i].end, total_));
      detail::RangeCursor* cursor = cursors_.back().get();
      workers_.emplace_back([this, &lane, cursor] { RunWorker(lane, *cursor); });
    }
  }

  void RunWorker(Lane& lane, detail::RangeCursor& cursor) {
    try {
      const Status status = RunRange(lane, cursor, /*is_first=*/false);
      if (!status.ok()) Fail(status);
    } catch (...) {
      FailWithException(std::current_exception());
    }
  }

  void ReportProgress(std::uint64_t bytes) {
    // Counted under the lock so that successive callbacks see growing values.
    std::lock_guard<std::mutex> lock(progress_mu_);
    received_ += bytes;
    if (progress_) progress_(DerefProgress{received_, total_});
  }

  // Registers a stream's context so a failure elsewhere can cancel it; false when the operation
  // already failed (the stream must not start).
  bool Register(grpc::ClientContext* context) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_) return false;
    active_.push_back(context);
    return true;
  }

  void Unregister(grpc::ClientContext* context) {
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(std::remove(active_.begin(), active_.end(), context), active_.end());
  }

  void Fail(const Status& status) { FailImpl(status, nullptr); }
  void FailWithException(std::exception_ptr exception) {
    FailImpl(Status::Cancelled("deref aborted by an exception"), std::move(exception));
  }

  void FailImpl(const Status& status, std::exception_ptr exception) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_) return;
    failed_ = true;
    first_error_ = status;
    first_exception_ = std::move(exception);
    for (grpc::ClientContext* context : active_) context->TryCancel();
    cv_.notify_all();
  }

  bool failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

  // Sleeps before a resume; false when the operation failed meanwhile.
  bool Backoff(std::chrono::milliseconds pause) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, pause, [this] { return failed_; });
    return !failed_;
  }

  void JoinWorkers() {
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    workers_.clear();
  }

  ClientCore& impl_;
  const std::string ref_text_;
  DerefSink& sink_;
  const ProgressFn& progress_;
  const CallOptions& call_;
  const Deadline deadline_;

  // Written by the first stream before any worker starts; read-only afterwards.
  bool begun_ = false;
  std::uint64_t total_ = 0;
  std::string type_tag_;
  int streams_ = 1;
  std::vector<std::unique_ptr<detail::RangeCursor>> cursors_;
  std::vector<std::thread> workers_;

  std::atomic<int> resumes_{0};

  std::mutex progress_mu_;
  std::uint64_t received_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool failed_ = false;
  Status first_error_;
  std::exception_ptr first_exception_;
  std::vector<grpc::ClientContext*> active_;
};

}  // namespace

struct BlazenPeerClient::Impl : ClientCore {};

// --- CallCancel ----------------------------------------------------------------------------------

void CallCancel::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return;
  cancelled_ = true;
  for (auto& [id, on_cancel] : callbacks_) on_cancel();
}

bool CallCancel::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

std::uint64_t CallCancel::Register(std::function<void()> on_cancel) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t id = next_id_++;
  // A call that starts after Cancel is cancelled before it goes out (TryCancel before the call
  // starts makes gRPC cancel it as soon as it does).
  if (cancelled_) on_cancel();
  callbacks_.emplace(id, std::move(on_cancel));
  return id;
}

void CallCancel::Unregister(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.erase(id);
}

// --- BlazenPeerClient ----------------------------------------------------------------------------

std::unique_ptr<BlazenPeerClient> BlazenPeerClient::Connect(const std::string& endpoint,
                                                            std::string node_id,
                                                            ClientOptions options) {
  TuneMallocOnce();
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

  const bool use_tls = impl->parsed.scheme == detail::EndpointScheme::kHttps ||
                       (impl->parsed.scheme == detail::EndpointScheme::kBare && options.tls);
  if (impl->parsed.scheme == detail::EndpointScheme::kHttp && options.tls.has_value()) {
    throw TransportError(StatusCode::kInvalidArgument,
                         "endpoint '" + endpoint +
                             "' is plaintext http:// but TLS options were given (use https://)");
  }
  if (use_tls) {
    grpc::SslCredentialsOptions ssl;
    if (options.tls.has_value()) {
      ssl.pem_root_certs = options.tls->ca_pem;
      ssl.pem_private_key = options.tls->private_key_pem;
      ssl.pem_cert_chain = options.tls->cert_chain_pem;
    }
    impl->credentials = grpc::SslCredentials(ssl);
  } else {
    impl->credentials = grpc::InsecureChannelCredentials();
  }
  impl->options = std::move(options);

  impl->main = std::make_unique<Lane>(
      grpc::CreateCustomChannel(impl->parsed.target, impl->credentials, BaseChannelArgs()));
  impl->stub = pb::BlazenPeer::NewStub(impl->main->channel);

  // Connect eagerly, like upstream: a peer that is not there fails here, not on the first call.
  // A refused or failed attempt (TRANSIENT_FAILURE) fails at once instead of waiting for the
  // reconnect backoff until the timeout.
  grpc::Channel& channel = *impl->main->channel;
  const auto deadline = Clock::now() + impl->options.connect_timeout;
  grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      throw TransportError(StatusCode::kUnavailable,
                           "cannot connect to " + endpoint + ": connection failed" +
                               (use_tls ? " (TCP or TLS handshake)" : ""));
    }
    if (!channel.WaitForStateChange(state, deadline)) {
      throw TransportError(StatusCode::kUnavailable,
                           "cannot connect to " + endpoint + ": not connected within " +
                               std::to_string(impl->options.connect_timeout.count()) + " ms");
    }
    state = channel.GetState(/*try_to_connect=*/true);
  }
  return std::unique_ptr<BlazenPeerClient>(new BlazenPeerClient(std::move(impl)));
}

BlazenPeerClient::BlazenPeerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BlazenPeerClient::~BlazenPeerClient() = default;

SubWorkflowResponse BlazenPeerClient::InvokeSubWorkflow(const SubWorkflowRequest& request,
                                                        const CallOptions& call) {
  const ByteVector payload = ValueOrThrow(EncodePostcard(request));
  const pb::PostcardResponse response =
      impl_->CallPostcard(&pb::BlazenPeer::Stub::InvokeSubWorkflow, payload, call);
  return ValueOrThrow(DecodeSubWorkflowResponse(AsBytes(response.postcard_payload())));
}

SubWorkflowResponse BlazenPeerClient::StreamSubWorkflowEvents(
    const SubWorkflowRequest& request, const std::function<void(const SubWorkflowEvent&)>& on_event,
    const CallOptions& call) {
  ValidateCall(call);
  const ByteVector payload = ValueOrThrow(EncodePostcard(request));
  grpc::ClientContext context;
  impl_->Prepare(context, call, impl_->DeadlineFor(call));
  const CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
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
  ThrowIfError(local);
  if (!finished.ok()) ThrowCallFailure(finished, context);
  if (!final_response.has_value()) {
    throw TransportError(StatusCode::kDataLoss,
                         "event stream ended without a final response from " + impl_->endpoint);
  }
  return std::move(*final_response);
}

ByteVector BlazenPeerClient::DerefSessionRef(const Uuid& ref, const CallOptions& call) {
  const ByteVector payload = ValueOrThrow(EncodePostcard(DerefRequest{kEnvelopeVersion, ref}));
  const pb::PostcardResponse response =
      impl_->CallPostcard(&pb::BlazenPeer::Stub::DerefSessionRef, payload, call);
  return ValueOrThrow(DecodeDerefResponse(AsBytes(response.postcard_payload()))).payload;
}

DerefResult BlazenPeerClient::DerefTo(const Uuid& ref, DerefSink& sink,
                                      const std::function<void(const DerefProgress&)>& progress,
                                      const CallOptions& call) {
  ValidateCall(call);
  DerefOperation operation(*impl_, ref, sink, progress, call);
  const CancelScope cancel_scope(call.cancel, [&operation] { operation.Cancel(); });
  return operation.Run();
}

bool BlazenPeerClient::ReleaseSessionRef(const Uuid& ref, const CallOptions& call) {
  const ByteVector payload = ValueOrThrow(EncodePostcard(ReleaseRequest{kEnvelopeVersion, ref}));
  const pb::PostcardResponse response =
      impl_->CallPostcard(&pb::BlazenPeer::Stub::ReleaseSessionRef, payload, call);
  return ValueOrThrow(DecodeReleaseResponse(AsBytes(response.postcard_payload()))).released;
}

std::uint64_t BlazenPeerClient::ReleaseScope(const std::string& parent_run_id,
                                             const CallOptions& call) {
  ValidateCall(call);
  pb::ReleaseScopeRequest request;
  request.set_envelope_version(kEnvelopeVersion);
  request.set_parent_run_id(parent_run_id);
  grpc::ClientContext context;
  impl_->Prepare(context, call, impl_->DeadlineFor(call));
  const CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  pb::ReleaseScopeResponse response;
  const grpc::Status status = impl_->stub->ReleaseScope(&context, request, &response);
  if (!status.ok()) ThrowCallFailure(status, context);
  ThrowIfError(CheckEnvelopeVersion(response.envelope_version()));
  return response.released();
}

PeerDescription BlazenPeerClient::DescribePeer(const CallOptions& call) {
  ValidateCall(call);
  pb::DescribePeerRequest request;
  request.set_envelope_version(kEnvelopeVersion);
  grpc::ClientContext context;
  impl_->Prepare(context, call, impl_->DeadlineFor(call));
  const CancelScope cancel_scope(call.cancel, [&context] { context.TryCancel(); });
  pb::DescribePeerResponse response;
  const grpc::Status status = impl_->stub->DescribePeer(&context, request, &response);
  if (!status.ok()) ThrowCallFailure(status, context);
  ThrowIfError(CheckEnvelopeVersion(response.envelope_version()));
  return FromProto(response);
}

const std::string& BlazenPeerClient::node_id() const { return impl_->node_id; }

const std::string& BlazenPeerClient::endpoint() const { return impl_->endpoint; }

}  // namespace blazen::client
