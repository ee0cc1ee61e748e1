// SPDX-License-Identifier: Apache-2.0
#pragma once
// The routing policy interfaces: what a request asks for (RequestTraits), the Filter that keeps
// eligible peers, the Picker that chooses one of them, and the Decision they produce. A pick runs
// filters then the picker over one PeerSnapshot (client/pool/policy/pipeline.h); it is a pure
// function of the snapshot, the traits and the picker's small internal state, and makes no RPC.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/pool/peer_snapshot.h"
#include "core/status.h"

namespace blazen::client::pool {

/// What one request needs from a peer. Value type.
struct RequestTraits {
  /// Step ids the sub-workflow runs; an eligible peer serves every one.
  std::vector<std::string> step_ids;
  /// Labels an eligible peer must carry with exactly these values (e.g. {"gpu": "h100"}).
  std::map<std::string, std::string> required_labels;
  /// Device bytes the run will need; an eligible peer reports at least this much free pool.
  std::optional<std::uint64_t> device_bytes;
  /// Key for consistent hashing (e.g. a session id); required by `consistent_hash`.
  std::optional<std::string> hash_key;
  /// Endpoints this request must not go to (a retry never goes to a peer the call already
  /// tried); the "health" filter removes them.
  std::vector<std::string> exclude_endpoints;
  /// When set, only the peer at this endpoint may serve the request (e.g. the holder of a ref the
  /// request reads); the "health" filter removes the others.
  std::optional<std::string> only_endpoint;
  /// Fill Decision::record (costs allocations; leave off on the hot path).
  bool record = false;
};

/// A candidate's score as a picker saw it (lower is better for load scores).
struct CandidateScore {
  std::size_t peer = 0;
  double score = 0.0;
};

/// How many candidates one filter removed.
struct FilterStep {
  std::string filter;
  std::size_t removed = 0;
};

/// Everything a decision looked at; filled only when RequestTraits::record is set.
struct DecisionRecord {
  /// The picker's name and the snapshot's version.
  std::string policy;
  std::uint64_t snapshot_version = 0;
  /// Peers in the snapshot, then what each filter removed, in order.
  std::size_t peers = 0;
  std::vector<FilterStep> filters;
  /// Peer indices that passed every filter, ascending.
  std::vector<std::size_t> candidates;
  /// Scores of the candidates the picker compared (empty for pickers that do not score).
  std::vector<CandidateScore> scores;
};

/// The outcome of one pick. Value type.
struct Decision {
  /// The chosen peer's index in the snapshot; empty when none was chosen.
  std::optional<std::size_t> peer;
  /// kOk when a peer was chosen; kUnavailable when no peer is eligible (empty snapshot, or a
  /// filter removed every peer); kResourceExhausted when an admission filter (`capacity`) removed
  /// the last candidates (every eligible peer is at its limit); kInvalidArgument when the request
  /// does not fit the policy (e.g. `consistent_hash` without a hash key).
  StatusCode code = StatusCode::kOk;
  /// On success the picker's name; otherwise why no peer was chosen.
  std::string reason;
  /// The filter that removed the last candidates; empty unless a filter did.
  std::string rejected_by;
  /// Set only when RequestTraits::record was.
  std::optional<DecisionRecord> record;

  [[nodiscard]] bool picked() const { return peer.has_value(); }
  /// OK when a peer was chosen, else `code` with `reason` as the message.
  [[nodiscard]] Status status() const;
};

/// Keeps the candidates a request may go to. Implementations are immutable after construction,
/// hence thread-safe: any number of threads may call Apply at once.
class Filter {
 public:
  virtual ~Filter();
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  Filter(Filter&&) = delete;
  Filter& operator=(Filter&&) = delete;

  /// A short stable name ("health", "steps_labels", ...), used in decisions and records.
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// The code of a decision this filter leaves without candidates: kUnavailable (no eligible
  /// peer), or kResourceExhausted for an admission filter (every eligible peer is full).
  [[nodiscard]] virtual StatusCode rejection_code() const { return StatusCode::kUnavailable; }
  /// Removes from `candidates` (indices into `snapshot.peers()`, ascending) every peer that cannot
  /// serve `traits`, keeping the order of the rest.
  virtual void Apply(const PeerSnapshot& snapshot, const RequestTraits& traits,
                     std::vector<std::size_t>& candidates) const = 0;

 protected:
  Filter() = default;
};

/// Chooses one peer among candidates. Implementations may keep small internal state (a counter,
/// a random source, a cache keyed by snapshot version) but must be thread-safe: any number of
/// threads may call Pick at once, and no call holds a lock for more than a pointer copy.
class Picker {
 public:
  virtual ~Picker();
  Picker(const Picker&) = delete;
  Picker& operator=(const Picker&) = delete;
  Picker(Picker&&) = delete;
  Picker& operator=(Picker&&) = delete;

  /// The policy name it is registered under ("least_loaded", ...).
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Chooses one of `candidates` (non-empty indices into `snapshot.peers()`, ascending) and
  /// returns its index. When `record` is not null, appends the scores it compared to
  /// `record->scores`. kInvalidArgument when `traits` lack what the policy needs.
  [[nodiscard]] virtual Result<std::size_t> Pick(const PeerSnapshot& snapshot,
                                                 const RequestTraits& traits,
                                                 std::span<const std::size_t> candidates,
                                                 DecisionRecord* record) const = 0;

 protected:
  Picker() = default;
};

}  // namespace blazen::client::pool
