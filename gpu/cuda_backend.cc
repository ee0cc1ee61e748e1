// SPDX-License-Identifier: Apache-2.0
// The CUDA implementation of gpu/detail/backend.h (CUDA builds). Everything that calls the CUDA
// runtime for gpu/'s portable code is here; a machine without a driver or device (cudart reports
// cudaErrorInsufficientDriver / cudaErrorNoDevice) selects the host fallback instead of failing.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/logging.h"
#include "gpu/cuda_async_pool_resource.h"
#include "gpu/cuda_check.h"
#include "gpu/detail/backend.h"
#include "gpu/detail/host_memory.h"

namespace blazen::gpu::detail {
namespace {

cudaStream_t AsStream(void* handle) { return static_cast<cudaStream_t>(handle); }

std::string ErrorText(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

}  // namespace

Result<DeviceProbe> ProbeDevice(std::optional<int> requested) {
  DeviceProbe probe;
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    static_cast<void>(cudaGetLastError());  // clear the error the probe left behind
    probe.reason = "cudaGetDeviceCount failed: " + ErrorText(error);
    if (!IsNoDeviceError(error)) BLAZEN_LOG_WARN("CUDA device probe: {}", probe.reason);
    return probe;
  }
  if (count <= 0) {
    probe.reason = "no CUDA device is visible";
    return probe;
  }
  const int device = requested.value_or(0);
  if (device < 0 || device >= count) {
    return Status::InvalidArgument("CUDA device " + std::to_string(device) + " requested, but " +
                                   std::to_string(count) + " device(s) are visible");
  }
  int pools_supported = 0;
  BLAZEN_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&pools_supported, cudaDevAttrMemoryPoolsSupported, device));
  if (pools_supported == 0) {
    probe.reason = "CUDA device " + std::to_string(device) +
                   " does not support stream-ordered allocation (cudaMallocAsync)";
    return probe;
  }
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  cudaDeviceProp props{};
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&props, device));
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
  probe.usable = true;
  probe.device = device;
  probe.name = props.name;
  probe.free_bytes = free_bytes;
  probe.total_bytes = total_bytes;
  return probe;
}

int VisibleDeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return 0;
  }
  return count;
}

Status SetCurrentDevice(int device) {
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  return Status::Ok();
}

Result<MemoryInfo> DeviceMemoryInfo(int device) {
  int previous = 0;
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&previous));
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  const cudaError_t error = cudaMemGetInfo(&free_bytes, &total_bytes);
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaSetDevice(previous));
  BLAZEN_CUDA_RETURN_IF_ERROR(error);
  return MemoryInfo{free_bytes, total_bytes};
}

Result<std::unique_ptr<MemoryResource>> CreateDevicePoolResource(int device) {
  BLAZEN_ASSIGN_OR_RETURN(std::unique_ptr<CudaAsyncPoolResource> resource,
                          CudaAsyncPoolResource::Create(device));
  return std::unique_ptr<MemoryResource>(std::move(resource));
}

Result<void*> CreateStream() {
  cudaStream_t stream = nullptr;
  const cudaError_t error = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (IsNoDeviceError(error)) {
    static_cast<void>(cudaGetLastError());  // host fallback: the null stream
    return static_cast<void*>(nullptr);
  }
  BLAZEN_CUDA_RETURN_IF_ERROR(error);
  return static_cast<void*>(stream);
}

void DestroyStream(void* handle) noexcept {
  if (handle == nullptr) return;
  BLAZEN_CUDA_REPORT_IF_ERROR(cudaStreamDestroy(AsStream(handle)));
}

Status SynchronizeStream(void* handle) {
  const cudaError_t error = cudaStreamSynchronize(AsStream(handle));
  // Without a driver or device nothing can have been enqueued on the null stream.
  if (handle == nullptr && IsNoDeviceError(error)) {
    static_cast<void>(cudaGetLastError());
    return Status::Ok();
  }
  BLAZEN_CUDA_RETURN_IF_ERROR(error);
  return Status::Ok();
}

Status CopyAsync(void* dst, const void* src, std::size_t bytes, StreamView stream) {
  if (bytes == 0) return Status::Ok();
  // cudaMemcpyDefault: unified addressing tells the runtime which side each pointer is on.
  BLAZEN_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, AsStream(stream.handle())));
  return Status::Ok();
}

Result<StagingAllocation> AllocateStaging(std::size_t bytes) {
  void* ptr = nullptr;
  const cudaError_t error = cudaMallocHost(&ptr, bytes);
  if (error == cudaSuccess) return StagingAllocation{ptr, true};
  static_cast<void>(cudaGetLastError());
  // Without a driver cudaMallocHost fails (cudaErrorInsufficientDriver); other failures (e.g. a
  // locked-memory limit) also fall back: pageable staging is slower but correct.
  if (!IsNoDeviceError(error)) {
    BLAZEN_LOG_WARN("cudaMallocHost({} bytes) failed ({}); staging through pageable memory", bytes,
                    ErrorText(error));
  }
  ptr = AllocateAlignedHost(bytes);
  if (ptr == nullptr) {
    return Status::ResourceExhausted("staging allocation of " + std::to_string(bytes) +
                                     " bytes failed: out of memory");
  }
  return StagingAllocation{ptr, false};
}

void FreeStaging(const StagingAllocation& allocation) noexcept {
  if (allocation.ptr == nullptr) return;
  if (allocation.pinned) {
    BLAZEN_CUDA_REPORT_IF_ERROR(cudaFreeHost(allocation.ptr));
  } else {
    FreeAlignedHost(allocation.ptr);
  }
}

}  // namespace blazen::gpu::detail
