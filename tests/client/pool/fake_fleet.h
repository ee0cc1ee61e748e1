// SPDX-License-Identifier: Apache-2.0
#pragma once
// A scripted fleet for PeerPool tests: `fake://NAME` URLs connect (through the process-wide
// transport registry) to in-memory peers whose answers a test sets: succeed, fail before sending,
// fail after sending, refuse for overload, or block until released; their health watch follows a
// flag the test flips. Deterministic: no sockets, no timing but the pool's own.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client/connect.h"
#include "core/peer_error.h"

namespace blazen::client::pool::testing {

enum class FakeMode { kOk, kFailBeforeSending, kFailAfterSending, kOverload, kDraining, kBlock };

/// One scripted peer. Thread-safe.
struct FakePeer {
  std::string node_id;
  std::vector<std::string> step_ids = {"echo"};
  std::map<std::string, std::string> labels;
  double capacity_weight = 1.0;
  std::uint64_t max_concurrency = 0;

  std::atomic<FakeMode> mode{FakeMode::kOk};
  std::atomic<bool> reachable{true};
  std::atomic<int> invokes{0};
  std::atomic<int> derefs{0};
  std::atomic<int> connects{0};

  std::mutex mu;
  std::condition_variable cv;
  bool serving = true;       // guarded by mu
  bool released = false;     // guarded by mu: ends kBlock calls
  int watch_generation = 0;  // guarded by mu: bumping it ends every watch

  void SetServing(bool value) {
    std::lock_guard<std::mutex> lock(mu);
    serving = value;
    cv.notify_all();
  }
  /// Ends every health watch (as a dead process's connection would) and refuses new connections
  /// while `reachable` is false.
  void Kill() {
    reachable = false;
    std::lock_guard<std::mutex> lock(mu);
    ++watch_generation;
    cv.notify_all();
  }
  void Revive() { reachable = true; }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

/// The peers `fake://NAME` reaches. Call Fleet() from tests; registered on first use.
class FakeFleet {
 public:
  static FakeFleet& Get();
  /// Adds (or replaces) the peer `name`, reachable at `fake://name`.
  std::shared_ptr<FakePeer> Add(const std::string& name);
  std::shared_ptr<FakePeer> Find(const std::string& name);

 private:
  FakeFleet();
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakePeer>> peers_;
};

}  // namespace blazen::client::pool::testing
