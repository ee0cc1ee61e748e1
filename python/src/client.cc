// SPDX-License-Identifier: Apache-2.0
// The gRPC client from Python: blocking calls that release the GIL and take a CallCancel, which the
// Python package cancels when the asyncio awaitable wrapping the call is cancelled.

#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/deref_sink.h"
#include "client/peer_client.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "core/uuid.h"
#include "python/src/bindings.h"

namespace blazen::python {
namespace {

using client::BlazenPeerClient;
using client::CallCancel;
using client::CallOptions;

// Owns a client; destroys it without the GIL (closing the channel may wait for gRPC threads).
struct ClientBox {
  std::unique_ptr<BlazenPeerClient> client;

  ClientBox() = default;
  ClientBox(const ClientBox&) = delete;
  ClientBox& operator=(const ClientBox&) = delete;
  ~ClientBox() { ResetWithoutGil(client); }
};

CallOptions MakeCall(const std::shared_ptr<CallCancel>& cancel, std::optional<double> deadline_s,
                     std::optional<std::string> parent_run_id) {
  CallOptions call;
  call.cancel = cancel;
  if (deadline_s.has_value()) {
    call.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(*deadline_s * 1000.0));
  }
  call.parent_run_id = std::move(parent_run_id);
  return call;
}

Uuid ParseRef(const std::string& text) {
  Result<Uuid> uuid = Uuid::Parse(text);
  if (!uuid.ok()) {
    throw InvalidArgumentError(StatusCode::kInvalidArgument,
                               "invalid UUID: " + uuid.status().message());
  }
  return *uuid;
}

}  // namespace

// (envelope_version, {key: state JSON bytes}, result JSON bytes | None,
//  [(uuid, origin_node_id, type_tag, created_at_epoch_ms)], error | None)
py::tuple ResponseTuple(const SubWorkflowResponse& response) {
  py::dict state;
  for (const auto& [key, value] : response.state_json) state[py::str(key)] = py::bytes(value);
  py::object result = py::none();
  if (response.result_json.has_value()) result = py::bytes(*response.result_json);
  py::list refs;
  for (const auto& [uuid, descriptor] : response.remote_refs) {
    refs.append(py::make_tuple(uuid.ToString(), descriptor.origin_node_id, descriptor.type_tag,
                               descriptor.created_at_epoch_ms));
  }
  return py::make_tuple(response.envelope_version, state, result, refs, response.error);
}

