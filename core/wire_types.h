// SPDX-License-Identifier: Apache-2.0
#pragma once
// The wire types of the peer protocol (upstream `protocol.rs`, spec section 1.4) as plain C++ value
// types. Field order is the postcard order; do not reorder. The codecs are in core/postcard.h
// (gRPC envelopes) and core/json_codec.h (HTTP/JSON). No transport headers here.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/uuid.h"

namespace blazen {

/// The envelope version this build writes and the newest one it reads. Requests with a newer
/// version are rejected with FAILED_PRECONDITION; older versions are accepted.
inline constexpr std::uint32_t kEnvelopeVersion = 1;

/// Opaque bytes (DerefResponse payloads). Fields that hold JSON text use std::string instead: they
/// are byte strings on the wire too, but callers parse them as text.
using ByteVector = std::vector<std::uint8_t>;

/// A parent's request to run a sub-workflow on a peer.
struct SubWorkflowRequest {
  std::uint32_t envelope_version = kEnvelopeVersion;
  /// Workflow name; with empty `step_ids` it selects the peer's default steps for this workflow.
  std::string workflow_name;
  /// Registered step ids to assemble the workflow from (routing is by event type, not order).
  std::vector<std::string> step_ids;
  /// UTF-8 JSON text of the StartEvent data. A byte string on the wire (serde_bytes).
  std::string input_json;
  /// Deadline of the run in seconds; none means the peer's default deadline.
  std::optional<std::uint64_t> timeout_secs;

  friend bool operator==(const SubWorkflowRequest&, const SubWorkflowRequest&) = default;
};

/// Describes a session ref that stays on the peer after the run, for the parent to deref later.
struct RemoteRefDescriptor {
  std::string origin_node_id;
  std::string type_tag;
  /// Real creation time of the ref, milliseconds since the Unix epoch.
  std::uint64_t created_at_epoch_ms = 0;

  friend bool operator==(const RemoteRefDescriptor&, const RemoteRefDescriptor&) = default;
};

/// The outcome of a sub-workflow run. When `error` is set, callers ignore the other fields.
struct SubWorkflowResponse {
  std::uint32_t envelope_version = kEnvelopeVersion;
  /// Exported context state: key -> JSON text (a sequence of u8 on the wire, not serde_bytes: the
  /// postcard bytes are identical, the JSON codec accepts only arrays for these values).
  std::map<std::string, std::string> state_json;
  /// JSON text of the StopEvent result. Always emitted by the JSON codec (null when absent).
  std::optional<std::string> result_json;
  /// Refs created by this run that outlive it.
  std::map<Uuid, RemoteRefDescriptor> remote_refs;
  /// Workflow-level failure message.
  std::optional<std::string> error;

  /// The upstream `SubWorkflowResponse::err(msg)`: empty maps, no result, `error = msg`.
  [[nodiscard]] static SubWorkflowResponse Error(std::string message) {
    SubWorkflowResponse response;
    response.error = std::move(message);
    return response;
  }

  friend bool operator==(const SubWorkflowResponse&, const SubWorkflowResponse&) = default;
};

/// Asks a peer for the serialized bytes of one session ref (whole payload in one message).
struct DerefRequest {
  std::uint32_t envelope_version = kEnvelopeVersion;
  Uuid ref_uuid;

  friend bool operator==(const DerefRequest&, const DerefRequest&) = default;
};

struct DerefResponse {
  std::uint32_t envelope_version = kEnvelopeVersion;
  ByteVector payload;

  friend bool operator==(const DerefResponse&, const DerefResponse&) = default;
};

/// Asks a peer to drop one session ref.
struct ReleaseRequest {
  std::uint32_t envelope_version = kEnvelopeVersion;
  Uuid ref_uuid;

  friend bool operator==(const ReleaseRequest&, const ReleaseRequest&) = default;
};

struct ReleaseResponse {
  std::uint32_t envelope_version = kEnvelopeVersion;
  /// True when this call removed the ref; false when it was already gone.
  bool released = false;

  friend bool operator==(const ReleaseResponse&, const ReleaseResponse&) = default;
};

/// Asks a peer to drop every UntilParentFinish ref of one parent run (extension: the gRPC
/// ReleaseScope RPC and POST /v1/peer/release_scope).
struct ReleaseScopeRequest {
  std::uint32_t envelope_version = kEnvelopeVersion;
  std::string parent_run_id;

  friend bool operator==(const ReleaseScopeRequest&, const ReleaseScopeRequest&) = default;
};

/// One item of the StreamSubWorkflowEvents stream (declared only in upstream's proto comments; this
/// is our definition, documented in blazen_peer.proto): one item per event the run emits, the last
/// one carrying the final response.
struct SubWorkflowEvent {
  std::uint32_t envelope_version = kEnvelopeVersion;
  /// The event's type, e.g. `blazen::StopEvent`.
  std::string event_type;
  /// Id of the step that emitted the event (empty for the start event).
  std::string step_id;
  /// JSON text of the event payload (a byte string on the wire).
  std::string data_json;
  /// When the event was emitted, milliseconds since the Unix epoch.
  std::uint64_t timestamp_ms = 0;
  /// Set on the last item only: the run's final response.
  std::optional<SubWorkflowResponse> response;

  friend bool operator==(const SubWorkflowEvent&, const SubWorkflowEvent&) = default;
};

}  // namespace blazen
