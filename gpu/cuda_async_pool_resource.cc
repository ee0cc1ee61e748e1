// SPDX-License-Identifier: Apache-2.0
// CudaAsyncPoolResource: a cudaMemPool_t with its release threshold raised (CUDA builds only).

#include "gpu/cuda_async_pool_resource.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gpu/cuda_check.h"

namespace blazen::gpu {
namespace {

cudaMemPool_t AsPool(void* pool) { return static_cast<cudaMemPool_t>(pool); }
cudaStream_t AsStream(StreamView stream) { return static_cast<cudaStream_t>(stream.handle()); }

Result<std::uint64_t> PoolAttribute(void* pool, cudaMemPoolAttr attr) {
  std::uint64_t value = 0;
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaMemPoolGetAttribute(AsPool(pool), attr, &value));
  return value;
}

}  // namespace

Result<std::unique_ptr<CudaAsyncPoolResource>> CudaAsyncPoolResource::Create(int device) {
  int supported = 0;
  BLAZEN_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device));
  if (supported == 0) {
    return Status::FailedPrecondition("device cuda:" + std::to_string(device) +
                                      " does not support stream-ordered allocation");
  }
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  cudaMemPool_t pool = nullptr;
  BLAZEN_CUDA_RETURN_IF_ERROR(cudaMemPoolCreate(&pool, &props));
  // Keep freed memory in the pool: with the default threshold (0) the pool gives memory back to
  // the driver at every synchronization, and the next allocation pays for cudaMalloc again.
  std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
  const cudaError_t error =
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  if (error != cudaSuccess) {
    Status status = detail::CudaErrorToStatus(error, "cudaMemPoolSetAttribute", __FILE__, __LINE__);
    BLAZEN_CUDA_REPORT_IF_ERROR(cudaMemPoolDestroy(pool));
    return status;
  }
  return std::unique_ptr<CudaAsyncPoolResource>(new CudaAsyncPoolResource(device, pool));
}

CudaAsyncPoolResource::~CudaAsyncPoolResource() {
  BLAZEN_CUDA_REPORT_IF_ERROR(cudaMemPoolDestroy(AsPool(pool_)));
}

Result<void*> CudaAsyncPoolResource::Allocate(std::size_t bytes, StreamView stream) {
  if (bytes == 0) return static_cast<void*>(nullptr);
  void* ptr = nullptr;
  BLAZEN_CUDA_RETURN_IF_ERROR(
      cudaMallocFromPoolAsync(&ptr, bytes, AsPool(pool_), AsStream(stream)));
  return ptr;
}

void CudaAsyncPoolResource::Deallocate(void* ptr, std::size_t /*bytes*/,
                                       StreamView stream) noexcept {
  if (ptr == nullptr) return;
  BLAZEN_CUDA_REPORT_IF_ERROR(cudaFreeAsync(ptr, AsStream(stream)));
}

std::string CudaAsyncPoolResource::location() const { return "cuda:" + std::to_string(device_); }

Result<std::uint64_t> CudaAsyncPoolResource::reserved_bytes() const {
  return PoolAttribute(pool_, cudaMemPoolAttrReservedMemCurrent);
}

Result<std::uint64_t> CudaAsyncPoolResource::reserved_bytes_high() const {
  return PoolAttribute(pool_, cudaMemPoolAttrReservedMemHigh);
}

}  // namespace blazen::gpu
