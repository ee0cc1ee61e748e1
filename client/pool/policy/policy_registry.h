// SPDX-License-Identifier: Apache-2.0
#pragma once
// PolicyRegistry: policy name -> Picker factory, and the Pipeline a pool routes with (the standard
// filters, then the named picker). A new policy (e.g. the ref-locality scorer) is one new file with
// its Picker plus one Register line in PolicyRegistry::WithBuiltins.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/pool/policy/capacity_filter.h"
#include "client/pool/policy/consistent_hash.h"
#include "client/pool/policy/pipeline.h"
#include "client/pool/policy/policy.h"
#include "client/pool/policy/random_source.h"
#include "core/status.h"

namespace blazen::client::pool {

/// The policy a pool uses when none is named.
inline constexpr std::string_view kDefaultPolicy = "least_loaded";

/// What a factory may use. Value type.
struct PolicyOptions {
  /// Random bits of the randomized pickers (and round_robin's starting point); when null, a
  /// CounterRandomSource seeded with `seed`, or, without one, from std::random_device: pools in
  /// different processes then choose differently, instead of all sending their first calls to
  /// the same peers. Set `seed` for reproducible runs (tests, benchmarks, simulations).
  std::shared_ptr<RandomSource> random;
  std::optional<std::uint64_t> seed;
  ConsistentHashOptions consistent_hash;
  CapacityOptions capacity;
};

/// Makes a picker from options; may fail with kInvalidArgument for options it rejects.
using PickerFactory = std::function<Result<std::unique_ptr<Picker>>(const PolicyOptions&)>;

/// Name -> picker factory. Externally synchronized for Register; the const methods may run
/// concurrently with each other.
class PolicyRegistry {
 public:
  /// An empty registry.
  PolicyRegistry() = default;
  /// A registry with the built-in policies: "round_robin", "random", "least_loaded",
  /// "consistent_hash".
  [[nodiscard]] static PolicyRegistry WithBuiltins();

  /// Adds a policy. kInvalidArgument for an empty name or a null factory; kAlreadyExists when the
  /// name is taken.
  [[nodiscard]] Status Register(std::string name, PickerFactory factory);

  /// Makes the picker registered as `name`. kInvalidArgument naming the known policies when
  /// `name` is unknown; whatever the factory returns otherwise.
  [[nodiscard]] Result<std::unique_ptr<Picker>> MakePicker(std::string_view name,
                                                           const PolicyOptions& options) const;

  /// The standard pipeline with the picker `name`: filters "health", "steps_labels", "resource",
  /// "capacity" (admission, with `options.capacity`), in that order. Fails as MakePicker does.
  [[nodiscard]] Result<Pipeline> MakePipeline(std::string_view name,
                                              const PolicyOptions& options) const;

  /// Registered names, sorted.
  [[nodiscard]] std::vector<std::string> names() const;

 private:
  std::map<std::string, PickerFactory, std::less<>> factories_;
};

}  // namespace blazen::client::pool
