// SPDX-License-Identifier: Apache-2.0
// blazen_pick_bench: the cost of one routing decision (SnapshotHolder::Load + Pipeline::Pick with
// the standard filters) for each policy over 64 peers, against the target of <= 10 us p99.
// Besides Google Benchmark's mean, each run times every decision and reports p50/p99/max (ns;
// they include one steady_clock read, ~20 ns).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/pool/peer_snapshot.h"
#include "client/pool/policy/pipeline.h"
#include "client/pool/policy/policy_registry.h"
#include "client/pool/policy/random_source.h"

namespace {

using blazen::client::pool::CounterRandomSource;
using blazen::client::pool::PeerSnapshot;
using blazen::client::pool::PeerState;
using blazen::client::pool::PolicyRegistry;
using blazen::client::pool::RequestTraits;
using blazen::client::pool::SnapshotHolder;

constexpr int kPeers = 64;

// 64 peers as a fleet looks: mixed weights, loads and free pool bytes, a few unhealthy or
// missing a step or a label, so that every filter has work to do.
std::shared_ptr<const PeerSnapshot> MakeFleet() {
  CounterRandomSource random(2024);
  std::vector<PeerState> peers;
  for (int i = 0; i < kPeers; ++i) {
    PeerState peer;
    peer.node_id = "peer-" + std::to_string(i);
    peer.endpoint = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":50051";
    peer.healthy = i % 16 != 5;
    peer.step_ids = {"blazen::busy", "embed", "search"};
    if (i % 10 == 3) peer.step_ids.pop_back();
    peer.labels = {{"gpu", i % 8 == 0 ? "a100" : "h100"}, {"region", "eu-west"}};
    peer.capacity_weight = 1.0 + double(i % 4);
    peer.outstanding = random.Below(8);
    peer.load.in_flight = random.Below(16);
    peer.load.queued = random.Below(4);
    peer.load.pool_budget_bytes = 80ULL << 30;
    peer.load.pool_in_use_bytes = random.Below(80) << 30;
    peers.push_back(std::move(peer));
  }
  return std::move(PeerSnapshot::Make(std::move(peers), 1)).value();
}

void BM_Decision(benchmark::State& state, const std::string& policy, bool record) {
  SnapshotHolder holder(MakeFleet());
  auto pipeline = PolicyRegistry::WithBuiltins().MakePipeline(policy, {});
  if (!pipeline.ok()) {
    state.SkipWithError(pipeline.status().ToString().c_str());
    return;
  }
  RequestTraits traits;
  traits.step_ids = {"embed", "search"};
  traits.required_labels = {{"gpu", "h100"}};
  traits.device_bytes = 8ULL << 30;
  traits.record = record;
  std::vector<std::int64_t> samples;
  samples.reserve(1 << 20);
  std::uint64_t key = 0;
  for (auto _ : state) {
    traits.hash_key = "session-" + std::to_string(++key % 4096);
    const auto start = std::chrono::steady_clock::now();
    const auto decision = pipeline->Pick(*holder.Load(), traits);
    const auto stop = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(decision);
    if (samples.size() < samples.capacity()) {
      samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
    }
  }
  std::sort(samples.begin(), samples.end());
  if (!samples.empty()) {
    const auto at = [&](double q) {
      return double(samples[std::size_t(q * double(samples.size() - 1))]);
    };
    state.counters["p50_ns"] = at(0.50);
    state.counters["p99_ns"] = at(0.99);
    state.counters["max_ns"] = double(samples.back());
  }
}

BENCHMARK_CAPTURE(BM_Decision, round_robin, std::string("round_robin"), false);
BENCHMARK_CAPTURE(BM_Decision, random, std::string("random"), false);
BENCHMARK_CAPTURE(BM_Decision, least_loaded, std::string("least_loaded"), false);
BENCHMARK_CAPTURE(BM_Decision, consistent_hash, std::string("consistent_hash"), false);
BENCHMARK_CAPTURE(BM_Decision, least_loaded_recorded, std::string("least_loaded"), true);
BENCHMARK_CAPTURE(BM_Decision, consistent_hash_recorded, std::string("consistent_hash"), true);

}  // namespace

BENCHMARK_MAIN();
