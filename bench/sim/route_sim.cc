// SPDX-License-Identifier: Apache-2.0
// The routing simulation: a workload (arrivals, work, keys) drawn once per seed, then one event
// loop per policy that routes it through the real Pipeline over PeerLive-backed peers.

#include "bench/sim/route_sim.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <string>
#include <system_error>
#include <utility>

#include "client/pool/peer_snapshot.h"
#include "client/pool/policy/pipeline.h"
#include "client/pool/policy/policy.h"
#include "client/pool/policy/policy_registry.h"
#include "client/pool/policy/random_source.h"

namespace blazen::bench::sim {

namespace {

namespace pool = ::blazen::client::pool;

// Stream tags, so that the workload and the pickers draw from unrelated sequences of one seed.
constexpr std::uint64_t kWorkloadStream = 0x61727269766c7331ULL;
constexpr std::uint64_t kPickerStream = 0x7069636b65727331ULL;

// SplitMix64: the same generator the pickers' CounterRandomSource uses, without the atomic.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return pool::Mix64(state_);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Exponential with mean `mean`; 1 - u is in (0, 1], so the log is finite.
  double Exponential(double mean) { return -std::log(1.0 - Uniform()) * mean; }
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  std::uint64_t state_;
};

// What every policy sees: arrival times, the work of each request and its hash key.
struct Workload {
  std::vector<double> arrival_ms;
  std::vector<double> work_ms;
  std::vector<std::uint64_t> key;
  std::vector<std::string> key_names;
};

double WeightOf(const SimulationOptions& options, std::size_t i) {
  return options.capacity_weights.empty() ? 1.0 : options.capacity_weights[i];
}

double SlowdownOf(const SimulationOptions& options, std::size_t i) {
  return options.slowdowns.empty() ? 1.0 : options.slowdowns[i];
}

Workload MakeWorkload(const SimulationOptions& options) {
  Workload w;
  const std::size_t n = static_cast<std::size_t>(options.requests);
  w.arrival_ms.reserve(n);
  w.work_ms.reserve(n);
  w.key.reserve(n);
  const double mean_gap_ms = 1000.0 / (options.load * FleetCapacityRps(options));
  Rng rng(pool::Mix64(options.seed ^ kWorkloadStream));
  double t = 0.0;
  for (std::size_t r = 0; r < n; ++r) {
    t += rng.Exponential(mean_gap_ms);
    w.arrival_ms.push_back(t);
    w.work_ms.push_back(options.service == ServiceDistribution::kExponential
                            ? rng.Exponential(options.service_ms)
                            : options.service_ms);
    w.key.push_back(rng.Below(options.hash_keys));
  }
  w.key_names.reserve(static_cast<std::size_t>(options.hash_keys));
  for (std::uint64_t k = 0; k < options.hash_keys; ++k) {
    w.key_names.push_back("session-" + std::to_string(k));
  }
  return w;
}

// A snapshot of `n` healthy peers, each with its own PeerLive.
Result<std::shared_ptr<const pool::PeerSnapshot>> MakeFleet(const SimulationOptions& options,
                                                            std::size_t n) {
  std::vector<pool::PeerState> peers(n);
  for (std::size_t i = 0; i < n; ++i) {
    peers[i].node_id = "sim-" + std::to_string(i);
    peers[i].endpoint = "sim://" + std::to_string(i);
    peers[i].capacity_weight = WeightOf(options, i);
    peers[i].live = std::make_shared<pool::PeerLive>();
  }
  return pool::PeerSnapshot::Make(std::move(peers), 1);
}

pool::PolicyOptions PolicyOptionsFor(const SimulationOptions& options) {
  pool::PolicyOptions policy_options;
  policy_options.seed = pool::Mix64(options.seed ^ kPickerStream);
  policy_options.capacity = options.capacity;
  return policy_options;
}

enum class EventKind : std::uint8_t { kArrival, kCompletion, kReport };

struct Event {
  double time_ms = 0.0;
  // Insertion order: breaks ties of equal times, so the run is deterministic.
  std::uint64_t order = 0;
  EventKind kind = EventKind::kArrival;
  std::size_t peer = 0;
  // The request (arrival, completion) or the reported running count (report).
  std::uint64_t value = 0;
  // The reported queue length and sequence number (report only).
  std::uint64_t queued = 0;
  std::uint64_t seq = 0;
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.time_ms != b.time_ms ? a.time_ms > b.time_ms : a.order > b.order;
  }
};

