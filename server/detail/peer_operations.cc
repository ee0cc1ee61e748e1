// SPDX-License-Identifier: Apache-2.0
// PeerOperations: admission, metrics, logs and the core calls shared by every transport.

#include "server/detail/peer_operations.h"

#include <new>
#include <utility>

#include "core/auth.h"
#include "core/envelope.h"
#include "core/logging.h"
#include "gpu/device_pool.h"
#include "server/detail/describe.h"

namespace blazen::server::detail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxCallerBytes = 256;

std::string StepList(const SubWorkflowRequest& request) {
  std::string out;
  for (const std::string& id : request.step_ids) {
    if (!out.empty()) out += ',';
    out += id;
  }
  return out.empty() ? "(default)" : out;
}

}  // namespace

CallMeta CallMeta::From(std::string_view transport, const HeaderLookup& lookup) {
  CallMeta meta;
  meta.transport = transport;
  if (auto auth = lookup(kAuthorizationHeader)) meta.authorization = std::string(*auth);
  if (auto node = lookup(kNodeIdHeader))
    meta.caller = std::string(node->substr(0, kMaxCallerBytes));
  if (auto parent = lookup(kParentRunIdHeader); parent && !parent->empty()) {
    meta.parent_run_id = std::string(*parent);
  }
  return meta;
}

PeerOperations::PeerOperations(PeerOperationsOptions options, std::shared_ptr<Engine> engine)
    : options_(std::move(options)), engine_(std::move(engine)) {
  if (options_.token && options_.token->empty()) options_.token.reset();
  if (!options_.metrics) options_.metrics = std::make_shared<Metrics>();
}

// --- Admission ------------------------------------------------------------------------------

Status PeerOperations::Authorize(const CallMeta& call, std::string_view what) const {
  if (!options_.token) return Status::Ok();
  std::optional<std::string_view> header;
  if (call.authorization) header = *call.authorization;
  Status st = CheckBearerToken(header, *options_.token);
  if (!st.ok()) {
    BLAZEN_LOG_WARN("[{}] {} {} from {} rejected: {}", options_.node_id, call.transport, what,
                    call.caller, st.message());
  }
  return st;
}

Status PeerOperations::Admit(const CallMeta& call, std::string_view what,
                             std::uint32_t envelope_version) const {
  BLAZEN_RETURN_IF_ERROR(Authorize(call, what));
  return CheckEnvelopeVersion(envelope_version);
}

// --- Invocations ----------------------------------------------------------------------------

void PeerOperations::FinishInvocation(const CallMeta& call, const std::string& workflow,
                                      const std::string& steps, const Status& status,
                                      const SubWorkflowResponse* response) const {
  const auto elapsed = Clock::now() - call.received;
  options_.metrics->RecordInvocation(call.transport, Metrics::OutcomeOf(status, response), elapsed);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  const std::string outcome = !status.ok()          ? status.ToString()
                              : response != nullptr ? response->error.value_or("OK")
                                                    : std::string("OK");
  BLAZEN_LOG_INFO("[{}] {} invoke workflow '{}' steps [{}] from {}: {} in {} ms", options_.node_id,
                  call.transport, workflow, steps, call.caller, outcome, ms);
}

void PeerOperations::RecordRejectedInvocation(const CallMeta& call, const Status& status) const {
  options_.metrics->RecordInvocation(call.transport, Metrics::OutcomeOf(status, nullptr),
                                     Clock::now() - call.received);
}

InvocationOptions PeerOperations::InvocationFor(const CallMeta& call,
                                                std::shared_ptr<CancellationToken> cancel) {
  InvocationOptions invocation;
  invocation.parent_run_id = call.parent_run_id;
  invocation.caller_node_id = call.caller;
  invocation.cancel = std::move(cancel);
  return invocation;
}

void PeerOperations::Invoke(const CallMeta& call, const SubWorkflowRequest& request,
                            std::shared_ptr<CancellationToken> cancel, bool allow_inline,
                            EncodeResponse encode, FinishCall finish) {
  InvocationOptions invocation = InvocationFor(call, std::move(cancel));
  invocation.allow_inline = allow_inline;
  auto workflow = request.workflow_name;
  auto steps = StepList(request);
  // `done` may run on this thread before InvokeAsync returns; the shared copies keep the names
  // for the log line whichever thread finishes.
  const Status started =
      engine_->InvokeAsync(request, std::move(invocation),
                           [self = shared_from_this(), call, workflow, steps,
                            encode = std::move(encode), finish](SubWorkflowResponse response) {
                             const Status st = RunGuarded([&] { return encode(response); });
                             self->FinishInvocation(call, workflow, steps, st, &response);
                             finish(st);
                           });
  if (!started.ok()) {
    FinishInvocation(call, workflow, steps, started, nullptr);
    finish(started);
  }
}

Status PeerOperations::StartEventStream(const CallMeta& call, const SubWorkflowRequest& request,
                                        std::shared_ptr<CancellationToken> cancel,
                                        std::function<void(const SubWorkflowEvent&)> on_event) {
  InvocationOptions invocation = InvocationFor(call, std::move(cancel));
  const std::string steps = StepList(request);
  invocation.on_event = [self = shared_from_this(), call, workflow = request.workflow_name, steps,
                         on_event = std::move(on_event)](const SubWorkflowEvent& event) {
    if (event.response) {
      self->FinishInvocation(call, workflow, steps, Status::Ok(), &*event.response);
    }
    on_event(event);
  };
  Status st = engine_->InvokeAsync(request, std::move(invocation), [](SubWorkflowResponse) {});
  if (!st.ok()) FinishInvocation(call, request.workflow_name, steps, st, nullptr);
  return st;
}

