// SPDX-License-Identifier: Apache-2.0
#pragma once
// Memory resources: where DevicePool gets its bytes. HostMemoryResource serves aligned host
// memory (the host fallback, and CPU tests); CudaAsyncPoolResource (cuda_async_pool_resource.h,
// CUDA builds only) serves device memory from a stream-ordered CUDA pool.

#include <cstddef>
#include <string>

#include "core/status.h"
#include "gpu/stream.h"

namespace blazen::gpu {

/// Alignment of every allocation of gpu/'s resources (what cudaMalloc guarantees, and what the
/// pool validates).
inline constexpr std::size_t kAllocationAlignment = 256;

/// A source of memory blocks, allocated and freed in stream order. Implementations are
/// thread-safe: Allocate and Deallocate may be called concurrently from any thread.
class MemoryResource {
 public:
  virtual ~MemoryResource() = default;

  /// Allocates `bytes` bytes aligned to kAllocationAlignment, usable by work enqueued on
  /// `stream` from now on (does not synchronize `stream`). `bytes == 0` yields nullptr.
  /// Returns kResourceExhausted when the memory is not available, kInternal for other device
  /// failures.
  [[nodiscard]] virtual Result<void*> Allocate(std::size_t bytes, StreamView stream) = 0;

  /// Frees `ptr`, which Allocate returned for `bytes` bytes, once the work enqueued on `stream`
  /// so far has completed (does not synchronize `stream`). nullptr is ignored. Never fails:
  /// a device error is logged (and asserts in debug builds).
  virtual void Deallocate(void* ptr, std::size_t bytes, StreamView stream) noexcept = 0;

  /// Where the memory lives: "host" or "cuda:N".
  [[nodiscard]] virtual std::string location() const = 0;

  /// True when the memory is device memory (copies to and from it need the CUDA runtime);
  /// false when it is ordinary host memory (memcpy works).
  [[nodiscard]] virtual bool is_device() const = 0;
};

/// Host memory aligned to kAllocationAlignment, from the C++ aligned allocator. Location "host".
/// Ignores streams (host memory is usable at once). Thread-safe.
class HostMemoryResource final : public MemoryResource {
 public:
  HostMemoryResource() = default;
  ~HostMemoryResource() override = default;
  HostMemoryResource(const HostMemoryResource&) = delete;
  HostMemoryResource& operator=(const HostMemoryResource&) = delete;
  HostMemoryResource(HostMemoryResource&&) = delete;
  HostMemoryResource& operator=(HostMemoryResource&&) = delete;

  /// kResourceExhausted when the allocator has no memory.
  [[nodiscard]] Result<void*> Allocate(std::size_t bytes, StreamView stream) override;
  void Deallocate(void* ptr, std::size_t bytes, StreamView stream) noexcept override;
  [[nodiscard]] std::string location() const override { return "host"; }
  [[nodiscard]] bool is_device() const override { return false; }
};

}  // namespace blazen::gpu
