// SPDX-License-Identifier: Apache-2.0
// Element-wise device kernels (see fill.h): grid-stride loops over n elements, each element's
// value a pure function of its index, so the grid shape never changes the result.

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "kernels/detail/cuda_status.h"
#include "kernels/detail/fill_checks.h"
#include "kernels/detail/rng.h"
#include "kernels/fill.h"

namespace blazen::kernels {
namespace {

constexpr int kThreadsPerBlock = 256;
// Enough blocks to fill any current GPU; beyond that the grid-stride loop takes over.
constexpr std::int64_t kMaxBlocks = 8192;

unsigned BlocksFor(std::int64_t n) {
  return static_cast<unsigned>(
      std::min<std::int64_t>(kMaxBlocks, (n + kThreadsPerBlock - 1) / kThreadsPerBlock));
}

__device__ std::int64_t FirstIndex() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ std::int64_t GridStride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

__global__ void FillF32Kernel(float* data, std::int64_t n, float value) {
  for (std::int64_t i = FirstIndex(); i < n; i += GridStride()) data[i] = value;
}

__global__ void RandomUniformF32Kernel(float* data, std::int64_t n, std::uint64_t seed, float lo,
                                       float hi) {
  for (std::int64_t i = FirstIndex(); i < n; i += GridStride()) {
    data[i] = detail::UniformF32FromCounter(seed, static_cast<std::uint64_t>(i), lo, hi);
  }
}

__global__ void ConvertF32ToF16Kernel(const float* __restrict__ src,
                                      std::uint16_t* __restrict__ dst, std::int64_t n) {
  for (std::int64_t i = FirstIndex(); i < n; i += GridStride()) {
    dst[i] = __half_as_ushort(__float2half_rn(src[i]));
  }
}

}  // namespace

Status FillF32(float* data, std::int64_t n, float value, void* stream) {
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(data, n, "FillF32"));
  if (n == 0) return Status::Ok();
  FillF32Kernel<<<BlocksFor(n), kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(data, n,
                                                                                          value);
  return detail::LastLaunchStatus("FillF32Kernel");
}

Status RandomUniformF32(float* data, std::int64_t n, std::uint64_t seed, float lo, float hi,
                        void* stream) {
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(data, n, "RandomUniformF32"));
  BLAZEN_RETURN_IF_ERROR(detail::CheckUniformRange(lo, hi));
  if (n == 0) return Status::Ok();
  RandomUniformF32Kernel<<<BlocksFor(n), kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(
      data, n, seed, lo, hi);
  return detail::LastLaunchStatus("RandomUniformF32Kernel");
}

Status ConvertF32ToF16(const float* src, std::uint16_t* dst, std::int64_t n, void* stream) {
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(src, n, "ConvertF32ToF16 (src)"));
  BLAZEN_RETURN_IF_ERROR(detail::CheckElementCount(dst, n, "ConvertF32ToF16 (dst)"));
  if (n == 0) return Status::Ok();
  ConvertF32ToF16Kernel<<<BlocksFor(n), kThreadsPerBlock, 0, static_cast<cudaStream_t>(stream)>>>(
      src, dst, n);
  return detail::LastLaunchStatus("ConvertF32ToF16Kernel");
}

}  // namespace blazen::kernels
