// SPDX-License-Identifier: Apache-2.0
// Latency percentiles, transfer series and their timed rounds, target ratios.

#include "bench/stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "bench/driver.h"

namespace blazen::bench {

LatencyStats Summarize(std::vector<double> us) {
  LatencyStats s;
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  // Nearest rank.
  const auto rank = [&](double p) {
    const auto r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(us.size())));
    return us[std::clamp<std::size_t>(r, 1, us.size()) - 1];
  };
  s.p50_us = rank(0.50);
  s.p99_us = rank(0.99);
  double sum = 0;
  for (double v : us) sum += v;
  s.mean_us = sum / static_cast<double>(us.size());
  s.min_us = us.front();
  s.calls = us.size();
  return s;
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

std::vector<double> TransferSeries::Gbps(std::uint64_t bytes) const {
  std::vector<double> out;
  for (const TransferSample& s : samples)
    out.push_back(static_cast<double>(bytes) / s.seconds / 1e9);
  std::sort(out.begin(), out.end());
  return out;
}

double TransferSeries::MedianGbps(std::uint64_t bytes) const {
  const std::vector<double> v = Gbps(bytes);
  if (v.empty()) return 0;
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double TransferSeries::ClientCpuPerGb(std::uint64_t bytes) const {
  return Sum(&TransferSample::client_cpu) / Moved(bytes) * 1e9;
}

double TransferSeries::ServerCpuPerGb(std::uint64_t bytes) const {
  return Sum(&TransferSample::server_cpu) / Moved(bytes) * 1e9;
}

double TransferSeries::ClientFaultsPerGib(std::uint64_t bytes) const {
  return SumFaults(&TransferSample::client_faults) / Moved(bytes) * 1073741824.0;
}

double TransferSeries::ServerFaultsPerGib(std::uint64_t bytes) const {
  return SumFaults(&TransferSample::server_faults) / Moved(bytes) * 1073741824.0;
}

double TransferSeries::Moved(std::uint64_t bytes) const {
  return static_cast<double>(bytes) * static_cast<double>(std::max<std::size_t>(1, samples.size()));
}

double TransferSeries::Sum(double TransferSample::*field) const {
  double sum = 0;
  for (const TransferSample& s : samples) sum += s.*field;
  return sum;
}

double TransferSeries::SumFaults(std::int64_t TransferSample::*field) const {
  double sum = 0;
  for (const TransferSample& s : samples) sum += static_cast<double>(s.*field);
  return sum;
}

void VerifyEach(std::vector<TransferSeries>& series) {
  Progress("verifying every byte of one transfer per measurement");
  for (TransferSeries& s : series) s.once(/*full=*/true);
}

void TimeRounds(std::vector<TransferSeries>& series, std::size_t reps) {
  for (std::size_t rep = 0; rep < reps; ++rep) {
    Progress("transfers, rep " + std::to_string(rep + 1) + " of " + std::to_string(reps));
    for (TransferSeries& s : series) {
      const CostSnapshot before = Snapshot(s.server, When::kBefore);
      s.once(/*full=*/false);
      s.samples.push_back(Between(before, Snapshot(s.server, When::kAfter)));
    }
  }
}

std::optional<double> MedianGbpsOf(const std::vector<TransferSeries>& series,
                                   const std::string& key, std::uint64_t bytes) {
  const auto it = std::find_if(series.begin(), series.end(),
                               [&](const TransferSeries& s) { return s.key == key; });
  if (it == series.end()) return std::nullopt;
  return it->MedianGbps(bytes);
}

bool Target::met() const {
  if (comparison == "<=") return ratio <= target;
  if (comparison == ">=") return ratio >= target;
  return true;
}

void AddRatio(std::vector<Target>& targets, std::string name,
              const std::vector<TransferSeries>& series, const std::string& key,
              const std::string& base, std::string comparison, double target, std::uint64_t bytes) {
  const std::optional<double> a = MedianGbpsOf(series, key, bytes);
  const std::optional<double> b = MedianGbpsOf(series, base, bytes);
  if (a && b) targets.push_back({std::move(name), *a / *b, std::move(comparison), target});
}

}  // namespace blazen::bench