// --- Deref ----------------------------------------------------------------------------------

Result<DerefPlan> PeerOperations::OpenDeref([[maybe_unused]] const CallMeta& call, const Uuid& key,
                                            std::uint64_t offset,
                                            std::optional<std::uint64_t> length,
                                            EmptyAtEnd at_end) const {
  BLAZEN_ASSIGN_OR_RETURN(RefLease lease, engine_->session_refs()->Acquire(key));
  const std::uint64_t total = lease.value().size_bytes();
  BLAZEN_ASSIGN_OR_RETURN(ByteRange range, PlanByteRange(key, total, offset, length, at_end));
  BLAZEN_LOG_DEBUG("[{}] {} deref {} [{}, {}) of {} to {}", options_.node_id, call.transport,
                   key.ToString(), range.begin, range.end, total, call.caller);
  DerefPlan plan;
  plan.type_tag = std::string(lease.value().type_tag());
  plan.lease = std::move(lease);
  plan.key = key;
  plan.range = range;
  plan.total = total;
  return plan;
}

Result<std::vector<std::uint8_t>> PeerOperations::ReadWhole(const CallMeta& call, const Uuid& key,
                                                            std::uint64_t max_bytes,
                                                            std::string_view too_large_hint) const {
  BLAZEN_ASSIGN_OR_RETURN(RefLease lease, engine_->session_refs()->Acquire(key));
  const std::uint64_t size = lease.value().size_bytes();
  if (size > max_bytes) {
    return Status::ResourceExhausted("session ref " + key.ToString() + " holds " +
                                     std::to_string(size) + " bytes, more than the " +
                                     std::to_string(max_bytes) + " a whole-payload deref returns" +
                                     std::string(too_large_hint));
  }
  std::vector<std::uint8_t> out;
  try {
    out.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(size) +
                                     " bytes to deref session ref " + key.ToString());
  }
  if (Status st = lease.value().Read(0, out); !st.ok()) return SerializationFailed(key, st);
  AddDerefBytes(call, size);
  BLAZEN_LOG_DEBUG("[{}] {} deref {} ({} bytes) to {}", options_.node_id, call.transport,
                   key.ToString(), size, call.caller);
  return out;
}

void PeerOperations::AddDerefBytes(const CallMeta& call, std::uint64_t bytes) const {
  options_.metrics->AddDerefBytes(call.transport, bytes);
}

Status PeerOperations::SerializationFailed(const Uuid& key, const Status& read) {
  return Status::Internal("serialization of session ref " + key.ToString() +
                          " failed: " + read.message());
}

Status PeerOperations::LendFailed(const Uuid& key, const Status& lend) {
  switch (lend.code()) {
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kCancelled:
    case StatusCode::kResourceExhausted:
      return lend;
    default:
      return SerializationFailed(key, lend);
  }
}

// --- Release, release-scope, describe ---------------------------------------------------------

bool PeerOperations::Release([[maybe_unused]] const CallMeta& call, const Uuid& key) const {
  const bool released = engine_->session_refs()->Release(key);
  BLAZEN_LOG_DEBUG("[{}] {} release {} from {}: {}", options_.node_id, call.transport,
                   key.ToString(), call.caller, released);
  return released;
}

Result<std::uint64_t> PeerOperations::ReleaseScope(const CallMeta& call,
                                                   std::uint32_t envelope_version,
                                                   const std::string& parent_run_id) const {
  BLAZEN_RETURN_IF_ERROR(CheckEnvelopeVersion(envelope_version));
  if (parent_run_id.empty()) return Status::InvalidArgument("parent_run_id must not be empty");
  const std::size_t released = engine_->session_refs()->ReleaseScope(parent_run_id);
  BLAZEN_LOG_INFO("[{}] {} release scope '{}' from {}: {} refs", options_.node_id, call.transport,
                  parent_run_id, call.caller, released);
  return static_cast<std::uint64_t>(released);
}

PeerDescription PeerOperations::Describe() const {
  PeerDescription d = DescribeNode(options_.node_id, *engine_, options_.runtime.get());
  d.labels = options_.labels;
  d.capacity_weight = options_.capacity_weight;
  if (options_.runtime && options_.runtime->is_cuda())
    d.gpu_model = options_.runtime->device_name();
  d.load = Load();
  return d;
}

LoadReport PeerOperations::Load() const {
  LoadReport report;
  report.seq = load_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  const Engine::Load load = engine_->load();
  report.in_flight = load.in_flight;
  report.queued = load.queued;
  report.max_concurrency = load.workers;
  if (options_.runtime) {
    report.pool_in_use_bytes = options_.runtime->pool().in_use_bytes();
    report.pool_budget_bytes = options_.runtime->budget_bytes();
  }
  report.resident_ref_bytes = engine_->session_refs()->resident_bytes();
  report.capacity_weight = options_.capacity_weight;
  return report;
}

std::string PeerOperations::LoadHeader() const { return EncodeLoadReport(Load()); }

}  // namespace blazen::server::detail
