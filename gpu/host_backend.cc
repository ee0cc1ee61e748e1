// SPDX-License-Identifier: Apache-2.0
// The host-only implementation of gpu/detail/backend.h (builds without CUDA): no device is ever
// usable, streams are the null stream, staging memory is aligned pageable host memory.

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "gpu/detail/backend.h"
#include "gpu/detail/host_memory.h"

namespace blazen::gpu::detail {
namespace {

Status NoCuda(const char* what) {
  return Status::FailedPrecondition(std::string(what) + ": gpu/ was built without CUDA");
}

}  // namespace

Result<DeviceProbe> ProbeDevice(std::optional<int> /*requested*/) {
  DeviceProbe probe;
  probe.reason = "built without CUDA";
  return probe;
}

int VisibleDeviceCount() { return 0; }

Status SetCurrentDevice(int /*device*/) { return NoCuda("SetCurrentDevice"); }

Result<MemoryInfo> DeviceMemoryInfo(int /*device*/) { return NoCuda("DeviceMemoryInfo"); }

Result<std::unique_ptr<MemoryResource>> CreateDevicePoolResource(int /*device*/) {
  return NoCuda("CreateDevicePoolResource");
}

Result<void*> CreateStream() { return static_cast<void*>(nullptr); }

void DestroyStream(void* /*handle*/) noexcept {}

Status SynchronizeStream(void* /*handle*/) { return Status::Ok(); }

Status CopyAsync(void* dst, const void* src, std::size_t bytes, StreamView /*stream*/) {
  // Only device memory is copied through here, and a host-only build has none; memcpy keeps the
  // function total.
  if (bytes != 0) std::memcpy(dst, src, bytes);
  return Status::Ok();
}

Result<StagingAllocation> AllocateStaging(std::size_t bytes) {
  void* ptr = AllocateAlignedHost(bytes);
  if (ptr == nullptr) {
    return Status::ResourceExhausted("staging allocation of " + std::to_string(bytes) +
                                     " bytes failed: out of memory");
  }
  return StagingAllocation{ptr, false};
}

void FreeStaging(const StagingAllocation& allocation) noexcept { FreeAlignedHost(allocation.ptr); }

}  // namespace blazen::gpu::detail
