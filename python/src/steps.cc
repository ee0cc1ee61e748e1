// SPDX-License-Identifier: Apache-2.0
// The process-global step registry from Python, and Python steps: a Python callable registered
// under a step id becomes a C++ Step whose handler takes the GIL on the engine worker thread and
// calls blazen._steps._run_step, which runs plain functions directly and `async def` steps on a
// dedicated event-loop thread. A failing step fails its run (response.error); it never takes the
// peer down. The step sees its run through a _StepContext that is valid only while it runs.

#include <pybind11/stl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/context.h"
#include "core/event.h"
#include "core/peer_error.h"
#include "core/step.h"
#include "core/tensor.h"
#include "python/src/bindings.h"

namespace blazen::python {
namespace {

using nlohmann::json;

// A step's view of its run, handed to Python. `ctx` is cleared (with the GIL held) when the step
// returns, so a context kept by user code fails cleanly instead of dangling.
struct StepContextRef {
  Context* ctx = nullptr;

  Context& Get() const {
    if (ctx == nullptr) {
      throw std::runtime_error("the step context is used after its step returned");
    }
    return *ctx;
  }
};

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json ParseJson(const std::string& text, const char* what) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) throw py::value_error(std::string(what) + " is not valid JSON");
  return value;
}

Result<StepOutput> RunPythonStep(const py::object& fn, const Event& event, Context& ctx) {
  if (Py_IsInitialized() == 0 || ExitingOffMainThread()) {
    return Status::Unavailable("the Python interpreter hosting this step has shut down");
  }
  py::gil_scoped_acquire gil;
  auto ref = std::make_shared<StepContextRef>();
  ref->ctx = &ctx;
  struct Invalidate {
    StepContextRef& ref;
    ~Invalidate() { ref.ctx = nullptr; }
  } invalidate{*ref};
  try {
    py::object runner = py::module_::import("blazen._steps").attr("_run_step");
    py::tuple outcome = runner(fn, event.type, Dump(event.payload), py::cast(ref));
    if (!outcome[0].cast<bool>()) {
      return Status(StatusCode::kUnknown, outcome[1].cast<std::string>());
    }
    StepOutput events;
    for (py::handle item : outcome[1]) {
      auto [type, payload] = item.cast<std::pair<std::string, std::string>>();
      json parsed = json::parse(payload, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        return Status::InvalidArgument("step emitted an event whose payload is not JSON");
      }
      events.push_back(Event::Of(std::move(type), std::move(parsed)));
    }
    return events;
  } catch (py::error_already_set& error) {
    return Status(StatusCode::kUnknown, error.what());
  } catch (const std::exception& error) {
    return Status(StatusCode::kInternal, error.what());
  }
}

Uuid InsertValue(StepContextRef& ref, std::shared_ptr<const SessionValue> value,
                 PyRefLifetime lifetime) {
  Context& ctx = ref.Get();
  const RefLifetime core_lifetime = ToCore(lifetime);
  GilRelease release;
  return ValueOrThrow(ctx.InsertRef(std::move(value), core_lifetime));
}

}  // namespace

