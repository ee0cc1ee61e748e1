// SPDX-License-Identifier: Apache-2.0
#include "client/pool/retry_budget.h"

#include <algorithm>
#include <cmath>

namespace blazen::client::pool {

namespace {
constexpr std::int64_t kScale = 1000;  // milli-tokens per token

std::int64_t Milli(double tokens) {
  return static_cast<std::int64_t>(std::llround(std::max(0.0, tokens) * kScale));
}
}  // namespace

RetryBudget::RetryBudget(RetryOptions options)
    : deposit_(Milli(options.ratio)), max_(Milli(options.max_tokens)), balance_(max_) {}

void RetryBudget::OnRequest() noexcept {
  std::int64_t current = balance_.load(std::memory_order_relaxed);
  while (current < max_ &&
         !balance_.compare_exchange_weak(current, std::min(max_, current + deposit_),
                                         std::memory_order_relaxed)) {
  }
}

bool RetryBudget::TryRetry() noexcept {
  std::int64_t current = balance_.load(std::memory_order_relaxed);
  do {
    if (current < kScale) return false;
  } while (!balance_.compare_exchange_weak(current, current - kScale, std::memory_order_relaxed));
  return true;
}

double RetryBudget::tokens() const noexcept {
  return static_cast<double>(balance_.load(std::memory_order_relaxed)) / kScale;
}

}  // namespace blazen::client::pool
