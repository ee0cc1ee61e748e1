// SPDX-License-Identifier: Apache-2.0
// route-bench: a local fleet of `blazen-peer serve` processes (each optionally in its own network
// namespace, joined to the host by a veth pair shaped with `tc tbf`), a PeerPool per policy over
// it, and an open-loop Poisson workload with the same arrival schedule for every policy. Latency
// is measured from each request's scheduled arrival, so a router that falls behind pays for it.
// Scenarios: `custom` (the flags as given), `targets` (the routing targets, each checked), `smoke`
// (a seconds-long run for tests). `--simulate` hands over to the discrete-event model of bench/sim
// that drives the same picker code.

#include "tools/route_bench.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/sim/route_sim.h"
#include "client/connect.h"
#include "client/pool/peer_pool.h"
#include "core/peer_error.h"
#include "tools/command_line.h"

namespace blazen::cli {
namespace {

namespace sim = ::blazen::bench::sim;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using client::pool::PeerPool;
using client::pool::PeerPoolOptions;
using client::pool::RouteOptions;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// --- the fleet -----------------------------------------------------------------------------------

std::string SelfPath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

void Sh(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + command);
}

// One peer process.
struct PeerSpec {
  std::string node_id;
  std::size_t slots = 4;
  double slowdown = 1.0;
  double weight = 1.0;
};

struct PeerProcess {
  PeerSpec spec;
  pid_t pid = -1;
  std::string endpoint;
  std::string netns;

  bool alive() const { return pid > 0; }
  void Kill(int sig) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
};

// Starts `argv` with standard output on a pipe and waits (up to 20 s) for its
// `listening on HOST:PORT` line. The child dies with this process.
PeerProcess Spawn(const std::vector<std::string>& argv, PeerSpec spec) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(fds[1], STDOUT_FILENO);
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  PeerProcess process;
  process.spec = std::move(spec);
  process.pid = pid;
  std::string line;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char c[256];
    const ssize_t n = ::read(fds[0], c, sizeof(c));
    if (n <= 0) break;
    line.append(c, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  const std::string marker = "listening on ";
  const auto at = line.find(marker);
  if (at == std::string::npos) {
    process.Kill(SIGKILL);
    throw std::runtime_error("peer " + process.spec.node_id + " did not start: '" + line + "'");
  }
  process.endpoint = line.substr(at + marker.size(), line.find('\n', at) - at - marker.size());
  return process;
}

struct FleetOptions {
  std::vector<PeerSpec> peers;
  bool netns = false;
  std::string link_rate = "1gbit";
};

// N peer processes; with `netns`, each in a namespace of its own behind a shaped veth link.
class Fleet {
 public:
  explicit Fleet(FleetOptions options) : options_(std::move(options)), self_(SelfPath()) {
    tag_ = std::to_string(::getpid() % 100000);
    try {
      for (std::size_t i = 0; i < options_.peers.size(); ++i) Start(i);
    } catch (...) {
      Stop();
      throw;
    }
  }
  ~Fleet() { Stop(); }
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  std::vector<PeerProcess>& peers() { return peers_; }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& p : peers_) out.push_back(p.endpoint);
    return out;
  }

 private:
  void Start(std::size_t i) {
    const PeerSpec& spec = options_.peers[i];
    std::vector<std::string> argv;
    std::string host = "127.0.0.1";
    std::string ns;
    if (options_.netns) {
      ns = "blzrb" + tag_ + "n" + std::to_string(i);
      const std::string h = "rbh" + std::to_string(i) + "x" + tag_;
      const std::string p = "rbp" + std::to_string(i) + "x" + tag_;
      const std::string subnet = "10.231." + std::to_string(i);
      Sh("ip netns add " + ns);
      namespaces_.push_back(ns);
      Sh("ip link add " + h + " type veth peer name " + p);
      Sh("ip link set " + p + " netns " + ns);
      Sh("ip addr add " + subnet + ".1/24 dev " + h);
      Sh("ip link set " + h + " up");
      Sh("ip netns exec " + ns + " ip addr add " + subnet + ".2/24 dev " + p);
      Sh("ip netns exec " + ns + " ip link set " + p + " up");
      Sh("ip netns exec " + ns + " ip link set lo up");
      const std::string tbf = " root tbf rate " + options_.link_rate + " burst 256kb latency 50ms";
      Sh("tc qdisc add dev " + h + tbf);
      Sh("ip netns exec " + ns + " tc qdisc add dev " + p + tbf);
      argv = {"/usr/sbin/ip", "netns", "exec", ns, self_};
      host = subnet + ".2";
    } else {
      argv = {self_};
    }
    char weight[32];
    std::snprintf(weight, sizeof(weight), "%g", spec.weight);
    char slowdown[32];
    std::snprintf(slowdown, sizeof(slowdown), "%g", spec.slowdown);
    for (const std::string& a :
         {std::string("serve"), std::string("--node-id"), spec.node_id, std::string("--listen"),
          host + ":0", std::string("--max-concurrency"), std::to_string(spec.slots),
          std::string("--capacity-weight"), std::string(weight), std::string("--slowdown"),
          std::string(slowdown), std::string("--grace"), std::string("1"),
          std::string("--embed-vocab"), std::string("4096"), std::string("--embed-dim"),
          std::string("64")}) {
      argv.push_back(a);
    }
    PeerProcess process = Spawn(argv, spec);
    process.netns = ns;
    peers_.push_back(std::move(process));
  }

  void Stop() {
    for (auto& p : peers_) p.Kill(SIGTERM);
    for (const std::string& ns : namespaces_) {
      std::system(("ip netns del " + ns + " >/dev/null 2>&1").c_str());  // removes its veth too
    }
    namespaces_.clear();
  }

  FleetOptions options_;
  std::string self_;
  std::string tag_;
  std::vector<PeerProcess> peers_;
  std::vector<std::string> namespaces_;
};

