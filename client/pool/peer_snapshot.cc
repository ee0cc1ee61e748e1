// SPDX-License-Identifier: Apache-2.0
#include "client/pool/peer_snapshot.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace blazen::client::pool {

namespace {

// FNV-1a over the bytes, continuing from `h`.
std::uint64_t HashInto(std::uint64_t h, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t MembershipFingerprint(const std::vector<PeerState>& peers) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const PeerState& peer : peers) {
    // Sizes first, so that ("ab", "c") and ("a", "bc") differ.
    const std::size_t sizes[2] = {peer.node_id.size(), peer.endpoint.size()};
    h = HashInto(h, sizes, sizeof(sizes));
    h = HashInto(h, peer.node_id.data(), peer.node_id.size());
    h = HashInto(h, peer.endpoint.data(), peer.endpoint.size());
    h = HashInto(h, &peer.capacity_weight, sizeof(peer.capacity_weight));
  }
  return h;
}

}  // namespace

bool PeerLive::Offer(const LoadReport& report) noexcept {
  std::uint64_t last = seq_.load(std::memory_order_relaxed);
  do {
    if (report.seq <= last) return false;
  } while (!seq_.compare_exchange_weak(last, report.seq, std::memory_order_relaxed));
  in_flight_.store(report.in_flight, std::memory_order_relaxed);
  queued_.store(report.queued, std::memory_order_relaxed);
  max_concurrency_.store(report.max_concurrency, std::memory_order_relaxed);
  pool_in_use_.store(report.pool_in_use_bytes, std::memory_order_relaxed);
  pool_budget_.store(report.pool_budget_bytes, std::memory_order_relaxed);
  resident_.store(report.resident_ref_bytes, std::memory_order_relaxed);
  capacity_weight_.store(report.capacity_weight, std::memory_order_relaxed);
  return true;
}

void PeerLive::RecordLatency(double ms) noexcept {
  if (!(ms >= 0.0)) return;  // NaN or negative: not a latency
  constexpr double kAlpha = 0.1;
  double current = latency_ms_.load(std::memory_order_relaxed);
  double next = 0.0;
  do {
    next = current == 0.0 ? ms : current + kAlpha * (ms - current);
  } while (!latency_ms_.compare_exchange_weak(current, next, std::memory_order_relaxed));
  latency_at_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                       std::memory_order_relaxed);
}

double PeerLive::latency_ms() const noexcept {
  const double latency = latency_ms_.load(std::memory_order_relaxed);
  if (latency == 0.0) return 0.0;
  const std::chrono::steady_clock::duration since(
      std::chrono::steady_clock::now().time_since_epoch().count() -
      latency_at_ns_.load(std::memory_order_relaxed));
  // Stale and idle: unknown, so the next pick compares the peer on load alone and one call
  // measures it again. Stale with a call in flight: that call is the probe; keep the old figure
  // meanwhile, so a slow peer gets one probe per kLatencyTtl rather than a burst.
  if (since > kLatencyTtl && outstanding() == 0) return 0.0;
  return latency;
}

LoadReport PeerLive::load() const noexcept {
  LoadReport out;
  out.seq = seq_.load(std::memory_order_relaxed);
  out.in_flight = in_flight_.load(std::memory_order_relaxed);
  out.queued = queued_.load(std::memory_order_relaxed);
  out.max_concurrency = max_concurrency_.load(std::memory_order_relaxed);
  out.pool_in_use_bytes = pool_in_use_.load(std::memory_order_relaxed);
  out.pool_budget_bytes = pool_budget_.load(std::memory_order_relaxed);
  out.resident_ref_bytes = resident_.load(std::memory_order_relaxed);
  out.capacity_weight = capacity_weight_.load(std::memory_order_relaxed);
  return out;
}

PeerSnapshot::PeerSnapshot(std::vector<PeerState> peers, std::uint64_t version)
    : peers_(std::move(peers)),
      version_(version),
      membership_fingerprint_(MembershipFingerprint(peers_)) {}

Result<std::shared_ptr<const PeerSnapshot>> PeerSnapshot::Make(std::vector<PeerState> peers,
                                                               std::uint64_t version) {
  for (std::size_t i = 0; i < peers.size(); ++i) {
    PeerState& peer = peers[i];
    if (!std::isfinite(peer.capacity_weight) || peer.capacity_weight <= 0.0) {
      return Status::InvalidArgument("peer '" + peer.node_id + "' (" + peer.endpoint +
                                     "): capacity_weight must be a finite number > 0, got " +
                                     std::to_string(peer.capacity_weight));
    }
    peer.index = i;
    std::sort(peer.step_ids.begin(), peer.step_ids.end());
    peer.step_ids.erase(std::unique(peer.step_ids.begin(), peer.step_ids.end()),
                        peer.step_ids.end());
  }
  return std::shared_ptr<const PeerSnapshot>(new PeerSnapshot(std::move(peers), version));
}

std::shared_ptr<const PeerSnapshot> PeerSnapshot::Empty() {
  return std::shared_ptr<const PeerSnapshot>(new PeerSnapshot({}, 0));
}

SnapshotHolder::SnapshotHolder() : current_(PeerSnapshot::Empty()) {}

SnapshotHolder::SnapshotHolder(std::shared_ptr<const PeerSnapshot> initial)
    : current_(initial != nullptr ? std::move(initial) : PeerSnapshot::Empty()) {}

std::shared_ptr<const PeerSnapshot> SnapshotHolder::Load() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

Status SnapshotHolder::Publish(std::shared_ptr<const PeerSnapshot> next) {
  if (next == nullptr) return Status::InvalidArgument("SnapshotHolder::Publish: null snapshot");
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(next);
  }
  // `next` now holds the replaced snapshot; it is released here, outside the lock.
  return Status::Ok();
}

}  // namespace blazen::client::pool
