// SPDX-License-Identifier: Apache-2.0
#pragma once
// The per-run Context a step sees: JSON state (exported in the response), the run's identity, its
// session-ref scope, cancellation and deadline, and a slot for the run's device stream.

#include <any>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/session_ref.h"
#include "core/status.h"

namespace blazen {

/// A cancellation flag shared between a transport (client went away) and a run. Thread-safe.
class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  [[nodiscard]] bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

/// Identity and limits of one run, fixed when it starts.
struct RunInfo {
  std::string run_id;
  std::string workflow_name;
  std::optional<std::string> parent_run_id;
  std::string caller_node_id;
  std::chrono::steady_clock::time_point deadline;
  /// Node services steps may use (e.g. the GPU runtime), set by the composition root through
  /// EngineOptions::services; core never looks inside.
  std::any services;
};

/// What a step sees of its run. Thread-safe: state and the cancellation state may be used from
/// several threads (the engine cancels from its deadline thread).
class Context {
 public:
  Context(RunInfo info, std::shared_ptr<SessionRefRegistry> refs,
          std::shared_ptr<CancellationToken> cancel);

  // --- identity ---
  [[nodiscard]] const std::string& run_id() const { return info_.run_id; }
  [[nodiscard]] const std::string& workflow_name() const { return info_.workflow_name; }
  [[nodiscard]] const std::optional<std::string>& parent_run_id() const {
    return info_.parent_run_id;
  }
  [[nodiscard]] const std::string& caller_node_id() const { return info_.caller_node_id; }

  // --- state (all of it is exported as the response's state_json) ---
  /// The value under `key`, or nullopt.
  [[nodiscard]] std::optional<nlohmann::json> GetState(std::string_view key) const;
  void SetState(std::string key, nlohmann::json value);
  /// True when `key` was present.
  bool RemoveState(std::string_view key);
  /// A copy of the whole state.
  [[nodiscard]] std::map<std::string, nlohmann::json, std::less<>> StateSnapshot() const;

  // --- session refs created by this run ---
  /// Inserts a ref owned by this run (and its parent run, if any). Same errors as
  /// SessionRefRegistry::Insert.
  [[nodiscard]] Result<Uuid> InsertRef(std::shared_ptr<const SessionValue> value,
                                       RefLifetime lifetime);
  /// A lease on any live ref (kNotFound when it does not exist).
  [[nodiscard]] Result<RefLease> AcquireRef(const Uuid& key) const;
  [[nodiscard]] SessionRefRegistry& session_refs() const { return *refs_; }

  // --- cancellation and deadline ---
  /// True when the run was cancelled or its deadline (or the current step's) has passed. Steps
  /// poll this in long loops and return early.
  [[nodiscard]] bool cancelled() const;
  /// OK, or kCancelled / kDeadlineExceeded saying why the step should stop.
  [[nodiscard]] Status CheckCancelled() const;
  /// The run's deadline.
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const { return info_.deadline; }
  /// The earliest of the run's and the current step's deadlines.
  [[nodiscard]] std::chrono::steady_clock::time_point effective_deadline() const;

  /// Node services (see RunInfo::services); empty when the node provides none.
  [[nodiscard]] const std::any& services() const { return info_.services; }

  // --- device stream slot (set by the GPU layer; core never looks inside) ---
  [[nodiscard]] std::any& device_slot() { return device_slot_; }

  /// Engine use: the deadline of the step now running (none between steps).
  void set_step_deadline(std::optional<std::chrono::steady_clock::time_point> deadline);
  /// Engine use: cancels the run.
  void Cancel() { cancel_->Cancel(); }

 private:
  RunInfo info_;
  std::shared_ptr<SessionRefRegistry> refs_;
  std::shared_ptr<CancellationToken> cancel_;
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json, std::less<>> state_;
  std::atomic<std::int64_t> step_deadline_ns_;  // steady_clock ns since epoch; max = none
  std::any device_slot_;
};

}  // namespace blazen
