// SPDX-License-Identifier: Apache-2.0
// Context: per-run state, ref scope and cancellation.

#include "core/context.h"

#include <limits>

namespace blazen {
namespace {
constexpr std::int64_t kNoStepDeadline = std::numeric_limits<std::int64_t>::max();
}  // namespace

Context::Context(RunInfo info, std::shared_ptr<SessionRefRegistry> refs,
                 std::shared_ptr<CancellationToken> cancel)
    : info_(std::move(info)),
      refs_(std::move(refs)),
      cancel_(cancel ? std::move(cancel) : std::make_shared<CancellationToken>()),
      step_deadline_ns_(kNoStepDeadline) {}

std::optional<nlohmann::json> Context::GetState(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = state_.find(key);
  if (it == state_.end()) return std::nullopt;
  return it->second;
}

void Context::SetState(std::string key, nlohmann::json value) {
  std::lock_guard lock(mu_);
  state_.insert_or_assign(std::move(key), std::move(value));
}

bool Context::RemoveState(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = state_.find(key);
  if (it == state_.end()) return false;
  state_.erase(it);
  return true;
}

std::map<std::string, nlohmann::json, std::less<>> Context::StateSnapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

Result<Uuid> Context::InsertRef(std::shared_ptr<const SessionValue> value, RefLifetime lifetime) {
  return refs_->Insert(std::move(value), lifetime, RefOwner{info_.run_id, info_.parent_run_id});
}

Result<RefLease> Context::AcquireRef(const Uuid& key) const { return refs_->Acquire(key); }

std::chrono::steady_clock::time_point Context::effective_deadline() const {
  const std::int64_t step_ns = step_deadline_ns_.load(std::memory_order_acquire);
  if (step_ns == kNoStepDeadline) return info_.deadline;
  const std::chrono::steady_clock::time_point step{std::chrono::nanoseconds(step_ns)};
  return std::min(step, info_.deadline);
}

bool Context::cancelled() const { return !CheckCancelled().ok(); }

Status Context::CheckCancelled() const {
  if (cancel_->cancelled()) return Status::Cancelled("run cancelled");
  if (std::chrono::steady_clock::now() >= effective_deadline()) {
    return Status::DeadlineExceeded("deadline exceeded");
  }
  return Status::Ok();
}

void Context::set_step_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  step_deadline_ns_.store(
      deadline ? std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch())
                     .count()
               : kNoStepDeadline,
      std::memory_order_release);
}

}  // namespace blazen
