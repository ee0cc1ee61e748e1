// SPDX-License-Identifier: Apache-2.0
#pragma once
// Aligned host allocation shared by HostMemoryResource and the unpinned staging fallback.

#include <cstddef>
#include <new>

#include "gpu/memory_resource.h"

namespace blazen::gpu::detail {

/// `bytes` bytes aligned to kAllocationAlignment, or nullptr when out of memory (or bytes == 0).
[[nodiscard]] inline void* AllocateAlignedHost(std::size_t bytes) noexcept {
  if (bytes == 0) return nullptr;
  return ::operator new (bytes, std::align_val_t{kAllocationAlignment}, std::nothrow);
}

/// Frees memory from AllocateAlignedHost; nullptr is ignored.
inline void FreeAlignedHost(void* ptr) noexcept {
  if (ptr != nullptr) ::operator delete (ptr, std::align_val_t{kAllocationAlignment});
}

}  // namespace blazen::gpu::detail
