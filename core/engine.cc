// SPDX-License-Identifier: Apache-2.0
// The workflow engine: request validation, the event loop of one run, deadlines and the end-of-run
// ref purge. A run is answered exactly once, either by its worker thread or, when its deadline
// passes first, by the deadline thread; the run's `completed` flag under its mutex decides which.

#include "core/engine.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <set>
#include <thread>

#include "core/envelope.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/thread_pool.h"

namespace blazen {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::uint64_t EpochMsNow() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A counting semaphore whose waits give up when the run is cancelled or past its deadline.
class StepSemaphore {
 public:
  explicit StepSemaphore(std::size_t permits) : permits_(permits) {}

  Status Acquire(const Context& ctx) {
    std::unique_lock lock(mu_);
    while (permits_ == 0) {
      BLAZEN_RETURN_IF_ERROR(ctx.CheckCancelled());
      // Wake periodically to notice cancellation (a token has no way to notify us).
      cv_.wait_until(
          lock, std::min(ctx.effective_deadline(), Clock::now() + std::chrono::milliseconds(20)));
    }
    --permits_;
    return Status::Ok();
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      ++permits_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t permits_;
};

struct ResolvedStep {
  std::string id;
  Step step;
};

// --- One run -----------------------------------------------------------------------------------

struct Run {
  std::string run_id;
  std::string workflow_name;
  std::vector<ResolvedStep> steps;
  json input;
  std::uint64_t timeout_secs = 0;
  Clock::time_point started;
  std::unique_ptr<Context> ctx;
  std::function<void(const SubWorkflowEvent&)> on_event;
  InvokeCallback done;

  std::mutex mu;
  bool completed = false;  // the response has been (or is being) delivered

  // Its entry in Engine::Impl::deadlines (guarded by Impl::mu), erased when the run ends so the
  // map holds only runs in flight.
  std::optional<std::multimap<Clock::time_point, std::weak_ptr<Run>>::iterator> deadline_entry;
};

// How a run ended, before it is turned into a response.
struct Outcome {
  bool ok = false;
  json result;               // when ok
  std::string error;         // when !ok
  std::string last_step_id;  // the step that emitted the StopEvent or failed
};

Outcome Failure(std::string message, std::string step_id = {}) {
  return Outcome{false, json(), std::move(message), std::move(step_id)};
}

std::string TimeoutMessage(const Run& run) {
  return "workflow timed out after " + std::to_string(run.timeout_secs) + "s";
}

// Turns a cancellation status into the run's failure text.
Outcome StoppedOutcome(const Run& run, const Status& why, std::string step_id = {}) {
  if (why.code() == StatusCode::kDeadlineExceeded && Clock::now() >= run.ctx->deadline()) {
    return Failure(TimeoutMessage(run), std::move(step_id));
  }
  return Failure("workflow cancelled", std::move(step_id));
}

SubWorkflowEvent MakeEventItem(const Event& event, const std::string& step_id) {
  SubWorkflowEvent item;
  item.event_type = event.type;
  item.step_id = step_id;
  item.data_json = DumpJson(event.payload);
  item.timestamp_ms = EpochMsNow();
  return item;
}

// Publishes an intermediate event unless the run was already answered.
void Publish(Run& run, const Event& event, const std::string& step_id) {
  if (!run.on_event) return;
  SubWorkflowEvent item = MakeEventItem(event, step_id);
  std::lock_guard lock(run.mu);
  if (run.completed) return;
  try {
    run.on_event(item);
  } catch (const std::exception& e) {
    BLAZEN_LOG_WARN("run {}: event sink threw: {}", run.run_id, e.what());
  } catch (...) {
    BLAZEN_LOG_WARN("run {}: event sink threw a non-standard exception", run.run_id);
  }
}

Result<StepOutput> CallHandler(const Step& step, const Event& event, Context& ctx) {
  if (!step.handler) return Status::Internal("step has no handler");
  try {
    return step.handler(event, ctx);
  } catch (const std::exception& e) {
    return Status::Internal(e.what());
  } catch (...) {
    return Status::Internal("non-standard exception");
  }
}

// Delivers the final item and the response. Must be called once, after `completed` was set.
// `result` is the StopEvent result on success.
void Deliver(Run& run, SubWorkflowResponse response, const std::string& step_id,
             const json& result = json()) {
  if (run.on_event) {
    SubWorkflowEvent item;
    const bool ok = !response.error.has_value();
    item.event_type = ok ? "blazen::StopEvent" : "blazen::WorkflowError";
    item.step_id = step_id;
    item.data_json =
        ok ? DumpJson(json{{"result", result}}) : DumpJson(json{{"error", *response.error}});
    item.timestamp_ms = EpochMsNow();
    item.response = response;
    try {
      run.on_event(item);
    } catch (...) {
      BLAZEN_LOG_WARN("run {}: event sink threw on the final item", run.run_id);
    }
  }
  try {
    run.done(std::move(response));
  } catch (...) {
    BLAZEN_LOG_ERROR("run {}: completion callback threw", run.run_id);
  }
}

}  // namespace

// --- Engine internals --------------------------------------------------------------------------

struct Engine::Impl {
  explicit Impl(Engine& engine)
      : engine(engine),
        pool(engine.options_.worker_threads, engine.options_.max_queued_runs),
        deadline_thread([this] { DeadlineLoop(); }) {}

