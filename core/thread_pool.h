// SPDX-License-Identifier: Apache-2.0
#pragma once
// A fixed-size worker pool with a bounded queue: when every worker is busy and the queue is full,
// Submit fails with RESOURCE_EXHAUSTED instead of growing without limit.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace blazen {

/// Runs submitted tasks on `threads` workers. Thread-safe.
class ThreadPool {
 public:
  /// `threads` >= 1 workers; at most `max_queued` tasks wait for a worker.
  ThreadPool(std::size_t threads, std::size_t max_queued);
  /// Runs the queued tasks, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ThreadPool(ThreadPool&&) = delete;
  ThreadPool& operator=(ThreadPool&&) = delete;

  /// Queues `task`. kResourceExhausted when the queue is full; kUnavailable after Stop().
  [[nodiscard]] Status Submit(std::function<void()> task);

  /// Refuses new tasks; queued and running tasks still complete. Idempotent.
  void Stop();

  [[nodiscard]] std::size_t threads() const { return workers_.size(); }
  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] std::size_t running() const;

 private:
  void WorkerLoop();

  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace blazen
