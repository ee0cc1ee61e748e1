// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/pipeline.h"

#include <numeric>
#include <string>
#include <utility>

namespace blazen::client::pool {

namespace {

Decision Unavailable(Decision decision, std::string reason) {
  decision.code = StatusCode::kUnavailable;
  decision.reason = std::move(reason);
  return decision;
}

}  // namespace

std::string Pipeline::NamesBefore(const PeerSnapshot& snapshot, const RequestTraits& traits,
                                  std::size_t filter_index) const {
  // The failure path only: re-run the filters before the one that rejected, to name the peers it
  // saw (the hot path keeps no copy of the candidates).
  std::vector<std::size_t> seen(snapshot.size());
  std::iota(seen.begin(), seen.end(), std::size_t{0});
  for (std::size_t k = 0; k < filter_index; ++k) filters_[k]->Apply(snapshot, traits, seen);
  constexpr std::size_t kMaxNamed = 8;
  std::string out;
  for (std::size_t n = 0; n < seen.size() && n < kMaxNamed; ++n) {
    const PeerState& peer = snapshot.peers()[seen[n]];
    out += (n == 0 ? "" : ", ") + peer.node_id + " (" + peer.endpoint + ")";
  }
  if (seen.size() > kMaxNamed) out += " and " + std::to_string(seen.size() - kMaxNamed) + " more";
  return out;
}

Pipeline::Pipeline(std::vector<std::unique_ptr<const Filter>> filters,
                   std::unique_ptr<const Picker> picker)
    : filters_(std::move(filters)), picker_(std::move(picker)) {}

Decision Pipeline::Pick(const PeerSnapshot& snapshot, const RequestTraits& traits) const {
  Decision decision;
  DecisionRecord* record = nullptr;
  if (traits.record) {
    record = &decision.record.emplace();
    record->policy = std::string(picker_->name());
    record->snapshot_version = snapshot.version();
    record->peers = snapshot.size();
  }
  if (snapshot.empty()) {
    return Unavailable(std::move(decision), "no eligible peer: the pool is empty");
  }

  std::vector<std::size_t> candidates(snapshot.size());
  std::iota(candidates.begin(), candidates.end(), std::size_t{0});
  for (const auto& filter : filters_) {
    const std::size_t before = candidates.size();
    filter->Apply(snapshot, traits, candidates);
    if (record != nullptr) {
      record->filters.push_back({std::string(filter->name()), before - candidates.size()});
    }
    if (candidates.empty()) {
      decision.rejected_by = std::string(filter->name());
      const std::string names =
          NamesBefore(snapshot, traits, static_cast<std::size_t>(&filter - filters_.data()));
      if (filter->rejection_code() == StatusCode::kResourceExhausted) {
        decision.code = StatusCode::kResourceExhausted;
        decision.reason =
            "every eligible peer is at its limit (filter '" + decision.rejected_by + "'): " + names;
        return decision;
      }
      std::string reason = "no eligible peer: filter '" + decision.rejected_by +
                           "' removed the remaining " + std::to_string(before) + " of " +
                           std::to_string(snapshot.size()) + " peers: " + names;
      return Unavailable(std::move(decision), std::move(reason));
    }
  }
  if (record != nullptr) record->candidates = candidates;

  Result<std::size_t> picked = picker_->Pick(snapshot, traits, candidates, record);
  if (!picked.ok()) {
    decision.code = picked.status().code();
    decision.reason = picked.status().message();
    return decision;
  }
  decision.peer = *picked;
  decision.reason = std::string(picker_->name());
  return decision;
}

}  // namespace blazen::client::pool
