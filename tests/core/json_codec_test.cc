// SPDX-License-Identifier: Apache-2.0
// Tests for the HTTP/JSON codec: the verified serde_json examples of spec section 2.3 in both
// directions, randomized round trips, upstream's decoder leniency and malformed input.

#include "core/json_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/json.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::IsOk;
using ::blazen::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

constexpr char kUuidText[] = "00112233-4455-6677-8899-aabbccddeeff";

Uuid ExampleUuid() { return Uuid::Parse(kUuidText).value(); }

// The spec's examples as values.
SubWorkflowRequest ExampleRequestA() {
  SubWorkflowRequest request;
  request.workflow_name = "wf";
  request.step_ids = {"a", "bc"};
  request.input_json = R"({"x":1})";
  request.timeout_secs = 60;
  return request;
}

SubWorkflowResponse ExampleResponseC() {
  SubWorkflowResponse response;
  response.state_json = {{"k", "42"}};
  response.result_json = R"("ok")";
  response.remote_refs = {{ExampleUuid(), {"n1", "T", 1700000000000}}};
  return response;
}

constexpr char kRequestA[] = R"({"envelope_version":1,"workflow_name":"wf","step_ids":["a","bc"],)"
                             R"("input_json":[123,34,120,34,58,49,125],"timeout_secs":60})";
constexpr char kRequestB[] = R"({"envelope_version":1,"workflow_name":"wf","step_ids":[],)"
                             R"("input_json":[123,34,120,34,58,49,125],"timeout_secs":null})";
constexpr char kResponseC[] =
    R"({"envelope_version":1,"state_json":{"k":[52,50]},"result_json":[34,111,107,34],)"
    R"("remote_refs":{"00112233-4455-6677-8899-aabbccddeeff":{"origin_node_id":"n1",)"
    R"("type_tag":"T","created_at_epoch_ms":1700000000000}},"error":null})";
constexpr char kErrorResponse[] =
    R"({"envelope_version":1,"state_json":{},"result_json":null,"remote_refs":{},"error":"boom"})";
constexpr char kRefRequest[] =
    R"({"envelope_version":1,"ref_uuid":"00112233-4455-6677-8899-aabbccddeeff"})";

// Encodes `value`, expects exactly `text`, decodes `text` and expects `value` back.
template <typename T>
void ExpectBothWays(const T& value, const std::string& text,
                    const std::function<Result<T>(std::string_view)>& decode) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(value));
  EXPECT_EQ(encoded, text);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const T decoded, decode(text));
  EXPECT_EQ(decoded, value);
}

// A decode failure other than an envelope-version mismatch.
void ExpectDecodeError(const Status& status, const std::string& needle) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.kind(), ErrorKind::kEncode) << status;
  EXPECT_THAT(status.message(), StartsWith("json decode failed: "));
  EXPECT_THAT(status.message(), HasSubstr(needle));
}

void ExpectEnvelopeVersionError(const Status& status) {
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(status.kind(), ErrorKind::kEnvelopeVersion) << status;
}

// ---------------------------------------------------------------------------------------------
// Spec section 2.3 examples, byte for byte

TEST(JsonCodecTest, SubWorkflowRequestExamples) {
  ExpectBothWays<SubWorkflowRequest>(ExampleRequestA(), kRequestA, DecodeSubWorkflowRequestJson);
  SubWorkflowRequest b = ExampleRequestA();
  b.step_ids.clear();
  b.timeout_secs.reset();
  ExpectBothWays<SubWorkflowRequest>(b, kRequestB, DecodeSubWorkflowRequestJson);
}

TEST(JsonCodecTest, SubWorkflowResponseExamples) {
  ExpectBothWays<SubWorkflowResponse>(ExampleResponseC(), kResponseC,
                                      DecodeSubWorkflowResponseJson);
  ExpectBothWays<SubWorkflowResponse>(SubWorkflowResponse::Error("boom"), kErrorResponse,
                                      DecodeSubWorkflowResponseJson);
}

TEST(JsonCodecTest, RefRequestExamples) {
  ExpectBothWays<DerefRequest>({1, ExampleUuid()}, kRefRequest, DecodeDerefRequestJson);
  ExpectBothWays<ReleaseRequest>({1, ExampleUuid()}, kRefRequest, DecodeReleaseRequestJson);
}

TEST(JsonCodecTest, ResponseExamples) {
  ExpectBothWays<DerefResponse>({1, {1, 2, 3}}, R"({"envelope_version":1,"payload":[1,2,3]})",
                                DecodeDerefResponseJson);
  ExpectBothWays<ReleaseResponse>({1, true}, R"({"envelope_version":1,"released":true})",
                                  DecodeReleaseResponseJson);
  ExpectBothWays<ReleaseResponse>({1, false}, R"({"envelope_version":1,"released":false})",
                                  DecodeReleaseResponseJson);
}

TEST(JsonCodecTest, RemoteRefDescriptorShape) {
  ExpectBothWays<RemoteRefDescriptor>(
      {"n1", "T", 1700000000000},
      R"({"origin_node_id":"n1","type_tag":"T","created_at_epoch_ms":1700000000000})",
      DecodeRemoteRefDescriptorJson);
}

