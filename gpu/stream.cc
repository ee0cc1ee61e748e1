// SPDX-License-Identifier: Apache-2.0
// CudaStream / StreamView over the backend's stream primitives (CUDA or host fallback).

#include "gpu/stream.h"

#include <utility>

#include "gpu/detail/backend.h"

namespace blazen::gpu {

Status StreamView::Synchronize() const { return detail::SynchronizeStream(handle_); }

CudaStream::~CudaStream() { Reset(); }

CudaStream::CudaStream(CudaStream&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)) {}

CudaStream& CudaStream::operator=(CudaStream&& other) noexcept {
  if (this != &other) {
    Reset();
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Result<CudaStream> CudaStream::Create() {
  BLAZEN_ASSIGN_OR_RETURN(void* handle, detail::CreateStream());
  return CudaStream(handle);
}

void CudaStream::Reset() noexcept {
  if (handle_ != nullptr) detail::DestroyStream(std::exchange(handle_, nullptr));
}

}  // namespace blazen::gpu