// --- workloads -----------------------------------------------------------------------------------

enum class Outcome { kOk, kRejected, kFailed, kWorkflowError };

struct Sample {
  double latency_ms = 0;  // from the scheduled arrival
  double call_ms = 0;     // of the call itself
  Outcome outcome = Outcome::kOk;
  bool retryable_failure = false;  // failed although nothing ran (the pool should have retried)
  std::uint64_t bytes = 0;
  double at_s = 0;  // scheduled arrival, seconds from the start
};

struct Workload {
  std::string name = "busy";
  std::uint64_t busy_ms = 20;

  SubWorkflowRequest Busy() const {
    SubWorkflowRequest r;
    r.workflow_name = "route-bench";
    r.step_ids = {"blazen::busy"};
    r.input_json = json{{"ms", busy_ms}}.dump();
    r.timeout_secs = 60;
    return r;
  }
  static SubWorkflowRequest Embed(std::size_t texts, std::uint64_t seed) {
    json list = json::array();
    for (std::size_t i = 0; i < texts; ++i) {
      list.push_back("document " + std::to_string(seed) + " part " + std::to_string(i) +
                     " about routing gpu work across a fleet of peers");
    }
    SubWorkflowRequest r;
    r.workflow_name = "route-bench";
    r.step_ids = {"blazen::embed"};
    r.input_json = json{{"texts", list}}.dump();
    r.timeout_secs = 60;
    return r;
  }

  // One request of this workload through `pool`; throws PeerError.
  // `pin`: send to this endpoint only (warm-up of each peer).
  std::uint64_t Run(PeerPool& pool, std::uint64_t i, client::CallTrace& trace,
                    const std::optional<std::string>& pin = std::nullopt) const {
    RouteOptions route;
    route.hash_key = "session-" + std::to_string(i % 256);
    route.endpoint = pin;
    client::CallOptions call;
    call.trace = &trace;
    if (name == "busy") {
      const SubWorkflowResponse r = pool.Invoke(Busy(), route, call).response;
      if (r.error) throw WorkflowError(StatusCode::kUnknown, *r.error);
      return 0;
    }
    const SubWorkflowResponse embedded = pool.Invoke(Embed(16, i), route, call).response;
    if (embedded.error) throw WorkflowError(StatusCode::kUnknown, *embedded.error);
    if (embedded.remote_refs.empty()) throw WorkflowError(StatusCode::kUnknown, "no ref");
    const Uuid ref = embedded.remote_refs.begin()->first;
    std::uint64_t bytes = 0;
    if (name == "embed") {
      bytes = pool.DerefSessionRef(ref).size();
    } else {  // embed+search: the search runs where the corpus lives
      RouteOptions pinned = route;
      pinned.endpoint = trace.endpoint;
      SubWorkflowRequest search;
      search.workflow_name = "route-bench";
      search.step_ids = {"blazen::similarity_topk"};
      search.input_json = json{
          {"queries", {"routing gpu work", "fleet of peers"}},
          {"corpus", ref.ToString()},
          {"k", 5}}.dump();
      search.timeout_secs = 60;
      client::CallTrace search_trace;
      client::CallOptions search_call;
      search_call.trace = &search_trace;
      const SubWorkflowResponse found = pool.Invoke(search, pinned, search_call).response;
      if (found.error) throw WorkflowError(StatusCode::kUnknown, *found.error);
      bytes = found.result_json ? found.result_json->size() : 0;
    }
    pool.ReleaseSessionRef(ref);
    return bytes;
  }
};

// --- the open-loop driver ------------------------------------------------------------------------

std::vector<double> PoissonSchedule(double rate_per_s, double seconds, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate_per_s);
  std::vector<double> out;
  for (double t = gap(rng); t < seconds; t += gap(rng)) out.push_back(t);
  return out;
}

