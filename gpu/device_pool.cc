// SPDX-License-Identifier: Apache-2.0
// DevicePool: hard budget and statistics over an upstream MemoryResource.

#include "gpu/device_pool.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

#include "core/logging.h"
#include "gpu/detail/backend.h"

namespace blazen::gpu {

Result<std::unique_ptr<DevicePool>> DevicePool::Create(std::unique_ptr<MemoryResource> upstream,
                                                       std::uint64_t budget_bytes) {
  if (upstream == nullptr) return Status::InvalidArgument("device pool: upstream resource is null");
  if (budget_bytes == 0) return Status::InvalidArgument("device pool: budget must be positive");
  return std::unique_ptr<DevicePool>(new DevicePool(std::move(upstream), budget_bytes));
}

DevicePool::DevicePool(std::unique_ptr<MemoryResource> upstream, std::uint64_t budget_bytes)
    : upstream_(std::move(upstream)), budget_bytes_(budget_bytes) {}

DevicePool::~DevicePool() {
  const DevicePoolStats final_stats = stats();
  if (final_stats.in_use_bytes != 0) {
    BLAZEN_LOG_ERROR("device pool {} destroyed with {} bytes still allocated", location(),
                     final_stats.in_use_bytes);
    assert(final_stats.in_use_bytes == 0 && "device pool destroyed with live allocations");
  }
}

Status DevicePool::Exhausted(std::size_t bytes, std::uint64_t in_use,
                             std::string_view cause) const {
  std::string message = "device pool " + location() + " cannot allocate " + std::to_string(bytes) +
                        " bytes: " + std::to_string(in_use) + " bytes in use of a budget of " +
                        std::to_string(budget_bytes_) + " bytes";
  if (!cause.empty()) {
    message += " (";
    message += cause;
    message += ')';
  }
  return Status::ResourceExhausted(std::move(message));
}

Result<void*> DevicePool::Allocate(std::size_t bytes, StreamView stream) {
  if (bytes == 0) return static_cast<void*>(nullptr);
  {
    // Reserve the bytes first so concurrent allocations cannot overshoot the budget together,
    // then call the upstream without holding the lock.
    std::lock_guard<std::mutex> lock(mu_);
    const std::uint64_t in_use = stats_.in_use_bytes;
    if (bytes > budget_bytes_ || in_use > budget_bytes_ - bytes) {
      ++stats_.failures;
      return Exhausted(bytes, in_use, "");
    }
    stats_.in_use_bytes = in_use + bytes;
  }
  Result<void*> allocated = upstream_->Allocate(bytes, stream);
  std::lock_guard<std::mutex> lock(mu_);
  if (!allocated.ok()) {
    stats_.in_use_bytes -= bytes;
    ++stats_.failures;
    if (allocated.status().code() == StatusCode::kResourceExhausted) {
      return Exhausted(bytes, stats_.in_use_bytes, allocated.status().message());
    }
    return allocated.status();
  }
  ++stats_.allocations;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.in_use_bytes);
  return allocated;
}

void DevicePool::Deallocate(void* ptr, std::size_t bytes, StreamView stream) noexcept {
  if (bytes == 0) return;
  upstream_->Deallocate(ptr, bytes, stream);
  std::lock_guard<std::mutex> lock(mu_);
  assert(stats_.in_use_bytes >= bytes && "device pool: freeing more than is allocated");
  stats_.in_use_bytes -= std::min<std::uint64_t>(stats_.in_use_bytes, bytes);
  ++stats_.frees;
}

DevicePoolStats DevicePool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::uint64_t DevicePool::in_use_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.in_use_bytes;
}

std::uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

Result<std::uint64_t> BudgetFromPercentOfFreeMemory(double percent, std::optional<int> device) {
  if (!(percent > 0.0 && percent <= 100.0)) {
    return Status::InvalidArgument("budget percentage must be in (0, 100], got " +
                                   std::to_string(percent));
  }
  std::uint64_t available = 0;
  if (device.has_value()) {
    BLAZEN_ASSIGN_OR_RETURN(const detail::MemoryInfo info, detail::DeviceMemoryInfo(*device));
    available = info.free_bytes;
  } else {
    available = PhysicalMemoryBytes();
    if (available == 0) return Status::Internal("cannot determine the physical memory size");
  }
  const auto budget = static_cast<std::uint64_t>(static_cast<long double>(available) *
                                                 static_cast<long double>(percent) / 100.0L);
  return std::max<std::uint64_t>(budget, 1);
}

}  // namespace blazen::gpu