  Engine& engine;
  ThreadPool pool;

  mutable std::mutex mu;
  std::condition_variable deadline_cv;  // an earlier deadline was added, or stopping
  std::condition_variable idle_cv;      // the last active run ended
  bool accepting = true;
  bool stopping = false;
  std::map<std::string, std::vector<std::string>> default_workflows;
  std::set<std::shared_ptr<Run>> active;
  std::multimap<Clock::time_point, std::weak_ptr<Run>> deadlines;
  // When the deadline thread will wake next on its own (guarded by mu): a new deadline needs to
  // wake it only when it is earlier than this.
  Clock::time_point planned_wake = Clock::time_point::min();
  std::map<std::string, std::shared_ptr<StepSemaphore>, std::less<>> semaphores;
  std::once_flag shutdown_once;
  std::thread deadline_thread;

  std::shared_ptr<StepSemaphore> SemaphoreFor(const ResolvedStep& s) {
    if (s.step.max_concurrency == 0) return nullptr;
    std::lock_guard lock(mu);
    auto [it, inserted] = semaphores.try_emplace(s.id);
    if (inserted) it->second = std::make_shared<StepSemaphore>(s.step.max_concurrency);
    return it->second;
  }

  Outcome RunLoop(Run& run);
  void Execute(const std::shared_ptr<Run>& run);
  void Finish(const std::shared_ptr<Run>& run);
  void DeadlineLoop();
  void Shutdown(std::chrono::milliseconds grace);
};

Outcome Engine::Impl::RunLoop(Run& run) {
  Context& ctx = *run.ctx;
  std::deque<std::pair<Event, std::string>> pending;
  pending.emplace_back(Event::Start(run.input), std::string());
  Publish(run, pending.front().first, "");

  while (!pending.empty()) {
    if (Status s = ctx.CheckCancelled(); !s.ok()) return StoppedOutcome(run, s);
    auto [event, source] = std::move(pending.front());
    pending.pop_front();
    if (event.is_stop()) return Outcome{true, event.result(), {}, source};

    bool handled = false;
    for (const ResolvedStep& rs : run.steps) {
      const auto& accepts = rs.step.accepts;
      if (std::find(accepts.begin(), accepts.end(), event.type) == accepts.end()) continue;
      handled = true;

      std::shared_ptr<StepSemaphore> sem = SemaphoreFor(rs);
      if (sem) {
        if (Status s = sem->Acquire(ctx); !s.ok()) return StoppedOutcome(run, s, rs.id);
      }
      std::optional<Clock::time_point> step_deadline;
      if (rs.step.timeout) step_deadline = Clock::now() + *rs.step.timeout;
      ctx.set_step_deadline(step_deadline);
      Result<StepOutput> out = CallHandler(rs.step, event, ctx);
      ctx.set_step_deadline(std::nullopt);
      if (sem) sem->Release();

      if (Status s = ctx.CheckCancelled(); !s.ok()) return StoppedOutcome(run, s, rs.id);
      if (step_deadline && Clock::now() >= *step_deadline) {
        return Failure("workflow error: step '" + rs.step.name + "' timed out after " +
                           std::to_string(rs.step.timeout->count()) + "ms",
                       rs.id);
      }
      if (!out.ok()) {
        return Failure(
            "workflow error: step '" + rs.step.name + "' failed: " + out.status().message(), rs.id);
      }
      for (Event& emitted : *out) {
        if (!emitted.is_stop()) Publish(run, emitted, rs.id);
        pending.emplace_back(std::move(emitted), rs.id);
      }
    }
    if (!handled) return Failure("workflow error: no handler for event type: " + event.type);
  }
  return Failure("workflow error: the workflow ended without a blazen::StopEvent");
}

void Engine::Impl::Execute(const std::shared_ptr<Run>& run) {
  Outcome outcome;
  try {
    outcome = RunLoop(*run);
  } catch (const std::exception& e) {
    outcome = Failure(std::string("workflow error: internal error: ") + e.what());
  } catch (...) {
    outcome = Failure("workflow error: internal error");
  }

  SessionRefRegistry& refs = *engine.refs_;
  std::unique_lock lock(run->mu);
  if (run->completed) {
    // Answered already (deadline): nobody will ever hear of this run's refs.
    lock.unlock();
    refs.EndRun(run->run_id, /*run_failed=*/true);
    Finish(run);
    return;
  }
  run->completed = true;
  SubWorkflowResponse response;
  if (outcome.ok) {
    response.result_json = DumpJson(outcome.result);
    for (const auto& [key, value] : run->ctx->StateSnapshot()) {
      response.state_json.emplace(key, DumpJson(value));
    }
    response.remote_refs = refs.RefsOutlivingRun(run->run_id, engine.options_.node_id);
    refs.EndRun(run->run_id, /*run_failed=*/false);
  } else {
    response = SubWorkflowResponse::Error(std::move(outcome.error));
    refs.EndRun(run->run_id, /*run_failed=*/true);
  }
  lock.unlock();

  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - run->started);
  BLAZEN_LOG_DEBUG("run {} workflow '{}' finished in {} ms: {}", run->run_id, run->workflow_name,
                   ms.count(), response.error.value_or("ok"));
  Deliver(*run, std::move(response), outcome.last_step_id, outcome.result);
  Finish(run);
}