struct RunResult {
  std::string policy;
  std::vector<Sample> samples;
  double seconds = 0;
  std::vector<client::pool::PoolPeerInfo> peers;
  client::pool::PoolMetrics metrics;
  std::optional<double> out_of_set_ms;  // kill scenario
};

// Plays `schedule` against `pool` with up to `workers` calls in flight; `at_half` runs once at the
// middle of the schedule (the kill scenario).
RunResult Drive(PeerPool& pool, const Workload& workload, const std::vector<double>& schedule,
                std::size_t workers, const std::function<void()>& at_half = {}) {
  RunResult result;
  result.policy = pool.policy();
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::uint64_t, Clock::time_point>> queue;
  bool done = false;
  std::vector<Sample> samples(schedule.size());
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(20);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        std::pair<std::uint64_t, Clock::time_point> job;
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return done || !queue.empty(); });
          if (queue.empty()) return;
          job = queue.front();
          queue.pop_front();
        }
        Sample& s = samples[job.first];
        s.at_s = std::chrono::duration<double>(job.second - start).count();
        const Clock::time_point began = Clock::now();
        client::CallTrace trace;
        try {
          s.bytes = workload.Run(pool, job.first, trace);
          s.outcome = Outcome::kOk;
        } catch (const ResourceExhaustedError&) {
          s.outcome = Outcome::kRejected;
        } catch (const WorkflowError&) {
          s.outcome = Outcome::kWorkflowError;
        } catch (const PeerError&) {
          s.outcome = Outcome::kFailed;
          s.retryable_failure = trace.failed_before_sending;
        }
        const Clock::time_point ended = Clock::now();
        s.call_ms = Ms(ended - began);
        s.latency_ms = Ms(ended - job.second);
      }
    });
  }
  bool fired = !at_half;
  for (std::size_t i = 0; i < schedule.size(); ++i) {
    const Clock::time_point when = start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(schedule[i]));
    std::this_thread::sleep_until(when);
    if (!fired && i >= schedule.size() / 2) {
      fired = true;
      at_half();
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.emplace_back(i, when);
    }
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.samples = std::move(samples);
  result.peers = pool.Peers();
  result.metrics = pool.Metrics();
  return result;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

struct Summary {
  json row;
  double p99_ms = 0;
  double throughput = 0;
  double goodput = 0;
  double rejected_p99_ms = 0;
  double skew = 0;
  std::uint64_t failed = 0;
  std::uint64_t retryable_failed = 0;
};

// `capacity` per peer (same order as the fleet's endpoints), for the skew by capacity.
Summary Summarize(const RunResult& run, double slo_ms, double offered_rps,
                  const std::map<std::string, double>& capacity) {
  std::vector<double> ok;
  std::vector<double> rejected;
  std::uint64_t within = 0;
  std::uint64_t failed = 0;
  std::uint64_t retryable = 0;
  std::uint64_t workflow_errors = 0;
  std::uint64_t bytes = 0;
  for (const Sample& s : run.samples) {
    switch (s.outcome) {
      case Outcome::kOk:
        ok.push_back(s.latency_ms);
        within += s.latency_ms <= slo_ms ? 1 : 0;
        bytes += s.bytes;
        break;
      case Outcome::kRejected:
        rejected.push_back(s.call_ms);
        break;
      case Outcome::kFailed:
        ++failed;
        retryable += s.retryable_failure ? 1 : 0;
        break;
      case Outcome::kWorkflowError:
        ++workflow_errors;
        break;
    }
  }
  double mean = 0;
  for (double v : ok) mean += v;
  mean = ok.empty() ? 0 : mean / static_cast<double>(ok.size());
  std::vector<double> per_capacity;
  json per_peer = json::object();
  for (const auto& p : run.peers) {
    per_peer[p.node_id.empty() ? p.endpoint : p.node_id] = p.picks;
    auto it = capacity.find(p.endpoint);
    if (it != capacity.end() && it->second > 0) {
      per_capacity.push_back(static_cast<double>(p.picks) / it->second);
    }
  }
  double skew = 0;
  if (!per_capacity.empty()) {
    double sum = 0;
    for (double v : per_capacity) sum += v;
    const double avg = sum / static_cast<double>(per_capacity.size());
    skew = avg > 0 ? *std::max_element(per_capacity.begin(), per_capacity.end()) / avg : 0;
  }
  Summary s;
  s.p99_ms = Percentile(ok, 0.99);
  s.throughput = static_cast<double>(ok.size()) / run.seconds;
  s.goodput = static_cast<double>(within) / run.seconds;
  s.rejected_p99_ms = Percentile(rejected, 0.99);
  s.skew = skew;
  s.failed = failed;
  s.retryable_failed = retryable;
  const double n = static_cast<double>(run.samples.size());
  s.row = {{"policy", run.policy},
           {"requests", run.samples.size()},
           {"offered_rps", offered_rps},
           {"p50_ms", Percentile(ok, 0.5)},
           {"p99_ms", s.p99_ms},
           {"mean_ms", mean},
           {"throughput_rps", s.throughput},
           {"goodput_rps", s.goodput},
           {"rejection_rate", n > 0 ? static_cast<double>(rejected.size()) / n : 0},
           {"rejected_p99_ms", s.rejected_p99_ms},
           {"failed", failed},
           {"retryable_failed", retryable},
           {"workflow_errors", workflow_errors},
           {"retries", run.metrics.retries},
           {"skew_by_capacity", skew},
           {"bytes_moved", bytes},
           {"picks", per_peer}};
  if (run.out_of_set_ms) s.row["killed_peer_out_of_set_ms"] = *run.out_of_set_ms;
  return s;
}

