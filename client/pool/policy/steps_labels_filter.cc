// SPDX-License-Identifier: Apache-2.0
#include "client/pool/policy/steps_labels_filter.h"

#include <algorithm>

namespace blazen::client::pool {

namespace {

bool ServesAll(const PeerState& peer, const RequestTraits& traits) {
  // PeerSnapshot::Make keeps step_ids sorted, so each lookup is a binary search.
  for (const std::string& step : peer.steps_known ? traits.step_ids : std::vector<std::string>{}) {
    if (!std::binary_search(peer.step_ids.begin(), peer.step_ids.end(), step)) return false;
  }
  for (const auto& [key, value] : traits.required_labels) {
    const auto it = peer.labels.find(key);
    if (it == peer.labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

void StepsLabelsFilter::Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
                              std::vector<std::size_t>& candidates) const {
  if (traits.step_ids.empty() && traits.required_labels.empty()) return;
  std::erase_if(candidates, [&](std::size_t i) { return !ServesAll(snapshot.peers()[i], traits); });
}

}  // namespace blazen::client::pool