struct SimPeer {
  // ms of service per ms of work: slowdown / weight.
  double cost = 1.0;
  std::uint64_t busy = 0;
  std::deque<std::uint64_t> waiting;
  std::uint64_t seq = 1;  // the connect report had seq 1
};

// Nearest rank: the smallest value with at least p of the sample at or below it.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

struct Completion {
  std::uint64_t request = 0;
  double time_ms = 0.0;
};

// The first arrival measured: the ones before it only warm the peers' queues up.
std::size_t FirstMeasured(const SimulationOptions& options, std::size_t arrivals) {
  const auto first = static_cast<std::size_t>(options.warmup * static_cast<double>(arrivals));
  return std::min(first, arrivals == 0 ? 0 : arrivals - 1);
}

void Summarize(const SimulationOptions& options, const Workload& workload,
               const std::vector<Completion>& completions, std::uint64_t rejected_measured,
               double end_ms, SimulationReport& report) {
  const std::vector<double>& arrival = workload.arrival_ms;
  const std::size_t first = FirstMeasured(options, arrival.size());
  // The window is [first measured arrival, last arrival]: arrivals continue through all of it,
  // so the completions in it are those of a steady state, without the ramp-up at the start and
  // the drain after the last arrival. A window of no length (one request) falls back to the run.
  double from_ms = first == 0 ? 0.0 : arrival[first];
  double to_ms = arrival.empty() ? 0.0 : arrival.back();
  if (!(to_ms > from_ms)) {
    from_ms = 0.0;
    to_ms = end_ms;
  }
  std::vector<double> latencies;
  latencies.reserve(completions.size());
  std::uint64_t in_window = 0;
  std::uint64_t in_window_within_slo = 0;
  for (const Completion& c : completions) {
    const double latency = c.time_ms - arrival[c.request];
    if (c.request >= first) latencies.push_back(latency);
    if (c.time_ms >= from_ms && c.time_ms <= to_ms) {
      ++in_window;
      if (latency <= options.slo_ms) ++in_window_within_slo;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  report.completed = completions.size();
  report.p50_ms = Percentile(latencies, 0.50);
  report.p99_ms = Percentile(latencies, 0.99);
  report.max_ms = latencies.empty() ? 0.0 : latencies.back();
  double sum = 0.0;
  for (const double l : latencies) sum += l;
  report.mean_ms = latencies.empty() ? 0.0 : sum / static_cast<double>(latencies.size());
  report.simulated_s = end_ms / 1000.0;
  report.measured_s = (to_ms - from_ms) / 1000.0;
  if (report.measured_s > 0.0) {
    report.throughput_rps = static_cast<double>(in_window) / report.measured_s;
    report.goodput_rps = static_cast<double>(in_window_within_slo) / report.measured_s;
  }
  report.offered_rps = options.load * FleetCapacityRps(options);
  const std::size_t measured_arrivals = arrival.size() - first;
  report.rejection_rate = measured_arrivals == 0 ? 0.0
                                                 : static_cast<double>(rejected_measured) /
                                                       static_cast<double>(measured_arrivals);
  double max_share = 0.0;
  double sum_share = 0.0;
  for (std::size_t i = 0; i < report.per_peer_completed.size(); ++i) {
    const double share = static_cast<double>(report.per_peer_completed[i]) / WeightOf(options, i);
    max_share = std::max(max_share, share);
    sum_share += share;
  }
  const double mean_share = sum_share / static_cast<double>(report.per_peer_completed.size());
  report.load_skew = mean_share > 0.0 ? max_share / mean_share : 0.0;
}

Result<SimulationReport> RunPolicy(const SimulationOptions& options, const Workload& workload,
                                   std::string_view policy) {
  const auto started = std::chrono::steady_clock::now();
  BLAZEN_ASSIGN_OR_RETURN(
      pool::Pipeline pipeline,
      pool::PolicyRegistry::WithBuiltins().MakePipeline(policy, PolicyOptionsFor(options)));
  BLAZEN_ASSIGN_OR_RETURN(std::shared_ptr<const pool::PeerSnapshot> snapshot,
                          MakeFleet(options, options.peers));
  const std::vector<pool::PeerState>& states = snapshot->peers();

  std::vector<SimPeer> peers(options.peers);
  for (std::size_t i = 0; i < options.peers; ++i) {
    peers[i].cost = SlowdownOf(options, i) / WeightOf(options, i);
    LoadReport connect;
    connect.seq = 1;
    connect.max_concurrency = options.slots;
    connect.capacity_weight = WeightOf(options, i);
    states[i].live->Offer(connect);
  }

  SimulationReport report;
  report.policy = std::string(policy);
  report.arrivals = workload.arrival_ms.size();
  report.per_peer_completed.assign(options.peers, 0);
  std::vector<Completion> completions;
  completions.reserve(workload.arrival_ms.size());
  const std::size_t first_measured = FirstMeasured(options, workload.arrival_ms.size());
  std::uint64_t rejected_measured = 0;

  std::priority_queue<Event, std::vector<Event>, Later> events;
  std::uint64_t order = 0;
  auto push = [&](Event e) {
    e.order = order++;
    events.push(e);
  };
  auto start_service = [&](std::size_t peer, std::uint64_t request, double now) {
    push({.time_ms = now + workload.work_ms[request] * peers[peer].cost,
          .kind = EventKind::kCompletion,
          .peer = peer,
          .value = request});
  };
  auto offer = [&](std::size_t peer, std::uint64_t seq, std::uint64_t in_flight,
                   std::uint64_t queued) {
    LoadReport load;
    load.seq = seq;
    load.in_flight = in_flight;
    load.queued = queued;
    load.max_concurrency = options.slots;
    load.capacity_weight = WeightOf(options, peer);
    states[peer].live->Offer(load);
  };

  // Arrivals are pushed one at a time (the next when the current is handled) to keep the heap
  // as small as the requests in the system.
  if (!workload.arrival_ms.empty()) push({.time_ms = workload.arrival_ms[0]});
  pool::RequestTraits traits;
  double end_ms = 0.0;
  while (!events.empty()) {
    const Event e = events.top();
    events.pop();
    end_ms = std::max(end_ms, e.time_ms);
    switch (e.kind) {
      case EventKind::kArrival: {
        const std::uint64_t r = e.value;
        if (r + 1 < workload.arrival_ms.size()) {
          push({.time_ms = workload.arrival_ms[r + 1], .value = r + 1});
        }
        traits.hash_key = workload.key_names[workload.key[r]];
        const pool::Decision decision = pipeline.Pick(*snapshot, traits);
        if (!decision.picked()) {
          if (decision.code != StatusCode::kResourceExhausted) {
            ++report.failed;
          } else {
            ++report.rejected;
            if (r >= first_measured) ++rejected_measured;
          }
          break;
        }
        const std::size_t p = *decision.peer;
        states[p].live->BeginCall();
        if (peers[p].busy < options.slots) {
          ++peers[p].busy;
          start_service(p, r, e.time_ms);
        } else {
          peers[p].waiting.push_back(r);
        }
        break;
      }
      case EventKind::kCompletion: {
        const std::size_t p = e.peer;
        // As the pool does on a completed call: EndCall, the call's latency, then its report.
        states[p].live->EndCall();
        const double latency_ms = e.time_ms - workload.arrival_ms[e.value];
        if (options.latency_feedback) states[p].live->RecordLatency(latency_ms);
        completions.push_back({.request = e.value, .time_ms = e.time_ms});
        ++report.per_peer_completed[p];
        SimPeer& peer = peers[p];
        if (peer.waiting.empty()) {
          --peer.busy;
        } else {
          start_service(p, peer.waiting.front(), e.time_ms);
          peer.waiting.pop_front();
        }
        if (!options.load_reports) break;
        const std::uint64_t seq = ++peer.seq;
        if (options.report_lag_ms > 0.0) {
          push({.time_ms = e.time_ms + options.report_lag_ms,
                .kind = EventKind::kReport,
                .peer = p,
                .value = peer.busy,
                .queued = peer.waiting.size(),
                .seq = seq});
        } else {
          offer(p, seq, peer.busy, peer.waiting.size());
        }
        break;
      }
      case EventKind::kReport:
        offer(e.peer, e.seq, e.value, e.queued);
        break;
    }
  }
  Summarize(options, workload, completions, rejected_measured, end_ms, report);
  report.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return report;
}

// --- Flag parsing ---------------------------------------------------------------------------

template <typename T>
Result<T> ParseNumber(std::string_view flag, std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(std::string(flag) + ": '" + std::string(text) +
                                   "' is not a valid number");
  }
  return value;
}

std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

bool IsPositiveFinite(double x) { return std::isfinite(x) && x > 0.0; }

Status CheckPerPeer(std::string_view field, const std::vector<double>& values, std::size_t peers) {
  if (values.empty()) return Status::Ok();
  if (values.size() != peers) {
    return Status::InvalidArgument(std::string(field) + ": " + std::to_string(values.size()) +
                                   " values for " + std::to_string(peers) + " peers");
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!IsPositiveFinite(values[i])) {
      return Status::InvalidArgument(std::string(field) + "[" + std::to_string(i) +
                                     "] must be a finite number > 0");
    }
  }
  return Status::Ok();
}

