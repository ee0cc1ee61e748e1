// SPDX-License-Identifier: Apache-2.0
// The process-global StepRegistry: the one deliberate global of the project (the Blazen API
// defines it as process-global).

#include "core/step.h"

#include <map>
#include <mutex>
#include <shared_mutex>

namespace blazen {
namespace {

struct StepRegistry {
  std::shared_mutex mu;
  std::map<std::string, StepBuilder, std::less<>> builders;
};

StepRegistry& Registry() {
  static StepRegistry* registry = new StepRegistry();  // never destroyed: safe at exit
  return *registry;
}

}  // namespace

Step MakeStartStep(std::string name, StepHandler handler) {
  Step step;
  step.name = std::move(name);
  step.accepts = {std::string(kStartEventType)};
  step.handler = std::move(handler);
  return step;
}

bool RegisterStepBuilder(std::string id, StepBuilder builder) {
  if (!builder) return false;
  StepRegistry& r = Registry();
  std::unique_lock lock(r.mu);
  return r.builders.try_emplace(std::move(id), std::move(builder)).second;
}

std::optional<Step> LookupStepBuilder(std::string_view id) {
  StepBuilder builder;
  {
    StepRegistry& r = Registry();
    std::shared_lock lock(r.mu);
    auto it = r.builders.find(id);
    if (it == r.builders.end()) return std::nullopt;
    builder = it->second;  // copy, so the builder runs outside the lock
  }
  return builder();
}

std::vector<std::string> RegisteredStepIds() {
  StepRegistry& r = Registry();
  std::shared_lock lock(r.mu);
  std::vector<std::string> ids;
  ids.reserve(r.builders.size());
  for (const auto& [id, builder] : r.builders) ids.push_back(id);
  return ids;
}

}  // namespace blazen
