// SPDX-License-Identifier: Apache-2.0
#pragma once
// Steps and the process-global step registry (upstream step_registry.rs). A step id names a
// builder; the peer assembles each run's workflow from the builders of the requested ids.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace blazen {

class Context;

/// What a step returns: zero, one or several events (empty = emits nothing).
using StepOutput = std::vector<Event>;

/// A step's body. Runs on an engine worker thread; may block; should poll `ctx.cancelled()` in
/// long loops. Returning a non-OK status or throwing fails the run with
/// `step '<name>' failed: <reason>`.
using StepHandler = std::function<Result<StepOutput>(const Event& event, Context& ctx)>;

/// One step of a workflow.
struct Step {
  /// Name used in logs and error messages.
  std::string name;
  /// Event types this step handles.
  std::vector<std::string> accepts;
  StepHandler handler;
  /// Most concurrent executions of this step across all runs of one engine; 0 = unlimited. A GPU
  /// step uses it to bound how many batches share the device.
  std::size_t max_concurrency = 0;
  /// Per-execution time limit; exceeding it fails the run with
  /// `step '<name>' timed out after <ms>ms`. The step sees ctx.cancelled() turn true at the limit.
  std::optional<std::chrono::milliseconds> timeout;
  /// Declares that the handler never blocks and returns within microseconds: no I/O, no GPU
  /// waits, no sleeping, no locks held by slow code. A run whose steps all declare it (and set no
  /// max_concurrency or timeout) may execute on the calling transport thread when the caller
  /// allows it (InvocationOptions::allow_inline), which saves two thread hand-offs per call.
  /// Everything else runs on the engine's worker pool.
  bool runs_inline = false;
};

/// A step named `name` that accepts `blazen::StartEvent` and runs `handler` (the common shape of
/// built-in steps).
[[nodiscard]] Step MakeStartStep(std::string name, StepHandler handler);

/// Builds a fresh Step for one run. Must be thread-safe (it may run concurrently).
using StepBuilder = std::function<Step()>;

/// Registers `builder` under `id` in the process-global registry. The first registration of an id
/// wins: returns true when registered, false when `id` was already taken (the new builder is
/// ignored). Thread-safe.
bool RegisterStepBuilder(std::string id, StepBuilder builder);

/// Builds the step registered under `id` (invoking its builder), or nullopt when none is.
/// Thread-safe.
[[nodiscard]] std::optional<Step> LookupStepBuilder(std::string_view id);

/// Every registered step id, sorted. Thread-safe.
[[nodiscard]] std::vector<std::string> RegisteredStepIds();

}  // namespace blazen
