// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a timed operation cost on each side: wall time, CPU time, page faults and context
// switches of the client (this process) and of one server process, read before and after the
// operation and reported per call or per GB.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "bench/child_process.h"

namespace blazen::bench {

using Clock = std::chrono::steady_clock;

/// The costs so far of the client and of one server, at one moment.
struct CostSnapshot {
  Clock::time_point at;
  double client_cpu = 0;
  std::int64_t client_faults = 0;
  std::int64_t client_switches = 0;
  ProcessUsage server;
};

/// Whether a snapshot is taken just before or just after the timed operation.
enum class When { kBefore, kAfter };

/// Reads the costs so far of this process and of process `server`. The clock is read last before
/// an operation and first after it, so that reading /proc is not timed.
[[nodiscard]] CostSnapshot Snapshot(pid_t server, When when);

/// What one timed operation (one transfer, or one block of calls) cost: the difference of two
/// snapshots.
struct TransferSample {
  double seconds = 0;
  double client_cpu = 0;
  double server_cpu = 0;
  std::int64_t client_faults = 0;
  std::int64_t server_faults = 0;
  std::int64_t client_switches = 0;
  std::int64_t server_switches = 0;
};

/// Returns the costs from snapshot `a` to snapshot `b` (same server).
[[nodiscard]] TransferSample Between(const CostSnapshot& a, const CostSnapshot& b);

/// CPU time and context switches per call, on each side, over the timed calls. Plain value type.
struct CallCosts {
  TransferSample total;
  std::size_t calls = 0;

  /// Adds the costs of a block of `n` calls.
  void Add(const TransferSample& block, std::size_t n);
  /// Returns `value` (a total over all calls) divided by the number of calls; 0 without calls.
  [[nodiscard]] double PerCall(double value) const;
};

}  // namespace blazen::bench
