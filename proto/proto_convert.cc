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
  return description;
}

}  // namespace blazen::proto_convert
