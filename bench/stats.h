// SPDX-License-Identifier: Apache-2.0
#pragma once
// Statistics of a benchmark run: latency percentiles of a series of calls, a series of timed
// transfers with its throughput and costs per GB, the rounds that time such series, and ratios
// against targets.

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/cost_probe.h"

namespace blazen::bench {

/// Latency of a series of calls, in microseconds.
struct LatencyStats {
  double p50_us = 0;
  double p99_us = 0;
  double mean_us = 0;
  double min_us = 0;
  std::size_t calls = 0;
};

/// Summarizes call latencies `us` (nearest-rank percentiles); all zero when `us` is empty.
[[nodiscard]] LatencyStats Summarize(std::vector<double> us);

/// Microseconds from `start` to now.
[[nodiscard]] double MicrosSince(Clock::time_point start);

/// Latency and per-call costs of one side of a round-trip measurement.
struct CallSeries {
  LatencyStats latency;
  CallCosts costs;
};

/// Times `iters` calls of `call_a` (served by process `server_a`) and as many of `call_b`
/// (served by `server_b`) after max(100, iters / 10) untimed warm-up calls of each. Each call
/// throws on failure.
template <typename CallA, typename CallB>
[[nodiscard]] std::pair<CallSeries, CallSeries> TimeAlternating(CallA&& call_a, pid_t server_a,
                                                                CallB&& call_b, pid_t server_b,
                                                                std::size_t iters) {
  const std::size_t warmup = std::max<std::size_t>(100, iters / 10);
  for (std::size_t i = 0; i < warmup; ++i) {
    call_a();
    call_b();
  }
  // Alternate blocks of calls so that drift on the machine affects both sides alike.
  std::pair<CallSeries, CallSeries> result;
  std::vector<double> a_us;
  std::vector<double> b_us;
  constexpr std::size_t kBlock = 100;
  while (a_us.size() < iters) {
    const std::size_t n = std::min(kBlock, iters - a_us.size());
    CostSnapshot before = Snapshot(server_a, When::kBefore);
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = Clock::now();
      call_a();
      a_us.push_back(MicrosSince(start));
    }
    result.first.costs.Add(Between(before, Snapshot(server_a, When::kAfter)), n);
    before = Snapshot(server_b, When::kBefore);
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = Clock::now();
      call_b();
      b_us.push_back(MicrosSince(start));
    }
    result.second.costs.Add(Between(before, Snapshot(server_b, When::kAfter)), n);
  }
  result.first.latency = Summarize(std::move(a_us));
  result.second.latency = Summarize(std::move(b_us));
  return result;
}

/// One measured transfer (a table row): how to run it once and what each timed run cost.
struct TransferSeries {
  std::string key;    // JSON key, and the name --only selects it by
  std::string label;  // table row
  pid_t server = -1;  // the process whose costs count as the server's
  /// Moves the whole payload once; checks every byte when `full`, else a sample. Throws when the
  /// transfer fails or delivers wrong bytes.
  std::function<void(bool full)> once;
  std::vector<TransferSample> samples;

  /// Throughput of each sample for a payload of `bytes`, in GB/s, sorted.
  [[nodiscard]] std::vector<double> Gbps(std::uint64_t bytes) const;
  [[nodiscard]] double MedianGbps(std::uint64_t bytes) const;
  // Totals over all samples, per GB (1e9 bytes) or per GiB moved.
  [[nodiscard]] double ClientCpuPerGb(std::uint64_t bytes) const;
  [[nodiscard]] double ServerCpuPerGb(std::uint64_t bytes) const;
  [[nodiscard]] double ClientFaultsPerGib(std::uint64_t bytes) const;
  [[nodiscard]] double ServerFaultsPerGib(std::uint64_t bytes) const;

 private:
  [[nodiscard]] double Moved(std::uint64_t bytes) const;
  [[nodiscard]] double Sum(double TransferSample::*field) const;
  [[nodiscard]] double SumFaults(std::int64_t TransferSample::*field) const;
};

/// Runs every series once, untimed, checking every byte (this also warms up connections and
/// lanes). Announces it on the progress stream.
void VerifyEach(std::vector<TransferSeries>& series);

/// Times `reps` rounds; each round runs every series once, in order, checking bytes by sample,
/// and appends one sample to it. Reports each round on the progress stream.
void TimeRounds(std::vector<TransferSeries>& series, std::size_t reps);

/// Median throughput of the series with `key`, or none when it was not measured.
[[nodiscard]] std::optional<double> MedianGbpsOf(const std::vector<TransferSeries>& series,
                                                 const std::string& key, std::uint64_t bytes);

/// A ratio of two measurements, and the target it must meet if any.
struct Target {
  std::string name;
  double ratio = 0;
  std::string comparison;  // "<=", ">=" or "" (for information only)
  double target = 0;
  [[nodiscard]] bool met() const;
};

/// Appends the ratio of the median throughputs of series `key` and `base` to `targets`, when
/// both were measured.
void AddRatio(std::vector<Target>& targets, std::string name,
              const std::vector<TransferSeries>& series, const std::string& key,
              const std::string& base, std::string comparison, double target, std::uint64_t bytes);

}  // namespace blazen::bench