std::string_view DistributionName(ServiceDistribution d) {
  return d == ServiceDistribution::kExponential ? "exp" : "fixed";
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

// `text` right-aligned (left-aligned when `left`) in `width` columns.
std::string Pad(const std::string& text, std::size_t width, bool left = false) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return left ? text + fill : fill + text;
}

std::string FormatTable(const SimulationOptions& options,
                        const std::vector<SimulationReport>& reports) {
  const double capacity = FleetCapacityRps(options);
  std::string out =
      "peers=" + std::to_string(options.peers) + " slots=" + std::to_string(options.slots) +
      " service=" + std::string(DistributionName(options.service)) + "(" +
      Fixed(options.service_ms, 2) + " ms) load=" + Fixed(options.load, 2) +
      " capacity=" + Fixed(capacity, 1) + "/s offered=" + Fixed(options.load * capacity, 1) +
      "/s requests=" + std::to_string(options.requests) + " slo=" + Fixed(options.slo_ms, 1) +
      " ms reports=" +
      (options.load_reports ? "on(lag " + Fixed(options.report_lag_ms, 1) + " ms)"
                            : std::string("off")) +
      " latency-feedback=" + (options.latency_feedback ? "on" : "off") +
      " seed=" + std::to_string(options.seed) + "\n";
  constexpr std::size_t kName = 16;
  constexpr std::size_t kNum = 11;
  out += Pad("policy", kName, true);
  for (const char* h : {"p50 ms", "p99 ms", "mean ms", "thru/s", "good/s", "reject %", "failed",
                        "skew", "wall ms"}) {
    out += Pad(h, kNum);
  }
  out += "\n";
  for (const SimulationReport& r : reports) {
    out += Pad(r.policy, kName, true) + Pad(Fixed(r.p50_ms, 2), kNum) +
           Pad(Fixed(r.p99_ms, 2), kNum) + Pad(Fixed(r.mean_ms, 2), kNum) +
           Pad(Fixed(r.throughput_rps, 1), kNum) + Pad(Fixed(r.goodput_rps, 1), kNum) +
           Pad(Fixed(100.0 * r.rejection_rate, 2), kNum) + Pad(std::to_string(r.failed), kNum) +
           Pad(Fixed(r.load_skew, 3), kNum) + Pad(Fixed(r.wall_ms, 1), kNum) + "\n";
  }
  constexpr std::size_t kMaxPeersListed = 16;
  if (options.peers <= kMaxPeersListed) {
    out += "completed per peer (weight/slowdown):\n";
    out += Pad("", kName);
    for (std::size_t i = 0; i < options.peers; ++i) {
      out += Pad(Fixed(WeightOf(options, i), 2) + "/" + Fixed(SlowdownOf(options, i), 2), kNum);
    }
    out += "\n";
    for (const SimulationReport& r : reports) {
      out += Pad(r.policy, kName, true);
      for (const std::uint64_t c : r.per_peer_completed) out += Pad(std::to_string(c), kNum);
      out += "\n";
    }
  }
  return out;
}

}  // namespace

