// SPDX-License-Identifier: Apache-2.0
#pragma once
// postcard 1.x codec of the wire types: the payload format inside every upstream-compatible gRPC
// envelope (spec section 2.1). Both directions are byte-compatible with upstream's serde/postcard.
//
// Encoding: struct fields in declaration order; unsigned integers as LEB128 varints; bool as one
// byte; Option as a 0/1 tag then the value; strings and byte strings as a varint length then the
// bytes; sequences and maps as a varint count then the items; UUIDs as 16-byte byte strings. Maps
// are written in key order (upstream's order is random; any order decodes).
//
// Decoding: never reads past the input and never allocates more than the input can justify (a
// length or count larger than the remaining input fails before any allocation). Trailing bytes
// after a complete value are ignored, as upstream does, so a newer writer may append fields. The
// envelope version is checked as soon as it is read, before the rest is decoded: a newer version
// is FAILED_PRECONDITION even when the remainder has a layout this build cannot read.

#include <cstdint>
#include <span>
#include <string_view>

#include "core/status.h"
#include "core/wire_types.h"

namespace blazen {

/// Postcard's own decode error variants (postcard 1.1.3 `Error`), with their upstream texts.
enum class PostcardError : std::uint8_t {
  kUnexpectedEnd,  ///< "Hit the end of buffer, expected more data"
  kBadVarint,      ///< "Found a varint that didn't terminate. Is the usize too big for this ..."
  kBadBool,        ///< "Found a bool that wasn't 0 or 1"
  kBadUtf8,        ///< "Tried to parse invalid utf-8"
  kBadOption,      ///< "Found an Option discriminant that wasn't 0 or 1"
  kSerdeCustom,    ///< "Serde Deserialization Error" (e.g. a UUID that is not 16 bytes)
};

/// The upstream Display text of `error`.
[[nodiscard]] std::string_view PostcardErrorText(PostcardError error);

/// Bytes of a payload to decode. gRPC hands payloads over as std::string; use AsBytes for those.
using ByteSpan = std::span<const std::uint8_t>;
[[nodiscard]] inline ByteSpan AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

/// Encodes a wire value. Fails with kInvalidArgument (kind kEncode, message
/// `postcard encode failed: ...` naming the field) only when a String field holds invalid UTF-8,
/// which upstream's String type cannot represent.
[[nodiscard]] Result<ByteVector> EncodePostcard(const SubWorkflowRequest& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const SubWorkflowResponse& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const RemoteRefDescriptor& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const DerefRequest& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const DerefResponse& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const ReleaseRequest& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const ReleaseResponse& value);
[[nodiscard]] Result<ByteVector> EncodePostcard(const SubWorkflowEvent& value);

/// Decoders. Failures:
/// - kInvalidArgument, kind kEncode: malformed payload. The message is upstream's
///   `postcard decode failed: <postcard text>` followed by where it failed, e.g.
///   ` (at SubWorkflowRequest.step_ids[1], byte 7)`.
/// - kFailedPrecondition, kind kEnvelopeVersion: the envelope version (or that of a nested
///   response) is newer than kEnvelopeVersion (`envelope version N is newer than supported 1`).
[[nodiscard]] Result<SubWorkflowRequest> DecodeSubWorkflowRequest(ByteSpan bytes);
[[nodiscard]] Result<SubWorkflowResponse> DecodeSubWorkflowResponse(ByteSpan bytes);
[[nodiscard]] Result<RemoteRefDescriptor> DecodeRemoteRefDescriptor(ByteSpan bytes);
[[nodiscard]] Result<DerefRequest> DecodeDerefRequest(ByteSpan bytes);
[[nodiscard]] Result<DerefResponse> DecodeDerefResponse(ByteSpan bytes);
[[nodiscard]] Result<ReleaseRequest> DecodeReleaseRequest(ByteSpan bytes);
[[nodiscard]] Result<ReleaseResponse> DecodeReleaseResponse(ByteSpan bytes);
[[nodiscard]] Result<SubWorkflowEvent> DecodeSubWorkflowEvent(ByteSpan bytes);

}  // namespace blazen
