// SPDX-License-Identifier: Apache-2.0
// The DerefChunk wire parser of the streaming-deref receive path: agreement with protobuf's own
// serializer, any field order, unknown fields, messages split across slices at every byte, and a
// clean kDataLoss for malformed input.

#include "proto/deref_chunk_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "blazen/peer/v1/blazen_peer.pb.h"
#include "tests/testing/status_matchers.h"

namespace blazen::proto_wire {
namespace {

using ::blazen::testing::StatusIs;
using Bytes = std::vector<std::uint8_t>;

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

void AppendVarint(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

void AppendTag(Bytes& out, std::uint32_t field, std::uint32_t wire_type) {
  AppendVarint(out, (std::uint64_t{field} << 3) | wire_type);
}

void AppendBytesField(Bytes& out, std::uint32_t field, const Bytes& value) {
  AppendTag(out, field, 2);
  AppendVarint(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
}

void AppendVarintField(Bytes& out, std::uint32_t field, std::uint64_t value) {
  AppendTag(out, field, 0);
  AppendVarint(out, value);
}

Bytes Payload(std::size_t n, std::uint8_t seed = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 7 + seed) % 256);
  return b;
}

Result<DerefChunkView> ParseOne(const Bytes& bytes) {
  const ByteSpan segment(bytes);
  return ParseDerefChunk(std::span<const ByteSpan>(&segment, 1));
}

Bytes Concat(const std::vector<ByteSpan>& pieces) {
  Bytes out;
  for (const ByteSpan& p : pieces) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(DerefChunkParseTest, MatchesProtobufSerialization) {
  ::blazen::peer::v1::DerefChunk message;
  const Bytes data = Payload(1000);
  message.set_offset(1234567890123ULL);
  message.set_data(std::string(data.begin(), data.end()));
  message.set_total_size(9876543210ULL);
  message.set_type_tag("tensor.npy");
  const Bytes wire = ToBytes(message.SerializeAsString());

  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefChunkView chunk, ParseOne(wire));
  EXPECT_EQ(chunk.offset, 1234567890123ULL);
  EXPECT_EQ(chunk.total_size, 9876543210ULL);
  EXPECT_EQ(chunk.type_tag, "tensor.npy");
  EXPECT_EQ(chunk.data_size, data.size());
  ASSERT_EQ(chunk.data.size(), 1u);
  // Zero copy: the data piece points into the input.
  EXPECT_GE(chunk.data[0].data(), wire.data());
  EXPECT_LT(chunk.data[0].data(), wire.data() + wire.size());
  EXPECT_EQ(Concat(chunk.data), data);
}

TEST(DerefChunkParseTest, EmptyMessageIsAllDefaults) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefChunkView chunk, ParseDerefChunk({}));
  EXPECT_EQ(chunk.offset, 0u);
  EXPECT_EQ(chunk.total_size, 0u);
  EXPECT_TRUE(chunk.type_tag.empty());
  EXPECT_TRUE(chunk.data.empty());
  EXPECT_EQ(chunk.data_size, 0u);
}

TEST(DerefChunkParseTest, AcceptsFieldsInAnyOrder) {
  const Bytes data = Payload(300);
  Bytes wire;
  AppendBytesField(wire, 4, ToBytes("bytes"));
  AppendVarintField(wire, 3, 5000);
  AppendBytesField(wire, 2, data);
  AppendVarintField(wire, 1, 4096);
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefChunkView chunk, ParseOne(wire));
  EXPECT_EQ(chunk.offset, 4096u);
  EXPECT_EQ(chunk.total_size, 5000u);
  EXPECT_EQ(chunk.type_tag, "bytes");
  EXPECT_EQ(Concat(chunk.data), data);
}

TEST(DerefChunkParseTest, SkipsUnknownFieldsOfEveryWireType) {
  const Bytes data = Payload(64);
  Bytes wire;
  AppendVarintField(wire, 9, 77);  // unknown varint
  AppendTag(wire, 10, 1);          // unknown fixed64
  for (int i = 0; i < 8; ++i) wire.push_back(0xEE);
  AppendBytesField(wire, 2, data);
  AppendBytesField(wire, 1000, Payload(20, 3));  // unknown length-delimited
  AppendTag(wire, 11, 5);                        // unknown fixed32
  for (int i = 0; i < 4; ++i) wire.push_back(0xDD);
  AppendVarintField(wire, 1, 8);
  AppendBytesField(wire, 1, Payload(5));  // known field number, unexpected wire type: skipped
  AppendVarintField(wire, 3, 100);
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefChunkView chunk, ParseOne(wire));
  EXPECT_EQ(chunk.offset, 8u);
  EXPECT_EQ(chunk.total_size, 100u);
  EXPECT_EQ(Concat(chunk.data), data);
}

TEST(DerefChunkParseTest, RepeatedFieldKeepsTheLastValue) {
  Bytes wire;
  AppendVarintField(wire, 1, 5);
  AppendBytesField(wire, 2, Payload(10, 1));
  AppendVarintField(wire, 1, 6);
  AppendBytesField(wire, 2, Payload(4, 2));
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefChunkView chunk, ParseOne(wire));
  EXPECT_EQ(chunk.offset, 6u);
  EXPECT_EQ(Concat(chunk.data), Payload(4, 2));
  EXPECT_EQ(chunk.data_size, 4u);
}

