// SPDX-License-Identifier: Apache-2.0
// RefLifetime and the session-ref registry as Python sees it: functions over a RegistrySlot, the
// shared state behind blazen.SessionRefRegistry and blazen._SessionRegistryHandle, which a
// BlazenPeerServer re-points at its node's registry when it starts serving.

#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "core/peer_error.h"
#include "core/session_ref.h"
#include "core/uuid.h"
#include "python/src/bindings.h"

namespace blazen::python {
namespace {

Uuid ParseKey(const std::string& text) {
  Result<Uuid> uuid = Uuid::Parse(text);
  if (!uuid.ok()) {
    throw py::value_error("invalid UUID: " + uuid.status().message());
  }
  return *uuid;
}

py::object InfoDict(const RefInfo& info) {
  py::dict out;
  out["key"] = info.key.ToString();
  out["lifetime"] = FromCore(info.lifetime);
  out["type_tag"] = info.type_tag;
  out["created_at_epoch_ms"] = info.created_at_epoch_ms;
  out["run_id"] = info.owner.run_id;
  out["parent_run_id"] = info.owner.parent_run_id;
  out["size_bytes"] = info.size_bytes;
  out["resident_bytes"] = info.resident_bytes;
  out["location"] = info.location;
  return out;
}

}  // namespace

RefLifetime ToCore(PyRefLifetime lifetime) {
  switch (lifetime) {
    case kPyUntilContextDrop:
      return RefLifetime::kUntilContextDrop;
    case kPyUntilExplicitDrop:
      return RefLifetime::kUntilExplicitDrop;
    case kPyUntilParentFinish:
      return RefLifetime::kUntilParentFinish;
    case kPyUntilSnapshot:
      throw py::value_error(
          "RefLifetime.UntilSnapshot is not supported by this peer (it keeps no workflow "
          "snapshots); use UntilExplicitDrop and release the ref, or UntilParentFinish");
  }
  throw py::value_error("unsupported RefLifetime");
}

PyRefLifetime FromCore(RefLifetime lifetime) {
  switch (lifetime) {
    case RefLifetime::kUntilContextDrop:
      return kPyUntilContextDrop;
    case RefLifetime::kUntilExplicitDrop:
      return kPyUntilExplicitDrop;
    case RefLifetime::kUntilParentFinish:
      return kPyUntilParentFinish;
  }
  return kPyUntilContextDrop;
}

void BindRegistry(py::module_& m) {
  py::enum_<PyRefLifetime>(m, "RefLifetime",
                           "When a session ref is purged on the peer that holds it.")
      .value("UntilContextDrop", kPyUntilContextDrop,
             "Purged when the run that created it ends (never listed in remote_refs).")
      .value("UntilExplicitDrop", kPyUntilExplicitDrop, "Purged only on release.")
      .value("UntilSnapshot", kPyUntilSnapshot,
             "Upstream's snapshot lifetime; refs cannot be created with it on this peer.")
      .value("UntilParentFinish", kPyUntilParentFinish,
             "Survives the run; purged on release, on release of its parent scope, or when idle "
             "past the peer's TTL.");

  // A slot is an opaque holder; the Python package builds SessionRefRegistry and
  // _SessionRegistryHandle on top of it.
  py::class_<RegistrySlot, std::shared_ptr<RegistrySlot>>(m, "_RegistrySlot");
  m.def("new_registry_slot", [] { return std::make_shared<RegistrySlot>(); });
  m.def(
      "registry_size", [](const RegistrySlot& slot) { return slot.get()->size(); },
      py::arg("slot"));
  m.def(
      "registry_lifetime_of",
      [](const RegistrySlot& slot, const std::string& key) -> std::optional<PyRefLifetime> {
        const std::optional<RefLifetime> lifetime = slot.get()->LifetimeOf(ParseKey(key));
        if (!lifetime.has_value()) return std::nullopt;
        return FromCore(*lifetime);
      },
      py::arg("slot"), py::arg("key"));
  m.def(
      "registry_info",
      [](const RegistrySlot& slot, const std::string& key) -> py::object {
        const std::optional<RefInfo> info = slot.get()->Info(ParseKey(key));
        if (!info.has_value()) return py::none();
        return InfoDict(*info);
      },
      py::arg("slot"), py::arg("key"));
  m.def(
      "registry_remove",
      [](const RegistrySlot& slot, const std::string& key) {
        const Uuid uuid = ParseKey(key);
        std::shared_ptr<SessionRefRegistry> registry = slot.get();
        GilRelease release;  // freeing a device value may take a while
        return registry->Release(uuid);
      },
      py::arg("slot"), py::arg("key"));
  m.def(
      "registry_release_scope",
      [](const RegistrySlot& slot, const std::string& parent_run_id) {
        std::shared_ptr<SessionRefRegistry> registry = slot.get();
        GilRelease release;
        return registry->ReleaseScope(parent_run_id);
      },
      py::arg("slot"), py::arg("parent_run_id"));
  m.def(
      "registry_keys",
      [](const RegistrySlot& slot) {
        std::vector<std::string> keys;
        for (const Uuid& key : slot.get()->Keys()) keys.push_back(key.ToString());
        return keys;
      },
      py::arg("slot"));
  m.def(
      "registry_clear",
      [](const RegistrySlot& slot) {
        std::shared_ptr<SessionRefRegistry> registry = slot.get();
        GilRelease release;
        return registry->Clear();
      },
      py::arg("slot"));
  m.def(
      "registry_clear_on_context_drop",
      [](const RegistrySlot& slot, bool owns_registry) {
        std::shared_ptr<SessionRefRegistry> registry = slot.get();
        GilRelease release;
        return registry->ClearOnContextDrop(owns_registry);
      },
      py::arg("slot"), py::arg("owns_registry"));
  m.def(
      "registry_stats",
      [](const RegistrySlot& slot) {
        const RegistryStats stats = slot.get()->Stats();
        py::list live;
        for (const auto& [key, bucket] : stats.live) {
          live.append(
              py::make_tuple(FromCore(key.first), key.second, bucket.count, bucket.resident_bytes));
        }
        return py::make_tuple(stats.entries, live, stats.resident_bytes_by_location);
      },
      py::arg("slot"));
  m.def(
      "registry_same",
      [](const RegistrySlot& a, const RegistrySlot& b) { return a.get() == b.get(); }, py::arg("a"),
      py::arg("b"));
}

}  // namespace blazen::python
