// SPDX-License-Identifier: Apache-2.0
// CUDA runtime error mapping shared by the launchers (built only with CUDA).

#include "kernels/detail/cuda_status.h"

#include <string>

namespace blazen::kernels::detail {

Status CudaErrorToStatus(cudaError_t error, std::string_view what) {
  if (error == cudaSuccess) return Status::Ok();
  // A launch or runtime error stays readable through cudaGetLastError until cleared; clear it so
  // the next, unrelated check does not report it again.
  static_cast<void>(cudaGetLastError());
  std::string message(what);
  message += ": ";
  message += cudaGetErrorName(error);
  message += " (";
  message += cudaGetErrorString(error);
  message += ")";
  if (error == cudaErrorMemoryAllocation) return Status::ResourceExhausted(std::move(message));
  return Status::Internal(std::move(message));
}

Status LastLaunchStatus(std::string_view kernel_name) {
  const cudaError_t error = cudaGetLastError();
  if (error == cudaSuccess) return Status::Ok();
  std::string what = "launch of ";
  what += kernel_name;
  return CudaErrorToStatus(error, what);
}

}  // namespace blazen::kernels::detail
