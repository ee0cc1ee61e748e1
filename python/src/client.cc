// SPDX-License-Identifier: Apache-2.0
// One binding of the C++ PeerClient interface, whatever the transport: blocking calls that release
// the GIL and take a CallCancel, which the Python package cancels when the asyncio awaitable
// wrapping the call is cancelled (the call stops on the wire too). `connect` picks the transport
// from the URL (ConnectPeer); `new_pool` makes a PeerPool over many peers; `new_http` makes the
// HTTP/JSON client of upstream's HttpPeerClient, whose upstream-shaped deref/release answers
// (`deref_response`, `release_response`) carry the peer's envelope version.

#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/connect.h"
#include "client/deref_sink.h"
#include "client/http_client.h"
#include "client/peer_client_interface.h"
#include "client/pool/peer_pool.h"
#include "core/peer_error.h"
#include "core/tls.h"
#include "core/uuid.h"
#include "python/src/bindings.h"

namespace blazen::python {
namespace {

using client::CallCancel;
using client::CallOptions;
using client::PeerClient;

using Cancel = std::shared_ptr<CallCancel>;
using Seconds = std::optional<double>;
using Parent = std::optional<std::string>;

// Owns a client; destroys it without the GIL (closing a channel may wait for gRPC threads).
struct ClientBox {
  std::unique_ptr<PeerClient> client;

  ClientBox() = default;
  ClientBox(const ClientBox&) = delete;
  ClientBox& operator=(const ClientBox&) = delete;
  ~ClientBox() { ResetWithoutGil(client); }

  client::pool::PeerPool& pool() const {
    auto* pool = dynamic_cast<client::pool::PeerPool*>(client.get());
    if (pool == nullptr) {
      throw InvalidArgumentError(StatusCode::kInvalidArgument,
                                 "this call needs a peer pool (new_pool)");
    }
    return *pool;
  }

