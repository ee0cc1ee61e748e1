// SPDX-License-Identifier: Apache-2.0
#pragma once
// What DescribePeer reports, gathered once for both transports (the gRPC service turns it into
// protobuf, the HTTP service into its JSON form).

#include <string>

#include "core/engine.h"
#include "core/peer_description.h"
#include "gpu/runtime.h"

namespace blazen::server::detail {

/// Describes the node now: registered steps, the engine's default workflows, devices with their
/// pool budgets and use (host limits from the registry), live refs by lifetime and location.
/// `runtime` may be null. Thread-safe.
[[nodiscard]] PeerDescription DescribeNode(const std::string& node_id, const Engine& engine,
                                           const gpu::GpuRuntime* runtime);

}  // namespace blazen::server::detail
