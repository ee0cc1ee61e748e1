// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers of the discovery tests: a callback that records every delivered peer set and lets a test
// wait for a set with some property.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "client/pool/discovery/discovery.h"

namespace blazen::client::pool::testing {

/// The endpoints of `peers`, in order.
inline std::vector<std::string> Endpoints(const std::vector<DiscoveredPeer>& peers) {
  std::vector<std::string> out;
  for (const DiscoveredPeer& p : peers) out.push_back(p.endpoint);
  return out;
}

/// Records the peer sets a Discovery delivers. Thread-safe.
class SetRecorder {
 public:
  /// The callback to pass to Discovery::Start.
  DiscoveryCallback callback() {
    return [this](std::vector<DiscoveredPeer> peers) {
      {
        std::lock_guard lock(mu_);
        sets_.push_back(std::move(peers));
      }
      cv_.notify_all();
    };
  }

  /// Waits until the newest set's endpoints are `endpoints`; false after `timeout`.
  bool WaitForEndpoints(const std::vector<std::string>& endpoints,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return WaitFor([&](const std::vector<DiscoveredPeer>& s) { return Endpoints(s) == endpoints; },
                   timeout);
  }

  /// Waits until the newest set satisfies `pred`; false after `timeout`.
  bool WaitFor(const std::function<bool(const std::vector<DiscoveredPeer>&)>& pred,
               std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !sets_.empty() && pred(sets_.back()); });
  }

  /// How many sets were delivered.
  std::size_t count() {
    std::lock_guard lock(mu_);
    return sets_.size();
  }
  /// The newest set (empty when none was delivered).
  std::vector<DiscoveredPeer> latest() {
    std::lock_guard lock(mu_);
    return sets_.empty() ? std::vector<DiscoveredPeer>() : sets_.back();
  }
  /// Every set delivered, in order.
  std::vector<std::vector<DiscoveredPeer>> all() {
    std::lock_guard lock(mu_);
    return sets_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<DiscoveredPeer>> sets_;
};

}  // namespace blazen::client::pool::testing
