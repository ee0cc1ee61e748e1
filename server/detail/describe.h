// SPDX-License-Identifier: Apache-2.0
#pragma once
// What DescribePeer reports, gathered once for both transports (the gRPC service turns it into
// protobuf, the HTTP service into JSON).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/engine.h"
#include "gpu/runtime.h"

namespace blazen::server::detail {

/// A device of the node: "host" (always listed) and, with a CUDA runtime, "cuda:N".
struct DeviceDescription {
  std::string location;
  /// GPU model name; for the host on the host fallback, why no GPU is used.
  std::string name;
  std::uint64_t total_memory_bytes = 0;
  std::uint64_t pool_budget_bytes = 0;
  std::uint64_t pool_in_use_bytes = 0;
};

/// Live refs of one lifetime at one location.
struct RefCountDescription {
  std::string lifetime;
  std::string location;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

struct NodeDescription {
  std::string node_id;
  std::uint32_t envelope_version = 0;
  std::string version;
  std::vector<std::string> step_ids;
  std::map<std::string, std::vector<std::string>> default_workflows;
  std::vector<DeviceDescription> devices;
  std::vector<RefCountDescription> live_refs;
};

/// Describes the node now: registered steps, the engine's default workflows, devices with their
/// pool budgets and use (host limits from the registry), live refs by lifetime and location.
/// `runtime` may be null. Thread-safe.
[[nodiscard]] NodeDescription DescribeNode(const std::string& node_id, const Engine& engine,
                                           const gpu::GpuRuntime* runtime);

}  // namespace blazen::server::detail
