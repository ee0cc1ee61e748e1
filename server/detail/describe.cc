// SPDX-License-Identifier: Apache-2.0
// DescribeNode: the node's self-description, shared by the gRPC and HTTP services.

#include "server/detail/describe.h"

#include "core/envelope.h"
#include "core/session_ref.h"
#include "core/step.h"
#include "gpu/device_pool.h"

namespace blazen::server::detail {

PeerDescription DescribeNode(const std::string& node_id, const Engine& engine,
                             const gpu::GpuRuntime* runtime) {
  PeerDescription out;
  out.node_id = node_id;
  out.envelope_version = kEnvelopeVersion;
  out.version = BLAZEN_VERSION;
  out.step_ids = RegisteredStepIds();
  for (auto& [name, steps] : engine.DefaultWorkflows()) {
    out.default_workflows.push_back(PeerWorkflowDefault{name, std::move(steps)});
  }

  const SessionRefRegistry& refs = *engine.session_refs();
  const RegistryStats stats = refs.Stats();
  const auto in_use_at = [&stats](const std::string& location) -> std::uint64_t {
    auto it = stats.resident_bytes_by_location.find(location);
    return it == stats.resident_bytes_by_location.end() ? 0 : it->second;
  };
  const RegistryOptions& limits = refs.options();
  const auto limit_at = [&limits](const std::string& location) -> std::uint64_t {
    auto it = limits.max_bytes_per_location.find(location);
    return it == limits.max_bytes_per_location.end() ? limits.default_max_bytes_per_location
                                                     : it->second;
  };
  PeerDeviceInfo host;
  host.location = "host";
  host.total_memory_bytes = gpu::PhysicalMemoryBytes();
  host.pool_budget_bytes = limit_at("host");
  host.pool_in_use_bytes = in_use_at("host");
  if (runtime != nullptr && !runtime->is_cuda()) {
    host.name = "host fallback: " + runtime->fallback_reason();
  }
  out.devices.push_back(std::move(host));
  if (runtime != nullptr && runtime->is_cuda()) {
    PeerDeviceInfo device;
    device.location = runtime->location();
    device.name = runtime->device_name();
    device.total_memory_bytes = runtime->total_memory_bytes();
    device.pool_budget_bytes = runtime->budget_bytes();
    device.pool_in_use_bytes = runtime->pool().in_use_bytes();
    out.devices.push_back(std::move(device));
  }
  for (const auto& [key, bucket] : stats.live) {
    out.live_refs.push_back(PeerRefCount{std::string(RefLifetimeName(key.first)), key.second,
                                         bucket.count, bucket.resident_bytes});
  }
  return out;
}

}  // namespace blazen::server::detail
