// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test doubles for gpu/ memory resources: a limiting upstream that runs out of memory on
// demand (as a full device would), and helpers to make runtimes on the host backend.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"
#include "gpu/memory_resource.h"
#include "gpu/stream.h"

namespace blazen::gpu::testing {

/// Host memory with a capacity, like a device with `capacity_bytes` of memory: an allocation
/// beyond it fails with kResourceExhausted (what a CUDA out-of-memory maps to). Can be told to
/// fail the next allocations with any Status. Counts calls. Thread-safe.
class LimitingResource final : public MemoryResource {
 public:
  explicit LimitingResource(std::size_t capacity_bytes, std::string location = "host")
      : capacity_bytes_(capacity_bytes), location_(std::move(location)) {}

  Result<void*> Allocate(std::size_t bytes, StreamView stream) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++allocate_calls_;
    if (fail_with_.has_value()) return *fail_with_;
    if (bytes > capacity_bytes_ - std::min(capacity_bytes_, in_use_bytes_)) {
      return Status::ResourceExhausted("simulated device out of memory");
    }
    BLAZEN_ASSIGN_OR_RETURN(void* ptr, host_.Allocate(bytes, stream));
    in_use_bytes_ += bytes;
    max_in_use_bytes_ = std::max(max_in_use_bytes_, in_use_bytes_);
    return ptr;
  }

  void Deallocate(void* ptr, std::size_t bytes, StreamView stream) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    ++deallocate_calls_;
    in_use_bytes_ -= bytes;
    host_.Deallocate(ptr, bytes, stream);
  }

  std::string location() const override { return location_; }
  bool is_device() const override { return false; }

  /// Every later Allocate fails with `status` (std::nullopt: back to normal).
  void FailWith(std::optional<Status> status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_with_ = std::move(status);
  }
  std::size_t allocate_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return allocate_calls_;
  }
  std::size_t deallocate_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deallocate_calls_;
  }
  std::size_t in_use_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_use_bytes_;
  }
  std::size_t max_in_use_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_use_bytes_;
  }

 private:
  const std::size_t capacity_bytes_;
  const std::string location_;
  HostMemoryResource host_;
  mutable std::mutex mu_;
  std::optional<Status> fail_with_;
  std::size_t allocate_calls_ = 0;
  std::size_t deallocate_calls_ = 0;
  std::size_t in_use_bytes_ = 0;
  std::size_t max_in_use_bytes_ = 0;
};

}  // namespace blazen::gpu::testing
