// SPDX-License-Identifier: Apache-2.0
#pragma once
// DevicePool: the budget and bookkeeping layer every device allocation of the peer goes through
// (DESIGN.md section 6). It adapts an upstream MemoryResource (the CUDA stream-ordered pool, or
// host memory on the fallback), enforces a hard byte budget and keeps statistics, so a full
// device is reported as kResourceExhausted and never as a raw CUDA out-of-memory error.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"
#include "gpu/memory_resource.h"
#include "gpu/stream.h"

namespace blazen::gpu {

/// A snapshot of a DevicePool's counters.
struct DevicePoolStats {
  /// Bytes currently allocated through the pool (requested sizes).
  std::uint64_t in_use_bytes = 0;
  /// Highest in_use_bytes ever reached.
  std::uint64_t peak_bytes = 0;
  /// Successful allocations of at least one byte.
  std::uint64_t allocations = 0;
  /// Deallocations of at least one byte.
  std::uint64_t frees = 0;
  /// Allocations refused, by the budget or by the upstream resource.
  std::uint64_t failures = 0;

  friend bool operator==(const DevicePoolStats&, const DevicePoolStats&) = default;
};

/// Budget and tracking adaptor over an upstream MemoryResource; itself a MemoryResource (same
/// location and is_device as its upstream). Allocations whose total would exceed the budget fail
/// with kResourceExhausted, changing nothing but the failure count; an upstream out-of-memory is
/// reported the same way. Zero-byte requests return nullptr without touching the upstream or the
/// counters. Thread-safe: one mutex guards the counters, and the upstream is called outside it.
class DevicePool final : public MemoryResource {
 public:
  /// A pool over `upstream` (owned) with a hard budget of `budget_bytes`. kInvalidArgument when
  /// `upstream` is null or `budget_bytes` is 0.
  [[nodiscard]] static Result<std::unique_ptr<DevicePool>> Create(
      std::unique_ptr<MemoryResource> upstream, std::uint64_t budget_bytes);

  /// Every allocation must have been returned before the pool is destroyed (checked in debug
  /// builds; a leak is logged).
  ~DevicePool() override;
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;
  DevicePool(DevicePool&&) = delete;
  DevicePool& operator=(DevicePool&&) = delete;

  /// Allocates `bytes` from the upstream on `stream` (does not synchronize it). Returns
  /// kResourceExhausted when in_use + bytes would exceed the budget, or when the upstream is out
  /// of memory; the message names the pool's location and the requested, in-use and budget
  /// bytes. Other upstream failures are returned unchanged (kInternal). A failure leaves every
  /// counter except `failures` as it was.
  [[nodiscard]] Result<void*> Allocate(std::size_t bytes, StreamView stream) override;
  /// Returns `ptr` (from Allocate with the same `bytes`) to the upstream on `stream`.
  void Deallocate(void* ptr, std::size_t bytes, StreamView stream) noexcept override;
  [[nodiscard]] std::string location() const override { return upstream_->location(); }
  [[nodiscard]] bool is_device() const override { return upstream_->is_device(); }

  /// The hard budget in bytes.
  [[nodiscard]] std::uint64_t budget_bytes() const { return budget_bytes_; }
  /// A consistent snapshot of the counters.
  [[nodiscard]] DevicePoolStats stats() const;
  /// Shorthand for stats().in_use_bytes.
  [[nodiscard]] std::uint64_t in_use_bytes() const;
  /// The upstream resource (owned by the pool).
  [[nodiscard]] MemoryResource& upstream() const { return *upstream_; }

 private:
  DevicePool(std::unique_ptr<MemoryResource> upstream, std::uint64_t budget_bytes);
  [[nodiscard]] Status Exhausted(std::size_t bytes, std::uint64_t in_use,
                                 std::string_view cause) const;

  const std::unique_ptr<MemoryResource> upstream_;
  const std::uint64_t budget_bytes_;
  mutable std::mutex mu_;
  DevicePoolStats stats_;  // guarded by mu_
};

/// A budget of `percent` percent of the memory available to a pool: for `device` the free memory
/// the CUDA runtime reports now (cudaMemGetInfo), for std::nullopt (the host fallback) the
/// machine's physical memory. kInvalidArgument unless 0 < percent <= 100; kInternal /
/// kFailedPrecondition when the device cannot be queried (e.g. a host-only build).
[[nodiscard]] Result<std::uint64_t> BudgetFromPercentOfFreeMemory(double percent,
                                                                  std::optional<int> device);

/// Physical memory of this machine in bytes (0 when it cannot be determined).
[[nodiscard]] std::uint64_t PhysicalMemoryBytes();

}  // namespace blazen::gpu
