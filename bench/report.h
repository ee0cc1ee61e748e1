// SPDX-License-Identifier: Apache-2.0
#pragma once
// Output of a benchmark driver: the printed table (machine and disturbance lines, round-trip
// rows, transfer rows, ratios against targets) on standard output, and the pieces of its JSON
// form. The driver adds its own lines and keys around them.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "bench/cost_probe.h"
#include "bench/machine.h"
#include "bench/stats.h"

namespace blazen::bench {

/// The machine during a run: CPUs and their split, load averages before and after, and how much
/// of the machine other processes used while the driver measured.
struct MachineSummary {
  CpuPlan cpus;
  std::vector<double> load_before;
  std::vector<double> load_after;
  Interference::Report disturbed;
};

/// One row of the round-trip table.
struct LatencyRow {
  std::string name;
  CallSeries calls;
};

/// Formats one number with a printf `format` (e.g. "%.2f").
[[nodiscard]] std::string Format(const char* format, double value);

/// Prints the machine, load average and disturbance lines (a run is flagged DISTURBED when other
/// processes used more than 5 % of the machine), preceded by an empty line.
void PrintMachine(const MachineSummary& machine);

/// Prints the round-trip table: header, one line per row (CPU in us per call, context switches
/// per call), and a note with the number of calls of the first row.
void PrintLatencyTable(const std::vector<LatencyRow>& rows);

/// Prints the transfer table for payloads of `bytes` bytes: median and range of GB/s, CPU
/// seconds per GB and minor faults per GiB on each side.
void PrintTransferTable(const std::vector<TransferSeries>& series, std::uint64_t bytes);

/// Prints the ratio table; returns true when every target is met.
[[nodiscard]] bool PrintTargets(const std::vector<Target>& targets);

/// JSON of the machine: CPUs, load, disturbance.
[[nodiscard]] nlohmann::json MachineJson(const MachineSummary& machine);

/// JSON of one side of a round-trip measurement.
[[nodiscard]] nlohmann::json LatencyJson(const CallSeries& calls);

/// JSON of one timed transfer.
[[nodiscard]] nlohmann::json SampleJson(const TransferSample& sample);

/// JSON array of the transfer series, each with its samples and per-GB costs.
[[nodiscard]] nlohmann::json TransfersJson(const std::vector<TransferSeries>& series,
                                           std::uint64_t bytes);

/// JSON array of the ratios and whether each met its target (null when it has none).
[[nodiscard]] nlohmann::json RatiosJson(const std::vector<Target>& targets);

/// Writes `out` to `path`, indented by 2. Throws std::runtime_error when it cannot.
void WriteJson(const nlohmann::json& out, const std::string& path);

}  // namespace blazen::bench
