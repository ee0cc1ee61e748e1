// SPDX-License-Identifier: Apache-2.0
#pragma once
// Engine: the single core entry point transports call. It resolves a SubWorkflowRequest's step ids
// (or the workflow's default steps), runs the workflow on a bounded worker pool under a deadline,
// and answers with a SubWorkflowResponse holding the result, the exported state and exactly the
// refs this run created that outlive it. gRPC and HTTP handlers differ only in codecs.

#include <any>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/session_ref.h"
#include "core/status.h"
#include "core/step.h"
#include "core/wire_types.h"

namespace blazen {

struct EngineOptions {
  /// This peer's node id (origin_node_id of the refs it reports).
  std::string node_id = "blazen-peer";
  /// Deadline of a run whose request has no timeout_secs (upstream has none: spec section 9.7).
  std::chrono::seconds default_timeout{300};
  /// Requests asking for more than this are clamped to it.
  std::chrono::seconds max_timeout{std::chrono::hours(24 * 365)};
  /// Runs executing at once.
  std::size_t worker_threads = 8;
  /// Runs waiting for a worker before new ones are refused with RESOURCE_EXHAUSTED.
  std::size_t max_queued_runs = 256;
  /// How often idle UntilParentFinish refs are swept (SessionRefRegistry::ExpireIdle).
  std::chrono::milliseconds ref_sweep_interval{1000};
  /// Default step ids per workflow name, used when a request's step_ids is empty.
  std::map<std::string, std::vector<std::string>> default_workflows;
  /// Node services handed to every run's Context (Context::services()), e.g. the GPU runtime.
  std::any services;
};

/// Per-call inputs that do not travel in the SubWorkflowRequest (transport metadata).
struct InvocationOptions {
  /// The parent's run id (`x-blazen-parent-run-id`): scopes UntilParentFinish refs.
  std::optional<std::string> parent_run_id;
  /// The caller's node id (`x-blazen-peer-node-id`), for logs.
  std::string caller_node_id;
  /// Set by the transport when the client goes away; the run stops at its next check.
  std::shared_ptr<CancellationToken> cancel;
  /// Receives one SubWorkflowEvent per event the run emits (the start event included), then a
  /// final one carrying the response: `blazen::StopEvent` on success, `blazen::WorkflowError`
  /// otherwise. Called from engine threads, one call at a time per run, never after the final
  /// item; must not block for long.
  std::function<void(const SubWorkflowEvent&)> on_event;
  /// The caller's thread may execute the run itself, before InvokeAsync returns, when every step
  /// declares Step::runs_inline (then `done` is called on this thread, inside InvokeAsync).
  /// Transports set it for unary calls whose completion callback never blocks.
  bool allow_inline = false;
};

/// Called exactly once with the run's response (workflow failures are responses with `error`).
using InvokeCallback = std::function<void(SubWorkflowResponse)>;

/// Runs sub-workflows. Thread-safe; owns its worker threads and a deadline thread.
class Engine {
 public:
  Engine(EngineOptions options, std::shared_ptr<SessionRefRegistry> refs);
  /// Shuts down with no grace period (runs still going are cancelled).
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  Engine(Engine&&) = delete;
  Engine& operator=(Engine&&) = delete;

  /// Starts a run and returns at once; `done` receives the response later. Errors returned here
  /// mean the run did not start and `done` is never called:
  /// - kFailedPrecondition (kind kEnvelopeVersion): envelope version newer than supported;
  /// - kNotFound (kind kUnknownStep): ``unknown step id `x` ``; kNotFound: empty step_ids and no
  ///   default steps for the workflow name;
  /// - kInvalidArgument: `invalid input JSON: ...`;
  /// - kResourceExhausted: every worker busy and the queue full;
  /// - kUnavailable: the engine is shutting down.
  /// A run that fails, is cancelled or passes its deadline (`workflow timed out after Ns`) is
  /// answered through `done` with `error` set; its refs are all purged. With
  /// InvocationOptions::allow_inline, `done` may run on the calling thread before this returns.
  [[nodiscard]] Status InvokeAsync(const SubWorkflowRequest& request, InvocationOptions options,
                                   InvokeCallback done);

  /// InvokeAsync and wait for the response. Same errors.
  [[nodiscard]] Result<SubWorkflowResponse> Invoke(const SubWorkflowRequest& request,
                                                   InvocationOptions options = {});

  /// Sets the default step ids of `workflow_name` (replacing any).
  void SetDefaultWorkflow(std::string workflow_name, std::vector<std::string> step_ids);
  [[nodiscard]] std::map<std::string, std::vector<std::string>> DefaultWorkflows() const;

  /// Stops accepting runs, waits up to `grace` for running ones, cancels the rest and waits for
  /// them to end. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  [[nodiscard]] const EngineOptions& options() const { return options_; }
  [[nodiscard]] const std::shared_ptr<SessionRefRegistry>& session_refs() const { return refs_; }
  /// Runs accepted and not yet finished (queued or executing).
  [[nodiscard]] std::size_t active_runs() const;

  /// The engine's load now: runs executing (pooled or inline), runs waiting for a worker, and
  /// the worker count. Cheap (two uncontended locks); for load reports.
  struct Load {
    std::size_t in_flight = 0;
    std::size_t queued = 0;
    std::size_t workers = 0;
  };
  [[nodiscard]] Load load() const;

 private:
  struct Impl;
  EngineOptions options_;
  std::shared_ptr<SessionRefRegistry> refs_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blazen
