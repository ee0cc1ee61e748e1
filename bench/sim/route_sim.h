// SPDX-License-Identifier: Apache-2.0
#pragma once
// A discrete-event simulation of one client routing requests over modelled peers with the real
// routing code (client/pool/: PolicyRegistry, Pipeline, PeerLive), so that a policy's latency,
// throughput and balance can be predicted for fleets and loads no test rig has. Single-threaded
// and deterministic for a seed. Also the balls-into-bins experiment that checks the pickers
// against the known maximum-load results.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/pool/policy/capacity_filter.h"
#include "core/status.h"

namespace blazen::bench::sim {

/// How a request's service time is drawn.
enum class ServiceDistribution {
  /// Exponential with mean SimulationOptions::service_ms (M/M/c-like peers).
  kExponential,
  /// Exactly SimulationOptions::service_ms (M/D/c-like peers).
  kFixed,
};

/// How FormatReport prints.
enum class OutputFormat { kTable, kJson };

/// What to simulate. Value type.
///
/// The peer model: peer i runs `slots` requests at once (its max_concurrency) and queues the
/// rest FIFO without limit. A request carries an amount of work drawn once (the same for every
/// policy); on peer i it takes work * slowdown_i / weight_i milliseconds of service. So the
/// capacity weight is the speed the peer announces (and the router weighs by), and the slowdown
/// is a degradation the router is not told about (a throttled GPU, a noisy neighbour). Peer i
/// serves slots * weight_i / slowdown_i / service_ms requests per millisecond at most; the fleet
/// capacity is the sum over peers (FleetCapacityRps).
///
/// The router model: one client, one PeerSnapshot with a PeerLive per peer. At time 0 every peer
/// offers an idle report with max_concurrency = slots and its weight (what DescribePeer gives the
/// pool at connect). A request is routed by Pipeline::Pick on arrival; a kResourceExhausted
/// decision (the "capacity" admission filter) counts as a rejection, any other failure as
/// `failed`. A routed request calls PeerLive::BeginCall; on completion, as the pool does,
/// EndCall, then RecordLatency with the request's latency (with `latency_feedback`), then the
/// peer's report (with `load_reports`: running and queued requests after the completion,
/// increasing seq), which reaches PeerLive::Offer `report_lag_ms` later.
struct SimulationOptions {
  /// Number of peers; >= 1.
  std::size_t peers = 4;
  /// Per-peer capacity weight (announced speed): empty for all 1, else one finite value > 0 per
  /// peer.
  std::vector<double> capacity_weights;
  /// Per-peer hidden slowdown factor: empty for all 1, else one finite value > 0 per peer.
  std::vector<double> slowdowns;
  /// Requests a peer runs at once (reported as max_concurrency); >= 1.
  std::uint32_t slots = 4;
  /// Mean service time of a request on a peer of weight 1 and slowdown 1, in milliseconds; > 0.
  double service_ms = 10.0;
  ServiceDistribution service = ServiceDistribution::kExponential;
  /// Offered load as a fraction of the fleet capacity (Poisson arrivals at load * capacity); > 0.
  double load = 0.7;
  /// Arrivals to simulate (open loop; the run ends when the last routed request completes); >= 1.
  std::uint64_t requests = 20000;
  /// Seeds the arrivals, work and hash keys (the same for every policy) and the pickers.
  std::uint64_t seed = 1;
  /// Policies to run, each a name of PolicyRegistry::WithBuiltins(); not empty.
  std::vector<std::string> policies = {"round_robin", "random", "least_loaded"};
  /// Latency objective for goodput, in milliseconds; > 0.
  double slo_ms = 50.0;
  /// Whether completions feed load reports back (PeerLive::Offer).
  bool load_reports = true;
  /// Whether each completion feeds its latency to PeerLive::RecordLatency, as the pool does for
  /// every completed call (least_loaded weighs load by it).
  bool latency_feedback = true;
  /// Delay between a completion and its report reaching the router, in milliseconds; >= 0.
  double report_lag_ms = 0.0;
  /// Admission settings of the pipeline's "capacity" filter.
  client::pool::CapacityOptions capacity;
  /// Distinct hash keys (session ids) requests draw from uniformly; `consistent_hash` routes by
  /// them. >= 1.
  std::uint64_t hash_keys = 1024;
  /// Fraction of the arrivals that only warm the system up, in [0, 1): latency and rejection
  /// figures count the later arrivals, throughput and goodput the completions between the first
  /// of them and the last arrival (see SimulationReport). Steady-state figures need many more
  /// measured arrivals than the requests in the system (offered rate * mean latency).
  double warmup = 0.1;
  /// How FormatReport prints (the driver's --json); the simulation ignores it.
  OutputFormat format = OutputFormat::kTable;
};

/// The outcome of one policy over the workload of a SimulationOptions. Value type.
struct SimulationReport {
  /// The policy's name.
  std::string policy;
  /// Over the whole run: arrivals offered, requests completed, rejected by admission
  /// (kResourceExhausted), and not routed for another reason (e.g. kInvalidArgument).
  std::uint64_t arrivals = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t failed = 0;
  /// Latency (queueing + service) of the completed requests that arrived after the warm-up, in
  /// milliseconds: nearest-rank percentiles, mean and maximum; 0 when none completed.
  double p50_ms = 0.0;
  double p99_ms = 0.0;
  double mean_ms = 0.0;
  double max_ms = 0.0;
  /// Simulated seconds from time 0 to the last event (the last completion or arrival).
  double simulated_s = 0.0;
  /// Length of the measurement window, in simulated seconds: from the first arrival after the
  /// warm-up to the last arrival (the whole run when that is empty).
  double measured_s = 0.0;
  /// The nominal arrival rate (load * FleetCapacityRps); completions in the window per simulated
  /// second, and those of them whose latency was within the SLO.
  double offered_rps = 0.0;
  double throughput_rps = 0.0;
  double goodput_rps = 0.0;
  /// Admission rejections among the arrivals after the warm-up, as a fraction of them.
  double rejection_rate = 0.0;
  /// Completions per peer, by peer index.
  std::vector<std::uint64_t> per_peer_completed;
  /// max_i (completed_i / weight_i) / mean_i (completed_i / weight_i): 1 when completions are
  /// exactly proportional to weight; 0 when nothing completed.
  double load_skew = 0.0;
  /// Wall-clock milliseconds the simulation of this policy took (not deterministic).
  double wall_ms = 0.0;

