// SPDX-License-Identifier: Apache-2.0
// postcard codec: the spec's worked examples byte for byte (section 2.2) and randomized round
// trips.

#include "core/postcard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/detail/postcard_io.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const Uuid kUuid = Uuid::Parse("00112233-4455-6677-8899-aabbccddeeff").value();

ByteVector Hex(std::string_view hex) {
  ByteVector out;
  std::string digits;
  for (char c : hex) {
    if (c != ' ') digits.push_back(c);
  }
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

template <typename T>
ByteVector MustEncode(const T& value) {
  Result<ByteVector> r = EncodePostcard(value);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ByteVector{};
}

SubWorkflowRequest ExampleA() {
  SubWorkflowRequest req;
  req.workflow_name = "wf";
  req.step_ids = {"a", "bc"};
  req.input_json = R"({"x":1})";
  req.timeout_secs = 60;
  return req;
}

SubWorkflowResponse ExampleC() {
  SubWorkflowResponse resp;
  resp.state_json = {{"k", "42"}};
  resp.result_json = "\"ok\"";
  resp.remote_refs[kUuid] = RemoteRefDescriptor{"n1", "T", 1700000000000ULL};
  return resp;
}

// --- Spec section 2.2 worked examples ----------------------------------------------------------

TEST(PostcardSpecExampleTest, A_SubWorkflowRequest) {
  const ByteVector expected = Hex("01 02 77 66 02 01 61 02 62 63 07 7B 22 78 22 3A 31 7D 01 3C");
  EXPECT_THAT(MustEncode(ExampleA()), ElementsAreArray(expected));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowRequest decoded, DecodeSubWorkflowRequest(expected));
  EXPECT_EQ(decoded, ExampleA());
}

TEST(PostcardSpecExampleTest, B_NoTimeoutNoSteps) {
  SubWorkflowRequest req = ExampleA();
  req.step_ids.clear();
  req.timeout_secs.reset();
  const ByteVector expected = Hex("01 02 77 66 00 07 7B 22 78 22 3A 31 7D 00");
  EXPECT_THAT(MustEncode(req), ElementsAreArray(expected));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowRequest decoded, DecodeSubWorkflowRequest(expected));
  EXPECT_EQ(decoded, req);
}

TEST(PostcardSpecExampleTest, B_Varint300) {
  SubWorkflowRequest req;
  req.envelope_version = 300;
  req.workflow_name = "wf";
  req.input_json = "{}";
  req.timeout_secs = 300;
  EXPECT_THAT(MustEncode(req), ElementsAreArray(Hex("AC 02 02 77 66 00 02 7B 7D 01 AC 02")));
  // Version 300 is newer than this build: refused, and refused before the rest is read.
  EXPECT_THAT(
      DecodeSubWorkflowRequest(Hex("AC 02 02 77 66 00 02 7B 7D 01 AC 02")),
      StatusIs(StatusCode::kFailedPrecondition, "envelope version 300 is newer than supported 1"));
}

TEST(PostcardSpecExampleTest, C_SubWorkflowResponse) {
  const ByteVector expected = Hex(
      "01 01 01 6B 02 34 32 01 04 22 6F 6B 22 01 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE "
      "FF 02 6E 31 01 54 80 D0 95 FF BC 31 00");
  ASSERT_EQ(expected.size(), 43u);
  EXPECT_THAT(MustEncode(ExampleC()), ElementsAreArray(expected));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse decoded, DecodeSubWorkflowResponse(expected));
  EXPECT_EQ(decoded, ExampleC());
}

TEST(PostcardSpecExampleTest, C_ErrorResponse) {
  const ByteVector expected = Hex("01 00 00 00 01 04 62 6F 6F 6D");
  EXPECT_THAT(MustEncode(SubWorkflowResponse::Error("boom")), ElementsAreArray(expected));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowResponse decoded, DecodeSubWorkflowResponse(expected));
  EXPECT_EQ(decoded.error, "boom");
  EXPECT_FALSE(decoded.result_json.has_value());
}

TEST(PostcardSpecExampleTest, C_RemoteRefDescriptor) {
  const ByteVector expected = Hex("02 6E 31 01 54 80 D0 95 FF BC 31");
  const RemoteRefDescriptor d{"n1", "T", 1700000000000ULL};
  EXPECT_THAT(MustEncode(d), ElementsAreArray(expected));
  BLAZEN_ASSERT_OK_AND_ASSIGN(RemoteRefDescriptor decoded, DecodeRemoteRefDescriptor(expected));
  EXPECT_EQ(decoded, d);
}

