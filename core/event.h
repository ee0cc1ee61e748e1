// SPDX-License-Identifier: Apache-2.0
#pragma once
// Workflow events: a string type and a JSON payload. A run starts with `blazen::StartEvent{data}`
// and ends at the first `blazen::StopEvent{result}`; in between, events are routed by type to the
// steps that accept them (spec section 3.3).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace blazen {

inline constexpr std::string_view kStartEventType = "blazen::StartEvent";
inline constexpr std::string_view kStopEventType = "blazen::StopEvent";

/// One event of a run. Value type.
struct Event {
  /// Stable type id, e.g. `blazen::StartEvent` or a step-defined `my::Embedded`.
  std::string type;
  /// JSON payload. StartEvent: `{"data": <input>}`; StopEvent: `{"result": <result>}`.
  nlohmann::json payload = nlohmann::json::object();

  /// `blazen::StartEvent{data}`.
  [[nodiscard]] static Event Start(nlohmann::json data) {
    return Event{std::string(kStartEventType), nlohmann::json{{"data", std::move(data)}}};
  }
  /// `blazen::StopEvent{result}`: ends the run with `result`.
  [[nodiscard]] static Event Stop(nlohmann::json result) {
    return Event{std::string(kStopEventType), nlohmann::json{{"result", std::move(result)}}};
  }
  /// A custom event.
  [[nodiscard]] static Event Of(std::string type, nlohmann::json payload) {
    return Event{std::move(type), std::move(payload)};
  }

  [[nodiscard]] bool is_stop() const { return type == kStopEventType; }
  /// StartEvent data (null when absent).
  [[nodiscard]] const nlohmann::json& data() const { return Field("data"); }
  /// StopEvent result (null when absent).
  [[nodiscard]] const nlohmann::json& result() const { return Field("result"); }

 private:
  [[nodiscard]] const nlohmann::json& Field(const char* name) const {
    static const nlohmann::json kNull;
    if (!payload.is_object()) return kNull;
    auto it = payload.find(name);
    return it == payload.end() ? kNull : *it;
  }
};

}  // namespace blazen
