// SPDX-License-Identifier: Apache-2.0
// DerefChunk wire-format parser over received slices.

#include "proto/deref_chunk_parser.h"

#include <algorithm>
#include <string_view>

#include "core/utf8.h"

namespace blazen::proto_wire {
namespace {

constexpr std::uint32_t kWireVarint = 0;
constexpr std::uint32_t kWireFixed64 = 1;
constexpr std::uint32_t kWireLengthDelimited = 2;
constexpr std::uint32_t kWireFixed32 = 5;

// A read cursor over a sequence of segments that behaves like one contiguous buffer.
class SegmentCursor {
 public:
  explicit SegmentCursor(std::span<const ByteSpan> segments) : segments_(segments) {
    for (const ByteSpan& s : segments) remaining_ += s.size();
    SkipEmpty();
  }

  [[nodiscard]] bool at_end() const { return remaining_ == 0; }
  [[nodiscard]] std::uint64_t remaining() const { return remaining_; }
  [[nodiscard]] std::uint64_t position() const { return position_; }

  // Precondition: !at_end().
  std::uint8_t ReadByte() {
    const std::uint8_t byte = segments_[segment_][offset_];
    Advance(1);
    return byte;
  }

  // Appends the next `n` bytes (n <= remaining()) to `pieces` as spans into the segments.
  void Take(std::uint64_t n, std::vector<ByteSpan>& pieces) {
    while (n > 0) {
      const ByteSpan& s = segments_[segment_];
      const std::size_t len = static_cast<std::size_t>(
          std::min<std::uint64_t>(n, static_cast<std::uint64_t>(s.size() - offset_)));
      pieces.push_back(s.subspan(offset_, len));
      Advance(len);
      n -= len;
    }
  }

  // Skips the next `n` bytes (n <= remaining()).
  void Skip(std::uint64_t n) {
    while (n > 0) {
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(
          n, static_cast<std::uint64_t>(segments_[segment_].size() - offset_)));
      Advance(len);
      n -= len;
    }
  }

 private:
  void Advance(std::size_t n) {
    offset_ += n;
    remaining_ -= n;
    position_ += n;
    SkipEmpty();
  }
  // Moves past exhausted and empty segments so that, unless at the end, offset_ is readable.
  void SkipEmpty() {
    while (segment_ < segments_.size() && offset_ == segments_[segment_].size()) {
      ++segment_;
      offset_ = 0;
    }
  }

  std::span<const ByteSpan> segments_;
  std::size_t segment_ = 0;
  std::size_t offset_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t position_ = 0;
};

Status Malformed(std::string_view what, std::uint64_t at) {
  return Status::DataLoss("malformed DerefChunk: " + std::string(what) + " at byte " +
                          std::to_string(at));
}

// Reads a base-128 varint (at most 10 bytes; the 10th may only carry the top bit of a uint64).
Status ReadVarint(SegmentCursor& in, std::uint64_t& value) {
  const std::uint64_t start = in.position();
  value = 0;
  for (int i = 0; i < 10; ++i) {
    if (in.at_end()) return Malformed("truncated varint", start);
    const std::uint8_t byte = in.ReadByte();
    if (i == 9 && byte > 1) return Malformed("varint overflows 64 bits", start);
    value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) return Status::Ok();
  }
  return Malformed("varint longer than 10 bytes", start);
}

// Reads the length prefix of a length-delimited field and checks it against what is left.
Status ReadLength(SegmentCursor& in, std::uint64_t& length) {
  const std::uint64_t start = in.position();
  BLAZEN_RETURN_IF_ERROR(ReadVarint(in, length));
  if (length > in.remaining()) return Malformed("length past the end of the message", start);
  return Status::Ok();
}

Status SkipField(SegmentCursor& in, std::uint32_t wire_type, std::uint64_t tag_at) {
  switch (wire_type) {
    case kWireVarint: {
      std::uint64_t ignored = 0;
      return ReadVarint(in, ignored);
    }
    case kWireFixed64:
      if (in.remaining() < 8) return Malformed("truncated fixed64 field", tag_at);
      in.Skip(8);
      return Status::Ok();
    case kWireLengthDelimited: {
      std::uint64_t length = 0;
      BLAZEN_RETURN_IF_ERROR(ReadLength(in, length));
      in.Skip(length);
      return Status::Ok();
    }
    case kWireFixed32:
      if (in.remaining() < 4) return Malformed("truncated fixed32 field", tag_at);
      in.Skip(4);
      return Status::Ok();
    default:
      // Groups (3, 4) never appear in proto3 messages; 6 and 7 are invalid.
      return Malformed("unsupported wire type " + std::to_string(wire_type), tag_at);
  }
}

}  // namespace

Result<DerefChunkView> ParseDerefChunk(std::span<const ByteSpan> segments) {
  SegmentCursor in(segments);
  DerefChunkView chunk;
  while (!in.at_end()) {
    const std::uint64_t tag_at = in.position();
    std::uint64_t key = 0;
    BLAZEN_RETURN_IF_ERROR(ReadVarint(in, key));
    const std::uint64_t field = key >> 3;
    const auto wire_type = static_cast<std::uint32_t>(key & 7);
    if (field == 0 || field > 0x1FFFFFFF) return Malformed("invalid field number", tag_at);
    if (field == 1 && wire_type == kWireVarint) {
      BLAZEN_RETURN_IF_ERROR(ReadVarint(in, chunk.offset));
    } else if (field == 3 && wire_type == kWireVarint) {
      BLAZEN_RETURN_IF_ERROR(ReadVarint(in, chunk.total_size));
    } else if (field == 2 && wire_type == kWireLengthDelimited) {
      std::uint64_t length = 0;
      BLAZEN_RETURN_IF_ERROR(ReadLength(in, length));
      chunk.data.clear();  // A repeated singular field: the last occurrence wins.
      in.Take(length, chunk.data);
      chunk.data_size = length;
    } else if (field == 4 && wire_type == kWireLengthDelimited) {
      std::uint64_t length = 0;
      BLAZEN_RETURN_IF_ERROR(ReadLength(in, length));
      std::vector<ByteSpan> pieces;
      in.Take(length, pieces);
      chunk.type_tag.clear();
      chunk.type_tag.reserve(static_cast<std::size_t>(length));
      for (const ByteSpan& piece : pieces) {
        chunk.type_tag.append(reinterpret_cast<const char*>(piece.data()), piece.size());
      }
      if (!IsValidUtf8(chunk.type_tag)) return Malformed("type_tag is not UTF-8", tag_at);
    } else {
      BLAZEN_RETURN_IF_ERROR(SkipField(in, wire_type, tag_at));
    }
  }
  return chunk;
}

}  // namespace blazen::proto_wire