TEST(PostcardSpecExampleTest, D_DerefAndReleaseRequestsAreIdentical) {
  const ByteVector expected = Hex("01 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF");
  EXPECT_THAT(MustEncode(DerefRequest{1, kUuid}), ElementsAreArray(expected));
  EXPECT_THAT(MustEncode(ReleaseRequest{1, kUuid}), ElementsAreArray(expected));
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefRequest deref, DecodeDerefRequest(expected));
  EXPECT_EQ(deref.ref_uuid, kUuid);
  BLAZEN_ASSERT_OK_AND_ASSIGN(ReleaseRequest release, DecodeReleaseRequest(expected));
  EXPECT_EQ(release.ref_uuid, kUuid);
}

TEST(PostcardSpecExampleTest, E_DerefResponse) {
  const DerefResponse resp{1, {1, 2, 3}};
  EXPECT_THAT(MustEncode(resp), ElementsAreArray(Hex("01 03 01 02 03")));
  BLAZEN_ASSERT_OK_AND_ASSIGN(DerefResponse decoded, DecodeDerefResponse(Hex("01 03 01 02 03")));
  EXPECT_EQ(decoded, resp);
}

TEST(PostcardSpecExampleTest, F_ReleaseResponse) {
  EXPECT_THAT(MustEncode(ReleaseResponse{1, true}), ElementsAreArray(Hex("01 01")));
  EXPECT_THAT(MustEncode(ReleaseResponse{1, false}), ElementsAreArray(Hex("01 00")));
  BLAZEN_ASSERT_OK_AND_ASSIGN(ReleaseResponse t, DecodeReleaseResponse(Hex("01 01")));
  EXPECT_TRUE(t.released);
  BLAZEN_ASSERT_OK_AND_ASSIGN(ReleaseResponse f, DecodeReleaseResponse(Hex("01 00")));
  EXPECT_FALSE(f.released);
}

// --- Rules of section 2.1 --------------------------------------------------------------------

TEST(PostcardRulesTest, TrailingBytesAreIgnored) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ReleaseResponse r, DecodeReleaseResponse(Hex("01 01 AA BB CC")));
  EXPECT_TRUE(r.released);
}

TEST(PostcardRulesTest, NonCanonicalVarintIsAccepted) {
  // `81 00` is an over-long encoding of 1; postcard accepts it.
  BLAZEN_ASSERT_OK_AND_ASSIGN(ReleaseResponse r, DecodeReleaseResponse(Hex("81 00 01")));
  EXPECT_EQ(r.envelope_version, 1u);
  EXPECT_TRUE(r.released);
}

TEST(PostcardRulesTest, OlderEnvelopeVersionIsAccepted) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ReleaseResponse r, DecodeReleaseResponse(Hex("00 01")));
  EXPECT_EQ(r.envelope_version, 0u);
}

TEST(PostcardRulesTest, NewerEnvelopeVersionIsFailedPreconditionEvenWithGarbageAfter) {
  // Version 2 followed by a bad bool: the version policy wins (it is checked first).
  Result<ReleaseResponse> r = DecodeReleaseResponse(Hex("02 07"));
  EXPECT_THAT(
      r, StatusIs(StatusCode::kFailedPrecondition, "envelope version 2 is newer than supported 1"));
  EXPECT_EQ(r.status().kind(), ErrorKind::kEnvelopeVersion);
}

TEST(PostcardRulesTest, NestedResponseVersionIsChecked) {
  SubWorkflowEvent event;
  event.response = SubWorkflowResponse{};
  event.response->envelope_version = 9;
  BLAZEN_ASSERT_OK_AND_ASSIGN(ByteVector bytes, EncodePostcard(event));
  EXPECT_THAT(DecodeSubWorkflowEvent(bytes), StatusIs(StatusCode::kFailedPrecondition));
}

TEST(PostcardRulesTest, DuplicateMapKeysLastOneWins) {
  // state_json with "k" -> "1" then "k" -> "2".
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse r,
      DecodeSubWorkflowResponse(Hex("01 02 01 6B 01 31 01 6B 01 32 00 00 00")));
  ASSERT_EQ(r.state_json.size(), 1u);
  EXPECT_EQ(r.state_json.at("k"), "2");
}

