// SPDX-License-Identifier: Apache-2.0
#pragma once
// GpuRuntime: what a GPU worker peer needs from its device, built once by the composition root
// and injected: the chosen backend (a CUDA device, or the host fallback on machines without
// one), the budgeted DevicePool, the pinned staging pool used on deref, and streams.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "gpu/device_pool.h"
#include "gpu/pinned_staging.h"
#include "gpu/stream.h"

namespace blazen::gpu {

/// How GpuRuntime::Create sets up the runtime.
struct GpuRuntimeOptions {
  /// The CUDA device to use; std::nullopt means device 0. Ignored on the host fallback.
  std::optional<int> device;
  /// Hard budget of the DevicePool in bytes; 0 means 90% of the device's free memory (host
  /// fallback: of the machine's physical memory).
  std::uint64_t budget_bytes = 0;
  /// Size of each pinned staging buffer (1 MiB: the chunk size that moves fastest over gRPC).
  std::size_t staging_chunk_bytes = std::size_t{1} << 20;
  /// Number of pinned staging buffers (concurrent device-to-host reads).
  std::size_t staging_buffers = 8;
  /// Use the host fallback even when a CUDA device is usable (tests of host bookkeeping).
  bool force_host = false;
};

/// The device side of a peer. Create picks a CUDA device when one is usable (built with CUDA, a
/// driver and a device present, stream-ordered allocation supported) and otherwise the host
/// fallback, where the same interfaces run over aligned host memory; it logs which one and why.
/// Owned through std::shared_ptr: device values (DeviceTensor) keep the runtime alive while they
/// hold its memory. Thread-safe.
class GpuRuntime : public std::enable_shared_from_this<GpuRuntime> {
 public:
  /// Builds the runtime. Never fails for lack of a GPU (that selects the host fallback).
  /// kInvalidArgument when `options.device` names a device that does not exist (while others do)
  /// or a staging size or count is 0; kResourceExhausted when the staging buffers cannot be
  /// allocated; kInternal for other device failures.
  [[nodiscard]] static Result<std::shared_ptr<GpuRuntime>> Create(GpuRuntimeOptions options = {});

  ~GpuRuntime();
  GpuRuntime(const GpuRuntime&) = delete;
  GpuRuntime& operator=(const GpuRuntime&) = delete;
  GpuRuntime(GpuRuntime&&) = delete;
  GpuRuntime& operator=(GpuRuntime&&) = delete;

  /// The budgeted pool every device allocation goes through.
  [[nodiscard]] DevicePool& pool() const { return *pool_; }
  /// The pinned staging buffers for device-to-host reads.
  [[nodiscard]] PinnedStagingPool& staging() const { return *staging_; }
  /// A stream owned by the runtime, valid as long as it; the null stream on the host fallback.
  /// Values that outlive a run (session refs) order their reads and their free on it.
  [[nodiscard]] StreamView stream() const { return stream_.view(); }

  /// "cuda:N" or "host".
  [[nodiscard]] std::string location() const { return pool_->location(); }
  /// True when a CUDA device is used; false on the host fallback.
  [[nodiscard]] bool is_cuda() const { return device_.has_value(); }
  /// The CUDA device index, or std::nullopt on the host fallback.
  [[nodiscard]] std::optional<int> device() const { return device_; }
  /// The device's name (e.g. "NVIDIA H100 80GB HBM3"); "host" on the host fallback.
  [[nodiscard]] const std::string& device_name() const { return device_name_; }
  /// Total device memory; the machine's physical memory on the host fallback.
  [[nodiscard]] std::uint64_t total_memory_bytes() const { return total_memory_bytes_; }
  /// The pool's hard budget.
  [[nodiscard]] std::uint64_t budget_bytes() const { return pool_->budget_bytes(); }
  /// Why the host fallback was chosen (e.g. "cudaGetDeviceCount failed:
  /// cudaErrorInsufficientDriver: ..."); empty when a device is used.
  [[nodiscard]] const std::string& fallback_reason() const { return fallback_reason_; }
  /// One line naming the backend, as logged by Create.
  [[nodiscard]] std::string Describe() const;

  /// A new stream on the runtime's device (made current on the calling thread first); on the
  /// host fallback a CudaStream owning nothing. kInternal / kResourceExhausted on device failure.
  [[nodiscard]] Result<CudaStream> CreateStream() const;

 private:
  GpuRuntime() = default;

  std::optional<int> device_;
  std::string device_name_;
  std::uint64_t total_memory_bytes_ = 0;
  std::string fallback_reason_;
  // Destroyed in reverse order: staging buffers, then the pool (all buffers are back by then:
  // every DeviceTensor holds the runtime alive), then the stream.
  CudaStream stream_;
  std::unique_ptr<DevicePool> pool_;
  std::unique_ptr<PinnedStagingPool> staging_;
};

/// Number of CUDA devices visible to this process: 0 in host-only builds and on machines without
/// a driver or device. Clears the runtime's error state.
[[nodiscard]] int VisibleCudaDeviceCount();

}  // namespace blazen::gpu
