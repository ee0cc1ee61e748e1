// SPDX-License-Identifier: Apache-2.0
#include "client/pool/outlier_detector.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace blazen::client::pool {

OutlierDetector::OutlierDetector(OutlierOptions options, Now now)
    : options_(options), now_(now ? std::move(now) : Now([] { return Clock::now(); })) {}

void OutlierDetector::SetPeers(const std::vector<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, PeerRecord, std::less<>> next;
  for (const std::string& key : keys) {
    auto it = peers_.find(key);
    next.emplace(key, it != peers_.end() ? it->second : PeerRecord{});
  }
  peers_ = std::move(next);
}

void OutlierDetector::RollWindowLocked(PeerRecord& record, Clock::time_point now) const {
  if (now - record.window_start >= options_.failure_rate_window) {
    record.window_start = now;
    record.window_calls = 0;
    record.window_failures = 0;
  }
}

std::size_t OutlierDetector::EjectedCountLocked(Clock::time_point now) const {
  return static_cast<std::size_t>(std::count_if(
      peers_.begin(), peers_.end(), [&](const auto& p) { return EjectedLocked(p.second, now); }));
}

bool OutlierDetector::RecordSuccess(const std::string& key) {
  const Clock::time_point now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(key);
  if (it == peers_.end()) return false;
  PeerRecord& record = it->second;
  RollWindowLocked(record, now);
  ++record.window_calls;
  record.consecutive = 0;
  if (record.half_open && !EjectedLocked(record, now)) {
    record.half_open = false;
    record.ejections_in_a_row = 0;
    return true;
  }
  return false;
}

bool OutlierDetector::RecordFailure(const std::string& key) {
  const Clock::time_point now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(key);
  if (it == peers_.end()) return false;
  PeerRecord& record = it->second;
  if (EjectedLocked(record, now)) return false;  // a late outcome of a call sent before ejection
  RollWindowLocked(record, now);
  ++record.window_calls;
  ++record.window_failures;
  ++record.consecutive;
  const bool by_count =
      options_.consecutive_failures != 0 && record.consecutive >= options_.consecutive_failures;
  const bool by_rate = options_.failure_rate > 0.0 && options_.failure_rate <= 1.0 &&
                       record.window_calls >= options_.failure_rate_min_calls &&
                       static_cast<double>(record.window_failures) >=
                           options_.failure_rate * static_cast<double>(record.window_calls);
  if (!record.half_open && !by_count && !by_rate) return false;
  const auto cap = static_cast<std::size_t>(
      std::floor(options_.max_ejected_share * static_cast<double>(peers_.size())));
  if (EjectedCountLocked(now) + 1 > cap) return false;  // never eject past the cap

  const std::uint32_t shift = std::min<std::uint32_t>(record.ejections_in_a_row, 20);
  const auto backoff = std::min<std::chrono::milliseconds>(
      options_.max_ejection, options_.base_ejection * (std::int64_t{1} << shift));
  record.ejected_until = now + backoff;
  record.ejections_in_a_row += 1;
  record.half_open = true;  // once the backoff ends, the next outcome decides
  record.consecutive = 0;
  record.window_start = now;
  record.window_calls = 0;
  record.window_failures = 0;
  ++ejections_;
  return true;
}

bool OutlierDetector::IsEjected(const std::string& key) const {
  const Clock::time_point now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(key);
  return it != peers_.end() && EjectedLocked(it->second, now);
}

std::vector<std::string> OutlierDetector::Ejected() const {
  const Clock::time_point now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, record] : peers_) {
    if (EjectedLocked(record, now)) out.push_back(key);
  }
  return out;
}

OutlierDetector::Clock::time_point OutlierDetector::NextReadmission() const {
  const Clock::time_point now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [key, record] : peers_) {
    if (EjectedLocked(record, now)) next = std::min(next, record.ejected_until);
  }
  return next;
}

std::uint64_t OutlierDetector::ejections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ejections_;
}

}  // namespace blazen::client::pool
