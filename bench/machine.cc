// SPDX-License-Identifier: Apache-2.0
// The machine under a benchmark driver: /proc and sched_* reads, pinning and malloc tuning.

#include "bench/machine.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bench/child_process.h"

namespace blazen::bench {

// Raises glibc's mmap and trim thresholds (both: raising only the trim threshold made bulk
// receives 4x slower), so that freed receive buffers stay in the heap instead of going back to
// the kernel and faulting in again on the next message. Values given in the environment win.
void TuneMalloc() {
#if defined(__GLIBC__)
  constexpr int kThreshold = 256 << 20;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr &&
      mallopt(M_MMAP_THRESHOLD, kThreshold) == 0) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the most glibc < 2.35 accepts
  }
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, kThreshold);
#endif
}

std::string SelfPath() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find this executable: " + error.message());
  return path.string();
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &set)) cpus.push_back(cpu);
  }
  return cpus;
}

void PinSelf(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    throw std::runtime_error(std::string("sched_setaffinity: ") + std::strerror(errno));
  }
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::vector<double> LoadAverage() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return {};
  return {load[0], load[1], load[2]};
}

std::string CpuList(const std::vector<int>& cpus) {
  std::string out;
  for (int cpu : cpus) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(cpu));
  }
  return out.empty() ? "any" : out;
}

CpuPlan PlanCpus(bool pin) {
  CpuPlan plan;
  plan.all = AllowedCpus();
  if (pin && plan.all.size() >= 2) {
    // Servers on the first half of the CPUs, the client on the rest (one each on two cores).
    const std::size_t half = plan.all.size() / 2;
    plan.servers.assign(plan.all.begin(), plan.all.begin() + static_cast<std::ptrdiff_t>(half));
    plan.client.assign(plan.all.begin() + static_cast<std::ptrdiff_t>(half), plan.all.end());
  }
  return plan;
}

MachineCpu ReadMachineCpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {static_cast<double>(user + nice + system + irq + softirq) / tick,
          static_cast<double>(steal) / tick};
}

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

Interference::Interference(std::vector<pid_t> servers) : servers_(std::move(servers)) {
  start_ = std::chrono::steady_clock::now();
  machine_ = ReadMachineCpu();
  own_ = OwnCpuSeconds();
  for (pid_t pid : servers_) own_ += ReadProcessUsage(pid).cpu_seconds;
}

Interference::Report Interference::Finish(std::size_t cpus) const {
  Report r;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const MachineCpu machine = ReadMachineCpu();
  double own = OwnCpuSeconds();
  for (pid_t pid : servers_) own += ReadProcessUsage(pid).cpu_seconds;
  r.other_cpu_seconds =
      std::max(0.0, (machine.busy_seconds - machine_.busy_seconds) - (own - own_));
  r.steal_seconds = machine.steal_seconds - machine_.steal_seconds;
  const double capacity = r.wall_seconds * static_cast<double>(std::max<std::size_t>(1, cpus));
  r.other_share = capacity > 0 ? (r.other_cpu_seconds + r.steal_seconds) / capacity : 0;
  return r;
}

}  // namespace blazen::bench