TEST(JsonCodecTest, SubWorkflowEventShape) {
  SubWorkflowEvent event;
  event.event_type = "blazen::StopEvent";
  event.step_id = "s";
  event.data_json = "{}";
  event.timestamp_ms = 1700000000001;
  ExpectBothWays<SubWorkflowEvent>(
      event,
      R"({"envelope_version":1,"event_type":"blazen::StopEvent","step_id":"s",)"
      R"("data_json":[123,125],"timestamp_ms":1700000000001,"response":null})",
      DecodeSubWorkflowEventJson);
  event.response = SubWorkflowResponse::Error("boom");
  ExpectBothWays<SubWorkflowEvent>(
      event,
      R"({"envelope_version":1,"event_type":"blazen::StopEvent","step_id":"s",)"
      R"("data_json":[123,125],"timestamp_ms":1700000000001,"response":)" +
          std::string(kErrorResponse) + "}",
      DecodeSubWorkflowEventJson);
}

TEST(JsonCodecTest, StringsAreEscapedLikeSerdeJson) {
  SubWorkflowRequest request;
  request.workflow_name = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9\xf0\x9f\x98\x80";
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(request));
  EXPECT_EQ(encoded, R"({"envelope_version":1,"workflow_name":"q\"b\\s/\b\f\n\r\t\u0001\u001f)"
                     "\x7f \xc3\xa9\xf0\x9f\x98\x80"
                     R"(","step_ids":[],"input_json":[],"timeout_secs":null})");
  BLAZEN_ASSERT_OK_AND_ASSIGN(const SubWorkflowRequest decoded,
                              DecodeSubWorkflowRequestJson(encoded));
  EXPECT_EQ(decoded, request);
}

TEST(JsonCodecTest, MapsAreWrittenInKeyOrder) {
  SubWorkflowResponse response;
  response.state_json = {{"b", "2"}, {"a", "1"}};
  response.remote_refs = {{Uuid::Parse("ffffffff-0000-0000-0000-000000000000").value(), {}},
                          {ExampleUuid(), {}}};
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(response));
  EXPECT_EQ(encoded,
            R"({"envelope_version":1,"state_json":{"a":[49],"b":[50]},"result_json":null,)"
            R"("remote_refs":{"00112233-4455-6677-8899-aabbccddeeff":{"origin_node_id":"",)"
            R"("type_tag":"","created_at_epoch_ms":0},"ffffffff-0000-0000-0000-000000000000":)"
            R"({"origin_node_id":"","type_tag":"","created_at_epoch_ms":0}},"error":null})");
}

TEST(JsonCodecTest, ByteFieldsAreNotInspectedOnEncode) {
  SubWorkflowRequest request;
  request.input_json = std::string("\xff\x00\x80", 3);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(request));
  EXPECT_THAT(encoded, HasSubstr(R"("input_json":[255,0,128])"));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const SubWorkflowRequest decoded,
                              DecodeSubWorkflowRequestJson(encoded));
  EXPECT_EQ(decoded.input_json, request.input_json);
}

// ---------------------------------------------------------------------------------------------
// Randomized round trips

class RandomWire {
 public:
  explicit RandomWire(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t Below(std::uint64_t n) { return rng_() % n; }

  // Valid UTF-8 mixing ASCII (control characters, quotes and backslashes included) with 2-, 3-
  // and 4-byte sequences.
  std::string Utf8(std::size_t max_chars) {
    std::string text;
    const std::size_t n = Below(max_chars + 1);
    for (std::size_t i = 0; i < n; ++i) {
      switch (Below(6)) {
        case 0:
          text += static_cast<char>(Below(0x80));
          break;
        case 1:
          text += "\"\\"[Below(2)];
          break;
        case 2:
          text += "\xc3\xa9";
          break;
        case 3:
          text += "\xe6\x97\xa5";
          break;
        case 4:
          text += "\xf0\x9f\x98\x80";
          break;
        default:
          text += static_cast<char>('a' + Below(26));
      }
    }
    return text;
  }

  std::string Bytes(std::size_t max_size) {
    std::string bytes(Below(max_size + 1), '\0');
    for (char& c : bytes) c = static_cast<char>(Below(256));
    return bytes;
  }

  std::uint64_t U64() {
    switch (Below(3)) {
      case 0:
        return std::numeric_limits<std::uint64_t>::max() - Below(2);
      case 1:
        return Below(1000);
      default:
        return rng_();
    }
  }

  Uuid NextUuid() {
    Uuid::Bytes bytes;
    for (auto& b : bytes) b = static_cast<std::uint8_t>(Below(256));
    return Uuid(bytes);
  }

  SubWorkflowRequest Request() {
    SubWorkflowRequest request;
    request.envelope_version = static_cast<std::uint32_t>(Below(2));
    request.workflow_name = Utf8(Below(4) == 0 ? 5000 : 20);
    const std::size_t steps = std::vector<std::size_t>{0, 1, 7, 300}[Below(4)];
    for (std::size_t i = 0; i < steps; ++i) request.step_ids.push_back(Utf8(12));
    request.input_json = Bytes(Below(4) == 0 ? 100000 : 64);
    if (Below(2) == 0) request.timeout_secs = U64();
    return request;
  }

  SubWorkflowResponse Response() {
    SubWorkflowResponse response;
    response.envelope_version = static_cast<std::uint32_t>(Below(2));
    const std::size_t states = Below(4) == 0 ? 0 : Below(6);
    for (std::size_t i = 0; i < states; ++i) response.state_json[Utf8(10)] = Bytes(40);
    if (Below(2) == 0) response.result_json = Bytes(100);
    const std::size_t refs = Below(4) == 0 ? 0 : Below(6);
    for (std::size_t i = 0; i < refs; ++i) {
      response.remote_refs[NextUuid()] = {Utf8(16), Utf8(30), U64()};
    }
    if (Below(3) == 0) response.error = Utf8(200);
    return response;
  }

  SubWorkflowEvent Event() {
    SubWorkflowEvent event;
    event.event_type = Utf8(30);
    event.step_id = Utf8(30);
    event.data_json = Bytes(200);
    event.timestamp_ms = U64();
    if (Below(2) == 0) event.response = Response();
    return event;
  }

 private:
  std::mt19937_64 rng_;
};

template <typename T>
void ExpectRoundTrip(const T& value, const std::function<Result<T>(std::string_view)>& decode) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(value));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const T decoded, decode(encoded));
  ASSERT_EQ(decoded, value) << encoded.substr(0, 500);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string again, EncodeJson(decoded));
  EXPECT_EQ(again, encoded);
}