void BindSteps(py::module_& m) {
  m.def(
      "register_python_step",
      [](const std::string& step_id, const py::object& fn, std::vector<std::string> accepts,
         std::size_t max_concurrency, std::optional<double> timeout_secs) {
        if (step_id.empty()) throw py::value_error("step id must not be empty");
        if (accepts.empty()) throw py::value_error("a step must accept at least one event type");
        std::optional<std::chrono::milliseconds> timeout;
        if (timeout_secs.has_value()) {
          if (!(*timeout_secs > 0)) throw py::value_error("timeout_secs must be positive");
          timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*timeout_secs * 1000.0));
        }
        // Leaked on purpose: the registry is process-global and never forgets a step, and it
        // outlives the interpreter (a decref after finalization would crash).
        auto* held = new py::object(fn);
        StepBuilder builder = [held, step_id, accepts, max_concurrency, timeout] {
          Step step;
          step.name = step_id;
          step.accepts = accepts;
          step.max_concurrency = max_concurrency;
          step.timeout = timeout;
          step.handler = [held](const Event& event, Context& ctx) {
            return RunPythonStep(*held, event, ctx);
          };
          return step;
        };
        const bool registered = RegisterStepBuilder(step_id, std::move(builder));
        if (!registered) delete held;
        return registered;
      },
      py::arg("step_id"), py::arg("fn"), py::arg("accepts"), py::arg("max_concurrency") = 0,
      py::arg("timeout_secs") = py::none());
  m.def(
      "lookup_step_builder",
      [](const std::string& step_id) { return LookupStepBuilder(step_id).has_value(); },
      py::arg("step_id"));
  m.def("registered_step_ids", &RegisteredStepIds);

  py::class_<StepContextRef, std::shared_ptr<StepContextRef>>(m, "_StepContext")
      .def_property_readonly("valid", [](const StepContextRef& ref) { return ref.ctx != nullptr; })
      .def_property_readonly("run_id", [](const StepContextRef& r) { return r.Get().run_id(); })
      .def_property_readonly("workflow_name",
                             [](const StepContextRef& r) { return r.Get().workflow_name(); })
      .def_property_readonly("parent_run_id",
                             [](const StepContextRef& r) { return r.Get().parent_run_id(); })
      .def_property_readonly("caller_node_id",
                             [](const StepContextRef& r) { return r.Get().caller_node_id(); })
      .def("cancelled", [](const StepContextRef& r) { return r.Get().cancelled(); })
      .def(
          "get_state",
          [](const StepContextRef& r, const std::string& key) -> std::optional<std::string> {
            std::optional<json> value = r.Get().GetState(key);
            if (!value.has_value()) return std::nullopt;
            return Dump(*value);
          },
          py::arg("key"))
      .def(
          "set_state",
          [](const StepContextRef& r, std::string key, const std::string& value_json) {
            r.Get().SetState(std::move(key), ParseJson(value_json, "state value"));
          },
          py::arg("key"), py::arg("value_json"))
      .def(
          "remove_state",
          [](const StepContextRef& r, const std::string& key) { return r.Get().RemoveState(key); },
          py::arg("key"))
      .def("state_snapshot",
           [](const StepContextRef& r) {
             std::map<std::string, std::string> out;
             for (const auto& [key, value] : r.Get().StateSnapshot()) out.emplace(key, Dump(value));
             return out;
           })
      .def(
          "insert_bytes",
          [](StepContextRef& r, const py::bytes& data, std::string type_tag,
             PyRefLifetime lifetime) {
            const std::string_view view(data);
            auto value = std::make_shared<HostBytesValue>(
                std::move(type_tag), std::vector<std::uint8_t>(view.begin(), view.end()));
            return InsertValue(r, std::move(value), lifetime).ToString();
          },
          py::arg("data"), py::arg("type_tag"), py::arg("lifetime"))
      .def(
          "insert_tensor",
          [](StepContextRef& r, const std::string& dtype, std::vector<std::int64_t> shape,
             const py::bytes& data, PyRefLifetime lifetime) {
            const DType parsed = ValueOrThrow(ParseDType(dtype));
            const std::string_view view(data);
            std::shared_ptr<HostTensorValue> value = ValueOrThrow(HostTensorValue::Create(
                parsed, std::move(shape), std::vector<std::uint8_t>(view.begin(), view.end())));
            return InsertValue(r, std::move(value), lifetime).ToString();
          },
          py::arg("dtype"), py::arg("shape"), py::arg("data"), py::arg("lifetime"))
      .def(
          "read_ref",
          [](const StepContextRef& r, const std::string& key) {
            const Uuid uuid = ValueOrThrow(Uuid::Parse(key));
            Context& ctx = r.Get();
            std::string bytes;
            std::string type_tag;
            {
              GilRelease release;
              RefLease lease = ValueOrThrow(ctx.AcquireRef(uuid));
              type_tag = std::string(lease.value().type_tag());
              bytes.resize(lease.value().size_bytes());
              ThrowIfError(lease.value().Read(
                  0, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(bytes.data()),
                                             bytes.size())));
            }
            return py::make_tuple(type_tag, py::bytes(bytes));
          },
          py::arg("key"));
}

}  // namespace blazen::python