Status ValidateSimulationOptions(const SimulationOptions& options) {
  if (options.peers == 0) return Status::InvalidArgument("peers must be >= 1");
  BLAZEN_RETURN_IF_ERROR(CheckPerPeer("capacity_weights", options.capacity_weights, options.peers));
  BLAZEN_RETURN_IF_ERROR(CheckPerPeer("slowdowns", options.slowdowns, options.peers));
  if (options.slots == 0) return Status::InvalidArgument("slots must be >= 1");
  if (!IsPositiveFinite(options.service_ms)) {
    return Status::InvalidArgument("service_ms must be a finite number > 0");
  }
  if (!IsPositiveFinite(options.load)) {
    return Status::InvalidArgument("load must be a finite number > 0");
  }
  if (options.requests == 0) return Status::InvalidArgument("requests must be >= 1");
  if (options.policies.empty()) return Status::InvalidArgument("policies must not be empty");
  if (!IsPositiveFinite(options.slo_ms)) {
    return Status::InvalidArgument("slo_ms must be a finite number > 0");
  }
  if (!std::isfinite(options.report_lag_ms) || options.report_lag_ms < 0.0) {
    return Status::InvalidArgument("report_lag_ms must be a finite number >= 0");
  }
  if (options.hash_keys == 0) return Status::InvalidArgument("hash_keys must be >= 1");
  if (!(options.warmup >= 0.0 && options.warmup < 1.0)) {
    return Status::InvalidArgument("warmup must be in [0, 1)");
  }
  return Status::Ok();
}

