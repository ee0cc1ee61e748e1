// SPDX-License-Identifier: Apache-2.0
// BlazenPeer handlers. Each one: authorize -> decode -> core call -> encode; failures go through
// Reply/ToGrpcStatus so codes, messages and the error-kind trailer are produced in one place.

#include "server/detail/grpc_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/auth.h"
#include "core/envelope.h"
#include "core/logging.h"
#include "core/postcard.h"
#include "core/step.h"
#include "core/uuid.h"
#include "proto/grpc_status.h"
#include "server/detail/describe.h"

namespace blazen::server::detail {
namespace {

namespace pb = ::blazen::peer::v1;
using Clock = std::chrono::steady_clock;

// --- Metadata and auth -------------------------------------------------------------------------

std::optional<std::string_view> Metadata(const grpc::CallbackServerContext* context,
                                         std::string_view key) {
  const auto& md = context->client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

std::string CallerOf(const grpc::CallbackServerContext* context) {
  auto node = Metadata(context, grpc_util::kNodeIdHeader);
  return node ? std::string(node->substr(0, 256)) : std::string("-");
}

Status Authorize(const ServiceOptions& options, const grpc::CallbackServerContext* context) {
  if (!options.token || options.token->empty()) return Status::Ok();
  return CheckBearerToken(Metadata(context, grpc_util::kAuthorizationHeader), *options.token);
}

// Admission of the native-protobuf extension RPCs: the token, then the request's envelope version.
Status AdmitNative(const ServiceOptions& options, const grpc::CallbackServerContext* context,
                   std::uint32_t envelope_version) {
  BLAZEN_RETURN_IF_ERROR(Authorize(options, context));
  return CheckEnvelopeVersion(envelope_version);
}

// Finishes a unary call with `status` (adds the error-kind trailer first).
void Reply(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
           const Status& status) {
  grpc_util::AddErrorKindTrailer(*context, status);
  reactor->Finish(grpc_util::ToGrpcStatus(status));
}

template <typename T>
Status EncodeInto(const T& value, pb::PostcardResponse* response) {
  Result<ByteVector> bytes = EncodePostcard(value);
  if (!bytes.ok()) return Status::Internal(bytes.status().message());
  response->set_postcard_payload(bytes->data(), bytes->size());
  return Status::Ok();
}

constexpr std::string_view kTransport = "grpc";

void RecordInvocation(const ServiceOptions& options, Clock::time_point started,
                      const Status& status, const SubWorkflowResponse* response) {
  if (options.metrics) {
    options.metrics->RecordInvocation(kTransport, Metrics::OutcomeOf(status, response),
                                      Clock::now() - started);
  }
}

void AddDerefBytes(const std::shared_ptr<Metrics>& metrics, std::uint64_t bytes) {
  if (metrics) metrics->AddDerefBytes(kTransport, bytes);
}

// --- Protobuf wire helpers for the raw (ByteBuffer) methods -----------------------------------

void AppendVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
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

// Releases the lease's bytes into `out` (one copy: value reader -> wire buffer).
Status ReadAll(const RefLease& lease, const Uuid& key, std::vector<std::uint8_t>& out) {
  const std::uint64_t size = lease.value().size_bytes();
  try {
    out.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(size) +
                                     " bytes to deref session ref " + key.ToString());
  }
  Status st = lease.value().Read(0, out);
  if (!st.ok()) {
    return Status::Internal("serialization of session ref " + key.ToString() +
                            " failed: " + st.message());
  }
  return Status::Ok();
}

// --- InvokeSubWorkflow -------------------------------------------------------------------------

// A unary reactor that forwards client cancellation to the run.
class CancellableUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CancellableUnaryReactor(std::shared_ptr<CancellationToken> token)
      : token_(std::move(token)) {}
  void OnCancel() override { token_->Cancel(); }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<CancellationToken> token_;
};

InvocationOptions OptionsFromMetadata(const grpc::CallbackServerContext* context,
                                      std::shared_ptr<CancellationToken> token) {
  InvocationOptions options;
  if (auto parent = Metadata(context, grpc_util::kParentRunIdHeader); parent && !parent->empty()) {
    options.parent_run_id = std::string(*parent);
  }
  options.caller_node_id = CallerOf(context);
  options.cancel = std::move(token);
  return options;
}

std::string StepList(const SubWorkflowRequest& request) {
  std::string out;
  for (const std::string& id : request.step_ids) {
    if (!out.empty()) out += ',';
    out += id;
  }
  return out.empty() ? "(default)" : out;
}

// --- StreamSubWorkflowEvents -------------------------------------------------------------------

// Shared between the reactor and the engine's callbacks, which may outlive the reactor.
class EventStream final : public grpc::ServerWriteReactor<pb::PostcardResponse>,
                          public std::enable_shared_from_this<EventStream> {
 public:
  static std::shared_ptr<EventStream> Create(std::shared_ptr<CancellationToken> token) {
    auto stream = std::shared_ptr<EventStream>(new EventStream(std::move(token)));
    stream->self_ = stream;  // kept alive until OnDone
    return stream;
  }

  // Queues one encoded item; `last` finishes the call after it is written.
  void Push(pb::PostcardResponse item, bool last) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    queue_.push_back(std::move(item));
    if (last) last_queued_ = true;
    PumpLocked();
  }

