// SPDX-License-Identifier: Apache-2.0
#pragma once
// What DescribePeer reports about a peer, in one place for the node that builds it (both
// transports), the clients that read it (gRPC and HTTP) and the CLI, with its one JSON form (the
// body of GET /v1/peer/describe and the output of `blazen-peer describe`).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/load_report.h"
#include "core/status.h"

namespace blazen {

/// A default workflow of a peer: the steps it runs when a request names the workflow and no steps.
struct PeerWorkflowDefault {
  std::string workflow_name;
  std::vector<std::string> step_ids;
};

/// A device of a peer.
struct PeerDeviceInfo {
  /// "host" (always listed) or "cuda:N".
  std::string location;
  /// GPU model name; for the host on the host fallback, why no GPU is used.
  std::string name;
  std::uint64_t total_memory_bytes = 0;
  /// Byte budget of the session-ref pool on this device, and what is in use now.
  std::uint64_t pool_budget_bytes = 0;
  std::uint64_t pool_in_use_bytes = 0;
};

/// Live session refs of one lifetime at one location.
struct PeerRefCount {
  /// "until_context_drop", "until_parent_finish" or "until_explicit_drop".
  std::string lifetime;
  /// "host" or "cuda:N".
  std::string location;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

/// What DescribePeer reports about a peer.
struct PeerDescription {
  std::string node_id;
  std::uint32_t envelope_version = 0;
  /// Registered step ids.
  std::vector<std::string> step_ids;
  std::vector<PeerWorkflowDefault> default_workflows;
  std::vector<PeerDeviceInfo> devices;
  std::vector<PeerRefCount> live_refs;
  /// Software version of the peer, e.g. "0.1.0".
  std::string version;
  /// Operator-given labels (`serve --label k=v`).
  std::map<std::string, std::string> labels;
  /// The GPU's model name; empty on the host fallback.
  std::string gpu_model;
  /// Relative capacity for weighted routing (`serve --capacity-weight`).
  double capacity_weight = 1.0;
  /// The load when the description was made.
  LoadReport load;
};

/// The JSON form: {"node_id", "envelope_version", "version", "step_ids": [...],
/// "default_workflows": {name: [step ids]}, "devices": [{"location", "name",
/// "total_memory_bytes", "pool_budget_bytes", "pool_in_use_bytes"}], "live_refs": [{"lifetime",
/// "location", "count", "bytes"}], "labels": {k: v}, "gpu_model", "capacity_weight", "load":
/// {"seq", "in_flight", "queued", "max_concurrency", "pool_in_use_bytes", "pool_budget_bytes",
/// "resident_ref_bytes"}}. Reading it, the last four keys are optional (older peers lack them).
[[nodiscard]] nlohmann::json PeerDescriptionToJson(const PeerDescription& description);

/// Reads the JSON form. kInvalidArgument naming the first field that is missing or of the wrong
/// type. Default workflows come back sorted by name.
[[nodiscard]] Result<PeerDescription> PeerDescriptionFromJson(const nlohmann::json& json);

}  // namespace blazen
