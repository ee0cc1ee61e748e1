// SPDX-License-Identifier: Apache-2.0
// The hand-written framing of the zero-copy deref replies, checked against the generated protobuf
// parser (and the postcard decoder), and the DescribePeer conversions round trip.

#include "proto/wire_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "blazen/peer/v1/blazen_peer.pb.h"
#include "core/peer_description.h"
#include "core/postcard.h"
#include "proto/proto_convert.h"

namespace blazen {
namespace {

namespace pb = ::blazen::peer::v1;

std::string Payload(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(WireCodecTest, VarintsMatchProtobufs) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, (1ull << 32) - 1,
                          1ull << 35, ~0ull}) {
    std::string ours;
    proto_wire::AppendVarint(ours, v);
    pb::DerefChunk reference;
    reference.set_offset(v);
    // offset is field 1 (tag byte 0x08) followed by the varint.
    EXPECT_EQ(reference.SerializeAsString(), v == 0 ? std::string() : "\x08" + ours) << v;
  }
}

TEST(WireCodecTest, DerefChunkParsesWithTheGeneratedParser) {
  for (const std::string& tag :
       std::vector<std::string>{"", "bytes", "tensor.npy", std::string(200, 't')}) {
    for (std::uint64_t offset : {0ull, 1ull, 4096ull, 1ull << 40}) {
      for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{127}, std::size_t{128},
                            std::size_t{70000}}) {
        const std::uint64_t total = offset + n + 17;
        const std::string constant = proto_wire::EncodeDerefChunkConstantFields(total, tag);
        const std::string data = Payload(n, static_cast<unsigned>(offset + n));
        const std::string wire = proto_wire::EncodeDerefChunkHeader(offset, constant, n) + data;
        pb::DerefChunk chunk;
        ASSERT_TRUE(chunk.ParseFromString(wire)) << offset << " " << n;
        EXPECT_EQ(chunk.offset(), offset);
        EXPECT_EQ(chunk.data(), data);
        EXPECT_EQ(chunk.total_size(), total);
        EXPECT_EQ(chunk.type_tag(), tag);
      }
    }
  }
}

TEST(WireCodecTest, UnaryDerefResponseParsesAsPostcardInProtobuf) {
  for (std::size_t n :
       {std::size_t{0}, std::size_t{5}, std::size_t{127}, std::size_t{128}, std::size_t{1} << 20}) {
    const std::string payload = Payload(n, static_cast<unsigned>(n));
    const std::string wire = proto_wire::EncodePostcardDerefResponseHeader(1, n) + payload;
    pb::PostcardResponse envelope;
    ASSERT_TRUE(envelope.ParseFromString(wire)) << n;
    Result<DerefResponse> decoded = DecodeDerefResponse(AsBytes(envelope.postcard_payload()));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->envelope_version, 1u);
    ASSERT_EQ(decoded->payload.size(), n);
    EXPECT_TRUE(
        std::equal(payload.begin(), payload.end(), decoded->payload.begin(),
                   [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }));
    // Byte for byte what the codec itself would produce for the same response.
    Result<ByteVector> reference = EncodePostcard(*decoded);
    ASSERT_TRUE(reference.ok());
    EXPECT_EQ(envelope.postcard_payload().size(), reference->size());
  }
}

TEST(ProtoConvertTest, DescriptionRoundTrips) {
  PeerDescription d;
  d.node_id = "n1";
  d.envelope_version = 1;
  d.version = "0.1.0";
  d.step_ids = {"a", "b"};
  d.default_workflows = {{"embed", {"blazen::embed"}}, {"echo", {"blazen::echo", "x"}}};
  d.devices = {{"host", "host fallback", 1, 2, 3}, {"cuda:0", "GPU", 4, 5, 6}};
  d.live_refs = {{"until_parent_finish", "host", 7, 8}};
  pb::DescribePeerResponse message;
  proto_convert::ToProto(d, message);
  EXPECT_EQ(message.devices(1).pool_in_use_bytes(), 6u);
  EXPECT_EQ(PeerDescriptionToJson(proto_convert::FromProto(message)), PeerDescriptionToJson(d));
}

}  // namespace
}  // namespace blazen
