// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP/JSON encoding of the wire types: byte for byte what upstream's serde_json produces (spec
// section 2.3), and decoders as lenient as upstream's. The HTTP transport encodes and decodes its
// bodies here; the JSON helpers at the end build and read the JSON texts inside the byte fields.
//
// Shape: compact, fields in declaration order, every byte field an array of integers 0-255, UUIDs
// (values and map keys) lowercase hyphenated, None as null, `result_json` always present.
// A SubWorkflowEvent (our stream item) is `{"envelope_version","event_type","step_id",
// "data_json":[..],"timestamp_ms","response":null|{SubWorkflowResponse}}`.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/wire_types.h"

namespace blazen {

/// Encodes a wire value as compact JSON text, as upstream's serde_json does.
///
/// Returns kInvalidArgument (kind kEncode) naming the field when a String field (workflow name,
/// step ids, state keys, error, node ids, type tags, event type, step id) is not valid UTF-8: the
/// Rust peer cannot represent it. The JSON text inside byte fields is not inspected. Thread-safe.
[[nodiscard]] Result<std::string> EncodeJson(const SubWorkflowRequest& value);
[[nodiscard]] Result<std::string> EncodeJson(const SubWorkflowResponse& value);
[[nodiscard]] Result<std::string> EncodeJson(const RemoteRefDescriptor& value);
[[nodiscard]] Result<std::string> EncodeJson(const DerefRequest& value);
[[nodiscard]] Result<std::string> EncodeJson(const DerefResponse& value);
[[nodiscard]] Result<std::string> EncodeJson(const ReleaseRequest& value);
[[nodiscard]] Result<std::string> EncodeJson(const ReleaseResponse& value);
[[nodiscard]] Result<std::string> EncodeJson(const SubWorkflowEvent& value);

/// Decoders, one per type, accepting what upstream's serde_json accepts (spec section 2.3):
/// - the text is parsed with ParseJson's depth limit; the top level must be an object;
/// - unknown fields are ignored; a missing non-Option field is an error, a missing `timeout_secs`,
///   `error` or `response` is none, but a missing `result_json` is an error (as upstream);
/// - byte fields are arrays of integers 0-255; `input_json`, `result_json`, `payload` and
///   `data_json` may also be a string (the bytes are its UTF-8), `state_json` values may not;
/// - UUIDs are strings in any form Uuid::Parse accepts; integers must be non-negative and fit the
///   field; bools must be JSON bools.
/// The envelope version is checked as soon as it is read, so a newer version fails with
/// CheckEnvelopeVersion's kFailedPrecondition (kind kEnvelopeVersion) even when the rest would not
/// decode; older versions are accepted. Every other failure is kInvalidArgument with kind kEncode
/// and a message starting `json decode failed: ` that names the field path (for example
/// `remote_refs.<uuid>.created_at_epoch_ms` or `input_json[3]`). The JSON text inside byte fields
/// is not validated. Thread-safe.
[[nodiscard]] Result<SubWorkflowRequest> DecodeSubWorkflowRequestJson(std::string_view text);
[[nodiscard]] Result<SubWorkflowResponse> DecodeSubWorkflowResponseJson(std::string_view text);
[[nodiscard]] Result<RemoteRefDescriptor> DecodeRemoteRefDescriptorJson(std::string_view text);
[[nodiscard]] Result<DerefRequest> DecodeDerefRequestJson(std::string_view text);
[[nodiscard]] Result<DerefResponse> DecodeDerefResponseJson(std::string_view text);
[[nodiscard]] Result<ReleaseRequest> DecodeReleaseRequestJson(std::string_view text);
[[nodiscard]] Result<ReleaseResponse> DecodeReleaseResponseJson(std::string_view text);
[[nodiscard]] Result<SubWorkflowEvent> DecodeSubWorkflowEventJson(std::string_view text);
/// `{"envelope_version": <u32>, "parent_run_id": <string>}` (POST /v1/peer/release_scope).
[[nodiscard]] Result<ReleaseScopeRequest> DecodeReleaseScopeRequestJson(std::string_view text);

/// Upstream's `SubWorkflowRequest::new`: stamps kEnvelopeVersion and stores the compact JSON text
/// of `input` as `input_json`.
/// Returns kInvalidArgument when `workflow_name`, a step id or a string inside `input` is not valid
/// UTF-8. Thread-safe.
[[nodiscard]] Result<SubWorkflowRequest> MakeSubWorkflowRequest(
    std::string workflow_name, std::vector<std::string> step_ids, const nlohmann::json& input,
    std::optional<std::uint64_t> timeout_secs);

/// Parses `request.input_json` (depth-limited, see ParseJson).
/// Returns kInvalidArgument (kind kEncode) `invalid input JSON: ...` when it is not JSON.
[[nodiscard]] Result<nlohmann::json> InputValue(const SubWorkflowRequest& request);

/// Parses `response.result_json`; none when the response carries no result.
/// Returns kInvalidArgument (kind kEncode) `invalid result JSON: ...` when it is not JSON.
[[nodiscard]] Result<std::optional<nlohmann::json>> ResultValue(
    const SubWorkflowResponse& response);

/// Parses every value of `response.state_json`, keeping the keys.
/// Returns kInvalidArgument (kind kEncode) `invalid state JSON for key `k`: ...` for the first
/// value that is not JSON.
[[nodiscard]] Result<std::map<std::string, nlohmann::json>> StateValues(
    const SubWorkflowResponse& response);

}  // namespace blazen
