// SPDX-License-Identifier: Apache-2.0
#pragma once
// OutlierDetector: passive health. Counts each peer's call outcomes and ejects a peer that fails
// too often (consecutive transport failures, or a failure rate over a window) for a backoff that
// doubles with each ejection in a row; when the backoff ends the peer is re-admitted half-open: its
// next outcome decides (a success clears the history, a failure ejects it again at once). A cap on
// the ejected share keeps the pool from ejecting everything. The clock is injectable.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace blazen::client::pool {

/// Settings of the outlier detector. Value type.
struct OutlierOptions {
  /// Ejects after this many transport failures in a row (0: never by count).
  std::uint32_t consecutive_failures = 5;
  /// Ejects when at least `failure_rate_min_calls` outcomes in the current window and this share
  /// of them failed (0 or > 1: never by rate).
  double failure_rate = 0.5;
  std::uint32_t failure_rate_min_calls = 20;
  std::chrono::milliseconds failure_rate_window{std::chrono::seconds(10)};
  /// The most peers ejected at once, as a share of all peers (rounded down), so a fleet-wide
  /// problem never empties the pool. 0.5 of 1 peer is 0: a lone peer is never ejected.
  double max_ejected_share = 0.5;
  /// The first ejection lasts `base_ejection`; each ejection in a row doubles it, up to
  /// `max_ejection`.
  std::chrono::milliseconds base_ejection{500};
  std::chrono::milliseconds max_ejection{std::chrono::seconds(10)};
};

/// Outcome bookkeeping and ejection decisions for a set of peers (by key, e.g. the endpoint).
/// Thread-safe (one internal mutex, held for a few map operations per call).
class OutlierDetector {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  /// `now` defaults to steady_clock::now.
  explicit OutlierDetector(OutlierOptions options, Now now = {});

  /// The peers that exist; forgets the others.
  void SetPeers(const std::vector<std::string>& keys);

  /// Records a successful call. Returns true when it re-admitted the peer for good (a half-open
  /// peer that succeeded).
  bool RecordSuccess(const std::string& key);
  /// Records a transport failure. Returns true when it ejected the peer.
  bool RecordFailure(const std::string& key);

  /// Whether the peer is ejected now (an ejection whose backoff passed is over: half-open).
  [[nodiscard]] bool IsEjected(const std::string& key) const;
  /// Keys ejected now, sorted.
  [[nodiscard]] std::vector<std::string> Ejected() const;
  /// The earliest time an ejection ends, or time_point::max() when none is ejected (a caller
  /// republishes the pick set then).
  [[nodiscard]] Clock::time_point NextReadmission() const;
  /// Ejections so far.
  [[nodiscard]] std::uint64_t ejections() const;

 private:
  struct PeerRecord {
    std::uint32_t consecutive = 0;
    Clock::time_point window_start{};
    std::uint32_t window_calls = 0;
    std::uint32_t window_failures = 0;
    std::uint32_t ejections_in_a_row = 0;
    bool half_open = false;
    Clock::time_point ejected_until{};  // ejected while now < ejected_until
  };

  [[nodiscard]] bool EjectedLocked(const PeerRecord& record, Clock::time_point now) const {
    return now < record.ejected_until;
  }
  [[nodiscard]] std::size_t EjectedCountLocked(Clock::time_point now) const;
  void RollWindowLocked(PeerRecord& record, Clock::time_point now) const;

  const OutlierOptions options_;
  const Now now_;
  mutable std::mutex mu_;
  std::map<std::string, PeerRecord, std::less<>> peers_;  // guarded by mu_
  std::uint64_t ejections_ = 0;                           // guarded by mu_
};

}  // namespace blazen::client::pool
