// SPDX-License-Identifier: Apache-2.0
// GpuRuntime: backend selection (CUDA device or host fallback), pool, staging buffers, streams.

#include "gpu/runtime.h"

#include <string>
#include <utility>

#include "core/logging.h"
#include "gpu/detail/backend.h"
#include "gpu/memory_resource.h"

namespace blazen::gpu {
namespace {

constexpr double kDefaultBudgetPercent = 90.0;

std::string FormatBytes(std::uint64_t bytes) {
  constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
  return std::to_string(bytes / kMiB) + " MiB";
}

}  // namespace

Result<std::shared_ptr<GpuRuntime>> GpuRuntime::Create(GpuRuntimeOptions options) {
  if (options.staging_chunk_bytes == 0 || options.staging_buffers == 0) {
    return Status::InvalidArgument(
        "GPU runtime: staging chunk size and buffer count must be "
        "positive");
  }
  std::shared_ptr<GpuRuntime> runtime(new GpuRuntime());
  std::unique_ptr<MemoryResource> upstream;
  std::uint64_t available_bytes = 0;

  detail::DeviceProbe probe;
  if (options.force_host) {
    probe.reason = "host backend requested";
  } else {
    BLAZEN_ASSIGN_OR_RETURN(probe, detail::ProbeDevice(options.device));
  }
  if (probe.usable) {
    runtime->device_ = probe.device;
    runtime->device_name_ = probe.name;
    runtime->total_memory_bytes_ = probe.total_bytes;
    available_bytes = probe.free_bytes;
    BLAZEN_RETURN_IF_ERROR(detail::SetCurrentDevice(probe.device));
    BLAZEN_ASSIGN_OR_RETURN(upstream, detail::CreateDevicePoolResource(probe.device));
    BLAZEN_ASSIGN_OR_RETURN(runtime->stream_, CudaStream::Create());
  } else {
    runtime->device_name_ = "host";
    runtime->total_memory_bytes_ = PhysicalMemoryBytes();
    runtime->fallback_reason_ = std::move(probe.reason);
    available_bytes = runtime->total_memory_bytes_;
    upstream = std::make_unique<HostMemoryResource>();
  }

  std::uint64_t budget = options.budget_bytes;
  if (budget == 0) {
    budget = static_cast<std::uint64_t>(static_cast<long double>(available_bytes) *
                                        kDefaultBudgetPercent / 100.0L);
    if (budget == 0) {
      return Status::Internal(
          "GPU runtime: cannot size the default budget (no free memory "
          "reported on " +
          upstream->location() + ")");
    }
  }
  BLAZEN_ASSIGN_OR_RETURN(runtime->pool_, DevicePool::Create(std::move(upstream), budget));
  BLAZEN_ASSIGN_OR_RETURN(runtime->staging_, PinnedStagingPool::Create(options.staging_chunk_bytes,
                                                                       options.staging_buffers));
  BLAZEN_LOG_INFO("{}", runtime->Describe());
  return runtime;
}

GpuRuntime::~GpuRuntime() = default;

std::string GpuRuntime::Describe() const {
  std::string text = "GPU runtime: ";
  if (is_cuda()) {
    text += "CUDA device " + location() + " (" + device_name_ + ", " +
            FormatBytes(total_memory_bytes_) + ")";
  } else {
    text += "host fallback (" + fallback_reason_ + ")";
  }
  text += ", pool budget " + FormatBytes(budget_bytes()) + ", staging " +
          std::to_string(staging_->count()) + " x " + std::to_string(staging_->chunk_bytes()) +
          " bytes " + (staging_->pinned() ? "pinned" : "pageable");
  return text;
}

Result<CudaStream> GpuRuntime::CreateStream() const {
  if (!device_.has_value()) return CudaStream();
  BLAZEN_RETURN_IF_ERROR(detail::SetCurrentDevice(*device_));
  return CudaStream::Create();
}

int VisibleCudaDeviceCount() { return detail::VisibleDeviceCount(); }

}  // namespace blazen::gpu
