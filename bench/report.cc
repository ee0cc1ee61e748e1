// SPDX-License-Identifier: Apache-2.0
// The printed table and the JSON pieces of a benchmark run. Column widths and JSON keys are
// what BENCHMARKS.md and the result files rely on.

#include "bench/report.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace blazen::bench {
namespace {

using nlohmann::json;

std::string LoadText(const std::vector<double>& l) {
  return l.size() == 3
             ? Format("%.2f", l[0]) + " " + Format("%.2f", l[1]) + " " + Format("%.2f", l[2])
             : std::string("unknown");
}

}  // namespace

std::string Format(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

void PrintMachine(const MachineSummary& m) {
  std::printf("\nmachine: %s, %zu CPUs; servers on CPUs %s, client on CPUs %s\n",
              CpuModel().c_str(), m.cpus.all.size(), CpuList(m.cpus.servers).c_str(),
              CpuList(m.cpus.client).c_str());
  std::printf("load average (1/5/15 min): before %s, after %s\n", LoadText(m.load_before).c_str(),
              LoadText(m.load_after).c_str());
  const Interference::Report& d = m.disturbed;
  std::printf(
      "other processes used %.2f CPU-s (+ %.2f s steal) during the %.1f s of "
      "measurements: %.1f%% of the machine%s\n",
      d.other_cpu_seconds, d.steal_seconds, d.wall_seconds, 100 * d.other_share,
      d.other_share > 0.05 ? "  -- DISTURBED, rerun on a quiet machine" : "");
}

void PrintLatencyTable(const std::vector<LatencyRow>& rows) {
  std::printf("%-32s %8s %8s %8s %8s %9s %9s %8s %8s\n", "round trip (us)", "p50", "p99", "mean",
              "min", "cli CPU", "srv CPU", "cli cs", "srv cs");
  for (const LatencyRow& row : rows) {
    const LatencyStats& l = row.calls.latency;
    const CallCosts& c = row.calls.costs;
    std::printf("%-32s %8.1f %8.1f %8.1f %8.1f %9.1f %9.1f %8.1f %8.1f\n", row.name.c_str(),
                l.p50_us, l.p99_us, l.mean_us, l.min_us, c.PerCall(c.total.client_cpu) * 1e6,
                c.PerCall(c.total.server_cpu) * 1e6,
                c.PerCall(static_cast<double>(c.total.client_switches)),
                c.PerCall(static_cast<double>(c.total.server_switches)));
  }
  std::printf(
      "(%zu calls each, after warm-up; CPU in us per call, cs = context switches per "
      "call)\n\n",
      rows.empty() ? std::size_t{0} : rows.front().calls.latency.calls);
}

void PrintTransferTable(const std::vector<TransferSeries>& series, std::uint64_t bytes) {
  std::printf("%-30s %8s %17s %10s %10s %12s %12s\n", "transfer", "GB/s", "min..max", "cli CPU",
              "srv CPU", "cli faults", "srv faults");
  std::printf("%-30s %8s %17s %10s %10s %12s %12s\n", "", "median", "", "s/GB", "s/GB", "/GiB",
              "/GiB");
  for (const TransferSeries& s : series) {
    const std::vector<double> g = s.Gbps(bytes);
    std::printf("%-30s %8.2f %8.2f..%-8.2f %10.3f %10.3f %12.0f %12.0f\n", s.label.c_str(),
                s.MedianGbps(bytes), g.front(), g.back(), s.ClientCpuPerGb(bytes),
                s.ServerCpuPerGb(bytes), s.ClientFaultsPerGib(bytes), s.ServerFaultsPerGib(bytes));
  }
}

bool PrintTargets(const std::vector<Target>& targets) {
  std::printf("\n%-50s %8s %10s %6s\n", "ratio", "value", "target", "met");
  bool all_met = true;
  for (const Target& t : targets) {
    const std::string target =
        t.comparison.empty() ? "-" : t.comparison + " " + Format("%.2f", t.target);
    const char* met = t.comparison.empty() ? "-" : (t.met() ? "yes" : "NO");
    all_met = all_met && t.met();
    std::printf("%-50s %7.2fx %10s %6s\n", t.name.c_str(), t.ratio, target.c_str(), met);
  }
  return all_met;
}

json MachineJson(const MachineSummary& m) {
  return {{"cpu_model", CpuModel()},
          {"cpus", m.cpus.all.size()},
          {"server_cpus", m.cpus.servers},
          {"client_cpus", m.cpus.client},
          {"load_before", m.load_before},
          {"load_after", m.load_after},
          {"other_cpu_seconds", m.disturbed.other_cpu_seconds},
          {"steal_seconds", m.disturbed.steal_seconds},
          {"measure_seconds", m.disturbed.wall_seconds},
          {"other_share", m.disturbed.other_share}};
}

json LatencyJson(const CallSeries& calls) {
  const LatencyStats& s = calls.latency;
  const CallCosts& c = calls.costs;
  return {
      {"p50_us", s.p50_us},
      {"p99_us", s.p99_us},
      {"mean_us", s.mean_us},
      {"min_us", s.min_us},
      {"calls", s.calls},
      {"client_cpu_us_per_call", c.PerCall(c.total.client_cpu) * 1e6},
      {"server_cpu_us_per_call", c.PerCall(c.total.server_cpu) * 1e6},
      {"client_context_switches_per_call", c.PerCall(static_cast<double>(c.total.client_switches))},
      {"server_context_switches_per_call",
       c.PerCall(static_cast<double>(c.total.server_switches))}};
}

json SampleJson(const TransferSample& s) {
  return {{"seconds", s.seconds},
          {"client_cpu_s", s.client_cpu},
          {"server_cpu_s", s.server_cpu},
          {"client_minor_faults", s.client_faults},
          {"server_minor_faults", s.server_faults},
          {"client_context_switches", s.client_switches},
          {"server_context_switches", s.server_switches}};
}

json TransfersJson(const std::vector<TransferSeries>& series, std::uint64_t bytes) {
  json transfers = json::array();
  for (const TransferSeries& s : series) {
    json samples = json::array();
    for (const TransferSample& sample : s.samples) samples.push_back(SampleJson(sample));
    transfers.push_back({{"key", s.key},
                         {"label", s.label},
                         {"median_gbps", s.MedianGbps(bytes)},
                         {"gbps_sorted", s.Gbps(bytes)},
                         {"samples", samples},
                         {"client_cpu_s_per_gb", s.ClientCpuPerGb(bytes)},
                         {"server_cpu_s_per_gb", s.ServerCpuPerGb(bytes)},
                         {"client_minor_faults_per_gib", s.ClientFaultsPerGib(bytes)},
                         {"server_minor_faults_per_gib", s.ServerFaultsPerGib(bytes)}});
  }
  return transfers;
}

json RatiosJson(const std::vector<Target>& targets) {
  json ratios = json::array();
  for (const Target& t : targets) {
    ratios.push_back({{"name", t.name},
                      {"ratio", t.ratio},
                      {"comparison", t.comparison},
                      {"target", t.target},
                      {"met", t.comparison.empty() ? json(nullptr) : json(t.met())}});
  }
  return ratios;
}

void WriteJson(const json& out, const std::string& path) {
  std::ofstream file(path);
  file << out.dump(2) << "\n";
  if (!file) throw std::runtime_error("cannot write " + path);
}

}  // namespace blazen::bench
