// SPDX-License-Identifier: Apache-2.0
// The peer node from Python: PeerNode::Start with the options BlazenPeerServer collects, started,
// waited for and shut down without the GIL (so Python steps keep running meanwhile).

#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/auth.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "python/src/bindings.h"
#include "server/peer_node.h"

namespace blazen::python {
namespace {

using server::PeerNode;
using server::PeerNodeOptions;

// Owns a node; destroys it without the GIL: shutting down waits for runs, and a Python step still
// running needs the GIL to finish.
struct NodeBox {
  std::unique_ptr<PeerNode> node;

  NodeBox() = default;
  NodeBox(const NodeBox&) = delete;
  NodeBox& operator=(const NodeBox&) = delete;
  ~NodeBox() { ResetWithoutGil(node); }

  PeerNode& Get() const {
    if (!node) throw std::runtime_error("the peer node is gone");
    return *node;
  }
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

}  // namespace

void BindServer(py::module_& m) {
  py::class_<NodeBox>(m, "_PeerNode")
      .def_static(
          "start",
          [](std::string node_id, std::string listen_address, std::optional<ServerTlsConfig> tls,
             std::optional<std::string> token, bool token_from_env,
             std::optional<std::string> http_listen_address,
             std::optional<std::size_t> worker_threads, std::optional<double> default_timeout_s,
             std::optional<double> shutdown_grace_s, const RegistrySlot* registry) {
            PeerNodeOptions options;
            if (registry != nullptr) options.session_refs = registry->get();
            options.node_id = std::move(node_id);
            options.listen_address = std::move(listen_address);
            options.tls = std::move(tls);
            options.http_listen_address = std::move(http_listen_address);
            options.token = std::move(token);
            if (!options.token.has_value() && token_from_env) options.token = ResolvePeerToken();
            if (worker_threads.has_value()) options.engine.worker_threads = *worker_threads;
            if (default_timeout_s.has_value()) {
              options.engine.default_timeout =
                  std::chrono::seconds(static_cast<std::int64_t>(*default_timeout_s));
            }
            if (shutdown_grace_s.has_value()) options.shutdown_grace = Millis(*shutdown_grace_s);
            auto box = std::make_unique<NodeBox>();
            {
              GilRelease release;
              box->node = ValueOrThrow(PeerNode::Start(std::move(options)));
            }
            return box;
          },
          py::arg("node_id"), py::arg("listen_address"), py::arg("tls") = py::none(),
          py::arg("token") = py::none(), py::arg("token_from_env") = true,
          py::arg("http_listen_address") = py::none(), py::arg("worker_threads") = py::none(),
          py::arg("default_timeout_s") = py::none(), py::arg("shutdown_grace_s") = py::none(),
          py::arg("registry") = py::none())
      .def_property_readonly("port", [](const NodeBox& box) { return box.Get().port(); })
      .def_property_readonly("endpoint", [](const NodeBox& box) { return box.Get().endpoint(); })
      .def_property_readonly("http_port", [](const NodeBox& box) { return box.Get().http_port(); })
      .def_property_readonly("http_endpoint",
                             [](const NodeBox& box) { return box.Get().http_endpoint(); })
      .def_property_readonly("node_id",
                             [](const NodeBox& box) { return box.Get().options().node_id; })
      .def(
          "shutdown",
          [](NodeBox& box, std::optional<double> grace_s) {
            PeerNode& node = box.Get();
            GilRelease release;
            if (grace_s.has_value()) {
              node.Shutdown(Millis(*grace_s));
            } else {
              node.Shutdown();
            }
          },
          py::arg("grace_s") = py::none())
      .def("wait",
           [](NodeBox& box) {
             PeerNode& node = box.Get();
             GilRelease release;
             node.Wait();
           })
      .def(
          "set_default_workflow",
          [](NodeBox& box, std::string workflow_name, std::vector<std::string> step_ids) {
            box.Get().engine().SetDefaultWorkflow(std::move(workflow_name), std::move(step_ids));
          },
          py::arg("workflow_name"), py::arg("step_ids"))
      .def(
          "bind_registry",
          [](NodeBox& box, RegistrySlot& slot) { slot.set(box.Get().engine().session_refs()); },
          py::arg("slot"), "Points `slot` at this node's session-ref registry.");
}

}  // namespace blazen::python