TEST(JsonCodecRoundTripTest, SubWorkflowRequests) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    RandomWire random(seed);
    const SubWorkflowRequest request = random.Request();
    ExpectRoundTrip<SubWorkflowRequest>(request, DecodeSubWorkflowRequestJson);

    // Cross-check the writer against an independent parser.
    BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(request));
    BLAZEN_ASSERT_OK_AND_ASSIGN(const Json json, ParseJson(encoded));
    EXPECT_EQ(json["workflow_name"].get<std::string>(), request.workflow_name);
    EXPECT_EQ(json["step_ids"].get<std::vector<std::string>>(), request.step_ids);
    const auto input = json["input_json"].get<std::vector<std::uint8_t>>();
    EXPECT_EQ(std::string(input.begin(), input.end()), request.input_json);
  }
}

TEST(JsonCodecRoundTripTest, SubWorkflowResponsesAndEvents) {
  for (std::uint64_t seed = 100; seed < 140; ++seed) {
    SCOPED_TRACE(seed);
    RandomWire random(seed);
    ExpectRoundTrip<SubWorkflowResponse>(random.Response(), DecodeSubWorkflowResponseJson);
    ExpectRoundTrip<SubWorkflowEvent>(random.Event(), DecodeSubWorkflowEventJson);
  }
}

TEST(JsonCodecRoundTripTest, RefMessages) {
  for (std::uint64_t seed = 200; seed < 220; ++seed) {
    SCOPED_TRACE(seed);
    RandomWire random(seed);
    const std::string payload = random.Bytes(5000);
    ExpectRoundTrip<DerefResponse>({1, ByteVector(payload.begin(), payload.end())},
                                   DecodeDerefResponseJson);
    ExpectRoundTrip<DerefRequest>({0, random.NextUuid()}, DecodeDerefRequestJson);
    ExpectRoundTrip<ReleaseRequest>({1, random.NextUuid()}, DecodeReleaseRequestJson);
    ExpectRoundTrip<ReleaseResponse>({1, random.Below(2) == 0}, DecodeReleaseResponseJson);
    ExpectRoundTrip<RemoteRefDescriptor>({random.Utf8(40), random.Utf8(40), random.U64()},
                                         DecodeRemoteRefDescriptorJson);
  }
}

TEST(JsonCodecRoundTripTest, LargeU64AndEmptyValues) {
  SubWorkflowRequest request;
  request.timeout_secs = std::numeric_limits<std::uint64_t>::max();
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(request));
  EXPECT_EQ(encoded, R"({"envelope_version":1,"workflow_name":"","step_ids":[],"input_json":[],)"
                     R"("timeout_secs":18446744073709551615})");
  ExpectRoundTrip<SubWorkflowRequest>(request, DecodeSubWorkflowRequestJson);
  ExpectRoundTrip<SubWorkflowResponse>(SubWorkflowResponse{}, DecodeSubWorkflowResponseJson);
  ExpectRoundTrip<DerefResponse>(DerefResponse{}, DecodeDerefResponseJson);
}