void Engine::Impl::Finish(const std::shared_ptr<Run>& run) {
  // Notify under the lock: once `active` is empty, Shutdown may return and destroy this object.
  std::lock_guard lock(mu);
  active.erase(run);
  if (run->deadline_entry) {
    deadlines.erase(*run->deadline_entry);
    run->deadline_entry.reset();
  }
  if (active.empty()) idle_cv.notify_all();
}

void Engine::Impl::DeadlineLoop() {
  std::unique_lock lock(mu);
  Clock::time_point next_sweep = Clock::now() + engine.options_.ref_sweep_interval;
  while (!stopping) {
    Clock::time_point wake = next_sweep;
    if (!deadlines.empty()) wake = std::min(wake, deadlines.begin()->first);
    planned_wake = wake;
    deadline_cv.wait_until(lock, wake);
    planned_wake = Clock::time_point::min();  // awake: it recomputes before sleeping again
    if (stopping) break;

    const Clock::time_point now = Clock::now();
    std::vector<std::shared_ptr<Run>> expired;
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      if (auto run = deadlines.begin()->second.lock()) {
        run->deadline_entry.reset();
        expired.push_back(std::move(run));
      }
      deadlines.erase(deadlines.begin());
    }
    const bool sweep = now >= next_sweep;
    if (sweep) next_sweep = now + engine.options_.ref_sweep_interval;
    lock.unlock();

    for (const std::shared_ptr<Run>& run : expired) {
      {
        std::lock_guard run_lock(run->mu);
        if (run->completed) continue;
        run->completed = true;
      }
      run->ctx->Cancel();  // the worker notices at its next check and purges the refs
      BLAZEN_LOG_DEBUG("run {} timed out after {}s", run->run_id, run->timeout_secs);
      Deliver(*run, SubWorkflowResponse::Error(TimeoutMessage(*run)), "");
    }
    if (sweep) {
      const std::size_t expired_refs = engine.refs_->ExpireIdle();
      if (expired_refs > 0) BLAZEN_LOG_INFO("expired {} idle session refs", expired_refs);
    }
    lock.lock();
  }
}

