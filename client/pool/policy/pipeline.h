// SPDX-License-Identifier: Apache-2.0
#pragma once
// Pipeline: one routing decision, filter -> pick, over one PeerSnapshot. The pool (next) holds one
// Pipeline built from its policy name (client/pool/policy/policy_registry.h) and calls Pick with
// the snapshot it loaded for the request.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "client/pool/policy/policy.h"

namespace blazen::client::pool {

/// Runs its filters in order, then its picker over the survivors. Thread-safe (its filters and
/// picker are); move-only.
class Pipeline {
 public:
  /// `picker` must not be null; filters run in the given order.
  Pipeline(std::vector<std::unique_ptr<const Filter>> filters,
           std::unique_ptr<const Picker> picker);
  Pipeline(Pipeline&&) noexcept = default;
  Pipeline& operator=(Pipeline&&) noexcept = default;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline() = default;

  /// Chooses a peer of `snapshot` for a request with `traits`. Never fails outright: a Decision
  /// without a peer says why (Decision::code, reason, rejected_by):
  /// - kUnavailable: the snapshot is empty, or the filter named in `rejected_by` removed the last
  ///   candidates (the reason names the peers that filter saw);
  /// - kResourceExhausted: the admission filter (`capacity`) removed the last candidates: every
  ///   eligible peer is at its limit (named in the reason);
  /// - kInvalidArgument: the picker needs something `traits` lack (consistent_hash: a hash key).
  /// With RequestTraits::record set, Decision::record lists what each filter removed, the
  /// candidates and the picker's scores.
  [[nodiscard]] Decision Pick(const PeerSnapshot& snapshot, const RequestTraits& traits) const;

  /// The picker's policy name.
  [[nodiscard]] std::string_view policy() const { return picker_->name(); }
  [[nodiscard]] const std::vector<std::unique_ptr<const Filter>>& filters() const {
    return filters_;
  }

 private:
  // "id (endpoint), ..." of the peers that reached filter `filter_index`.
  [[nodiscard]] std::string NamesBefore(const PeerSnapshot& snapshot, const RequestTraits& traits,
                                        std::size_t filter_index) const;

  std::vector<std::unique_ptr<const Filter>> filters_;
  std::unique_ptr<const Picker> picker_;
};

}  // namespace blazen::client::pool
