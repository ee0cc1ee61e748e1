// SPDX-License-Identifier: Apache-2.0
#pragma once
// CUDA runtime error -> Status mapping for the kernel launchers. Included only by kernels/
// sources built with CUDA, never by public headers.

#include <cuda_runtime_api.h>

#include <string_view>

#include "core/status.h"

namespace blazen::kernels::detail {

/// OK for cudaSuccess. Otherwise clears the sticky last error (cudaGetLastError) and returns
/// kResourceExhausted for cudaErrorMemoryAllocation and kInternal for anything else, the message
/// naming `what` and the CUDA error.
[[nodiscard]] Status CudaErrorToStatus(cudaError_t error, std::string_view what);

/// Returns (and clears) the error of the last launch on this thread, mapped as CudaErrorToStatus.
[[nodiscard]] Status LastLaunchStatus(std::string_view kernel_name);

}  // namespace blazen::kernels::detail

/// Evaluates a CUDA runtime call and returns its error as a Status from the current function.
#define BLAZEN_KERNELS_CUDA_RETURN_IF_ERROR(call)                                             \
  do {                                                                                        \
    const cudaError_t blazen_kernels_cuda_error_ = (call);                                    \
    if (blazen_kernels_cuda_error_ != cudaSuccess) {                                          \
      return ::blazen::kernels::detail::CudaErrorToStatus(blazen_kernels_cuda_error_, #call); \
    }                                                                                         \
  } while (false)
