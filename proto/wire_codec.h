// SPDX-License-Identifier: Apache-2.0
#pragma once
// Hand-written protobuf framing of the two deref replies that carry payload bytes. The peer sends
// them as a header slice plus the payload bytes as a slice of their own, so no payload is ever
// copied into a protobuf message; these functions produce the header bytes. They are the only
// place that knows the field numbers of `DerefChunk` and `PostcardResponse` outside the generated
// code, and proto/wire_codec_test checks them against the generated parser.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace blazen::proto_wire {

/// Appends `value` as a protobuf base-128 varint.
void AppendVarint(std::string& out, std::uint64_t value);

/// The encoded `total_size` (3) and `type_tag` (4) fields of DerefChunk: the same for every chunk
/// of one stream, so a stream encodes them once.
[[nodiscard]] std::string EncodeDerefChunkConstantFields(std::uint64_t total_size,
                                                         std::string_view type_tag);

/// A DerefChunk message up to its data bytes: `offset` (1), `constant_fields` (from
/// EncodeDerefChunkConstantFields), then the tag and length of `data` (2) for `data_size` bytes.
/// Followed on the wire by exactly `data_size` payload bytes, the result parses as
/// DerefChunk{offset, data, total_size, type_tag}.
[[nodiscard]] std::string EncodeDerefChunkHeader(std::uint64_t offset,
                                                 std::string_view constant_fields,
                                                 std::size_t data_size);

/// A PostcardResponse whose `postcard_payload` (1) is the postcard DerefResponse
/// {envelope_version, payload}, up to the payload bytes. Followed by exactly `payload_size` bytes.
[[nodiscard]] std::string EncodePostcardDerefResponseHeader(std::uint32_t envelope_version,
                                                            std::size_t payload_size);

}  // namespace blazen::proto_wire