TEST(JsonCodecRoundTripTest, SixteenMebibytePayload) {
  std::mt19937 rng(7);
  DerefResponse response;
  response.payload.resize(16u << 20);
  for (auto& b : response.payload) b = static_cast<std::uint8_t>(rng());
  response.payload.front() = 0;
  response.payload.back() = 255;

  const auto start = std::chrono::steady_clock::now();
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::string encoded, EncodeJson(response));
  const auto encoded_at = std::chrono::steady_clock::now();
  BLAZEN_ASSERT_OK_AND_ASSIGN(const DerefResponse decoded, DecodeDerefResponseJson(encoded));
  const auto decoded_at = std::chrono::steady_clock::now();

  EXPECT_THAT(encoded, StartsWith(R"({"envelope_version":1,"payload":[0,)"));
  EXPECT_EQ(encoded.substr(encoded.size() - 6), ",255]}");
  ASSERT_EQ(decoded.payload.size(), response.payload.size());
  EXPECT_TRUE(decoded == response);
  RecordProperty(
      "encode_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(encoded_at - start).count()));
  RecordProperty(
      "decode_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(decoded_at - encoded_at).count()));
}

// ---------------------------------------------------------------------------------------------
// Decoder leniency (spec section 2.3 table)

TEST(JsonCodecLeniencyTest, SerdeBytesFieldsAcceptStrings) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowRequest request,
      DecodeSubWorkflowRequestJson(R"({"envelope_version":1,"workflow_name":"wf","step_ids":[],)"
                                   R"("input_json":"{\"x\":\u00e9}"})"));
  EXPECT_EQ(request.input_json, "{\"x\":\xc3\xa9}");

  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowResponse response,
      DecodeSubWorkflowResponseJson(
          R"({"envelope_version":1,"state_json":{},"result_json":"42","remote_refs":{}})"));
  ASSERT_TRUE(response.result_json.has_value());
  EXPECT_EQ(*response.result_json, "42");

  BLAZEN_ASSERT_OK_AND_ASSIGN(const DerefResponse deref,
                              DecodeDerefResponseJson(R"({"envelope_version":1,"payload":"hi"})"));
  EXPECT_EQ(deref.payload, (ByteVector{'h', 'i'}));

  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowEvent event,
      DecodeSubWorkflowEventJson(R"({"envelope_version":1,"event_type":"e","step_id":"",)"
                                 R"("data_json":"null","timestamp_ms":5})"));
  EXPECT_EQ(event.data_json, "null");
}

TEST(JsonCodecLeniencyTest, StateJsonValueAsStringIsRejected) {
  const auto result = DecodeSubWorkflowResponseJson(
      R"({"envelope_version":1,"state_json":{"k":"42"},"result_json":null,"remote_refs":{}})");
  ExpectDecodeError(result.status(), "state_json.k");
}

TEST(JsonCodecLeniencyTest, ByteValuesOutsideZeroTo255AreRejected) {
  for (const char* bad : {"256", "-1", "1.5", "1e2", "\"7\"", "null", "true", "[1]", "{}"}) {
    SCOPED_TRACE(bad);
    const std::string text = R"({"envelope_version":1,"workflow_name":"wf","step_ids":[],)"
                             R"("input_json":[1,2,3,)" +
                             std::string(bad) + "]}";
    ExpectDecodeError(DecodeSubWorkflowRequestJson(text).status(),
                      "invalid value at input_json[3]: expected an integer 0-255");
  }
  ExpectDecodeError(DecodeSubWorkflowResponseJson(
                        R"({"envelope_version":1,"state_json":{"k":[300]},"result_json":null,)"
                        R"("remote_refs":{}})")
                        .status(),
                    "state_json.k[0]");
  ExpectDecodeError(
      DecodeDerefResponseJson(R"({"envelope_version":1,"payload":[0,1,256]})").status(),
      "payload[2]");
}

TEST(JsonCodecLeniencyTest, LargeByteArrayWithOneBadValueNamesIt) {
  std::string text = R"({"envelope_version":1,"payload":[)";
  for (int i = 0; i < 100000; ++i) text += "7,";
  text += "256]}";
  ExpectDecodeError(DecodeDerefResponseJson(text).status(), "payload[100000]");
}

TEST(JsonCodecLeniencyTest, ByteArraysTolerateWhitespaceAndEmptyArrays) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const DerefResponse spaced,
      DecodeDerefResponseJson("{ \"envelope_version\" : 1 ,\n \"payload\" : [ 1 ,\t2 ,\r\n0 ] }"));
  EXPECT_EQ(spaced.payload, (ByteVector{1, 2, 0}));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const DerefResponse empty,
                              DecodeDerefResponseJson(R"({"envelope_version":1,"payload":[ ]})"));
  EXPECT_TRUE(empty.payload.empty());
}

TEST(JsonCodecLeniencyTest, MissingOptionFieldsAreNone) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowRequest request,
      DecodeSubWorkflowRequestJson(
          R"({"envelope_version":1,"workflow_name":"wf","step_ids":["a"],"input_json":[49]})"));
  EXPECT_EQ(request.timeout_secs, std::nullopt);
  EXPECT_EQ(request.step_ids, std::vector<std::string>{"a"});
  EXPECT_EQ(request.input_json, "1");

  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowResponse response,
      DecodeSubWorkflowResponseJson(
          R"({"envelope_version":1,"state_json":{},"result_json":[49],"remote_refs":{}})"));
  EXPECT_EQ(response.error, std::nullopt);
  EXPECT_EQ(response.result_json, std::optional<std::string>("1"));

  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowEvent event,
      DecodeSubWorkflowEventJson(R"({"envelope_version":1,"event_type":"e","step_id":"s",)"
                                 R"("data_json":[],"timestamp_ms":3})"));
  EXPECT_EQ(event.response, std::nullopt);
  EXPECT_EQ(event.timestamp_ms, 3u);
}

