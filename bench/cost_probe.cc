// SPDX-License-Identifier: Apache-2.0
// Cost snapshots from getrusage (this process) and /proc (the server), and their differences.

#include "bench/cost_probe.h"

#include <sys/resource.h>

namespace blazen::bench {

CostSnapshot Snapshot(pid_t server, When when) {
  CostSnapshot s;
  if (when == When::kAfter) s.at = Clock::now();
  s.server = ReadProcessUsage(server);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  s.client_cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  s.client_faults = usage.ru_minflt;
  s.client_switches = usage.ru_nvcsw + usage.ru_nivcsw;
  if (when == When::kBefore) s.at = Clock::now();
  return s;
}

TransferSample Between(const CostSnapshot& a, const CostSnapshot& b) {
  TransferSample t;
  t.seconds = std::chrono::duration<double>(b.at - a.at).count();
  t.client_cpu = b.client_cpu - a.client_cpu;
  t.server_cpu = b.server.cpu_seconds - a.server.cpu_seconds;
  t.client_faults = b.client_faults - a.client_faults;
  t.server_faults = b.server.minor_faults - a.server.minor_faults;
  t.client_switches = b.client_switches - a.client_switches;
  t.server_switches = b.server.context_switches - a.server.context_switches;
  return t;
}

void CallCosts::Add(const TransferSample& block, std::size_t n) {
  total.client_cpu += block.client_cpu;
  total.server_cpu += block.server_cpu;
  total.client_switches += block.client_switches;
  total.server_switches += block.server_switches;
  calls += n;
}

double CallCosts::PerCall(double value) const {
  return calls == 0 ? 0 : value / static_cast<double>(calls);
}

}  // namespace blazen::bench