// --- Engine ------------------------------------------------------------------------------------

Engine::Engine(EngineOptions options, std::shared_ptr<SessionRefRegistry> refs)
    : options_(std::move(options)),
      refs_(refs ? std::move(refs) : std::make_shared<SessionRefRegistry>()) {
  impl_ = std::make_unique<Impl>(*this);
  impl_->default_workflows = options_.default_workflows;
}

Engine::~Engine() { Shutdown(std::chrono::milliseconds(0)); }

Status Engine::InvokeAsync(const SubWorkflowRequest& request, InvocationOptions options,
                           InvokeCallback done) {
  if (!done) return Status::InvalidArgument("InvokeAsync needs a completion callback");
  BLAZEN_RETURN_IF_ERROR(CheckEnvelopeVersion(request.envelope_version));

  // Step ids: the request's, else the workflow's defaults.
  std::vector<std::string> ids = request.step_ids;
  if (ids.empty()) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->default_workflows.find(request.workflow_name);
    if (it == impl_->default_workflows.end() || it->second.empty()) {
      return Status::NotFound("unknown workflow `" + request.workflow_name +
                              "`: the request names no steps and the peer has no default steps "
                              "for it");
    }
    ids = it->second;
  }
  auto run = std::make_shared<Run>();
  run->steps.reserve(ids.size());
  for (const std::string& id : ids) {
    std::optional<Step> step;
    try {
      step = LookupStepBuilder(id);
    } catch (const std::exception& e) {
      return Status::Internal("step builder of `" + id + "` failed: " + e.what());
    }
    if (!step) {
      return Status(StatusCode::kNotFound, "unknown step id `" + id + "`", ErrorKind::kUnknownStep);
    }
    run->steps.push_back(ResolvedStep{id, std::move(*step)});
  }

  Result<json> input = ParseJson(request.input_json);
  if (!input.ok()) {
    return Status::InvalidArgument("invalid input JSON: " + input.status().message());
  }

  const std::chrono::seconds timeout =
      request.timeout_secs
          ? std::chrono::seconds(static_cast<std::int64_t>(std::min<std::uint64_t>(
                *request.timeout_secs, static_cast<std::uint64_t>(options_.max_timeout.count()))))
          : options_.default_timeout;
  run->run_id = Uuid::NewV4Fast().ToString();  // grants nothing: no CSPRNG needed
  run->workflow_name = request.workflow_name;
  run->input = std::move(*input);
  run->timeout_secs = static_cast<std::uint64_t>(timeout.count());
  run->started = Clock::now();
  run->on_event = std::move(options.on_event);
  run->done = std::move(done);
  RunInfo info{run->run_id,
               request.workflow_name,
               std::move(options.parent_run_id),
               std::move(options.caller_node_id),
               run->started + timeout,
               options_.services};
  run->ctx = std::make_unique<Context>(std::move(info), refs_, std::move(options.cancel));

  {
    std::lock_guard lock(impl_->mu);
    // Routers read this message as "refused before running" and resend the call elsewhere
    // (client/pool/peer_pool.cc): keep it.
    if (!impl_->accepting) return Status::Unavailable("peer is shutting down");
    impl_->active.insert(run);
  }
  // Microsecond runs execute right here when the caller allows it: no hand-off to a worker and
  // back, no deadline entry (they end long before any deadline; a zero timeout still goes through
  // the deadline thread so it is answered exactly as for any other run).
  const bool inline_run =
      options.allow_inline && timeout.count() > 0 &&
      std::all_of(run->steps.begin(), run->steps.end(), [](const ResolvedStep& rs) {
        return rs.step.runs_inline && rs.step.max_concurrency == 0 && !rs.step.timeout;
      });
  if (inline_run) {
    impl_->Execute(run);
    return Status::Ok();
  }
  Status submitted = impl_->pool.Submit([impl = impl_.get(), run] { impl->Execute(run); });
  if (!submitted.ok()) {
    std::lock_guard lock(impl_->mu);
    impl_->active.erase(run);
    return submitted;
  }
  bool wake_deadline_thread = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->active.count(run) != 0) {  // not already finished
      run->deadline_entry = impl_->deadlines.emplace(run->ctx->deadline(), run);
      // Wake the deadline thread only when it must wake earlier than it planned (it is asleep
      // until planned_wake; while awake it recomputes anyway).
      wake_deadline_thread = impl_->planned_wake != Clock::time_point::min() &&
                             run->ctx->deadline() < impl_->planned_wake;
    }
  }
  if (wake_deadline_thread) impl_->deadline_cv.notify_one();
  return Status::Ok();
}

