// SPDX-License-Identifier: Apache-2.0
// Normalization and change-only delivery of discovered peer sets.

#include "client/pool/discovery/detail/peer_set.h"

#include <algorithm>
#include <utility>

namespace blazen::client::pool::detail {

std::vector<DiscoveredPeer> NormalizePeerSet(std::vector<DiscoveredPeer> peers) {
  std::stable_sort(
      peers.begin(), peers.end(),
      [](const DiscoveredPeer& a, const DiscoveredPeer& b) { return a.endpoint < b.endpoint; });
  peers.erase(std::unique(peers.begin(), peers.end(),
                          [](const DiscoveredPeer& a, const DiscoveredPeer& b) {
                            return a.endpoint == b.endpoint;
                          }),
              peers.end());
  return peers;
}

void PeerSetPublisher::Open(DiscoveryCallback callback) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  callback_ = std::move(callback);
  open_ = callback_ != nullptr;
}

bool PeerSetPublisher::Publish(std::vector<DiscoveredPeer> peers) {
  peers = NormalizePeerSet(std::move(peers));
  std::lock_guard lock(mu_);
  if (!open_ || (delivered_any_ && peers == last_)) return false;
  delivered_any_ = true;
  last_ = peers;
  callback_(std::move(peers));
  return true;
}

void PeerSetPublisher::Close() {
  std::lock_guard lock(mu_);
  open_ = false;
  closed_ = true;
  callback_ = nullptr;
}

}  // namespace blazen::client::pool::detail