TEST(PostcardRulesTest, MapsDecodeInAnyOrder) {
  SubWorkflowResponse resp;
  resp.state_json = {{"a", "1"}, {"b", "2"}};
  // Hand-written with "b" first, as a Rust HashMap may emit it.
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      SubWorkflowResponse decoded,
      DecodeSubWorkflowResponse(Hex("01 02 01 62 01 32 01 61 01 31 00 00 00")));
  EXPECT_EQ(decoded, resp);
}

TEST(PostcardRulesTest, EncodingInvalidUtf8StringFails) {
  SubWorkflowRequest req;
  req.workflow_name = std::string("bad\xff", 4);
  Result<ByteVector> r = EncodePostcard(req);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr("workflow_name")));
  EXPECT_EQ(r.status().kind(), ErrorKind::kEncode);
}

TEST(PostcardRulesTest, BytesFieldsMayHoldArbitraryBytes) {
  SubWorkflowRequest req;
  req.input_json = std::string("\x00\xff\xfe", 3);  // not UTF-8: fine for a byte string
  BLAZEN_ASSERT_OK_AND_ASSIGN(ByteVector bytes, EncodePostcard(req));
  BLAZEN_ASSERT_OK_AND_ASSIGN(SubWorkflowRequest decoded, DecodeSubWorkflowRequest(bytes));
  EXPECT_EQ(decoded.input_json, req.input_json);
}

TEST(PostcardRulesTest, VarintLimits) {
  detail::PostcardWriter w;
  w.Varint(0xFFFFFFFFu);
  w.Varint(0xFFFFFFFFFFFFFFFFull);
  const ByteVector bytes = std::move(w).Take();
  EXPECT_THAT(bytes, ElementsAreArray(Hex("FF FF FF FF 0F FF FF FF FF FF FF FF FF FF 01")));
  detail::PostcardReader r(bytes, "T");
  EXPECT_EQ(r.U32().value(), 0xFFFFFFFFu);
  EXPECT_EQ(r.U64().value(), 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(r.remaining(), 0u);
}

// --- Randomized round trips ------------------------------------------------------------------

class RandomValues {
 public:
  explicit RandomValues(std::uint32_t seed) : rng_(seed) {}

  std::uint64_t U64() {
    // Mix small, boundary and full-range values so every varint length occurs.
    switch (rng_() % 4) {
      case 0:
        return rng_() % 200;
      case 1:
        return std::uint64_t{1} << (rng_() % 64);
      case 2:
        return ~std::uint64_t{0} - rng_() % 3;
      default:
        return (static_cast<std::uint64_t>(rng_()) << 32) | rng_();
    }
  }
  std::string Utf8(std::size_t max_len) {
    static const char* kPieces[] = {"a", "Z", "_", "::", "é", "日本", "🚀", "ß", " ", "\n"};
    std::string out;
    const std::size_t n = rng_() % (max_len + 1);
    for (std::size_t i = 0; i < n; ++i) out += kPieces[rng_() % std::size(kPieces)];
    return out;
  }
  std::string Binary(std::size_t max_len) {
    std::string out(rng_() % (max_len + 1), '\0');
    for (char& c : out) c = static_cast<char>(rng_() & 0xFF);
    return out;
  }
  Uuid RandomUuid() { return Uuid::NewV4(); }
  bool Coin() { return (rng_() & 1) != 0; }
  std::size_t Below(std::size_t n) { return rng_() % n; }

 private:
  std::mt19937 rng_;
};

SubWorkflowResponse RandomResponse(RandomValues& g) {
  SubWorkflowResponse r;
  r.envelope_version = static_cast<std::uint32_t>(g.Below(2));
  for (std::size_t i = g.Below(5); i > 0; --i) r.state_json[g.Utf8(8)] = g.Binary(64);
  if (g.Coin()) r.result_json = g.Binary(300);
  for (std::size_t i = g.Below(4); i > 0; --i) {
    r.remote_refs[g.RandomUuid()] = RemoteRefDescriptor{g.Utf8(12), g.Utf8(12), g.U64()};
  }
  if (g.Coin()) r.error = g.Utf8(40);
  return r;
}

template <typename T, typename DecodeFn>
void ExpectRoundTrip(const T& value, DecodeFn decode) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(ByteVector bytes, EncodePostcard(value));
  BLAZEN_ASSERT_OK_AND_ASSIGN(T decoded, decode(bytes));
  EXPECT_EQ(decoded, value);
  // Appending bytes (a newer writer's extra fields) changes nothing.
  bytes.push_back(0x01);
  bytes.push_back(0xFF);
  BLAZEN_ASSERT_OK_AND_ASSIGN(T decoded_with_trailer, decode(bytes));
  EXPECT_EQ(decoded_with_trailer, value);
}