  /// Field by field, wall_ms included (clear it to compare two runs' outcomes).
  friend bool operator==(const SimulationReport&, const SimulationReport&) = default;
};

/// Checks `options` (see each field's range). kInvalidArgument naming the first bad field.
[[nodiscard]] Status ValidateSimulationOptions(const SimulationOptions& options);

/// The fleet's capacity in requests per simulated second: sum over peers of
/// slots * weight_i / slowdown_i / service_ms, times 1000. `options` must be valid.
[[nodiscard]] double FleetCapacityRps(const SimulationOptions& options);

/// Simulates every policy of `options.policies` over the same workload, in that order.
/// kInvalidArgument for invalid options or an unknown policy (or policy options the registry
/// rejects). Single-threaded; deterministic for `options.seed` except SimulationReport::wall_ms.
[[nodiscard]] Result<std::vector<SimulationReport>> Simulate(const SimulationOptions& options);

/// Simulates one policy (ignoring `options.policies`) over the workload of `options`: the same
/// arrivals Simulate gives every policy. Fails as Simulate does.
[[nodiscard]] Result<SimulationReport> SimulatePolicy(const SimulationOptions& options,
                                                      std::string_view policy);

/// Balls into bins with the real picker: `n` requests are placed one after another on `n` idle
/// peers of weight 1 that never complete, each pick seeing the calls placed so far
/// (PeerLive::outstanding). Returns the largest number placed on one peer. For `random` theory
/// gives about ln n / ln ln n (Gonnet 1981), for `least_loaded` (two choices) about
/// ln ln n / ln 2 + O(1) (Azar, Broder, Karlin, Upfal 1994). `consistent_hash` gets the key
/// "ball-<i>". kInvalidArgument for n == 0 or an unknown policy.
[[nodiscard]] Result<std::uint64_t> BallsIntoBins(std::size_t n, std::string_view policy,
                                                  std::uint64_t seed);

/// Parses driver flags (without the program name) onto the defaults of SimulationOptions:
///   --peers N, --policies a,b, --load F, --requests R, --slowdown-peer I:F (repeatable),
///   --weights W0,W1,..., --slo-ms X, --seed S, --json, --slots N, --service-ms X,
///   --service exp|fixed, --no-load-reports, --no-latency-feedback, --report-lag-ms X,
///   --max-outstanding N,
///   --outstanding-per-slot F, --hash-keys K, --warmup F.
/// Each takes `--flag value` or `--flag=value`. Without --peers, --weights sets the peer count.
/// kInvalidArgument for an unknown flag, a missing or malformed value, weights that disagree
/// with --peers, a slowdown for a peer that does not exist, or options that fail
/// ValidateSimulationOptions.
[[nodiscard]] Result<SimulationOptions> ParseSimulationArgs(std::vector<std::string> args);

/// The flags ParseSimulationArgs takes, one per line, for a --help text.
[[nodiscard]] std::string SimulationUsage();

/// `reports` of a run of `options` as `options.format` says: a fixed-width table (one line of
/// setup, one row per policy, and per-peer completions when there are at most 16 peers) or JSON
/// (FormatJson).
[[nodiscard]] std::string FormatReport(const SimulationOptions& options,
                                       const std::vector<SimulationReport>& reports);

/// JSON text: {"options": {...the settings, fleet_capacity_rps, offered_rps}, "policies":
/// [{...every SimulationReport field}]}.
[[nodiscard]] std::string FormatJson(const SimulationOptions& options,
                                     const std::vector<SimulationReport>& reports);

}  // namespace blazen::bench::sim