// --- scenarios -----------------------------------------------------------------------------------

struct BenchOptions {
  std::size_t peers = 4;
  std::vector<std::string> policies = {"round_robin", "random", "least_loaded", "consistent_hash"};
  Workload workload;
  std::size_t slots = 4;
  std::map<std::size_t, double> slowdowns;
  std::vector<double> weights;
  double load = 0.7;
  double rate = 0;  // requests per second; > 0 overrides load x capacity
  double seconds = 4;
  std::uint64_t seed = 1;
  double slo_ms = 0;  // 0: 5 x the service time
  bool netns = false;
  std::string link_rate = "1gbit";
  std::size_t workers = 256;
};

std::vector<PeerSpec> Specs(const BenchOptions& o) {
  std::vector<PeerSpec> specs;
  for (std::size_t i = 0; i < o.peers; ++i) {
    PeerSpec spec;
    spec.node_id = "route-" + std::to_string(i);
    spec.weight = i < o.weights.size() ? o.weights[i] : 1.0;
    // A peer of weight w runs w times the slots: its capacity really is w times larger.
    spec.slots = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::lround(static_cast<double>(o.slots) * spec.weight)));
    auto it = o.slowdowns.find(i);
    spec.slowdown = it != o.slowdowns.end() ? it->second : 1.0;
    specs.push_back(spec);
  }
  return specs;
}

// Requests per second each peer serves at most (busy workload), by endpoint.
std::map<std::string, double> Capacities(Fleet& fleet, const Workload& workload) {
  std::map<std::string, double> out;
  for (const auto& p : fleet.peers()) {
    out[p.endpoint] =
        static_cast<double>(p.spec.slots) * 1000.0 /
        (static_cast<double>(std::max<std::uint64_t>(workload.busy_ms, 1)) * p.spec.slowdown);
  }
  return out;
}

std::unique_ptr<PeerPool> MakePool(const std::vector<std::string>& endpoints,
                                   const std::string& policy, std::uint64_t seed) {
  PeerPoolOptions options;
  options.endpoints = endpoints;
  options.policy = policy;
  options.policy_options.seed = seed;
  options.health.retry_min = std::chrono::milliseconds(20);
  options.health.retry_max = std::chrono::milliseconds(200);
  auto pool = PeerPool::Make(options, "route-bench");
  if (!pool->WaitForHealthy(endpoints.size(), std::chrono::seconds(10))) {
    throw TransportError(StatusCode::kUnavailable,
                         "route-bench: the fleet did not come up: " + pool->DescribeJson());
  }
  return pool;
}

// Warms every peer with calls pinned to it (the first embed on a peer builds its table: a slow
// first call would otherwise skew the latency the pool learns), then returns the mean latency of
// the pinned calls after the first on each peer, in milliseconds.
double Warm(PeerPool& pool, const Workload& workload) {
  double total_ms = 0;
  int timed = 0;
  for (const auto& peer : pool.Peers()) {
    for (int i = 0; i < 8; ++i) {
      client::CallTrace trace;
      const Clock::time_point began = Clock::now();
      try {
        (void)workload.Run(pool, static_cast<std::uint64_t>(i), trace, peer.endpoint);
      } catch (const PeerError&) {
        continue;
      }
      if (i > 0) {
        total_ms += Ms(Clock::now() - began);
        ++timed;
      }
    }
  }
  return timed > 0 ? total_ms / timed : 0;
}

struct Check {
  std::string target;
  double value;
  double limit;
  bool pass;
};

json ChecksJson(const std::vector<Check>& checks) {
  json out = json::array();
  for (const Check& c : checks) {
    out.push_back({{"target", c.target}, {"value", c.value}, {"limit", c.limit}, {"pass", c.pass}});
  }
  return out;
}