TEST(JsonCodecLeniencyTest, MissingResultJsonIsRejected) {
  ExpectDecodeError(DecodeSubWorkflowResponseJson(
                        R"({"envelope_version":1,"state_json":{},"remote_refs":{},"error":"boom"})")
                        .status(),
                    "missing field `result_json`");
}

TEST(JsonCodecLeniencyTest, MissingRequiredFieldsAreRejected) {
  for (const char* field : {"envelope_version", "workflow_name", "step_ids", "input_json"}) {
    SCOPED_TRACE(field);
    Json json = Json::parse(kRequestA);
    json.erase(field);
    ExpectDecodeError(DecodeSubWorkflowRequestJson(json.dump()).status(),
                      "missing field `" + std::string(field) + "`");
  }
  for (const char* field : {"envelope_version", "state_json", "remote_refs"}) {
    SCOPED_TRACE(field);
    Json json = Json::parse(kResponseC);
    json.erase(field);
    ExpectDecodeError(DecodeSubWorkflowResponseJson(json.dump()).status(),
                      "missing field `" + std::string(field) + "`");
  }
  for (const char* field : {"origin_node_id", "type_tag", "created_at_epoch_ms"}) {
    SCOPED_TRACE(field);
    Json json = Json::parse(kResponseC);
    json["remote_refs"][kUuidText].erase(field);
    ExpectDecodeError(
        DecodeSubWorkflowResponseJson(json.dump()).status(),
        "missing field `remote_refs." + std::string(kUuidText) + "." + std::string(field) + "`");
  }
  ExpectDecodeError(DecodeDerefRequestJson(R"({"envelope_version":1})").status(),
                    "missing field `ref_uuid`");
  ExpectDecodeError(DecodeReleaseResponseJson(R"({"envelope_version":1})").status(),
                    "missing field `released`");
  ExpectDecodeError(DecodeDerefResponseJson(R"({"payload":[]})").status(),
                    "missing field `envelope_version`");
  ExpectDecodeError(
      DecodeSubWorkflowEventJson(R"({"envelope_version":1,"event_type":"e","step_id":"s",)"
                                 R"("timestamp_ms":3})")
          .status(),
      "missing field `data_json`");
  ExpectDecodeError(DecodeSubWorkflowEventJson(
                        R"({"envelope_version":1,"event_type":"e","step_id":"s",)"
                        R"("data_json":[],"timestamp_ms":3,"response":{"envelope_version":1,)"
                        R"("state_json":{},"remote_refs":{}}})")
                        .status(),
                    "missing field `response.result_json`");
}

TEST(JsonCodecLeniencyTest, UnknownFieldsAreIgnored) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowResponse response,
      DecodeSubWorkflowResponseJson(
          R"({"extra":[1,2,3],"envelope_version":1,"state_json":{"k":[52,50]},"more":{"a":[null]},)"
          R"("result_json":[34,111,107,34],"remote_refs":{"00112233-4455-6677-8899-aabbccddeeff":)"
          R"({"origin_node_id":"n1","future":true,"type_tag":"T",)"
          R"("created_at_epoch_ms":1700000000000}},)"
          R"("error":null,"trailing":"x"})"));
  EXPECT_EQ(response, ExampleResponseC());
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const ReleaseResponse release,
      DecodeReleaseResponseJson(R"({"envelope_version":1,"released":true,"new_field":[300]})"));
  EXPECT_TRUE(release.released);
}

TEST(JsonCodecLeniencyTest, UuidFormsAreAcceptedAndNormalized) {
  for (const char* form :
       {"00112233445566778899AABBCCDDEEFF", "00112233-4455-6677-8899-AABBCCDDEEFF",
        "{00112233-4455-6677-8899-aabbccddeeff}",
        "urn:uuid:00112233-4455-6677-8899-aabbccddeeff"}) {
    SCOPED_TRACE(form);
    const std::string request = R"({"envelope_version":1,"ref_uuid":")" + std::string(form) + "\"}";
    BLAZEN_ASSERT_OK_AND_ASSIGN(const DerefRequest deref, DecodeDerefRequestJson(request));
    EXPECT_EQ(deref.ref_uuid, ExampleUuid());
    EXPECT_EQ(EncodeJson(deref).value(), kRefRequest);
    BLAZEN_ASSERT_OK_AND_ASSIGN(const ReleaseRequest release, DecodeReleaseRequestJson(request));
    EXPECT_EQ(release.ref_uuid, ExampleUuid());

    const std::string response =
        R"({"envelope_version":1,"state_json":{"k":[52,50]},"result_json":[34,111,107,34],)"
        R"("remote_refs":{")" +
        std::string(form) +
        R"(":{"origin_node_id":"n1","type_tag":"T","created_at_epoch_ms":1700000000000}}})";
    BLAZEN_ASSERT_OK_AND_ASSIGN(const SubWorkflowResponse decoded,
                                DecodeSubWorkflowResponseJson(response));
    EXPECT_EQ(decoded, ExampleResponseC());
    EXPECT_EQ(EncodeJson(decoded).value(), kResponseC);
  }
}