  void FinishWith(const Status& status) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    finished_ = true;
    Finish(grpc_util::ToGrpcStatus(status));
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      token_->Cancel();
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client stopped reading"));
      }
      return;
    }
    PumpLocked();
  }
  void OnCancel() override {
    token_->Cancel();
    std::lock_guard lock(mu_);
    if (!finished_ && !writing_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
  }
  void OnDone() override {
    std::shared_ptr<EventStream> self;
    std::lock_guard lock(mu_);
    finished_ = true;  // late pushes from the engine are dropped
    self = std::move(self_);
  }

 private:
  explicit EventStream(std::shared_ptr<CancellationToken> token) : token_(std::move(token)) {}

  void PumpLocked() {
    if (writing_ || finished_) return;
    if (queue_.empty()) {
      if (last_queued_) {
        finished_ = true;
        Finish(grpc::Status::OK);
      }
      return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  std::mutex mu_;
  std::shared_ptr<CancellationToken> token_;
  std::shared_ptr<EventStream> self_;
  std::deque<pb::PostcardResponse> queue_;
  pb::PostcardResponse current_;
  bool writing_ = false;
  bool last_queued_ = false;
  bool finished_ = false;
};

// --- DerefSessionRefStream ---------------------------------------------------------------------

// One process-wide thread that restarts deref streams stalled for want of a staging buffer. Never
// destroyed (it may be needed until the process exits).
class PumpThread {
 public:
  static void Post(std::function<void()> task) {
    static PumpThread* instance = new PumpThread();
    {
      std::lock_guard lock(instance->mu_);
      instance->tasks_.push_back(std::move(task));
    }
    instance->cv_.notify_one();
  }

 private:
  PumpThread() {
    std::thread([this] {
      std::unique_lock lock(mu_);
      for (;;) {
        cv_.wait(lock, [this] { return !tasks_.empty(); });
        std::function<void()> task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        lock.lock();
      }
    }).detach();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

// One streaming deref. Chunk buffers form a small ring: a buffer goes back to the ring only when
// gRPC destroys the slice that wraps it (OnWriteDone does not mean gRPC is done with the memory),
// so at most `buffers` chunks of memory exist per stream whatever the ref's size. The state is
// shared with in-flight slices and outlives the reactor until the last slice is gone; the lease
// (and so the value) lives exactly as long.
class DerefStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  struct State;

  DerefStream(RefLease lease, Uuid key, std::uint64_t begin, std::uint64_t end, std::uint32_t chunk,
              std::size_t buffers);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  std::shared_ptr<State> state() { return state_; }

 private:
  std::shared_ptr<State> state_;
};

struct DerefStream::State : std::enable_shared_from_this<State> {
  std::mutex mu;
  DerefStream* reactor = nullptr;  // null after OnDone
  RefLease lease;
  Uuid key;
  std::string header_prefix;  // encoded total_size + type_tag fields (same for every chunk)
  std::uint64_t next = 0;
  std::uint64_t end = 0;
  std::uint32_t chunk = 0;
  std::size_t max_buffers = 0;
  std::size_t allocated = 0;
  std::shared_ptr<Metrics> metrics;
  std::vector<std::unique_ptr<std::uint8_t[]>> free_buffers;
  grpc::ByteBuffer current;
  bool sent_any = false;
  bool writing = false;
  bool finished = false;
  bool cancelled = false;

  struct SliceHold {
    std::shared_ptr<State> state;
    std::unique_ptr<std::uint8_t[]> buffer;
  };

  // Slice destroy callback: runs on whatever gRPC thread drops the last reference, possibly inside
  // gRPC's transport code, so it only recycles the buffer; restarting a stalled stream happens on
  // the pump thread, never from here.
  static void ReturnBuffer(void* user_data) {
    std::unique_ptr<SliceHold> hold(static_cast<SliceHold*>(user_data));
    std::shared_ptr<State> state = std::move(hold->state);
    bool stalled = false;
    {
      std::lock_guard lock(state->mu);
      state->free_buffers.push_back(std::move(hold->buffer));
      stalled = state->reactor != nullptr && !state->writing && !state->finished;
    }
    if (stalled) {
      PumpThread::Post([state] {
        std::lock_guard lock(state->mu);
        state->PumpLocked();
      });
    }
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished || reactor == nullptr) return;
    finished = true;
    reactor->Finish(status);
  }

  void PumpLocked() {
    if (reactor == nullptr || finished || writing) return;
    if (cancelled) return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    if (next >= end && sent_any) return FinishLocked(grpc::Status::OK);

    std::unique_ptr<std::uint8_t[]> buffer;
    if (!free_buffers.empty()) {
      buffer = std::move(free_buffers.back());
      free_buffers.pop_back();
    } else if (allocated < max_buffers) {
      buffer.reset(new (std::nothrow) std::uint8_t[chunk]);
      if (!buffer) {
        return FinishLocked(grpc_util::ToGrpcStatus(
            Status::ResourceExhausted("cannot allocate a deref staging buffer")));
      }
      ++allocated;
    } else {
      return;  // every buffer is on the wire; ReturnBuffer pumps again
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, end - next));
    Status read = lease.value().Read(next, std::span<std::uint8_t>(buffer.get(), n));
    if (!read.ok()) {
      return FinishLocked(grpc_util::ToGrpcStatus(Status::Internal(
          "serialization of session ref " + key.ToString() + " failed: " + read.message())));
    }
    // DerefChunk{offset=1, total_size=3, type_tag=4, data=2}: header slice + data slice.
    std::string header;
    header.push_back(0x08);
    AppendVarint(header, next);
    header += header_prefix;
    header.push_back(0x12);
    AppendVarint(header, n);
    auto* hold = new SliceHold{shared_from_this(), std::move(buffer)};
    grpc::Slice slices[2] = {grpc::Slice(header),
                             grpc::Slice(hold->buffer.get(), n, &State::ReturnBuffer, hold)};
    current = grpc::ByteBuffer(slices, 2);
    AddDerefBytes(metrics, n);
    next += n;
    sent_any = true;
    writing = true;
    reactor->StartWrite(&current);
  }
};

DerefStream::DerefStream(RefLease lease, Uuid key, std::uint64_t begin, std::uint64_t end,
                         std::uint32_t chunk, std::size_t buffers)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.reactor = this;
  const std::string type_tag(lease.value().type_tag());
  s.header_prefix.push_back(0x18);
  AppendVarint(s.header_prefix, lease.value().size_bytes());
  s.header_prefix.push_back(0x22);
  AppendVarint(s.header_prefix, type_tag.size());
  s.header_prefix += type_tag;
  s.lease = std::move(lease);
  s.key = key;
  s.next = begin;
  s.end = end;
  s.chunk = chunk;
  s.max_buffers = std::max<std::size_t>(1, buffers);
}