double FleetCapacityRps(const SimulationOptions& options) {
  double per_ms = 0.0;
  for (std::size_t i = 0; i < options.peers; ++i) {
    per_ms += static_cast<double>(options.slots) * WeightOf(options, i) / SlowdownOf(options, i) /
              options.service_ms;
  }
  return per_ms * 1000.0;
}

Result<std::vector<SimulationReport>> Simulate(const SimulationOptions& options) {
  BLAZEN_RETURN_IF_ERROR(ValidateSimulationOptions(options));
  const Workload workload = MakeWorkload(options);
  std::vector<SimulationReport> reports;
  reports.reserve(options.policies.size());
  for (const std::string& policy : options.policies) {
    BLAZEN_ASSIGN_OR_RETURN(SimulationReport report, RunPolicy(options, workload, policy));
    reports.push_back(std::move(report));
  }
  return reports;
}

Result<SimulationReport> SimulatePolicy(const SimulationOptions& options, std::string_view policy) {
  BLAZEN_RETURN_IF_ERROR(ValidateSimulationOptions(options));
  return RunPolicy(options, MakeWorkload(options), policy);
}

Result<std::uint64_t> BallsIntoBins(std::size_t n, std::string_view policy, std::uint64_t seed) {
  if (n == 0) return Status::InvalidArgument("balls into bins needs n >= 1");
  SimulationOptions options;
  options.seed = seed;
  // The picker alone: with no limits and no requirements the filters keep every peer, and
  // skipping them keeps a pick O(1) instead of O(n).
  BLAZEN_ASSIGN_OR_RETURN(
      std::unique_ptr<pool::Picker> picker,
      pool::PolicyRegistry::WithBuiltins().MakePicker(policy, PolicyOptionsFor(options)));
  BLAZEN_ASSIGN_OR_RETURN(std::shared_ptr<const pool::PeerSnapshot> snapshot,
                          MakeFleet(options, n));
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  pool::RequestTraits traits;
  for (std::size_t ball = 0; ball < n; ++ball) {
    if (policy == "consistent_hash") traits.hash_key = "ball-" + std::to_string(ball);
    BLAZEN_ASSIGN_OR_RETURN(std::size_t peer, picker->Pick(*snapshot, traits, all, nullptr));
    snapshot->peers()[peer].live->BeginCall();
  }
  std::uint64_t max_load = 0;
  for (const pool::PeerState& peer : snapshot->peers()) {
    max_load = std::max(max_load, peer.live->outstanding());
  }
  return max_load;
}