TEST(JsonCodecLeniencyTest, UuidAsArrayOrBadTextIsRejected) {
  ExpectDecodeError(
      DecodeDerefRequestJson(R"({"envelope_version":1,"ref_uuid":)"
                             R"([0,17,34,51,68,85,102,119,136,153,170,187,204,221,238,255]})")
          .status(),
      "invalid type at ref_uuid");
  ExpectDecodeError(
      DecodeReleaseRequestJson(R"({"envelope_version":1,"ref_uuid":"not-a-uuid"})").status(),
      "invalid value at ref_uuid");
  ExpectDecodeError(DecodeReleaseRequestJson(R"({"envelope_version":1,"ref_uuid":null})").status(),
                    "invalid type at ref_uuid");
  ExpectDecodeError(DecodeSubWorkflowResponseJson(
                        R"({"envelope_version":1,"state_json":{},"result_json":null,"remote_refs":)"
                        R"({"zz":{"origin_node_id":"n1","type_tag":"T","created_at_epoch_ms":1}}})")
                        .status(),
                    "invalid key at remote_refs.zz");
}

// ---------------------------------------------------------------------------------------------
// Types and ranges

TEST(JsonCodecTypesTest, IntegerFieldsMustBeNonNegativeIntegersInRange) {
  const std::string prefix =
      R"({"envelope_version":1,"workflow_name":"wf","step_ids":[],"input_json":[],"timeout_secs":)";
  for (const char* bad : {"60.0", "-1", "\"60\"", "true", "[60]", "18446744073709551616", "1e3"}) {
    SCOPED_TRACE(bad);
    ExpectDecodeError(DecodeSubWorkflowRequestJson(prefix + bad + "}").status(), "at timeout_secs");
  }
  BLAZEN_ASSERT_OK_AND_ASSIGN(const SubWorkflowRequest max,
                              DecodeSubWorkflowRequestJson(prefix + "18446744073709551615}"));
  EXPECT_EQ(max.timeout_secs, std::numeric_limits<std::uint64_t>::max());

  ExpectDecodeError(
      DecodeDerefRequestJson(R"({"envelope_version":4294967296,"ref_uuid":"x"})").status(),
      "invalid value at envelope_version: 4294967296 is out of range for u32");
  ExpectDecodeError(DecodeDerefRequestJson(R"({"envelope_version":-1,"ref_uuid":"x"})").status(),
                    "invalid type at envelope_version");
  ExpectDecodeError(DecodeDerefRequestJson(R"({"envelope_version":1.0,"ref_uuid":"x"})").status(),
                    "invalid type at envelope_version");
  ExpectDecodeError(
      DecodeSubWorkflowEventJson(R"({"envelope_version":1,"event_type":"e","step_id":"s",)"
                                 R"("data_json":[],"timestamp_ms":-5})")
          .status(),
      "invalid type at timestamp_ms");
}

TEST(JsonCodecTypesTest, EnvelopeVersionMaxU32IsNewer) {
  ExpectEnvelopeVersionError(
      DecodeReleaseResponseJson(R"({"envelope_version":4294967295,"released":true})").status());
}

TEST(JsonCodecTypesTest, BoolMustBeJsonBool) {
  for (const char* bad : {"1", "\"true\"", "null", "[true]"}) {
    SCOPED_TRACE(bad);
    ExpectDecodeError(
        DecodeReleaseResponseJson(R"({"envelope_version":1,"released":)" + std::string(bad) + "}")
            .status(),
        "invalid type at released: expected a boolean");
  }
}

TEST(JsonCodecTypesTest, WrongTypesNameTheField) {
  ExpectDecodeError(DecodeSubWorkflowRequestJson(
                        R"({"envelope_version":1,"workflow_name":5,"step_ids":[],"input_json":[]})")
                        .status(),
                    "invalid type at workflow_name: expected a string, got an unsigned integer");
  ExpectDecodeError(
      DecodeSubWorkflowRequestJson(
          R"({"envelope_version":1,"workflow_name":"w","step_ids":"a","input_json":[]})")
          .status(),
      "invalid type at step_ids");
  ExpectDecodeError(
      DecodeSubWorkflowRequestJson(
          R"({"envelope_version":1,"workflow_name":"w","step_ids":["a",7],"input_json":[]})")
          .status(),
      "invalid type at step_ids[1]");
  ExpectDecodeError(
      DecodeSubWorkflowRequestJson(
          R"({"envelope_version":1,"workflow_name":"w","step_ids":[],"input_json":{}})")
          .status(),
      "invalid type at input_json");
  ExpectDecodeError(
      DecodeSubWorkflowResponseJson(
          R"({"envelope_version":1,"state_json":[],"result_json":null,"remote_refs":{}})")
          .status(),
      "invalid type at state_json");
  ExpectDecodeError(
      DecodeSubWorkflowResponseJson(
          R"({"envelope_version":1,"state_json":{},"result_json":null,"remote_refs":{},"error":1})")
          .status(),
      "invalid type at error");
  ExpectDecodeError(
      DecodeSubWorkflowResponseJson(
          R"({"envelope_version":1,"state_json":{},"result_json":null,"remote_refs":)"
          R"({"00112233-4455-6677-8899-aabbccddeeff":{"origin_node_id":"n","type_tag":"T",)"
          R"("created_at_epoch_ms":"1"}}})")
          .status(),
      "invalid type at remote_refs.00112233-4455-6677-8899-aabbccddeeff.created_at_epoch_ms");
  ExpectDecodeError(
      DecodeSubWorkflowEventJson(R"({"envelope_version":1,"event_type":"e","step_id":"s",)"
                                 R"("data_json":[],"timestamp_ms":1,"response":[]})")
          .status(),
      "invalid type at response: expected an object");
}

