// SPDX-License-Identifier: Apache-2.0
// PeerDescription <-> JSON.

#include "core/peer_description.h"

#include <map>

namespace blazen {
namespace {

using json = nlohmann::json;

// `object[name]` as T; throws std::invalid_argument naming the field when absent or mistyped.
template <typename T>
T Get(const json& object, const char* name) {
  if (!object.is_object() || !object.contains(name)) {
    throw std::invalid_argument(std::string("missing \"") + name + "\"");
  }
  try {
    return object.at(name).get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(std::string("\"") + name + "\" has the wrong type");
  }
}

const json& Array(const json& object, const char* name) {
  if (!object.is_object() || !object.contains(name) || !object.at(name).is_array()) {
    throw std::invalid_argument(std::string("\"") + name + "\" must be an array");
  }
  return object.at(name);
}

}  // namespace

json PeerDescriptionToJson(const PeerDescription& d) {
  json workflows = json::object();
  for (const PeerWorkflowDefault& w : d.default_workflows) workflows[w.workflow_name] = w.step_ids;
  json devices = json::array();
  for (const PeerDeviceInfo& device : d.devices) {
    devices.push_back({{"location", device.location},
                       {"name", device.name},
                       {"total_memory_bytes", device.total_memory_bytes},
                       {"pool_budget_bytes", device.pool_budget_bytes},
                       {"pool_in_use_bytes", device.pool_in_use_bytes}});
  }
  json live = json::array();
  for (const PeerRefCount& refs : d.live_refs) {
    live.push_back({{"lifetime", refs.lifetime},
                    {"location", refs.location},
                    {"count", refs.count},
                    {"bytes", refs.bytes}});
  }
  return {{"node_id", d.node_id},
          {"envelope_version", d.envelope_version},
          {"version", d.version},
          {"step_ids", d.step_ids},
          {"default_workflows", std::move(workflows)},
          {"devices", std::move(devices)},
          {"live_refs", std::move(live)},
          {"labels", d.labels},
          {"gpu_model", d.gpu_model},
          {"capacity_weight", d.capacity_weight},
          {"load",
           {{"seq", d.load.seq},
            {"in_flight", d.load.in_flight},
            {"queued", d.load.queued},
            {"max_concurrency", d.load.max_concurrency},
            {"pool_in_use_bytes", d.load.pool_in_use_bytes},
            {"pool_budget_bytes", d.load.pool_budget_bytes},
            {"resident_ref_bytes", d.load.resident_ref_bytes}}}};
}

Result<PeerDescription> PeerDescriptionFromJson(const json& j) {
  try {
    PeerDescription d;
    d.node_id = Get<std::string>(j, "node_id");
    d.envelope_version = Get<std::uint32_t>(j, "envelope_version");
    d.version = Get<std::string>(j, "version");
    d.step_ids = Get<std::vector<std::string>>(j, "step_ids");
    for (auto& [name, steps] :
         Get<std::map<std::string, std::vector<std::string>>>(j, "default_workflows")) {
      d.default_workflows.push_back(PeerWorkflowDefault{name, std::move(steps)});
    }
    for (const json& device : Array(j, "devices")) {
      d.devices.push_back(PeerDeviceInfo{Get<std::string>(device, "location"),
                                         Get<std::string>(device, "name"),
                                         Get<std::uint64_t>(device, "total_memory_bytes"),
                                         Get<std::uint64_t>(device, "pool_budget_bytes"),
                                         Get<std::uint64_t>(device, "pool_in_use_bytes")});
    }
    for (const json& refs : Array(j, "live_refs")) {
      d.live_refs.push_back(
          PeerRefCount{Get<std::string>(refs, "lifetime"), Get<std::string>(refs, "location"),
                       Get<std::uint64_t>(refs, "count"), Get<std::uint64_t>(refs, "bytes")});
    }
    if (j.contains("labels")) d.labels = Get<std::map<std::string, std::string>>(j, "labels");
    if (j.contains("gpu_model")) d.gpu_model = Get<std::string>(j, "gpu_model");
    if (j.contains("capacity_weight")) d.capacity_weight = Get<double>(j, "capacity_weight");
    if (j.contains("load")) {
      const json& load = j.at("load");
      d.load.seq = Get<std::uint64_t>(load, "seq");
      d.load.in_flight = Get<std::uint64_t>(load, "in_flight");
      d.load.queued = Get<std::uint64_t>(load, "queued");
      d.load.max_concurrency = Get<std::uint64_t>(load, "max_concurrency");
      d.load.pool_in_use_bytes = Get<std::uint64_t>(load, "pool_in_use_bytes");
      d.load.pool_budget_bytes = Get<std::uint64_t>(load, "pool_budget_bytes");
      d.load.resident_ref_bytes = Get<std::uint64_t>(load, "resident_ref_bytes");
      d.load.capacity_weight = d.capacity_weight;
    }
    return d;
  } catch (const std::invalid_argument& e) {
    return Status::InvalidArgument(std::string("peer description: ") + e.what());
  }
}

}  // namespace blazen