  client::HttpPeerClient& http() const {
    auto* http = dynamic_cast<client::HttpPeerClient*>(client.get());
    if (http == nullptr) {
      throw InvalidArgumentError(StatusCode::kInvalidArgument,
                                 "this call needs an HTTP/JSON client (new_http)");
    }
    return *http;
  }
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

CallOptions MakeCall(const Cancel& cancel, Seconds deadline_s, Parent parent_run_id) {
  CallOptions call;
  call.cancel = cancel;
  if (deadline_s.has_value()) call.deadline = Millis(*deadline_s);
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

// Runs `fn` without the GIL and returns what it returns.
template <typename F>
auto Unlocked(F&& fn) {
  GilRelease release;
  return fn();
}

std::unique_ptr<ClientBox> Connect(const std::string& url, std::string node_id,
                                   std::optional<ClientTlsConfig> tls, Parent token,
                                   Seconds connect_timeout_s, Seconds default_deadline_s,
                                   Parent parent_run_id) {
  client::ConnectOptions options;
  options.tls = std::move(tls);
  options.token = std::move(token);
  options.parent_run_id = std::move(parent_run_id);
  if (connect_timeout_s.has_value()) options.connect_timeout = Millis(*connect_timeout_s);
  if (default_deadline_s.has_value()) options.default_deadline = Millis(*default_deadline_s);
  auto box = std::make_unique<ClientBox>();
  box->client =
      Unlocked([&] { return client::ConnectPeer(url, std::move(node_id), std::move(options)); });
  return box;
}

std::unique_ptr<ClientBox> NewPool(std::vector<std::string> endpoints, std::string discover,
                                   std::string node_id, std::string policy,
                                   std::optional<ClientTlsConfig> tls, Parent token,
                                   Seconds connect_timeout_s, Seconds default_deadline_s,
                                   Parent parent_run_id, Seconds startup_wait_s) {
  client::pool::PeerPoolOptions options;
  options.endpoints = std::move(endpoints);
  options.discover = std::move(discover);
  options.policy = std::move(policy);
  options.connect.tls = std::move(tls);
  options.connect.token = std::move(token);
  options.connect.parent_run_id = std::move(parent_run_id);
  if (connect_timeout_s.has_value()) options.connect.connect_timeout = Millis(*connect_timeout_s);
  if (default_deadline_s.has_value()) {
    options.connect.default_deadline = Millis(*default_deadline_s);
  }
  if (startup_wait_s.has_value()) options.startup_wait = Millis(*startup_wait_s);
  auto box = std::make_unique<ClientBox>();
  box->client = Unlocked(
      [&] { return client::pool::PeerPool::Make(std::move(options), std::move(node_id)); });
  return box;
}

std::unique_ptr<ClientBox> NewHttp(std::string base_url, std::string node_id,
                                   std::optional<ClientTlsConfig> tls, Parent token,
                                   Parent parent_run_id) {
  client::HttpClientOptions options;
  options.tls = std::move(tls);
  options.token = std::move(token);
  options.parent_run_id = std::move(parent_run_id);
  auto box = std::make_unique<ClientBox>();
  box->client =
      client::HttpPeerClient::NewHttp(std::move(base_url), std::move(node_id), std::move(options));
  return box;
}

py::tuple Invoke(ClientBox& box, std::string workflow_name, std::vector<std::string> step_ids,
                 std::string input_json, std::optional<std::uint64_t> timeout_secs,
                 const Cancel& cancel, Seconds deadline_s, Parent parent_run_id) {
  SubWorkflowRequest request;
  request.workflow_name = std::move(workflow_name);
  request.step_ids = std::move(step_ids);
  request.input_json = std::move(input_json);
  request.timeout_secs = timeout_secs;
  CallOptions call = MakeCall(cancel, deadline_s, std::move(parent_run_id));
  client::CallTrace trace;
  call.trace = &trace;
  const SubWorkflowResponse response =
      Unlocked([&] { return box.client->InvokeSubWorkflow(request, call); });
  // ResponseTuple plus the peer that served it: (node_id, endpoint, peers tried).
  return py::tuple(ResponseTuple(response) +
                   py::make_tuple(trace.node_id, trace.endpoint, trace.tried));
}

py::bytes Bytes(const std::vector<std::uint8_t>& payload) {
  return py::bytes(reinterpret_cast<const char*>(payload.data()), payload.size());
}

void BindCalls(py::class_<ClientBox>& c) {
  const auto cancel = py::arg("cancel") = nullptr;
  const auto deadline = py::arg("deadline_s") = py::none();
  c.def("invoke", &Invoke, py::arg("workflow_name"), py::arg("step_ids"), py::arg("input_json"),
        py::arg("timeout_secs"), cancel, deadline, py::arg("parent_run_id") = py::none());
  c.def(
      "deref",
      [](ClientBox& box, const std::string& ref, const Cancel& cancel, Seconds deadline_s) {
        const Uuid uuid = ParseRef(ref);
        const CallOptions call = MakeCall(cancel, deadline_s, std::nullopt);
        return Bytes(Unlocked([&] { return box.client->DerefSessionRef(uuid, call); }));
      },
      py::arg("ref"), cancel, deadline);
  c.def(
      "deref_to_file",
      [](ClientBox& box, const std::string& ref, std::string path, const Cancel& cancel,
         Seconds deadline_s) {
        const Uuid uuid = ParseRef(ref);
        const CallOptions call = MakeCall(cancel, deadline_s, std::nullopt);
        const client::DerefResult result = Unlocked([&] {
          client::FileSink sink(std::move(path));
          return box.client->DerefTo(uuid, sink, {}, call);
        });
        return py::make_tuple(result.total_size, result.type_tag, result.streams, result.resumes);
      },
      py::arg("ref"), py::arg("path"), cancel, deadline);
  c.def(
      "release",
      [](ClientBox& box, const std::string& ref, const Cancel& cancel, Seconds deadline_s) {
        const Uuid uuid = ParseRef(ref);
        const CallOptions call = MakeCall(cancel, deadline_s, std::nullopt);
        return Unlocked([&] { return box.client->ReleaseSessionRef(uuid, call); });
      },
      py::arg("ref"), cancel, deadline);
  c.def(
      "release_scope",
      [](ClientBox& box, const std::string& parent_run_id, const Cancel& cancel) {
        const CallOptions call = MakeCall(cancel, std::nullopt, std::nullopt);
        return Unlocked([&] { return box.client->ReleaseScope(parent_run_id, call); });
      },
      py::arg("parent_run_id"), cancel);
  c.def(
      "describe",
      [](ClientBox& box, const Cancel& cancel) {
        const CallOptions call = MakeCall(cancel, std::nullopt, std::nullopt);
        return DescriptionDict(Unlocked([&] { return box.client->DescribePeer(call); }));
      },
      cancel);
}

// Upstream HttpPeerClient's typed answers, which carry the peer's envelope version.
void BindHttpShapes(py::class_<ClientBox>& c) {
  c.def(
      "deref_response",
      [](ClientBox& box, const std::string& ref, const Cancel& cancel) {
        DerefRequest request;
        request.ref_uuid = ParseRef(ref);
        client::HttpPeerClient& http = box.http();
        const DerefResponse response =
            Unlocked([&] { return http.DerefSessionRef(request, MakeCall(cancel, {}, {})); });
        return py::make_tuple(response.envelope_version, Bytes(response.payload));
      },
      py::arg("ref"), py::arg("cancel") = nullptr);
  c.def(
      "release_response",
      [](ClientBox& box, const std::string& ref, const Cancel& cancel) {
        ReleaseRequest request;
        request.ref_uuid = ParseRef(ref);
        client::HttpPeerClient& http = box.http();
        const ReleaseResponse response =
            Unlocked([&] { return http.ReleaseSessionRef(request, MakeCall(cancel, {}, {})); });
        return py::make_tuple(response.envelope_version, response.released);
      },
      py::arg("ref"), py::arg("cancel") = nullptr);
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
                                                      "Cancels native client calls.")
      .def(py::init<>())
      .def("cancel", &CallCancel::Cancel)
      .def("cancelled", &CallCancel::cancelled);

  m.attr("HAVE_HTTP_CLIENT") = true;
  py::class_<ClientBox> c(m, "_PeerClient");
  c.def_static("connect", &Connect, py::arg("url"), py::arg("node_id"), py::arg("tls") = py::none(),
               py::arg("token") = py::none(), py::arg("connect_timeout_s") = py::none(),
               py::arg("default_deadline_s") = py::none(), py::arg("parent_run_id") = py::none());
  c.def_static("new_pool", &NewPool, py::arg("endpoints"), py::arg("discover"), py::arg("node_id"),
               py::arg("policy"), py::arg("tls") = py::none(), py::arg("token") = py::none(),
               py::arg("connect_timeout_s") = py::none(),
               py::arg("default_deadline_s") = py::none(), py::arg("parent_run_id") = py::none(),
               py::arg("startup_wait_s") = py::none());
  c.def("pool_json", [](const ClientBox& box) { return box.pool().DescribeJson(); });
  c.def("pool_metrics_text", [](const ClientBox& box) { return box.pool().MetricsText(); });
  c.def("pool_policy", [](const ClientBox& box) { return box.pool().policy(); });
  c.def(
      "pool_wait_for_healthy",
      [](const ClientBox& box, std::size_t count, double timeout_s) {
        client::pool::PeerPool& pool = box.pool();
        return Unlocked([&] { return pool.WaitForHealthy(count, Millis(timeout_s)); });
      },
      py::arg("count"), py::arg("timeout_s"));
  c.def_static("new_http", &NewHttp, py::arg("base_url"), py::arg("node_id"),
               py::arg("tls") = py::none(), py::arg("token") = py::none(),
               py::arg("parent_run_id") = py::none());
  c.def_property_readonly("node_id", [](const ClientBox& box) { return box.client->node_id(); });
  c.def_property_readonly("endpoint", [](const ClientBox& box) { return box.client->endpoint(); });
  BindCalls(c);
  BindHttpShapes(c);
}

}  // namespace blazen::python