TEST(DerefChunkParseTest, MessageSplitAcrossSlicesAtEveryByte) {
  ::blazen::peer::v1::DerefChunk message;
  const Bytes data = Payload(200, 9);
  message.set_offset(300);  // two-byte varint
  message.set_data(std::string(data.begin(), data.end()));
  message.set_total_size(70000);  // three-byte varint
  message.set_type_tag("bytes");
  const Bytes wire = ToBytes(message.SerializeAsString());
  for (std::size_t cut1 = 0; cut1 <= wire.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= wire.size(); cut2 += 7) {
      // Three slices (some possibly empty) plus an empty one in the middle.
      const std::vector<ByteSpan> segments = {ByteSpan(wire.data(), cut1), ByteSpan(),
                                              ByteSpan(wire.data() + cut1, cut2 - cut1),
                                              ByteSpan(wire.data() + cut2, wire.size() - cut2)};
      Result<DerefChunkView> chunk = ParseDerefChunk(segments);
      ASSERT_TRUE(chunk.ok()) << "cuts " << cut1 << "," << cut2 << ": " << chunk.status();
      EXPECT_EQ(chunk->offset, 300u);
      EXPECT_EQ(chunk->total_size, 70000u);
      EXPECT_EQ(chunk->type_tag, "bytes");
      EXPECT_EQ(chunk->data_size, data.size());
      for (const ByteSpan& piece : chunk->data) EXPECT_FALSE(piece.empty());
      ASSERT_EQ(Concat(chunk->data), data) << "cuts " << cut1 << "," << cut2;
    }
  }
}

TEST(DerefChunkParseTest, DataSpanningSlicesComesBackAsSeveralPieces) {
  Bytes wire;
  const Bytes data = Payload(100);
  AppendBytesField(wire, 2, data);  // tag + 1-byte length, data starts at byte 2
  const std::vector<ByteSpan> segments = {ByteSpan(wire.data(), 30), ByteSpan(wire.data() + 30, 50),
                                          ByteSpan(wire.data() + 80, wire.size() - 80)};
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefChunkView chunk, ParseDerefChunk(segments));
  ASSERT_EQ(chunk.data.size(), 3u);
  EXPECT_EQ(chunk.data[0].size(), 28u);
  EXPECT_EQ(chunk.data[1].size(), 50u);
  EXPECT_EQ(chunk.data[2].size(), 22u);
  EXPECT_EQ(Concat(chunk.data), data);
}

TEST(DerefChunkParseTest, EveryTruncationFailsCleanly) {
  ::blazen::peer::v1::DerefChunk message;
  message.set_offset(1ULL << 40);
  message.set_data(std::string(50, 'x'));
  message.set_total_size(1ULL << 41);
  message.set_type_tag("tensor.npy");
  const Bytes wire = ToBytes(message.SerializeAsString());
  // Cutting inside a field fails; cutting exactly between fields yields a shorter valid message.
  int failures = 0;
  for (std::size_t n = 0; n < wire.size(); ++n) {
    const Bytes prefix(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    Result<DerefChunkView> chunk = ParseOne(prefix);
    if (!chunk.ok()) {
      EXPECT_THAT(chunk, StatusIs(StatusCode::kDataLoss));
      ++failures;
    }
  }
  EXPECT_EQ(failures, static_cast<int>(wire.size()) - 4);  // 4 field boundaries incl. 0
}

TEST(DerefChunkParseTest, RejectsMalformedInput) {
  const auto expect_data_loss = [](const Bytes& wire, const char* what) {
    EXPECT_THAT(ParseOne(wire), StatusIs(StatusCode::kDataLoss)) << what;
  };
  expect_data_loss({0x08, 0x80}, "truncated varint");
  expect_data_loss({0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
                   "varint longer than 10 bytes");
  expect_data_loss({0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02},
                   "varint overflowing 64 bits");
  expect_data_loss({0x12, 0x05, 0x01, 0x02}, "length past the end");
  expect_data_loss({0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, "huge length");
  expect_data_loss({0x00, 0x01}, "field number 0");
  expect_data_loss({0x0B, 0x0C}, "group wire type");
  expect_data_loss({0x0E}, "reserved wire type 6");
  expect_data_loss({0x51, 0x01, 0x02}, "truncated fixed64");
  expect_data_loss({0x55, 0x01}, "truncated fixed32");
  expect_data_loss({0x22, 0x02, 0xC3, 0x28}, "type_tag not UTF-8");
}

TEST(DerefChunkParseTest, MalformedMessageNamesTheProblem) {
  Result<DerefChunkView> chunk = ParseOne({0x12, 0x05, 0x01});
  ASSERT_FALSE(chunk.ok());
  EXPECT_THAT(chunk.status().message(), ::testing::HasSubstr("malformed DerefChunk"));
}

}  // namespace
}  // namespace blazen::proto_wire
