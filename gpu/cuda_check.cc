// SPDX-License-Identifier: Apache-2.0
// CUDA error -> Status mapping behind BLAZEN_CUDA_RETURN_IF_ERROR (CUDA builds only).

#include "gpu/cuda_check.h"

#include <cassert>
#include <string>
#include <string_view>

#include "core/logging.h"

namespace blazen::gpu::detail {
namespace {

// "cudaMallocAsync(&ptr, n, stream)" -> "cudaMallocAsync"; a call wrapped in a namespace
// qualifier keeps it ("::cudaFree").
std::string_view FunctionName(std::string_view call_text) {
  const std::size_t paren = call_text.find('(');
  std::string_view name = call_text.substr(0, paren);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return name;
}

std::string_view BaseName(std::string_view file) {
  const std::size_t slash = file.find_last_of('/');
  return slash == std::string_view::npos ? file : file.substr(slash + 1);
}

std::string Describe(cudaError_t error, const char* call_text, const char* file, int line) {
  std::string message(BaseName(file));
  message += ':';
  message += std::to_string(line);
  message += ": ";
  message += FunctionName(call_text);
  message += " failed: ";
  message += cudaGetErrorName(error);
  message += ": ";
  message += cudaGetErrorString(error);
  return message;
}

}  // namespace

Status CudaErrorToStatus(cudaError_t error, const char* call_text, const char* file, int line) {
  // Reset the per-thread last error: the failure is reported through the Status from here on.
  static_cast<void>(cudaGetLastError());
  std::string message = Describe(error, call_text, file, line);
  if (error == cudaErrorMemoryAllocation) return Status::ResourceExhausted(std::move(message));
  return Status::Internal(std::move(message));
}

void ReportCudaErrorInNoexcept(cudaError_t error, const char* call_text, const char* file,
                               int line) noexcept {
  static_cast<void>(cudaGetLastError());
  // At process exit the runtime may already be unloading; the memory goes with the process.
  if (error == cudaErrorCudartUnloading) return;
  try {
    BLAZEN_LOG_ERROR("{}", Describe(error, call_text, file, line));
  } catch (...) {
    // Logging must not throw out of a destructor; nothing else can be done here.
  }
  assert(false && "CUDA call failed in a noexcept path");
}

bool IsNoDeviceError(cudaError_t error) {
  return error == cudaErrorInsufficientDriver || error == cudaErrorNoDevice;
}

}  // namespace blazen::gpu::detail