TEST(JsonCodecTypesTest, TopLevelMustBeAnObject) {
  for (const char* text : {"[]", "[1,2]", "1", "\"x\"", "null", "true"}) {
    SCOPED_TRACE(text);
    ExpectDecodeError(DecodeReleaseResponseJson(text).status(), "expected an object");
    ExpectDecodeError(DecodeSubWorkflowRequestJson(text).status(), "expected an object");
    ExpectDecodeError(DecodeRemoteRefDescriptorJson(text).status(), "expected an object");
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed input

TEST(JsonCodecMalformedTest, NotJsonIsACleanError) {
  for (const char* text : {"", "not json", "{", R"({"envelope_version":1,)", "{}{}", "nul"}) {
    SCOPED_TRACE(text);
    ExpectDecodeError(DecodeSubWorkflowRequestJson(text).status(), "parse error");
    ExpectDecodeError(DecodeDerefResponseJson(text).status(), "parse error");
  }
}

TEST(JsonCodecMalformedTest, DeepNestingIsRejectedWithoutCrashing) {
  const std::string arrays(100000, '[');
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  for (const std::string& deep : {arrays, objects}) {
    ExpectDecodeError(DecodeSubWorkflowRequestJson(deep).status(), "JSON nesting depth exceeds 64");
    ExpectDecodeError(
        DecodeSubWorkflowResponseJson(R"({"envelope_version":1,"extra":)" + deep).status(),
        "JSON nesting depth exceeds 64");
  }
}

TEST(JsonCodecMalformedTest, InvalidUtf8InTheTextIsRejected) {
  ExpectDecodeError(
      DecodeSubWorkflowRequestJson(
          "{\"envelope_version\":1,\"workflow_name\":\"w\xff\",\"step_ids\":[],\"input_json\":[]}")
          .status(),
      "parse error");
  ExpectDecodeError(DecodeSubWorkflowRequestJson("{\"envelope_version\":1,\"workflow_name\":\"w\","
                                                 "\"step_ids\":[],\"input_json\":\"\xc0\xaf\"}")
                        .status(),
                    "parse error");
}

TEST(JsonCodecMalformedTest, NewerEnvelopeVersionIsFailedPrecondition) {
  ExpectEnvelopeVersionError(
      DecodeSubWorkflowRequestJson(R"({"envelope_version":2,"workflow_name":"wf","step_ids":[],)"
                                   R"("input_json":[],"timeout_secs":null})")
          .status());
  // Checked as soon as it is read: the rest of the message need not decode.
  ExpectEnvelopeVersionError(DecodeSubWorkflowRequestJson(R"({"envelope_version":2})").status());
  ExpectEnvelopeVersionError(
      DecodeSubWorkflowResponseJson(R"({"envelope_version":2,"state_json":"bad"})").status());
  ExpectEnvelopeVersionError(DecodeDerefRequestJson(R"({"envelope_version":2})").status());
  ExpectEnvelopeVersionError(DecodeDerefResponseJson(R"({"envelope_version":2})").status());
  ExpectEnvelopeVersionError(DecodeReleaseRequestJson(R"({"envelope_version":2})").status());
  ExpectEnvelopeVersionError(DecodeReleaseResponseJson(R"({"envelope_version":2})").status());
  ExpectEnvelopeVersionError(DecodeSubWorkflowEventJson(R"({"envelope_version":2})").status());
  ExpectEnvelopeVersionError(
      DecodeSubWorkflowEventJson(
          R"({"envelope_version":1,"event_type":"e","step_id":"s",)"
          R"("data_json":[],"timestamp_ms":1,"response":{"envelope_version":2}})")
          .status());
  EXPECT_THAT(
      DecodeDerefRequestJson(R"({"envelope_version":2})"),
      StatusIs(StatusCode::kFailedPrecondition, "envelope version 2 is newer than supported 1"));
}

TEST(JsonCodecMalformedTest, OlderEnvelopeVersionIsAccepted) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const SubWorkflowRequest request,
      DecodeSubWorkflowRequestJson(R"({"envelope_version":0,"workflow_name":"wf","step_ids":[],)"
                                   R"("input_json":[],"timeout_secs":1})"));
  EXPECT_EQ(request.envelope_version, 0u);
  EXPECT_EQ(request.timeout_secs, std::optional<std::uint64_t>(1));
  BLAZEN_ASSERT_OK_AND_ASSIGN(
      const ReleaseResponse release,
      DecodeReleaseResponseJson(R"({"envelope_version":0,"released":false})"));
  EXPECT_EQ(release.envelope_version, 0u);
  EXPECT_FALSE(release.released);
}

// ---------------------------------------------------------------------------------------------
// Encoding String fields that Rust cannot hold

