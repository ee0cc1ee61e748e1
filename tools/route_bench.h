// SPDX-License-Identifier: Apache-2.0
#pragma once
// `blazen-peer route-bench`: measures routing policies on a real local fleet (N `blazen-peer
// serve` processes, optionally each in its own network namespace with a shaped link), driven by
// an open-loop Poisson workload that is the same for every policy; `--simulate` runs the
// discrete-event model of bench/sim over the same picker code instead.

#include <string>
#include <vector>

namespace blazen::cli {

/// Runs the command with its arguments (after `route-bench`); returns the exit code. Throws
/// UsageError for a bad command line and PeerError when the fleet cannot be started.
int RouteBench(const std::vector<std::string>& args);

}  // namespace blazen::cli