Result<SubWorkflowResponse> Engine::Invoke(const SubWorkflowRequest& request,
                                           InvocationOptions options) {
  auto promise = std::make_shared<std::promise<SubWorkflowResponse>>();
  std::future<SubWorkflowResponse> future = promise->get_future();
  BLAZEN_RETURN_IF_ERROR(InvokeAsync(
      request, std::move(options),
      [promise](SubWorkflowResponse response) { promise->set_value(std::move(response)); }));
  return future.get();
}

void Engine::SetDefaultWorkflow(std::string workflow_name, std::vector<std::string> step_ids) {
  std::lock_guard lock(impl_->mu);
  impl_->default_workflows.insert_or_assign(std::move(workflow_name), std::move(step_ids));
}

std::map<std::string, std::vector<std::string>> Engine::DefaultWorkflows() const {
  std::lock_guard lock(impl_->mu);
  return impl_->default_workflows;
}

std::size_t Engine::active_runs() const {
  std::lock_guard lock(impl_->mu);
  return impl_->active.size();
}

Engine::Load Engine::load() const {
  Load out;
  const std::size_t active = active_runs();
  out.queued = impl_->pool.queued();
  out.in_flight = active - std::min(active, out.queued);
  out.workers = impl_->pool.threads();
  return out;
}

void Engine::Shutdown(std::chrono::milliseconds grace) {
  std::call_once(impl_->shutdown_once, [this, grace] { impl_->Shutdown(grace); });
}

void Engine::Impl::Shutdown(std::chrono::milliseconds grace) {
  std::unique_lock lock(mu);
  accepting = false;
  idle_cv.wait_for(lock, grace, [this] { return active.empty(); });
  for (const std::shared_ptr<Run>& run : active) run->ctx->Cancel();
  lock.unlock();
  pool.Stop();
  lock.lock();
  // Cancelled runs end at their next check; queued ones see the cancel flag at once.
  idle_cv.wait(lock, [this] { return active.empty(); });
  stopping = true;
  lock.unlock();
  deadline_cv.notify_all();
  deadline_thread.join();
}

}  // namespace blazen
