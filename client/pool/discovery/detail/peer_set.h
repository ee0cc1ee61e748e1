// SPDX-License-Identifier: Apache-2.0
#pragma once
// What every discovery source does with a peer set before handing it over: sort it by endpoint,
// keep one entry per endpoint, and deliver it only when it differs from the last one delivered.

#include <mutex>
#include <vector>

#include "client/pool/discovery/discovery.h"

namespace blazen::client::pool::detail {

/// `peers` sorted by endpoint with one entry per endpoint: of several entries with the same
/// endpoint, the first in `peers` is kept (a stable sort), so a caller that lists its entries in
/// a fixed order gets a deterministic result.
[[nodiscard]] std::vector<DiscoveredPeer> NormalizePeerSet(std::vector<DiscoveredPeer> peers);

/// Delivers normalized peer sets to a callback, skipping a set equal to the last one delivered.
/// Closed until Open, and for good after Close (a later Open does nothing). Thread-safe: deliveries
/// are serialized (the callback runs under an internal lock, so it must not call Close).
class PeerSetPublisher {
 public:
  /// Starts delivering to `callback`.
  void Open(DiscoveryCallback callback);
  /// Normalizes `peers` and delivers them unless closed or equal to the last set delivered.
  /// Returns whether the callback ran.
  bool Publish(std::vector<DiscoveredPeer> peers);
  /// Stops delivering; returns once a delivery in progress has ended. Idempotent.
  void Close();

 private:
  std::mutex mu_;
  DiscoveryCallback callback_;
  bool open_ = false;
  bool closed_ = false;
  bool delivered_any_ = false;
  std::vector<DiscoveredPeer> last_;
};

}  // namespace blazen::client::pool::detail
