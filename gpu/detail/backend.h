// SPDX-License-Identifier: Apache-2.0
#pragma once
// The seam between gpu/'s portable code and the CUDA runtime. cuda_backend.cc implements these
// with the CUDA runtime API (CUDA builds); host_backend.cc implements them for host-only builds
// (no device is ever usable there). Nothing outside gpu/ includes this header.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "gpu/memory_resource.h"
#include "gpu/stream.h"

namespace blazen::gpu::detail {

/// The outcome of looking for a usable CUDA device.
struct DeviceProbe {
  /// True when `device` is usable; false selects the host fallback (see `reason`).
  bool usable = false;
  int device = 0;
  std::string name;
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;
  /// Why no device is used (empty when `usable`).
  std::string reason;
};

/// Looks for a usable device: `requested`, else device 0. No driver, no device, or a device
/// without stream-ordered allocation support yields `usable == false` with a reason (the error
/// state is cleared). kInvalidArgument when `requested` names a device that does not exist while
/// others do. On success the device is made current on the calling thread.
[[nodiscard]] Result<DeviceProbe> ProbeDevice(std::optional<int> requested);

/// Number of visible CUDA devices; 0 without a driver, without a device, or in host-only builds.
/// Clears the error state.
[[nodiscard]] int VisibleDeviceCount();

/// Makes `device` current on the calling thread.
[[nodiscard]] Status SetCurrentDevice(int device);

/// Free and total memory of `device` in bytes.
struct MemoryInfo {
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
};
[[nodiscard]] Result<MemoryInfo> DeviceMemoryInfo(int device);

/// The stream-ordered pool resource of `device` (CudaAsyncPoolResource).
[[nodiscard]] Result<std::unique_ptr<MemoryResource>> CreateDevicePoolResource(int device);

/// A new non-blocking stream on the current device, or nullptr without a usable device.
[[nodiscard]] Result<void*> CreateStream();
/// Destroys a stream from CreateStream (nullptr is ignored); failures are logged.
void DestroyStream(void* handle) noexcept;
/// Waits for the work on a stream; OK at once for the null stream without a usable device.
[[nodiscard]] Status SynchronizeStream(void* handle);

/// Enqueues a copy of `bytes` bytes between any two of host, pinned host and device memory on
/// `stream` (does not synchronize it). Only called for device memory.
[[nodiscard]] Status CopyAsync(void* dst, const void* src, std::size_t bytes, StreamView stream);

/// Host memory for staging: page-locked when the runtime can provide it (`pinned == true`),
/// else aligned pageable memory.
struct StagingAllocation {
  void* ptr = nullptr;
  bool pinned = false;
};
/// kResourceExhausted when neither kind of memory is available.
[[nodiscard]] Result<StagingAllocation> AllocateStaging(std::size_t bytes);
/// Frees an allocation from AllocateStaging; failures are logged.
void FreeStaging(const StagingAllocation& allocation) noexcept;

}  // namespace blazen::gpu::detail
