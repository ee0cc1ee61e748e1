// SPDX-License-Identifier: Apache-2.0
// PeerDescription <-> DescribePeerResponse.

#include "proto/proto_convert.h"

namespace blazen::proto_convert {

namespace pb = ::blazen::peer::v1;

void ToProto(const PeerDescription& d, pb::DescribePeerResponse& out) {
  out.set_node_id(d.node_id);
  out.set_envelope_version(d.envelope_version);
  out.set_version(d.version);
  for (const std::string& id : d.step_ids) out.add_step_ids(id);
  for (const PeerWorkflowDefault& workflow : d.default_workflows) {
    pb::WorkflowDefault* w = out.add_default_workflows();
    w->set_workflow_name(workflow.workflow_name);
    for (const std::string& id : workflow.step_ids) w->add_step_ids(id);
  }
  for (const PeerDeviceInfo& device : d.devices) {
    pb::DeviceInfo* info = out.add_devices();
    info->set_location(device.location);
    info->set_name(device.name);
    info->set_total_memory_bytes(device.total_memory_bytes);
    info->set_pool_budget_bytes(device.pool_budget_bytes);
    info->set_pool_in_use_bytes(device.pool_in_use_bytes);
  }
  for (const PeerRefCount& live : d.live_refs) {
    pb::RefCount* count = out.add_live_refs();
    count->set_lifetime(live.lifetime);
    count->set_location(live.location);
    count->set_count(live.count);
    count->set_bytes(live.bytes);
  }
  for (const auto& [key, value] : d.labels) (*out.mutable_labels())[key] = value;
  out.set_gpu_model(d.gpu_model);
  out.set_capacity_weight(d.capacity_weight);
  pb::LoadReport* load = out.mutable_load();
  load->set_seq(d.load.seq);
  load->set_in_flight(d.load.in_flight);
  load->set_queued(d.load.queued);
  load->set_max_concurrency(d.load.max_concurrency);
  load->set_pool_in_use_bytes(d.load.pool_in_use_bytes);
  load->set_pool_budget_bytes(d.load.pool_budget_bytes);
  load->set_resident_ref_bytes(d.load.resident_ref_bytes);
}

PeerDescription FromProto(const pb::DescribePeerResponse& response) {
  PeerDescription description;
  description.node_id = response.node_id();
  description.envelope_version = response.envelope_version();
  description.step_ids.assign(response.step_ids().begin(), response.step_ids().end());
  for (const pb::WorkflowDefault& workflow : response.default_workflows()) {
    description.default_workflows.push_back(
        {workflow.workflow_name(), {workflow.step_ids().begin(), workflow.step_ids().end()}});
  }
  for (const pb::DeviceInfo& device : response.devices()) {
    description.devices.push_back({device.location(), device.name(), device.total_memory_bytes(),
                                   device.pool_budget_bytes(), device.pool_in_use_bytes()});
  }
  for (const pb::RefCount& refs : response.live_refs()) {
    description.live_refs.push_back({refs.lifetime(), refs.location(), refs.count(), refs.bytes()});
  }
  description.version = response.version();
  description.labels.insert(response.labels().begin(), response.labels().end());
  description.gpu_model = response.gpu_model();
  // An older peer sends no weight (0 on the wire): it counts as 1.
  description.capacity_weight = response.capacity_weight() > 0 ? response.capacity_weight() : 1.0;
  const pb::LoadReport& load = response.load();
  description.load.seq = load.seq();
  description.load.in_flight = load.in_flight();
  description.load.queued = load.queued();
  description.load.max_concurrency = load.max_concurrency();
  description.load.pool_in_use_bytes = load.pool_in_use_bytes();
  description.load.pool_budget_bytes = load.pool_budget_bytes();
  description.load.resident_ref_bytes = load.resident_ref_bytes();
  description.load.capacity_weight = description.capacity_weight;
  return description;
}

}  // namespace blazen::proto_convert
