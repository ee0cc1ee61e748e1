// SPDX-License-Identifier: Apache-2.0
#pragma once
// The machine a benchmark driver runs on: which CPUs it may use and how it splits them between
// servers and client, pinning, malloc tuning, and how busy the rest of the machine was while the
// driver measured (other processes disturb the numbers, so every report states it).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace blazen::bench {

/// Raises glibc's mmap and trim thresholds so that freed receive buffers stay in the heap; values
/// given in the environment (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) win. Call first
/// thing in main. No effect outside glibc.
void TuneMalloc();

/// Returns the path of this executable (/proc/self/exe). Throws std::runtime_error when it
/// cannot be read.
[[nodiscard]] std::string SelfPath();

/// Returns the CPUs this process may run on, in increasing order; empty when the affinity mask
/// cannot be read.
[[nodiscard]] std::vector<int> AllowedCpus();

/// Pins the calling thread to `cpus`; threads it starts later inherit the mask. Throws
/// std::runtime_error when sched_setaffinity fails.
void PinSelf(const std::vector<int>& cpus);

/// Returns the first `model name` of /proc/cpuinfo, or "unknown".
[[nodiscard]] std::string CpuModel();

/// Returns the 1, 5 and 15 minute load averages, or an empty vector when they cannot be read.
[[nodiscard]] std::vector<double> LoadAverage();

/// Formats a CPU list as "0,1,2", or "any" when it is empty (not pinned).
[[nodiscard]] std::string CpuList(const std::vector<int>& cpus);

/// How a driver uses the CPUs: servers on `servers`, the client (the driver itself) on `client`.
/// Both are empty when the driver does not pin.
struct CpuPlan {
  std::vector<int> all;  // the CPUs this process may use
  std::vector<int> servers;
  std::vector<int> client;
};

/// With `pin` and at least two allowed CPUs: servers on the first half of the CPUs, the client on
/// the rest (one each on two cores). Otherwise nothing is pinned.
[[nodiscard]] CpuPlan PlanCpus(bool pin);

/// CPU time the whole machine spent busy, and the part the hypervisor gave to other guests
/// (steal), from the first line of /proc/stat.
struct MachineCpu {
  double busy_seconds = 0;
  double steal_seconds = 0;
};

/// Reads /proc/stat now.
[[nodiscard]] MachineCpu ReadMachineCpu();

/// User plus system CPU time of this process so far (getrusage).
[[nodiscard]] double OwnCpuSeconds();

/// How much CPU the rest of the machine used while the benchmark measured: the machine's busy
/// time minus this process's and its servers' CPU time, from construction to Finish. Other builds
/// or tests running at the same time disturb the numbers, so the report states it.
/// Thread safety: externally synchronized.
class Interference {
 public:
  /// Starts the window. `servers` are the child processes whose CPU time counts as the
  /// benchmark's own.
  explicit Interference(std::vector<pid_t> servers);

  struct Report {
    double wall_seconds = 0;
    double other_cpu_seconds = 0;
    double steal_seconds = 0;
    double other_share = 0;  // of the machine's capacity (all CPUs) during the window
  };

  /// Ends the window (it may be called more than once) for a machine of `cpus` CPUs.
  [[nodiscard]] Report Finish(std::size_t cpus) const;

 private:
  std::vector<pid_t> servers_;
  std::chrono::steady_clock::time_point start_;
  MachineCpu machine_;
  double own_ = 0;
};

}  // namespace blazen::bench
