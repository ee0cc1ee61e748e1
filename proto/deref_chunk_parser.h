// SPDX-License-Identifier: Apache-2.0
#pragma once
// The receive side of the streaming deref (the send side is wire_codec.h): a parser of the DerefChunk protobuf wire format that
// reads the message straight from the slices gRPC received it in, without a protobuf parse and
// without copying the payload: the parsed chunk points into those slices, and the client copies
// each piece once, into the sink.
//
//   message DerefChunk { uint64 offset = 1; bytes data = 2; uint64 total_size = 3;
//                        string type_tag = 4; }

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace blazen::proto_wire {

/// A view of contiguous bytes (one received slice, or part of one).
using ByteSpan = std::span<const std::uint8_t>;

/// One parsed DerefChunk. `data` points into the segments given to ParseDerefChunk and is valid
/// only as long as they are. Value type; thread-compatible.
struct DerefChunkView {
  std::uint64_t offset = 0;
  std::uint64_t total_size = 0;
  std::string type_tag;
  /// The `data` field as consecutive pieces (one per segment it spans; never empty pieces).
  std::vector<ByteSpan> data;
  /// Sum of the pieces' sizes.
  std::uint64_t data_size = 0;
};

/// Parses one serialized DerefChunk given as consecutive `segments` (a message may arrive split
/// across several slices at any byte, tags and varints included). Follows protobuf semantics:
/// fields in any order; a repeated scalar field keeps its last value; unknown fields (and known
/// fields with an unexpected wire type) are skipped; missing fields are zero/empty.
/// Returns kDataLoss, message `malformed DerefChunk: <what> at byte <n>`, for a truncated message,
/// a varint longer than 10 bytes, a field number 0, a group or reserved wire type, a length past
/// the end, or a type_tag that is not UTF-8. Never reads outside the segments. Thread-safe.
[[nodiscard]] Result<DerefChunkView> ParseDerefChunk(std::span<const ByteSpan> segments);

}  // namespace blazen::proto_wire