Result<SimulationOptions> ParseSimulationArgs(std::vector<std::string> args) {
  SimulationOptions options;
  bool peers_given = false;
  std::vector<std::pair<std::size_t, double>> slowdowns;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view flag = arg;
    std::optional<std::string_view> inline_value;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    // Flags without a value.
    if (flag == "--json" || flag == "--no-load-reports" || flag == "--no-latency-feedback") {
      if (inline_value.has_value()) {
        return Status::InvalidArgument(std::string(flag) + " takes no value");
      }
      if (flag == "--json") {
        options.format = OutputFormat::kJson;
      } else if (flag == "--no-load-reports") {
        options.load_reports = false;
      } else {
        options.latency_feedback = false;
      }
      continue;
    }
    static constexpr std::string_view kValued[] = {"--peers",
                                                   "--policies",
                                                   "--load",
                                                   "--requests",
                                                   "--slowdown-peer",
                                                   "--weights",
                                                   "--slo-ms",
                                                   "--seed",
                                                   "--slots",
                                                   "--service-ms",
                                                   "--service",
                                                   "--report-lag-ms",
                                                   "--max-outstanding",
                                                   "--outstanding-per-slot",
                                                   "--warmup",
                                                   "--hash-keys"};
    if (std::find(std::begin(kValued), std::end(kValued), flag) == std::end(kValued)) {
      return Status::InvalidArgument("unknown flag '" + std::string(flag) + "'");
    }
    std::string_view value;
    if (inline_value.has_value()) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Status::InvalidArgument(std::string(flag) + " needs a value");
    }
    if (flag == "--peers") {
      BLAZEN_ASSIGN_OR_RETURN(options.peers, ParseNumber<std::size_t>(flag, value));
      peers_given = true;
    } else if (flag == "--policies") {
      options.policies.clear();
      for (const std::string_view name : SplitCommas(value)) {
        if (name.empty()) return Status::InvalidArgument("--policies: empty policy name");
        options.policies.emplace_back(name);
      }
    } else if (flag == "--load") {
      BLAZEN_ASSIGN_OR_RETURN(options.load, ParseNumber<double>(flag, value));
    } else if (flag == "--requests") {
      BLAZEN_ASSIGN_OR_RETURN(options.requests, ParseNumber<std::uint64_t>(flag, value));
    } else if (flag == "--slowdown-peer") {
      const std::size_t colon = value.find(':');
      if (colon == std::string_view::npos) {
        return Status::InvalidArgument("--slowdown-peer: expected INDEX:FACTOR, got '" +
                                       std::string(value) + "'");
      }
      BLAZEN_ASSIGN_OR_RETURN(std::size_t peer,
                              ParseNumber<std::size_t>(flag, value.substr(0, colon)));
      BLAZEN_ASSIGN_OR_RETURN(double factor, ParseNumber<double>(flag, value.substr(colon + 1)));
      slowdowns.emplace_back(peer, factor);
    } else if (flag == "--weights") {
      options.capacity_weights.clear();
      for (const std::string_view w : SplitCommas(value)) {
        BLAZEN_ASSIGN_OR_RETURN(double weight, ParseNumber<double>(flag, w));
        options.capacity_weights.push_back(weight);
      }
    } else if (flag == "--slo-ms") {
      BLAZEN_ASSIGN_OR_RETURN(options.slo_ms, ParseNumber<double>(flag, value));
    } else if (flag == "--seed") {
      BLAZEN_ASSIGN_OR_RETURN(options.seed, ParseNumber<std::uint64_t>(flag, value));
    } else if (flag == "--slots") {
      BLAZEN_ASSIGN_OR_RETURN(options.slots, ParseNumber<std::uint32_t>(flag, value));
    } else if (flag == "--service-ms") {
      BLAZEN_ASSIGN_OR_RETURN(options.service_ms, ParseNumber<double>(flag, value));
    } else if (flag == "--service") {
      if (value == "exp") {
        options.service = ServiceDistribution::kExponential;
      } else if (value == "fixed") {
        options.service = ServiceDistribution::kFixed;
      } else {
        return Status::InvalidArgument("--service: expected exp or fixed, got '" +
                                       std::string(value) + "'");
      }
    } else if (flag == "--report-lag-ms") {
      BLAZEN_ASSIGN_OR_RETURN(options.report_lag_ms, ParseNumber<double>(flag, value));
    } else if (flag == "--max-outstanding") {
      BLAZEN_ASSIGN_OR_RETURN(options.capacity.max_outstanding_per_peer,
                              ParseNumber<std::uint64_t>(flag, value));
    } else if (flag == "--outstanding-per-slot") {
      BLAZEN_ASSIGN_OR_RETURN(options.capacity.outstanding_per_slot,
                              ParseNumber<double>(flag, value));
    } else if (flag == "--warmup") {
      BLAZEN_ASSIGN_OR_RETURN(options.warmup, ParseNumber<double>(flag, value));
    } else if (flag == "--hash-keys") {
      BLAZEN_ASSIGN_OR_RETURN(options.hash_keys, ParseNumber<std::uint64_t>(flag, value));
    } else {
      return Status::InvalidArgument("unknown flag '" + std::string(flag) + "'");
    }
  }
  if (!options.capacity_weights.empty()) {
    if (!peers_given) {
      options.peers = options.capacity_weights.size();
    } else if (options.capacity_weights.size() != options.peers) {
      return Status::InvalidArgument(
          "--weights: " + std::to_string(options.capacity_weights.size()) + " weights for " +
          std::to_string(options.peers) + " peers");
    }
  }
  if (!slowdowns.empty()) {
    options.slowdowns.assign(options.peers, 1.0);
    for (const auto& [peer, factor] : slowdowns) {
      if (peer >= options.peers) {
        return Status::InvalidArgument("--slowdown-peer: peer " + std::to_string(peer) +
                                       " does not exist (" + std::to_string(options.peers) +
                                       " peers)");
      }
      options.slowdowns[peer] = factor;
    }
  }
  BLAZEN_RETURN_IF_ERROR(ValidateSimulationOptions(options));
  return options;
}

