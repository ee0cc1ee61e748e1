// SPDX-License-Identifier: Apache-2.0
// Protobuf framing of DerefChunk and of the unary deref's PostcardResponse (see wire_codec.h).

#include "proto/wire_codec.h"

namespace blazen::proto_wire {
namespace {

// Field keys: (field_number << 3) | wire_type, wire type 0 = varint, 2 = length-delimited.
constexpr char kChunkOffset = 0x08;      // DerefChunk.offset = 1, varint
constexpr char kChunkData = 0x12;        // DerefChunk.data = 2, bytes
constexpr char kChunkTotalSize = 0x18;   // DerefChunk.total_size = 3, varint
constexpr char kChunkTypeTag = 0x22;     // DerefChunk.type_tag = 4, string
constexpr char kPostcardPayload = 0x0A;  // PostcardResponse.postcard_payload = 1, bytes

}  // namespace

void AppendVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

std::string EncodeDerefChunkConstantFields(std::uint64_t total_size, std::string_view type_tag) {
  std::string out;
  out.push_back(kChunkTotalSize);
  AppendVarint(out, total_size);
  out.push_back(kChunkTypeTag);
  AppendVarint(out, type_tag.size());
  out.append(type_tag);
  return out;
}

std::string EncodeDerefChunkHeader(std::uint64_t offset, std::string_view constant_fields,
                                   std::size_t data_size) {
  std::string out;
  out.reserve(24 + constant_fields.size());
  out.push_back(kChunkOffset);
  AppendVarint(out, offset);
  out.append(constant_fields);
  out.push_back(kChunkData);
  AppendVarint(out, data_size);
  return out;
}

std::string EncodePostcardDerefResponseHeader(std::uint32_t envelope_version,
                                              std::size_t payload_size) {
  // postcard DerefResponse: envelope_version as a varint, then payload as a length-prefixed
  // byte sequence (postcard varints are protobuf varints).
  std::string postcard;
  AppendVarint(postcard, envelope_version);
  AppendVarint(postcard, payload_size);
  std::string out;
  out.push_back(kPostcardPayload);
  AppendVarint(out, postcard.size() + payload_size);
  out += postcard;
  return out;
}

}  // namespace blazen::proto_wire
