// SPDX-License-Identifier: Apache-2.0
#pragma once
// RetryBudget: bounds the extra load retries add. Every first attempt deposits `ratio` of a token
// (up to `max_tokens`); every retry withdraws one whole token or is refused. Over any long run,
// retries <= ratio x requests + max_tokens, so retries during an outage cannot multiply the load
// on the peers that are left (gRPC's retry throttling has the same shape).

#include <atomic>
#include <cstdint>

namespace blazen::client::pool {

/// Settings of the retry budget. Value type.
struct RetryOptions {
  /// Tokens each request deposits: the most extra load retries may add, as a share of requests.
  double ratio = 0.1;
  /// Tokens the budget holds at most, and at start: the burst of retries allowed at once.
  double max_tokens = 10.0;
  /// Attempts per call at most, the first included (each on a different peer).
  int max_attempts = 3;
};

/// Thread-safe (lock-free).
class RetryBudget {
 public:
  explicit RetryBudget(RetryOptions options);

  /// A request starts: deposits `ratio` tokens.
  void OnRequest() noexcept;
  /// Takes one token for a retry; false (nothing taken) when less than one is left.
  bool TryRetry() noexcept;
  /// Tokens left now.
  [[nodiscard]] double tokens() const noexcept;

 private:
  // Milli-tokens, so that deposits and withdrawals are integer atomics.
  const std::int64_t deposit_;
  const std::int64_t max_;
  std::atomic<std::int64_t> balance_;
};

}  // namespace blazen::client::pool
