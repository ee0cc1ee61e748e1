// SPDX-License-Identifier: Apache-2.0
#pragma once
// BLAZEN_CUDA_RETURN_IF_ERROR: the one way gpu/ turns a CUDA runtime error into a Status
// (STYLE.md section 3). Only CUDA-only sources (cuda_*.cc) include this header: it pulls in the
// CUDA runtime API, which host-only builds do not have.

#include <cuda_runtime_api.h>

#include "core/status.h"

namespace blazen::gpu::detail {

/// Converts a failed CUDA runtime call into a Status and clears the thread's last-error state
/// (cudaGetLastError), so a later unrelated call does not report this failure again.
/// cudaErrorMemoryAllocation becomes kResourceExhausted; every other error kInternal. The message
/// reads "<file>:<line>: <function> failed: <error name>: <error string>", where <function> is
/// the name of the called function taken from `call_text`. `error` must not be cudaSuccess.
[[nodiscard]] Status CudaErrorToStatus(cudaError_t error, const char* call_text, const char* file,
                                       int line);

/// Reports a CUDA failure in a destructor or other noexcept path, which cannot return it: logs it
/// at error level and asserts in debug builds. cudaErrorCudartUnloading (the runtime is being torn
/// down at process exit) counts as success and is ignored. Clears the last-error state.
void ReportCudaErrorInNoexcept(cudaError_t error, const char* call_text, const char* file,
                               int line) noexcept;

/// True for the errors the runtime reports on a machine without a usable GPU or driver
/// (cudaErrorInsufficientDriver, cudaErrorNoDevice): the cases that select the host fallback.
[[nodiscard]] bool IsNoDeviceError(cudaError_t error);

}  // namespace blazen::gpu::detail

/// Evaluates `call` (a CUDA runtime call returning cudaError_t); on failure clears the sticky
/// error and returns the mapped Status from the current function (which returns Status or
/// Result<T>). See blazen::gpu::detail::CudaErrorToStatus for the mapping.
#define BLAZEN_CUDA_RETURN_IF_ERROR(call)                                                  \
  do {                                                                                     \
    const cudaError_t blazen_cuda_error_ = (call);                                         \
    if (blazen_cuda_error_ != cudaSuccess) {                                               \
      return ::blazen::gpu::detail::CudaErrorToStatus(blazen_cuda_error_, #call, __FILE__, \
                                                      __LINE__);                           \
    }                                                                                      \
  } while (false)

/// For destructors and noexcept paths: evaluates `call` and reports a failure with
/// ReportCudaErrorInNoexcept (cudaErrorCudartUnloading at process exit counts as success).
#define BLAZEN_CUDA_REPORT_IF_ERROR(call)                                                   \
  do {                                                                                      \
    const cudaError_t blazen_cuda_error_ = (call);                                          \
    if (blazen_cuda_error_ != cudaSuccess) {                                                \
      ::blazen::gpu::detail::ReportCudaErrorInNoexcept(blazen_cuda_error_, #call, __FILE__, \
                                                       __LINE__);                           \
    }                                                                                       \
  } while (false)