TEST(PostcardRoundTripTest, RandomRequests) {
  RandomValues g(1234);
  for (int iter = 0; iter < 300; ++iter) {
    SubWorkflowRequest req;
    req.envelope_version = static_cast<std::uint32_t>(g.Below(2));
    req.workflow_name = g.Utf8(iter % 7 == 0 ? 5000 : 20);
    for (std::size_t i = g.Below(10); i > 0; --i) req.step_ids.push_back(g.Utf8(30));
    req.input_json = g.Binary(iter % 11 == 0 ? 70000 : 100);
    if (g.Coin()) req.timeout_secs = g.U64();
    ExpectRoundTrip(req, DecodeSubWorkflowRequest);
  }
}

TEST(PostcardRoundTripTest, ThreeHundredStepIds) {
  SubWorkflowRequest req;
  req.workflow_name = "vielé-schritte-工作流";
  for (int i = 0; i < 300; ++i) req.step_ids.push_back("blazen::step_" + std::to_string(i));
  req.input_json = "[]";
  req.timeout_secs = std::numeric_limits<std::uint64_t>::max();
  ExpectRoundTrip(req, DecodeSubWorkflowRequest);
  BLAZEN_ASSERT_OK_AND_ASSIGN(ByteVector bytes, EncodePostcard(req));
  // 300 needs a two-byte count varint: AC 02, right after the name.
  const std::size_t count_at = 1 + 1 + req.workflow_name.size();
  EXPECT_EQ(bytes[count_at], 0xAC);
  EXPECT_EQ(bytes[count_at + 1], 0x02);
}

TEST(PostcardRoundTripTest, RandomResponsesAndEvents) {
  RandomValues g(99);
  for (int iter = 0; iter < 300; ++iter) {
    const SubWorkflowResponse resp = RandomResponse(g);
    ExpectRoundTrip(resp, DecodeSubWorkflowResponse);
    SubWorkflowEvent event;
    event.event_type = g.Utf8(20);
    event.step_id = g.Utf8(20);
    event.data_json = g.Binary(200);
    event.timestamp_ms = g.U64();
    if (g.Coin()) event.response = resp;
    ExpectRoundTrip(event, DecodeSubWorkflowEvent);
  }
}

TEST(PostcardRoundTripTest, EmptyMapsAndEmptyStrings) {
  ExpectRoundTrip(SubWorkflowResponse{}, DecodeSubWorkflowResponse);
  ExpectRoundTrip(SubWorkflowRequest{}, DecodeSubWorkflowRequest);
  ExpectRoundTrip(RemoteRefDescriptor{}, DecodeRemoteRefDescriptor);
  ExpectRoundTrip(SubWorkflowEvent{}, DecodeSubWorkflowEvent);
  BLAZEN_ASSERT_OK_AND_ASSIGN(ByteVector bytes, EncodePostcard(SubWorkflowResponse{}));
  EXPECT_THAT(bytes, ElementsAreArray(Hex("01 00 00 00 00")));
}

TEST(PostcardRoundTripTest, DerefAndReleaseRandom) {
  RandomValues g(7);
  for (int iter = 0; iter < 100; ++iter) {
    ExpectRoundTrip(DerefRequest{static_cast<std::uint32_t>(g.Below(2)), g.RandomUuid()},
                    DecodeDerefRequest);
    ExpectRoundTrip(ReleaseRequest{1, g.RandomUuid()}, DecodeReleaseRequest);
    const std::string payload = g.Binary(iter == 0 ? (1 << 20) : 500);
    ExpectRoundTrip(DerefResponse{1, ByteVector(payload.begin(), payload.end())},
                    DecodeDerefResponse);
    ExpectRoundTrip(ReleaseResponse{1, g.Coin()}, DecodeReleaseResponse);
  }
}

}  // namespace
}  // namespace blazen