std::string SimulationUsage() {
  return "  --peers N                 peers in the fleet (default 4; --weights sets it too)\n"
         "  --policies a,b            policies to compare (default round_robin,random,"
         "least_loaded)\n"
         "  --load F                  offered load as a fraction of fleet capacity (0.7)\n"
         "  --requests R              arrivals to simulate (20000)\n"
         "  --slowdown-peer I:F       peer I serves F times slower, unannounced (repeatable)\n"
         "  --weights W0,W1,...       announced capacity weight (speed) per peer (all 1)\n"
         "  --slo-ms X                latency objective for goodput (50)\n"
         "  --seed S                  seed of arrivals, work, keys and pickers (1)\n"
         "  --slots N                 requests a peer runs at once (4)\n"
         "  --service-ms X            mean service time at weight 1 (10)\n"
         "  --service exp|fixed       service time distribution (exp)\n"
         "  --no-load-reports         do not feed completions' load reports back\n"
         "  --no-latency-feedback     do not feed call latencies back (RecordLatency)\n"
         "  --report-lag-ms X         delay of each load report (0)\n"
         "  --max-outstanding N       admission: fixed calls per peer (0: per slot)\n"
         "  --outstanding-per-slot F  admission: calls per reported slot (2; 0: no limit)\n"
         "  --hash-keys K             distinct session keys for consistent_hash (1024)\n"
         "  --warmup F                fraction of arrivals before measuring (0.1)\n"
         "  --json                    print JSON instead of a table\n";
}

std::string FormatReport(const SimulationOptions& options,
                         const std::vector<SimulationReport>& reports) {
  return options.format == OutputFormat::kJson ? FormatJson(options, reports)
                                               : FormatTable(options, reports);
}

std::string FormatJson(const SimulationOptions& options,
                       const std::vector<SimulationReport>& reports) {
  const double capacity = FleetCapacityRps(options);
  nlohmann::json out;
  out["options"] = {
      {"peers", options.peers},
      {"capacity_weights", options.capacity_weights},
      {"slowdowns", options.slowdowns},
      {"slots", options.slots},
      {"service_ms", options.service_ms},
      {"service", DistributionName(options.service)},
      {"load", options.load},
      {"requests", options.requests},
      {"seed", options.seed},
      {"policies", options.policies},
      {"slo_ms", options.slo_ms},
      {"load_reports", options.load_reports},
      {"report_lag_ms", options.report_lag_ms},
      {"latency_feedback", options.latency_feedback},
      {"capacity",
       {{"max_outstanding_per_peer", options.capacity.max_outstanding_per_peer},
        {"outstanding_per_slot", options.capacity.outstanding_per_slot}}},
      {"hash_keys", options.hash_keys},
      {"warmup", options.warmup},
      {"fleet_capacity_rps", capacity},
      {"offered_rps", options.load * capacity},
  };
  nlohmann::json policies = nlohmann::json::array();
  for (const SimulationReport& r : reports) {
    policies.push_back({
        {"policy", r.policy},
        {"arrivals", r.arrivals},
        {"completed", r.completed},
        {"rejected", r.rejected},
        {"failed", r.failed},
        {"p50_ms", r.p50_ms},
        {"p99_ms", r.p99_ms},
        {"mean_ms", r.mean_ms},
        {"max_ms", r.max_ms},
        {"simulated_s", r.simulated_s},
        {"measured_s", r.measured_s},
        {"offered_rps", r.offered_rps},
        {"throughput_rps", r.throughput_rps},
        {"goodput_rps", r.goodput_rps},
        {"rejection_rate", r.rejection_rate},
        {"per_peer_completed", r.per_peer_completed},
        {"load_skew", r.load_skew},
        {"wall_ms", r.wall_ms},
    });
  }
  out["policies"] = std::move(policies);
  return out.dump(2) + "\n";
}

}  // namespace blazen::bench::sim