void BindClient(py::module_& m) {
  py::class_<CallCancel, std::shared_ptr<CallCancel>>(m, "CallCancel",
                                                      "Cancels the calls it was passed to.")
      .def(py::init<>())
      .def("cancel", &CallCancel::Cancel)
      .def("cancelled", &CallCancel::cancelled);

  py::class_<ClientBox>(m, "_Client")
      .def_static(
          "connect",
          [](const std::string& endpoint, std::string node_id, std::optional<ClientTlsConfig> tls,
             std::optional<std::string> token, std::optional<double> connect_timeout_s,
             std::optional<double> default_deadline_s, std::optional<std::string> parent_run_id) {
            client::ClientOptions options;
            options.tls = std::move(tls);
            options.token = std::move(token);
            options.parent_run_id = std::move(parent_run_id);
            if (connect_timeout_s.has_value()) {
              options.connect_timeout =
                  std::chrono::milliseconds(static_cast<std::int64_t>(*connect_timeout_s * 1000.0));
            }
            if (default_deadline_s.has_value()) {
              options.default_deadline = std::chrono::milliseconds(
                  static_cast<std::int64_t>(*default_deadline_s * 1000.0));
            }
            auto box = std::make_unique<ClientBox>();
            {
              GilRelease release;
              box->client =
                  BlazenPeerClient::Connect(endpoint, std::move(node_id), std::move(options));
            }
            return box;
          },
          py::arg("endpoint"), py::arg("node_id"), py::arg("tls") = py::none(),
          py::arg("token") = py::none(), py::arg("connect_timeout_s") = py::none(),
          py::arg("default_deadline_s") = py::none(), py::arg("parent_run_id") = py::none())
      .def_property_readonly("node_id", [](const ClientBox& box) { return box.client->node_id(); })
      .def_property_readonly("endpoint",
                             [](const ClientBox& box) { return box.client->endpoint(); })
      .def(
          "invoke",
          [](ClientBox& box, std::string workflow_name, std::vector<std::string> step_ids,
             std::string input_json, std::optional<std::uint64_t> timeout_secs,
             const std::shared_ptr<CallCancel>& cancel, std::optional<double> deadline_s,
             std::optional<std::string> parent_run_id) {
            SubWorkflowRequest request;
            request.workflow_name = std::move(workflow_name);
            request.step_ids = std::move(step_ids);
            request.input_json = std::move(input_json);
            request.timeout_secs = timeout_secs;
            const CallOptions call = MakeCall(cancel, deadline_s, std::move(parent_run_id));
            std::optional<SubWorkflowResponse> response;
            {
              GilRelease release;
              response.emplace(box.client->InvokeSubWorkflow(request, call));
            }
            return ResponseTuple(*response);
          },
          py::arg("workflow_name"), py::arg("step_ids"), py::arg("input_json"),
          py::arg("timeout_secs"), py::arg("cancel") = nullptr, py::arg("deadline_s") = py::none(),
          py::arg("parent_run_id") = py::none())
      .def(
          "deref",
          [](ClientBox& box, const std::string& ref, const std::shared_ptr<CallCancel>& cancel,
             std::optional<double> deadline_s) {
            const Uuid uuid = ParseRef(ref);
            const CallOptions call = MakeCall(cancel, deadline_s, std::nullopt);
            ByteVector payload;
            {
              GilRelease release;
              payload = box.client->DerefSessionRef(uuid, call);
            }
            return py::bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
          },
          py::arg("ref"), py::arg("cancel") = nullptr, py::arg("deadline_s") = py::none())
      .def(
          "deref_to_file",
          [](ClientBox& box, const std::string& ref, std::string path,
             const std::shared_ptr<CallCancel>& cancel, std::optional<double> deadline_s) {
            const Uuid uuid = ParseRef(ref);
            const CallOptions call = MakeCall(cancel, deadline_s, std::nullopt);
            client::DerefResult result;
            {
              GilRelease release;
              client::FileSink sink(std::move(path));
              result = box.client->DerefTo(uuid, sink, {}, call);
            }
            return py::make_tuple(result.total_size, result.type_tag, result.streams,
                                  result.resumes);
          },
          py::arg("ref"), py::arg("path"), py::arg("cancel") = nullptr,
          py::arg("deadline_s") = py::none())
      .def(
          "release",
          [](ClientBox& box, const std::string& ref, const std::shared_ptr<CallCancel>& cancel,
             std::optional<double> deadline_s) {
            const Uuid uuid = ParseRef(ref);
            const CallOptions call = MakeCall(cancel, deadline_s, std::nullopt);
            GilRelease release;
            return box.client->ReleaseSessionRef(uuid, call);
          },
          py::arg("ref"), py::arg("cancel") = nullptr, py::arg("deadline_s") = py::none())
      .def(
          "release_scope",
          [](ClientBox& box, const std::string& parent_run_id,
             const std::shared_ptr<CallCancel>& cancel) {
            const CallOptions call = MakeCall(cancel, std::nullopt, std::nullopt);
            GilRelease release;
            return box.client->ReleaseScope(parent_run_id, call);
          },
          py::arg("parent_run_id"), py::arg("cancel") = nullptr)
      .def(
          "describe",
          [](ClientBox& box, const std::shared_ptr<CallCancel>& cancel) {
            const CallOptions call = MakeCall(cancel, std::nullopt, std::nullopt);
            std::optional<client::PeerDescription> d;
            {
              GilRelease release;
              d.emplace(box.client->DescribePeer(call));
            }
            return DescriptionDict(*d);
          },
          py::arg("cancel") = nullptr);
}

}  // namespace blazen::python