void DerefStream::OnWriteDone(bool ok) {
  // The written message is dropped outside the lock: dropping it may run ReturnBuffer.
  grpc::ByteBuffer written;
  std::lock_guard lock(state_->mu);
  written.Swap(&state_->current);
  state_->writing = false;
  if (!ok) {
    state_->cancelled = true;
    return state_->FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }
  state_->PumpLocked();
}

void DerefStream::OnCancel() {
  std::lock_guard lock(state_->mu);
  state_->cancelled = true;
  if (!state_->writing) state_->PumpLocked();
}

void DerefStream::OnDone() {
  grpc::ByteBuffer unsent;  // breaks the state -> message -> slice -> state cycle
  {
    std::lock_guard lock(state_->mu);
    unsent.Swap(&state_->current);
    state_->reactor = nullptr;
    state_->free_buffers.clear();  // buffers still on the wire are freed by their slices
  }
  delete this;
}

// A write reactor that only reports an error (for failures before streaming starts).
template <typename T>
class ErrorWriteReactor final : public grpc::ServerWriteReactor<T> {
 public:
  ErrorWriteReactor(grpc::CallbackServerContext* context, const Status& status) {
    grpc_util::AddErrorKindTrailer(*context, status);
    this->Finish(grpc_util::ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

// --- Service -----------------------------------------------------------------------------------

BlazenPeerService::BlazenPeerService(ServiceOptions options, std::shared_ptr<Engine> engine)
    : options_(std::move(options)), engine_(std::move(engine)) {}

grpc::ServerUnaryReactor* BlazenPeerService::InvokeSubWorkflow(grpc::CallbackServerContext* context,
                                                               const pb::PostcardRequest* request,
                                                               pb::PostcardResponse* response) {
  auto token = std::make_shared<CancellationToken>();
  auto* reactor = new CancellableUnaryReactor(token);
  const auto started = Clock::now();
  const std::string caller = CallerOf(context);
  try {
    if (Status st = Authorize(options_, context); !st.ok()) {
      BLAZEN_LOG_WARN("[{}] invoke from {} rejected: {}", options_.node_id, caller, st.message());
      RecordInvocation(options_, started, st, nullptr);
      Reply(context, reactor, st);
      return reactor;
    }
    Result<SubWorkflowRequest> decoded =
        DecodeSubWorkflowRequest(AsBytes(request->postcard_payload()));
    if (!decoded.ok()) {
      RecordInvocation(options_, started, decoded.status(), nullptr);
      Reply(context, reactor, decoded.status());
      return reactor;
    }
    const std::string workflow = decoded->workflow_name;
    const std::string steps = StepList(*decoded);
    const std::string node_id = options_.node_id;
    InvocationOptions invocation = OptionsFromMetadata(context, token);
    invocation.allow_inline = true;  // the completion below only encodes and finishes the call
    Status started_run = engine_->InvokeAsync(
        *decoded, std::move(invocation),
        [this, context, reactor, response, started, workflow, steps, node_id,
         caller](SubWorkflowResponse result) {
          const Status st = EncodeInto(result, response);
          RecordInvocation(options_, started, st, &result);
          const auto ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
          BLAZEN_LOG_INFO("[{}] invoke workflow '{}' steps [{}] from {}: {} in {} ms", node_id,
                          workflow, steps, caller,
                          !st.ok() ? st.ToString() : result.error.value_or("OK"), ms.count());
          Reply(context, reactor, st);
        });
    if (!started_run.ok()) {
      BLAZEN_LOG_INFO("[{}] invoke workflow '{}' steps [{}] from {}: {}", options_.node_id,
                      workflow, steps, caller, started_run.ToString());
      RecordInvocation(options_, started, started_run, nullptr);
      Reply(context, reactor, started_run);
    }
  } catch (const std::exception& e) {
    Reply(context, reactor, Status::Internal(std::string("internal error: ") + e.what()));
  }
  return reactor;
}

grpc::ServerWriteReactor<pb::PostcardResponse>* BlazenPeerService::StreamSubWorkflowEvents(
    grpc::CallbackServerContext* context, const pb::PostcardRequest* request) {
  if (Status st = Authorize(options_, context); !st.ok()) {
    return new ErrorWriteReactor<pb::PostcardResponse>(context, st);
  }
  Result<SubWorkflowRequest> decoded =
      DecodeSubWorkflowRequest(AsBytes(request->postcard_payload()));
  if (!decoded.ok()) return new ErrorWriteReactor<pb::PostcardResponse>(context, decoded.status());

  auto token = std::make_shared<CancellationToken>();
  std::shared_ptr<EventStream> stream = EventStream::Create(token);
  InvocationOptions options = OptionsFromMetadata(context, token);
  const auto started = Clock::now();
  options.on_event = [stream, metrics = options_.metrics, started](const SubWorkflowEvent& event) {
    if (event.response && metrics) {
      metrics->RecordInvocation(kTransport, Metrics::OutcomeOf(Status::Ok(), &*event.response),
                                Clock::now() - started);
    }
    Result<ByteVector> bytes = EncodePostcard(event);
    if (!bytes.ok()) {
      stream->FinishWith(Status::Internal("postcard encode failed: " + bytes.status().message()));
      return;
    }
    pb::PostcardResponse item;
    item.set_postcard_payload(bytes->data(), bytes->size());
    stream->Push(std::move(item), /*last=*/event.response.has_value());
  };
  Status run = engine_->InvokeAsync(*decoded, std::move(options), [](SubWorkflowResponse) {});
  if (!run.ok()) {
    RecordInvocation(options_, started, run, nullptr);
    grpc_util::AddErrorKindTrailer(*context, run);
    stream->FinishWith(run);
  }
  return stream.get();
}

grpc::ServerUnaryReactor* BlazenPeerService::DerefSessionRef(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  try {
    if (Status st = Authorize(options_, context); !st.ok()) {
      Reply(context, reactor, st);
      return reactor;
    }
    pb::PostcardRequest envelope;
    if (Status st = ParseRaw(request, &envelope); !st.ok()) {
      Reply(context, reactor, st);
      return reactor;
    }
    Result<DerefRequest> decoded = DecodeDerefRequest(AsBytes(envelope.postcard_payload()));
    if (!decoded.ok()) {
      Reply(context, reactor, decoded.status());
      return reactor;
    }
    Result<RefLease> lease = engine_->session_refs()->Acquire(decoded->ref_uuid);
    if (!lease.ok()) {
      Reply(context, reactor, lease.status());
      return reactor;
    }
    auto* payload = new std::vector<std::uint8_t>();
    if (Status st = ReadAll(*lease, decoded->ref_uuid, *payload); !st.ok()) {
      delete payload;
      Reply(context, reactor, st);
      return reactor;
    }
    // PostcardResponse{1: postcard DerefResponse{version, payload}} without copying the payload.
    std::string postcard_header;
    AppendVarint(postcard_header, kEnvelopeVersion);
    AppendVarint(postcard_header, payload->size());
    std::string header;
    header.push_back(0x0A);
    AppendVarint(header, postcard_header.size() + payload->size());
    header += postcard_header;
    AddDerefBytes(options_.metrics, payload->size());
    grpc::Slice slices[2] = {grpc::Slice(header), OwnedSlice(payload)};
    *response = grpc::ByteBuffer(slices, 2);
    reactor->Finish(grpc::Status::OK);
  } catch (const std::exception& e) {
    Reply(context, reactor, Status::Internal(std::string("internal error: ") + e.what()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* BlazenPeerService::ReleaseSessionRef(grpc::CallbackServerContext* context,
                                                               const pb::PostcardRequest* request,
                                                               pb::PostcardResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Status st = Authorize(options_, context); !st.ok()) {
    Reply(context, reactor, st);
    return reactor;
  }
  Result<ReleaseRequest> decoded = DecodeReleaseRequest(AsBytes(request->postcard_payload()));
  if (!decoded.ok()) {
    Reply(context, reactor, decoded.status());
    return reactor;
  }
  ReleaseResponse out;
  out.released = engine_->session_refs()->Release(decoded->ref_uuid);
  BLAZEN_LOG_DEBUG("[{}] release {} from {}: {}", options_.node_id, decoded->ref_uuid.ToString(),
                   CallerOf(context), out.released);
  Reply(context, reactor, EncodeInto(out, response));
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* BlazenPeerService::DerefSessionRefStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  using Error = ErrorWriteReactor<grpc::ByteBuffer>;
  if (Status st = Authorize(options_, context); !st.ok()) return new Error(context, st);
  pb::DerefStreamRequest req;
  if (Status st = ParseRaw(request, &req); !st.ok()) return new Error(context, st);
  if (Status st = CheckEnvelopeVersion(req.envelope_version()); !st.ok()) {
    return new Error(context, st);
  }
  Result<Uuid> key = Uuid::Parse(req.ref_uuid());
  if (!key.ok()) return new Error(context, key.status().WithPrefix("ref_uuid: "));
  Result<RefLease> lease = engine_->session_refs()->Acquire(*key);
  if (!lease.ok()) return new Error(context, lease.status());

  const std::uint64_t total = lease->value().size_bytes();
  if (req.offset() > total) {
    return new Error(
        context, Status::OutOfRange("offset " + std::to_string(req.offset()) +
                                    " is past the end of session ref " + key->ToString() + " (" +
                                    std::to_string(total) + " bytes)"));
  }
  const std::uint64_t remaining = total - req.offset();
  const std::uint64_t length =
      req.length() == 0 ? remaining : std::min<std::uint64_t>(req.length(), remaining);
  std::uint32_t chunk = req.chunk_bytes() == 0 ? options_.default_chunk_bytes : req.chunk_bytes();
  chunk = std::clamp<std::uint32_t>(chunk, 4096, options_.max_chunk_bytes);
  BLAZEN_LOG_DEBUG("[{}] deref stream {} [{}, +{}) to {}", options_.node_id, key->ToString(),
                   req.offset(), length, CallerOf(context));
  auto* stream = new DerefStream(std::move(*lease), *key, req.offset(), req.offset() + length,
                                 chunk, options_.stream_buffers);
  std::shared_ptr<DerefStream::State> state = stream->state();
  std::lock_guard lock(state->mu);
  state->metrics = options_.metrics;
  state->PumpLocked();
  return stream;
}

grpc::ServerUnaryReactor* BlazenPeerService::DescribePeer(grpc::CallbackServerContext* context,
                                                          const pb::DescribePeerRequest* request,
                                                          pb::DescribePeerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Status st = AdmitNative(options_, context, request->envelope_version()); !st.ok()) {
    Reply(context, reactor, st);
    return reactor;
  }
  const PeerDescription d = DescribeNode(options_.node_id, *engine_, options_.runtime.get());
  response->set_node_id(d.node_id);
  response->set_envelope_version(d.envelope_version);
  response->set_version(d.version);
  for (const std::string& id : d.step_ids) response->add_step_ids(id);
  for (const PeerWorkflowDefault& workflow : d.default_workflows) {
    pb::WorkflowDefault* w = response->add_default_workflows();
    w->set_workflow_name(workflow.workflow_name);
    for (const std::string& id : workflow.step_ids) w->add_step_ids(id);
  }
  for (const PeerDeviceInfo& device : d.devices) {
    pb::DeviceInfo* info = response->add_devices();
    info->set_location(device.location);
    info->set_name(device.name);
    info->set_total_memory_bytes(device.total_memory_bytes);
    info->set_pool_budget_bytes(device.pool_budget_bytes);
    info->set_pool_in_use_bytes(device.pool_in_use_bytes);
  }
  for (const PeerRefCount& live : d.live_refs) {
    pb::RefCount* count = response->add_live_refs();
    count->set_lifetime(live.lifetime);
    count->set_location(live.location);
    count->set_count(live.count);
    count->set_bytes(live.bytes);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* BlazenPeerService::ReleaseScope(grpc::CallbackServerContext* context,
                                                          const pb::ReleaseScopeRequest* request,
                                                          pb::ReleaseScopeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Status st = AdmitNative(options_, context, request->envelope_version()); !st.ok()) {
    Reply(context, reactor, st);
    return reactor;
  }
  if (request->parent_run_id().empty()) {
    Reply(context, reactor, Status::InvalidArgument("parent_run_id must not be empty"));
    return reactor;
  }
  response->set_envelope_version(kEnvelopeVersion);
  response->set_released(engine_->session_refs()->ReleaseScope(request->parent_run_id()));
  BLAZEN_LOG_INFO("[{}] release scope '{}' from {}: {} refs", options_.node_id,
                  request->parent_run_id(), CallerOf(context), response->released());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace blazen::server::detail
