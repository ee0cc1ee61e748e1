// SPDX-License-Identifier: Apache-2.0
// blazen_route_sim: runs the routing simulation (bench/sim/route_sim.h) from command-line flags
// and prints a table or JSON. The flag parsing and printing live in the library, so the CLI's
// route-bench subcommand can reuse them.

#include <cstdio>
#include <string>
#include <vector>

#include "bench/sim/route_sim.h"

int main(int argc, char** argv) {
  namespace sim = blazen::bench::sim;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: blazen_route_sim [flags]\n%s", sim::SimulationUsage().c_str());
      return 0;
    }
  }
  auto options = sim::ParseSimulationArgs(std::move(args));
  if (!options.ok()) {
    std::fprintf(stderr, "blazen_route_sim: %s\nusage: blazen_route_sim [flags]\n%s",
                 options.status().ToString().c_str(), sim::SimulationUsage().c_str());
    return 2;
  }
  auto reports = sim::Simulate(*options);
  if (!reports.ok()) {
    std::fprintf(stderr, "blazen_route_sim: %s\n", reports.status().ToString().c_str());
    return 1;
  }
  std::fputs(sim::FormatReport(*options, *reports).c_str(), stdout);
  return 0;
}
