// SPDX-License-Identifier: Apache-2.0
// The HTTP/JSON client from Python: blocking calls that release the GIL and take a CallCancel,
// which the Python package cancels when the awaitable wrapping the call (HttpPeerClient) is
// cancelled: the call's connection is closed at once (the peer cancels an event stream's run; a
// plain invoke's run goes on until it ends or reaches its deadline).

#include "client/http_client.h"

#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/deref_sink.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "core/uuid.h"
#include "python/src/bindings.h"

namespace blazen::python {
namespace {

using client::HttpPeerClient;

// Owns a client; destroys it without the GIL.
struct HttpClientBox {
  std::unique_ptr<HttpPeerClient> client;

  HttpClientBox() = default;
  HttpClientBox(const HttpClientBox&) = delete;
  HttpClientBox& operator=(const HttpClientBox&) = delete;
  ~HttpClientBox() { ResetWithoutGil(client); }
};

Uuid ParseRef(const std::string& text) {
  Result<Uuid> uuid = Uuid::Parse(text);
  if (!uuid.ok()) {
    throw InvalidArgumentError(StatusCode::kInvalidArgument,
                               "invalid UUID: " + uuid.status().message());
  }
  return *uuid;
}

client::CallOptions Call(const std::shared_ptr<client::CallCancel>& cancel) {
  client::CallOptions call;
  call.cancel = cancel;
  return call;
}

}  // namespace

void BindHttpClient(py::module_& m) {
  m.attr("HAVE_HTTP_CLIENT") = true;
  py::class_<HttpClientBox>(m, "_HttpClient")
      .def_static(
          "new_http",
          [](std::string base_url, std::string node_id, std::optional<ClientTlsConfig> tls,
             std::optional<std::string> token, std::optional<std::string> parent_run_id) {
            client::HttpClientOptions options;
            options.tls = std::move(tls);
            options.token = std::move(token);
            options.parent_run_id = std::move(parent_run_id);
            auto box = std::make_unique<HttpClientBox>();
            box->client = HttpPeerClient::NewHttp(std::move(base_url), std::move(node_id),
                                                  std::move(options));
            return box;
          },
          py::arg("base_url"), py::arg("node_id"), py::arg("tls") = py::none(),
          py::arg("token") = py::none(), py::arg("parent_run_id") = py::none())
      .def(
          "invoke",
          [](HttpClientBox& box, std::string workflow_name, std::vector<std::string> step_ids,
             std::string input_json, std::optional<std::uint64_t> timeout_secs,
             const std::shared_ptr<client::CallCancel>& cancel) {
            SubWorkflowRequest request;
            request.workflow_name = std::move(workflow_name);
            request.step_ids = std::move(step_ids);
            request.input_json = std::move(input_json);
            request.timeout_secs = timeout_secs;
            std::optional<SubWorkflowResponse> response;
            {
              GilRelease release;
              response.emplace(box.client->InvokeSubWorkflow(request, Call(cancel)));
            }
            return ResponseTuple(*response);
          },
          py::arg("workflow_name"), py::arg("step_ids"), py::arg("input_json"),
          py::arg("timeout_secs"), py::arg("cancel") = nullptr)
      .def(
          "deref",
          [](HttpClientBox& box, const std::string& ref,
             const std::shared_ptr<client::CallCancel>& cancel) {
            DerefRequest request;
            request.ref_uuid = ParseRef(ref);
            DerefResponse response;
            {
              GilRelease release;
              response = box.client->DerefSessionRef(request, Call(cancel));
            }
            return py::make_tuple(response.envelope_version,
                                  py::bytes(reinterpret_cast<const char*>(response.payload.data()),
                                            response.payload.size()));
          },
          py::arg("ref"), py::arg("cancel") = nullptr)
      .def(
          "deref_to_file",
          [](HttpClientBox& box, const std::string& ref, std::string path,
             const std::shared_ptr<client::CallCancel>& cancel) {
            const Uuid uuid = ParseRef(ref);
            client::DerefResult result;
            {
              GilRelease release;
              client::FileSink sink(std::move(path));
              result = box.client->DerefTo(uuid, sink, {}, Call(cancel));
            }
            return py::make_tuple(result.total_size, result.type_tag, result.streams,
                                  result.resumes);
          },
          py::arg("ref"), py::arg("path"), py::arg("cancel") = nullptr)
      .def(
          "release",
          [](HttpClientBox& box, const std::string& ref,
             const std::shared_ptr<client::CallCancel>& cancel) {
            ReleaseRequest request;
            request.ref_uuid = ParseRef(ref);
            ReleaseResponse response;
            {
              GilRelease release;
              response = box.client->ReleaseSessionRef(request, Call(cancel));
            }
            return py::make_tuple(response.envelope_version, response.released);
          },
          py::arg("ref"), py::arg("cancel") = nullptr)
      .def(
          "release_scope",
          [](HttpClientBox& box, const std::string& parent_run_id,
             const std::shared_ptr<client::CallCancel>& cancel) {
            GilRelease release;
            return box.client->ReleaseScope(parent_run_id, Call(cancel));
          },
          py::arg("parent_run_id"), py::arg("cancel") = nullptr)
      .def(
          "describe",
          [](HttpClientBox& box, const std::shared_ptr<client::CallCancel>& cancel) {
            std::optional<client::PeerDescription> d;
            {
              GilRelease release;
              d.emplace(box.client->DescribePeer(Call(cancel)));
            }
            return DescriptionDict(*d);
          },
          py::arg("cancel") = nullptr);
}

}  // namespace blazen::python