// Runs every policy of `o` over one fleet; returns the scenario's JSON and fills `by_policy`.
json RunPolicies(const std::string& name, const BenchOptions& o,
                 std::map<std::string, Summary>* by_policy = nullptr,
                 bool kill_one_at_half = false) {
  Fleet fleet(FleetOptions{Specs(o), o.netns, o.link_rate});
  std::map<std::string, double> capacity = Capacities(fleet, o.workload);
  if (o.workload.name != "busy") {
    // No configured service time: calibrate it from calls pinned to each idle peer (an upper
    // bound of the capacity: calls in parallel share the host's cores).
    auto probe = MakePool(fleet.endpoints(), "least_loaded", o.seed);
    const double service_ms = std::max(0.01, Warm(*probe, o.workload));
    for (const auto& p : fleet.peers()) {
      capacity[p.endpoint] = static_cast<double>(p.spec.slots) * 1000.0 / service_ms;
    }
  }
  double fleet_rps = 0;
  for (const auto& [endpoint, rps] : capacity) fleet_rps += rps;
  const double offered = o.rate > 0 ? o.rate : o.load * fleet_rps;
  const double slo = o.slo_ms > 0 ? o.slo_ms : 5.0 * static_cast<double>(o.workload.busy_ms);
  const std::vector<double> schedule = PoissonSchedule(offered, o.seconds, o.seed);
  json rows = json::array();
  for (const std::string& policy : o.policies) {
    auto pool = MakePool(fleet.endpoints(), policy, o.seed);
    Warm(*pool, o.workload);
    std::optional<double> out_of_set_ms;
    std::function<void()> kill;
    std::thread watcher;  // times how long the killed peer stays in the pick set
    if (kill_one_at_half) {
      kill = [&] {
        PeerProcess& victim = fleet.peers()[1];
        const std::string endpoint = victim.endpoint;
        const Clock::time_point killed = Clock::now();
        victim.Kill(SIGKILL);
        watcher = std::thread([&pool, endpoint, killed, &out_of_set_ms] {
          while (Clock::now() - killed < std::chrono::seconds(5)) {
            for (const auto& p : pool->Peers()) {
              if (p.endpoint == endpoint && !p.healthy) {
                out_of_set_ms = Ms(Clock::now() - killed);
                return;
              }
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        });
      };
    }
    RunResult run = Drive(*pool, o.workload, schedule, o.workers, kill);
    if (watcher.joinable()) watcher.join();
    run.out_of_set_ms = out_of_set_ms;
    Summary s = Summarize(run, slo, offered, capacity);
    rows.push_back(s.row);
    if (by_policy != nullptr) (*by_policy)[policy] = s;
  }
  json peers = json::array();
  for (const auto& p : fleet.peers()) {
    peers.push_back({{"node_id", p.spec.node_id},
                     {"endpoint", p.endpoint},
                     {"slots", p.spec.slots},
                     {"capacity_weight", p.spec.weight},
                     {"slowdown", p.spec.slowdown},
                     {"netns", p.netns}});
  }
  return {{"scenario", name},
          {"workload", o.workload.name},
          {"busy_ms", o.workload.busy_ms},
          {"load", o.load},
          {"offered_rps", offered},
          {"fleet_capacity_rps", fleet_rps},
          {"seconds", o.seconds},
          {"slo_ms", slo},
          {"peers", peers},
          {"policies", rows}};
}

// Direct BlazenPeerClient invoke vs the same invoke routed by a pool pinned to the same peer.
json Overhead(const BenchOptions& o, std::vector<Check>& checks) {
  BenchOptions one = o;
  one.peers = 4;
  Fleet fleet(FleetOptions{Specs(one), o.netns, o.link_rate});
  const std::string endpoint = fleet.peers()[0].endpoint;
  auto direct = client::ConnectPeer(endpoint, "route-bench");
  auto pool = MakePool(fleet.endpoints(), "least_loaded", o.seed);
  SubWorkflowRequest echo;
  echo.workflow_name = "route-bench";
  echo.step_ids = {"blazen::echo"};
  echo.input_json = R"({"x":1})";
  RouteOptions pinned;
  pinned.endpoint = endpoint;
  std::vector<double> d;
  std::vector<double> r;
  std::vector<double> free_routed;
  for (int round = 0; round < 12; ++round) {  // interleaved blocks: drift hits both alike
    for (int i = 0; i < 60; ++i) {
      auto t0 = Clock::now();
      (void)direct->InvokeSubWorkflow(echo);
      if (round > 1) d.push_back(Ms(Clock::now() - t0));
      t0 = Clock::now();
      (void)pool->Invoke(echo, pinned);
      if (round > 1) r.push_back(Ms(Clock::now() - t0));
      t0 = Clock::now();
      (void)pool->Invoke(echo, RouteOptions{});
      if (round > 1) free_routed.push_back(Ms(Clock::now() - t0));
    }
  }
  const double dp50 = Percentile(d, 0.5);
  const double rp50 = Percentile(r, 0.5);
  checks.push_back(
      {"routed invoke p50 / direct p50 (same peer)", rp50 / dp50, 1.15, rp50 / dp50 <= 1.15});
  return {{"scenario", "overhead"},
          {"direct_p50_ms", dp50},
          {"direct_p99_ms", Percentile(d, 0.99)},
          {"routed_same_peer_p50_ms", rp50},
          {"routed_same_peer_p99_ms", Percentile(r, 0.99)},
          {"routed_any_peer_p50_ms", Percentile(free_routed, 0.5)},
          {"ratio_p50", rp50 / dp50}};
}

json Targets(BenchOptions base) {
  std::vector<Check> checks;
  json scenarios = json::array();
  scenarios.push_back(Overhead(base, checks));

  // One slow peer at 70 % of the fleet's capacity.
  BenchOptions slow = base;
  slow.peers = 4;
  slow.slowdowns = {{3, 4.0}};
  slow.weights.clear();
  slow.load = 0.7;
  slow.policies = {"round_robin", "least_loaded"};
  std::map<std::string, Summary> s;
  scenarios.push_back(RunPolicies("slow-peer", slow, &s));
  const double ratio = s["least_loaded"].p99_ms / std::max(1e-9, s["round_robin"].p99_ms);
  checks.push_back({"slow peer: least_loaded p99 / round_robin p99", ratio, 0.5, ratio <= 0.5});
  checks.push_back({"slow peer: least_loaded load skew by capacity", s["least_loaded"].skew, 1.3,
                    s["least_loaded"].skew <= 1.3});
  // The model's view of the same setup, from the same picker code.
  sim::SimulationOptions model;
  model.peers = 4;
  model.slowdowns = {1, 1, 1, 4};
  model.slots = static_cast<std::uint32_t>(slow.slots);
  model.service_ms = static_cast<double>(slow.workload.busy_ms);
  model.service = sim::ServiceDistribution::kFixed;
  model.load = slow.load;
  model.requests = 20000;
  model.policies = slow.policies;
  model.slo_ms = 5.0 * model.service_ms;
  if (auto reports = sim::Simulate(model); reports.ok()) {
    json agreement = json::array();
    for (const auto& r : *reports) {
      const double real = s[r.policy].p99_ms;
      agreement.push_back({{"policy", r.policy},
                           {"simulated_p99_ms", r.p99_ms},
                           {"real_p99_ms", real},
                           {"real_over_simulated", r.p99_ms > 0 ? real / r.p99_ms : 0}});
    }
    scenarios.push_back({{"scenario", "simulation-agreement"}, {"policies", agreement}});
  }

  // Weights 2:1:1:1 (the weight-2 peer has twice the slots) driven at the fleet's capacity.
  BenchOptions weighted = base;
  weighted.peers = 4;
  weighted.slowdowns.clear();
  weighted.weights = {2, 1, 1, 1};
  weighted.load = 1.0;
  weighted.policies = {"least_loaded"};
  std::map<std::string, Summary> w;
  json wj = RunPolicies("weights-2111", weighted, &w);
  const double ideal = wj["fleet_capacity_rps"].get<double>();
  scenarios.push_back(wj);
  const double share = w["least_loaded"].throughput / ideal;
  checks.push_back({"weights 2:1:1:1: throughput / ideal sum", share, 0.9, share >= 0.9});

  // Twice the capacity: admission answers fast, goodput holds against the peak (90 % load).
  BenchOptions peak = weighted;
  peak.weights.clear();
  peak.load = 0.9;
  std::map<std::string, Summary> p;
  scenarios.push_back(RunPolicies("peak-90pct", peak, &p));
  BenchOptions over = peak;
  over.load = 2.0;
  std::map<std::string, Summary> ov;
  scenarios.push_back(RunPolicies("overload-2x", over, &ov));
  checks.push_back({"2x capacity: rejection answer p99 (ms)", ov["least_loaded"].rejected_p99_ms,
                    1.0, ov["least_loaded"].rejected_p99_ms <= 1.0});
  const double kept = ov["least_loaded"].goodput / std::max(1e-9, p["least_loaded"].goodput);
  checks.push_back({"2x capacity: goodput / peak goodput", kept, 0.9, kept >= 0.9});

  // kill -9 of one of four peers mid-run.
  BenchOptions kill = peak;
  kill.load = 0.5;
  std::map<std::string, Summary> k;
  json kj = RunPolicies("kill-one", kill, &k, /*kill_one_at_half=*/true);
  scenarios.push_back(kj);
  const json& row = kj["policies"][0];
  const double out_ms = row.value("killed_peer_out_of_set_ms", 1e9);
  checks.push_back({"kill -9: retryable requests that failed",
                    static_cast<double>(k["least_loaded"].retryable_failed), 0,
                    k["least_loaded"].retryable_failed == 0});
  checks.push_back({"kill -9: killed peer out of the pick set (ms)", out_ms, 500, out_ms <= 500});
  return {{"scenarios", scenarios}, {"checks", ChecksJson(checks)}};
}

void PrintTable(const json& report) {
  for (const json& sc : report["scenarios"]) {
    std::printf("\n== %s", sc["scenario"].get<std::string>().c_str());
    if (sc.contains("fleet_capacity_rps")) {
      std::printf(" (workload %s, %zu peers, capacity %.0f req/s, load %.2f, SLO %.0f ms)",
                  sc["workload"].get<std::string>().c_str(), sc["peers"].size(),
                  sc["fleet_capacity_rps"].get<double>(), sc["load"].get<double>(),
                  sc["slo_ms"].get<double>());
    }
    std::printf("\n");
    if (sc["scenario"] == "overhead") {
      std::printf("direct p50 %.3f ms, routed (same peer) p50 %.3f ms, ratio %.3f\n",
                  sc["direct_p50_ms"].get<double>(), sc["routed_same_peer_p50_ms"].get<double>(),
                  sc["ratio_p50"].get<double>());
      continue;
    }
    if (sc["scenario"] == "simulation-agreement") {
      for (const json& r : sc["policies"]) {
        std::printf("%-16s simulated p99 %8.2f ms   real p99 %8.2f ms   real/sim %.2f\n",
                    r["policy"].get<std::string>().c_str(), r["simulated_p99_ms"].get<double>(),
                    r["real_p99_ms"].get<double>(), r["real_over_simulated"].get<double>());
      }
      continue;
    }
    std::printf("%-16s %8s %8s %8s %9s %9s %7s %6s %6s %6s\n", "policy", "p50 ms", "p99 ms",
                "mean ms", "thru/s", "good/s", "reject", "retry", "fail", "skew");
    for (const json& r : sc["policies"]) {
      std::printf("%-16s %8.2f %8.2f %8.2f %9.1f %9.1f %6.1f%% %6llu %6llu %6.2f\n",
                  r["policy"].get<std::string>().c_str(), r["p50_ms"].get<double>(),
                  r["p99_ms"].get<double>(), r["mean_ms"].get<double>(),
                  r["throughput_rps"].get<double>(), r["goodput_rps"].get<double>(),
                  100 * r["rejection_rate"].get<double>(),
                  static_cast<unsigned long long>(r["retries"].get<std::uint64_t>()),
                  static_cast<unsigned long long>(r["failed"].get<std::uint64_t>()),
                  r["skew_by_capacity"].get<double>());
    }
  }
  if (report.contains("checks")) {
    std::printf("\n== targets\n");
    for (const json& c : report["checks"]) {
      std::printf("%-4s %-52s %10.3f (limit %.3g)\n", c["pass"].get<bool>() ? "ok" : "MISS",
                  c["target"].get<std::string>().c_str(), c["value"].get<double>(),
                  c["limit"].get<double>());
    }
  }
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double Real(const Args& args, const std::string& name, double fallback) {
  auto v = args.get(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    const double d = std::stod(*v, &used);
    if (used == v->size() && std::isfinite(d) && d > 0) return d;
  } catch (const std::exception&) {
  }
  throw UsageError("--" + name + " needs a number > 0, got '" + *v + "'");
}

constexpr const char* kHelp =
    "usage: blazen-peer route-bench [options]\n"
    "       blazen-peer route-bench --simulate [simulation options]\n\n"
    "Starts N local peers (`blazen-peer serve` processes) and drives an open-loop Poisson\n"
    "workload at a target rate through a PeerPool, once per policy with the same arrival\n"
    "schedule; prints p50/p99/mean latency, throughput, goodput (within --slo-ms), rejections,\n"
    "retries, failures and the load skew by capacity.\n\n"
    "  --scenario NAME        custom (default: the flags below), targets (every routing\n"
    "                         target, checked), smoke (a short run for tests)\n"
    "  --peers N              peers to start (default 4)\n"
    "  --policies a,b         policies to compare (default round_robin,random,least_loaded,\n"
    "                         consistent_hash)\n"
    "  --workload W           busy (default), embed, embed+search\n"
    "  --busy-ms M            service time of one busy request (default 20)\n"
    "  --slots N              --max-concurrency of a weight-1 peer (default 4)\n"
    "  --slowdown-peer I:F    peer I runs busy F times slower (repeatable)\n"
    "  --weights 2,1,1,1      capacity weights (a weight-w peer gets w times the slots)\n"
    "  --load F               offered load as a share of the fleet's capacity (default 0.7;\n"
    "                         embed workloads calibrate the capacity from pinned calls)\n"
    "  --rate R               offered requests per second (overrides --load)\n"
    "  --duration S           seconds per policy (default 4)\n"
    "  --slo-ms X             latency objective for goodput (default 5 x --busy-ms)\n"
    "  --seed S               arrival schedule and picker seed (default 1)\n"
    "  --netns                each peer in its own network namespace behind a veth pair shaped\n"
    "                         with tc tbf (needs root and iproute2)\n"
    "  --link-rate R          tbf rate of each link with --netns (default 1gbit)\n"
    "  --json                 print JSON instead of tables\n";

}  // namespace

int RouteBench(const std::vector<std::string>& raw) {
  if (std::find(raw.begin(), raw.end(), "--simulate") != raw.end()) {
    std::vector<std::string> rest;
    for (const std::string& a : raw) {
      if (a != "--simulate") rest.push_back(a);
    }
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
        std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
      std::printf("usage: blazen-peer route-bench --simulate [options]\n\n%s",
                  sim::SimulationUsage().c_str());
      return 0;
    }
    Result<sim::SimulationOptions> options = sim::ParseSimulationArgs(rest);
    if (!options.ok()) throw UsageError(options.status().message());
    Result<std::vector<sim::SimulationReport>> reports = sim::Simulate(*options);
    if (!reports.ok()) throw UsageError(reports.status().message());
    std::printf("%s\n", sim::FormatReport(*options, *reports).c_str());
    return 0;
  }
  Args args(raw,
            {"scenario", "peers", "policies", "workload", "busy-ms", "slots", "slowdown-peer",
             "weights", "load", "rate", "duration", "slo-ms", "seed", "link-rate"},
            {"netns", "json"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  BenchOptions o;
  o.peers = args.number("peers", 4);
  if (o.peers == 0) throw UsageError("--peers must be at least 1");
  if (auto p = args.get("policies")) o.policies = SplitComma(*p);
  o.workload.name = args.get("workload").value_or("busy");
  if (o.workload.name != "busy" && o.workload.name != "embed" &&
      o.workload.name != "embed+search") {
    throw UsageError("--workload must be busy, embed or embed+search");
  }
  o.workload.busy_ms = args.number("busy-ms", 20);
  o.slots = args.number("slots", 4);
  if (o.slots == 0) throw UsageError("--slots must be at least 1");
  for (const std::string& s : args.all("slowdown-peer")) {
    const auto colon = s.find(':');
    if (colon == std::string::npos) throw UsageError("--slowdown-peer needs I:F, got '" + s + "'");
    try {
      const std::size_t i = std::stoul(s.substr(0, colon));
      const double f = std::stod(s.substr(colon + 1));
      if (i >= o.peers || !(f > 0)) throw std::out_of_range("range");
      o.slowdowns[i] = f;
    } catch (const std::exception&) {
      throw UsageError("--slowdown-peer " + s + ": needs a peer index below --peers and F > 0");
    }
  }
  if (auto w = args.get("weights")) {
    for (const std::string& item : SplitComma(*w)) {
      try {
        const double v = std::stod(item);
        if (!(v > 0) || !std::isfinite(v)) throw std::out_of_range("range");
        o.weights.push_back(v);
      } catch (const std::exception&) {
        throw UsageError("--weights: '" + item + "' is not a number > 0");
      }
    }
    if (!args.has("peers")) o.peers = o.weights.size();
    if (o.weights.size() != o.peers) throw UsageError("--weights needs one weight per peer");
  }
  o.load = Real(args, "load", 0.7);
  o.rate = args.has("rate") ? Real(args, "rate", 0) : 0;
  o.seconds = Real(args, "duration", 4);
  o.slo_ms = args.has("slo-ms") ? Real(args, "slo-ms", 0) : 0;
  o.seed = args.number("seed", 1);
  o.netns = args.has("netns");
  o.link_rate = args.get("link-rate").value_or("1gbit");
  if (o.netns && ::geteuid() != 0) throw UsageError("--netns needs root (network namespaces)");
  const std::string scenario = args.get("scenario").value_or("custom");

  json report;
  if (scenario == "targets") {
    report = Targets(o);
  } else if (scenario == "smoke") {
    o.peers = 2;
    o.seconds = std::min(o.seconds, 0.6);
    o.load = 0.3;
    o.workload.busy_ms = 5;
    report = {{"scenarios", json::array({RunPolicies("smoke", o)})}};
  } else if (scenario == "custom") {
    report = {{"scenarios", json::array({RunPolicies("custom", o)})}};
  } else {
    throw UsageError("--scenario must be custom, targets or smoke");
  }
  if (args.has("json")) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    PrintTable(report);
  }
  if (report.contains("checks")) {
    for (const json& c : report["checks"]) {
      if (!c["pass"].get<bool>()) return 3;  // a missed target is reported, not hidden
    }
  }
  return 0;
}

}  // namespace blazen::cli