TEST(JsonCodecEncodeTest, InvalidUtf8StringFieldsAreRejectedByName) {
  const std::string bad = "a\xff";
  auto expect_rejected = [](const Result<std::string>& result, const std::string& field) {
    EXPECT_THAT(result, StatusIs(StatusCode::kInvalidArgument, HasSubstr(field)));
    EXPECT_EQ(result.status().kind(), ErrorKind::kEncode);
  };

  SubWorkflowRequest request = ExampleRequestA();
  request.workflow_name = bad;
  expect_rejected(EncodeJson(request), "workflow_name");
  request = ExampleRequestA();
  request.step_ids[1] = bad;
  expect_rejected(EncodeJson(request), "step_ids[1]");

  SubWorkflowResponse response = ExampleResponseC();
  response.state_json[bad] = "1";
  expect_rejected(EncodeJson(response), "state_json key");
  response = ExampleResponseC();
  response.error = bad;
  expect_rejected(EncodeJson(response), "error");
  response = ExampleResponseC();
  response.remote_refs.begin()->second.origin_node_id = bad;
  expect_rejected(EncodeJson(response),
                  "remote_refs." + std::string(kUuidText) + ".origin_node_id");
  response = ExampleResponseC();
  response.remote_refs.begin()->second.type_tag = bad;
  expect_rejected(EncodeJson(response), "remote_refs." + std::string(kUuidText) + ".type_tag");
  expect_rejected(EncodeJson(RemoteRefDescriptor{"n", bad, 1}), "type_tag");

  SubWorkflowEvent event;
  event.event_type = bad;
  expect_rejected(EncodeJson(event), "event_type");
  event = SubWorkflowEvent{};
  event.step_id = bad;
  expect_rejected(EncodeJson(event), "step_id");
  event = SubWorkflowEvent{};
  event.response = SubWorkflowResponse::Error(bad);
  expect_rejected(EncodeJson(event), "response.error");
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(JsonCodecHelpersTest, MakeSubWorkflowRequestStoresCompactInput) {
  const Json input = {{"b", "x"}, {"a", {1, 2}}};
  BLAZEN_ASSERT_OK_AND_ASSIGN(const SubWorkflowRequest request,
                              MakeSubWorkflowRequest("wf", {"s1", "s2"}, input, 30));
  EXPECT_EQ(request.envelope_version, kEnvelopeVersion);
  EXPECT_EQ(request.workflow_name, "wf");
  EXPECT_EQ(request.step_ids, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(request.input_json, R"({"a":[1,2],"b":"x"})");
  EXPECT_EQ(request.timeout_secs, std::optional<std::uint64_t>(30));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const Json back, InputValue(request));
  EXPECT_EQ(back, input);

  BLAZEN_ASSERT_OK_AND_ASSIGN(const SubWorkflowRequest example,
                              MakeSubWorkflowRequest("wf", {"a", "bc"}, Json{{"x", 1}}, 60));
  EXPECT_EQ(EncodeJson(example).value(), kRequestA);
}

TEST(JsonCodecHelpersTest, MakeSubWorkflowRequestRejectsInvalidUtf8) {
  EXPECT_THAT(MakeSubWorkflowRequest("w\xff", {}, Json(1), std::nullopt),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("workflow_name")));
  EXPECT_THAT(MakeSubWorkflowRequest("w", {"ok", "\xc0"}, Json(1), std::nullopt),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("step_ids[1]")));
  EXPECT_THAT(MakeSubWorkflowRequest("w", {}, Json("\xff"), std::nullopt),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(JsonCodecHelpersTest, InputValueRejectsInvalidJson) {
  SubWorkflowRequest request;
  request.input_json = "{nope";
  EXPECT_THAT(InputValue(request),
              StatusIs(StatusCode::kInvalidArgument, StartsWith("invalid input JSON: ")));
  request.input_json = std::string(1000, '[');
  EXPECT_THAT(InputValue(request),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("JSON nesting depth exceeds 64")));
}

TEST(JsonCodecHelpersTest, ResultValue) {
  SubWorkflowResponse response;
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::optional<Json> none, ResultValue(response));
  EXPECT_EQ(none, std::nullopt);
  response.result_json = R"({"v":[1,"x"]})";
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::optional<Json> some, ResultValue(response));
  ASSERT_TRUE(some.has_value());
  EXPECT_EQ(*some, (Json{{"v", {1, "x"}}}));
  response.result_json = "";
  EXPECT_THAT(ResultValue(response),
              StatusIs(StatusCode::kInvalidArgument, StartsWith("invalid result JSON: ")));
}

TEST(JsonCodecHelpersTest, StateValues) {
  SubWorkflowResponse response = ExampleResponseC();
  response.state_json["m"] = R"({"a":null})";
  BLAZEN_ASSERT_OK_AND_ASSIGN(const auto values, StateValues(response));
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values.at("k"), Json(42));
  EXPECT_EQ(values.at("m"), (Json{{"a", nullptr}}));
  response.state_json["z"] = "[1,";
  EXPECT_THAT(StateValues(response), StatusIs(StatusCode::kInvalidArgument,
                                              StartsWith("invalid state JSON for key `z`: ")));
}

}  // namespace
}  // namespace blazen
