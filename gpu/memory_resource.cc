// SPDX-License-Identifier: Apache-2.0
// HostMemoryResource: aligned host memory for the host fallback and CPU tests.

#include "gpu/memory_resource.h"

#include <string>

#include "gpu/detail/host_memory.h"

namespace blazen::gpu {

Result<void*> HostMemoryResource::Allocate(std::size_t bytes, StreamView /*stream*/) {
  if (bytes == 0) return static_cast<void*>(nullptr);
  void* ptr = detail::AllocateAlignedHost(bytes);
  if (ptr == nullptr) {
    return Status::ResourceExhausted("host allocation of " + std::to_string(bytes) +
                                     " bytes failed: out of memory");
  }
  return ptr;
}

void HostMemoryResource::Deallocate(void* ptr, std::size_t /*bytes*/,
                                    StreamView /*stream*/) noexcept {
  detail::FreeAlignedHost(ptr);
}

}  // namespace blazen::gpu
