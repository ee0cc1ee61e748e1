// SPDX-License-Identifier: Apache-2.0
// Built-in steps: echo, state_set, host_blob, fail, sleep.

#include "core/builtin_steps.h"

#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/context.h"
#include "core/engine.h"
#include "core/step.h"

namespace blazen {
namespace {

using nlohmann::json;

// Marks a step whose handler only touches its event and the run's state (Step::runs_inline).
Step InlineStep(Step step) {
  step.runs_inline = true;
  return step;
}

Result<StepOutput> Echo(const Event& event, Context&) {
  return StepOutput{Event::Stop(event.data())};
}

Result<StepOutput> StateSet(const Event& event, Context& ctx) {
  const json& input = event.data();
  if (!input.is_object()) {
    return Status::InvalidArgument("blazen::state_set expects a JSON object, got " +
                                   std::string(input.type_name()));
  }
  for (const auto& [key, value] : input.items()) ctx.SetState(key, value);
  return StepOutput{};
}

Result<StepOutput> HostBlob(const Event& event, Context& ctx) {
  const json& input = event.data();
  if (!input.is_object() || !input.contains("bytes") || !input["bytes"].is_number_unsigned()) {
    return Status::InvalidArgument(
        "blazen::host_blob expects {\"bytes\": <non-negative integer>, \"lifetime\": ...}");
  }
  const std::uint64_t size = input["bytes"].get<std::uint64_t>();
  RefLifetime lifetime = RefLifetime::kUntilParentFinish;
  if (input.contains("lifetime")) {
    if (!input["lifetime"].is_string()) {
      return Status::InvalidArgument("blazen::host_blob: \"lifetime\" must be a string");
    }
    BLAZEN_ASSIGN_OR_RETURN(lifetime, ParseRefLifetime(input["lifetime"].get<std::string>()));
  }
  // Refuse before allocating what the registry would refuse anyway.
  const RegistryOptions& limits = ctx.session_refs().options();
  auto limit_it = limits.max_bytes_per_location.find("host");
  const std::uint64_t limit = limit_it == limits.max_bytes_per_location.end()
                                  ? limits.default_max_bytes_per_location
                                  : limit_it->second;
  if (size > limit) {
    return Status::ResourceExhausted("session ref byte limit for host is " + std::to_string(limit) +
                                     " bytes; asked for " + std::to_string(size));
  }
  std::vector<std::uint8_t> bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(size) + " host bytes");
  }
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = HostBlobByte(i);
  auto value = std::make_shared<HostBytesValue>("bytes", std::move(bytes));
  BLAZEN_ASSIGN_OR_RETURN(Uuid key, ctx.InsertRef(std::move(value), lifetime));
  return StepOutput{Event::Stop(json{{"ref", key.ToString()},
                                     {"bytes", size},
                                     {"lifetime", RefLifetimeName(lifetime)},
                                     {"type_tag", "bytes"}})};
}

Result<StepOutput> Fail(const Event& event, Context&) {
  const json& input = event.data();
  std::string message = "failed on request";
  if (input.is_object() && input.contains("message") && input["message"].is_string()) {
    message = input["message"].get<std::string>();
  }
  return Status::Aborted(message);
}

Result<StepOutput> Sleep(const Event& event, Context& ctx) {
  const json& input = event.data();
  if (!input.is_object() || !input.contains("seconds") || !input["seconds"].is_number() ||
      input["seconds"].get<double>() < 0) {
    return Status::InvalidArgument("blazen::sleep expects {\"seconds\": <non-negative number>}");
  }
  const double seconds = input["seconds"].get<double>();
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < until) {
    BLAZEN_RETURN_IF_ERROR(ctx.CheckCancelled());
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(5), until - std::chrono::steady_clock::now()));
  }
  return StepOutput{Event::Stop(json{{"slept", seconds}})};
}

}  // namespace

void RegisterBuiltinSteps() {
  RegisterStepBuilder("blazen::echo", [] { return InlineStep(MakeStartStep("echo", Echo)); });
  RegisterStepBuilder("blazen::state_set",
                      [] { return InlineStep(MakeStartStep("state_set", StateSet)); });
  RegisterStepBuilder("blazen::host_blob", [] { return MakeStartStep("host_blob", HostBlob); });
  RegisterStepBuilder("blazen::fail", [] { return MakeStartStep("fail", Fail); });
  RegisterStepBuilder("blazen::sleep", [] { return MakeStartStep("sleep", Sleep); });
}

void AddBuiltinWorkflows(Engine& engine) {
  RegisterBuiltinSteps();
  engine.SetDefaultWorkflow("echo", {"blazen::echo"});
  engine.SetDefaultWorkflow("state", {"blazen::state_set", "blazen::echo"});
}

}  // namespace blazen
