// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/policy_registry.h"

#include <random>
#include <utility>

#include "client/pool/policy/health_filter.h"
#include "client/pool/policy/least_loaded.h"
#include "client/pool/policy/random.h"
#include "client/pool/policy/resource_filter.h"
#include "client/pool/policy/round_robin.h"
#include "client/pool/policy/steps_labels_filter.h"

namespace blazen::client::pool {

namespace {

std::shared_ptr<RandomSource> RandomFrom(const PolicyOptions& options) {
  if (options.random != nullptr) return options.random;
  if (options.seed.has_value()) return MakeRandomSource(*options.seed);
  std::random_device entropy;
  return MakeRandomSource((std::uint64_t{entropy()} << 32) ^ entropy());
}

Result<std::unique_ptr<Picker>> MakeConsistentHash(const PolicyOptions& options) {
  const ConsistentHashOptions& hash = options.consistent_hash;
  if (!(hash.load_factor > 1.0) || hash.virtual_nodes == 0) {
    return Status::InvalidArgument(
        "consistent_hash: load_factor must be > 1 and virtual_nodes > 0, got " +
        std::to_string(hash.load_factor) + " and " + std::to_string(hash.virtual_nodes));
  }
  return std::unique_ptr<Picker>(std::make_unique<ConsistentHashPicker>(hash));
}

}  // namespace

PolicyRegistry PolicyRegistry::WithBuiltins() {
  PolicyRegistry registry;
  // Names are distinct literals, so these registrations cannot fail.
  registry
      .Register("round_robin",
                [](const PolicyOptions& o) -> Result<std::unique_ptr<Picker>> {
                  return std::unique_ptr<Picker>(
                      std::make_unique<RoundRobinPicker>(RandomFrom(o)->Next()));
                })
      .IgnoreError();
  registry
      .Register("random",
                [](const PolicyOptions& o) -> Result<std::unique_ptr<Picker>> {
                  return std::unique_ptr<Picker>(std::make_unique<RandomPicker>(RandomFrom(o)));
                })
      .IgnoreError();
  registry
      .Register(
          "least_loaded",
          [](const PolicyOptions& o) -> Result<std::unique_ptr<Picker>> {
            return std::unique_ptr<Picker>(std::make_unique<LeastLoadedPicker>(RandomFrom(o)));
          })
      .IgnoreError();
  registry.Register("consistent_hash", MakeConsistentHash).IgnoreError();
  return registry;
}

Status PolicyRegistry::Register(std::string name, PickerFactory factory) {
  if (name.empty()) return Status::InvalidArgument("policy name must not be empty");
  if (!factory) return Status::InvalidArgument("policy '" + name + "': null factory");
  if (factories_.contains(name)) {
    return Status::AlreadyExists("policy '" + name + "' is already registered");
  }
  factories_.emplace(std::move(name), std::move(factory));
  return Status::Ok();
}

Result<std::unique_ptr<Picker>> PolicyRegistry::MakePicker(std::string_view name,
                                                           const PolicyOptions& options) const {
  const auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [known_name, factory] : factories_) {
      known += (known.empty() ? "" : ", ") + known_name;
    }
    return Status::InvalidArgument("unknown routing policy '" + std::string(name) +
                                   "'; known policies: " + known);
  }
  return it->second(options);
}

Result<Pipeline> PolicyRegistry::MakePipeline(std::string_view name,
                                              const PolicyOptions& options) const {
  BLAZEN_ASSIGN_OR_RETURN(std::unique_ptr<Picker> picker, MakePicker(name, options));
  std::vector<std::unique_ptr<const Filter>> filters;
  filters.push_back(std::make_unique<HealthFilter>());
  filters.push_back(std::make_unique<StepsLabelsFilter>());
  filters.push_back(std::make_unique<ResourceFilter>());
  filters.push_back(std::make_unique<CapacityFilter>(options.capacity));
  return Pipeline(std::move(filters), std::move(picker));
}

std::vector<std::string> PolicyRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(factories_.size());
  for (const auto& [name, factory] : factories_) out.push_back(name);
  return out;
}

}  // namespace blazen::client::pool
