// SPDX-License-Identifier: Apache-2.0
// Bounded worker pool.

#include "core/thread_pool.h"

#include <string>

namespace blazen {

ThreadPool::ThreadPool(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  Stop();
  for (std::thread& t : workers_) t.join();
}

Status ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("worker pool is shutting down");
    // A task may wait only if no worker is free to take it at once.
    const std::size_t idle = workers_.size() - running_;
    if (queue_.size() >= idle + max_queued_) {
      return Status::ResourceExhausted("peer is busy: " + std::to_string(running_) +
                                       " runs in progress and " + std::to_string(queue_.size()) +
                                       " queued (queue limit " + std::to_string(max_queued_) + ")");
    }
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return Status::Ok();
}

void ThreadPool::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

std::size_t ThreadPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t ThreadPool::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void ThreadPool::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    task();  // tasks must not throw; the engine's run wrapper catches everything
    lock.lock();
    --running_;
  }
}

}  // namespace blazen
