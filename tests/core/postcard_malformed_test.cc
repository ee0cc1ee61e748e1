// SPDX-License-Identifier: Apache-2.0
// postcard decoders facing hostile input: every truncation, bad tags, bad varints, invalid UTF-8,
// wrong UUID lengths, huge length prefixes and random mutations. Each must be a clean
// INVALID_ARGUMENT (or FAILED_PRECONDITION for a newer envelope), never a crash or a big
// allocation.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/detail/postcard_io.h"
#include "core/postcard.h"
#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const Uuid kUuid = Uuid::Parse("00112233-4455-6677-8899-aabbccddeeff").value();

// Decodes `bytes` as one of the wire types and returns only the status.
using Decoder = std::function<Status(ByteSpan)>;

template <typename Fn>
Decoder Wrap(Fn fn) {
  return [fn](ByteSpan bytes) { return fn(bytes).status(); };
}

struct Sample {
  std::string name;
  ByteVector bytes;
  Decoder decode;
};

std::vector<Sample> Samples() {
  SubWorkflowRequest req;
  req.workflow_name = "wf-é";
  req.step_ids = {"a", "bc", "日本"};
  req.input_json = R"({"x":1})";
  req.timeout_secs = 123456789;

  SubWorkflowResponse resp;
  resp.state_json = {{"k", "42"}, {"z", "[1,2]"}};
  resp.result_json = "\"ok\"";
  resp.remote_refs[kUuid] = RemoteRefDescriptor{"n1", "tensor.npy", 1700000000000ULL};
  resp.error = "boom";

  SubWorkflowEvent event;
  event.event_type = "blazen::StopEvent";
  event.step_id = "blazen::echo";
  event.data_json = "{}";
  event.timestamp_ms = 1700000000001ULL;
  event.response = resp;

  return {
      {"SubWorkflowRequest", EncodePostcard(req).value(), Wrap(DecodeSubWorkflowRequest)},
      {"SubWorkflowResponse", EncodePostcard(resp).value(), Wrap(DecodeSubWorkflowResponse)},
      {"RemoteRefDescriptor", EncodePostcard(resp.remote_refs.at(kUuid)).value(),
       Wrap(DecodeRemoteRefDescriptor)},
      {"DerefRequest", EncodePostcard(DerefRequest{1, kUuid}).value(), Wrap(DecodeDerefRequest)},
      {"DerefResponse", EncodePostcard(DerefResponse{1, {9, 8, 7, 6}}).value(),
       Wrap(DecodeDerefResponse)},
      {"ReleaseRequest", EncodePostcard(ReleaseRequest{1, kUuid}).value(),
       Wrap(DecodeReleaseRequest)},
      {"ReleaseResponse", EncodePostcard(ReleaseResponse{1, true}).value(),
       Wrap(DecodeReleaseResponse)},
      {"SubWorkflowEvent", EncodePostcard(event).value(), Wrap(DecodeSubWorkflowEvent)},
  };
}

TEST(PostcardMalformedTest, TruncatedAtEveryBytePositionIsUnexpectedEnd) {
  for (const Sample& s : Samples()) {
    ASSERT_TRUE(s.decode(s.bytes).ok()) << s.name;
    for (std::size_t len = 0; len < s.bytes.size(); ++len) {
      // A fresh heap copy of exactly `len` bytes, so a read past the end is caught by ASan.
      const ByteVector prefix(s.bytes.begin(), s.bytes.begin() + static_cast<long>(len));
      const Status st = s.decode(prefix);
      EXPECT_THAT(st, StatusIs(StatusCode::kInvalidArgument,
                               StartsWith("postcard decode failed: Hit the end of buffer")))
          << s.name << " truncated to " << len << " bytes";
      EXPECT_EQ(st.kind(), ErrorKind::kEncode);
    }
  }
}

TEST(PostcardMalformedTest, ErrorNamesTheField) {
  // "a" as step id 0, then step id 1 truncated in the middle.
  const ByteVector bytes = {0x01, 0x02, 'w', 'f', 0x02, 0x01, 'a', 0x05, 'b'};
  EXPECT_THAT(DecodeSubWorkflowRequest(bytes),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("(at SubWorkflowRequest.step_ids[1], byte 8)")));
}

TEST(PostcardMalformedTest, BadOptionTag) {
  // Example (b) with the final Option tag set to 2.
  const ByteVector bytes = {0x01, 0x02, 'w', 'f', 0x00, 0x02, '{', '}', 0x02};
  EXPECT_THAT(DecodeSubWorkflowRequest(bytes),
              StatusIs(StatusCode::kInvalidArgument,
                       "postcard decode failed: Found an Option discriminant that wasn't 0 or 1 "
                       "(at SubWorkflowRequest.timeout_secs, byte 9)"));
  // Bad tag in result_json of a response.
  EXPECT_THAT(DecodeSubWorkflowResponse(ByteVector{0x01, 0x00, 0x07}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Option discriminant")));
}

TEST(PostcardMalformedTest, BadBool) {
  for (std::uint8_t b : {0x02, 0x7F, 0xFF}) {
    EXPECT_THAT(
        DecodeReleaseResponse(ByteVector{0x01, b}),
        StatusIs(StatusCode::kInvalidArgument, HasSubstr("Found a bool that wasn't 0 or 1")));
  }
}

TEST(PostcardMalformedTest, OverlongVarintIsBadVarint) {
  // u32: six continuation bytes; u64 length: eleven.
  EXPECT_THAT(DecodeReleaseResponse(ByteVector{0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("varint that didn't terminate")));
  ByteVector long_len = {0x01};
  for (int i = 0; i < 10; ++i) long_len.push_back(0x80);
  long_len.push_back(0x00);
  EXPECT_THAT(DecodeDerefResponse(long_len),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("varint that didn't terminate")));
}

TEST(PostcardMalformedTest, U32OverflowInLastByteIsBadVarint) {
  // 5-byte u32 whose last byte carries more than 4 bits (0x10): 2^32 does not fit.
  EXPECT_THAT(DecodeReleaseResponse(ByteVector{0x80, 0x80, 0x80, 0x80, 0x10, 0x01}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("varint that didn't terminate")));
  // The largest u32 in five bytes is fine as a varint (and then a newer envelope version).
  EXPECT_THAT(DecodeReleaseResponse(ByteVector{0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01}),
              StatusIs(StatusCode::kFailedPrecondition));
  // u64 whose tenth byte is 0x02 overflows.
  ByteVector bytes = {0x01, 0x01, 'n', 0x00};
  for (int i = 0; i < 9; ++i) bytes.push_back(0xFF);
  bytes.push_back(0x02);
  EXPECT_THAT(DecodeRemoteRefDescriptor(ByteVector(bytes.begin() + 1, bytes.end())),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("varint that didn't terminate")));
}

TEST(PostcardMalformedTest, InvalidUtf8InEveryStringField) {
  // workflow_name
  EXPECT_THAT(
      DecodeSubWorkflowRequest(ByteVector{0x01, 0x02, 0xC3, 0x28, 0x00, 0x00, 0x00}),
      StatusIs(StatusCode::kInvalidArgument,
               HasSubstr("Tried to parse invalid utf-8 (at SubWorkflowRequest.workflow_name")));
  // a step id: lone continuation byte
  EXPECT_THAT(DecodeSubWorkflowRequest(ByteVector{0x01, 0x00, 0x01, 0x01, 0x80, 0x00, 0x00}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("step_ids[0]")));
  // error string: UTF-16 surrogate encoded as UTF-8 (ED A0 80)
  EXPECT_THAT(
      DecodeSubWorkflowResponse(ByteVector{0x01, 0x00, 0x00, 0x00, 0x01, 0x03, 0xED, 0xA0, 0x80}),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid utf-8")));
  // state_json key: overlong encoding of '/'
  EXPECT_THAT(
      DecodeSubWorkflowResponse(ByteVector{0x01, 0x01, 0x02, 0xC0, 0xAF, 0x00, 0x00, 0x00, 0x00}),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid utf-8")));
}

TEST(PostcardMalformedTest, UuidOfWrongLengthIsSerdeError) {
  for (std::uint8_t len : {0, 1, 15, 17}) {
    ByteVector bytes = {0x01, len};
    bytes.insert(bytes.end(), len, 0xAB);
    bytes.push_back(0x00);
    EXPECT_THAT(DecodeDerefRequest(bytes),
                StatusIs(StatusCode::kInvalidArgument,
                         HasSubstr("Serde Deserialization Error (UUID must be 16 bytes, got " +
                                   std::to_string(len) + ")")))
        << int{len};
    EXPECT_THAT(DecodeReleaseRequest(bytes), StatusIs(StatusCode::kInvalidArgument));
  }
}

TEST(PostcardMalformedTest, HugeLengthPrefixFailsWithoutAllocating) {
  // 2^60 as a byte-string length, then 3 bytes: must fail fast as "end of buffer".
  ByteVector bytes = {0x01};
  const std::uint64_t huge = std::uint64_t{1} << 60;
  detail::PostcardWriter w;
  w.Varint(huge);
  const ByteVector len = std::move(w).Take();
  bytes.insert(bytes.end(), len.begin(), len.end());
  bytes.insert(bytes.end(), {1, 2, 3});
  EXPECT_THAT(DecodeDerefResponse(bytes),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Hit the end of buffer")));
  // Same as a sequence count (step_ids) and as map counts.
  ByteVector req = {0x01, 0x00};
  req.insert(req.end(), len.begin(), len.end());
  EXPECT_THAT(DecodeSubWorkflowRequest(req),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("step_ids")));
  ByteVector resp = {0x01};
  resp.insert(resp.end(), len.begin(), len.end());
  EXPECT_THAT(DecodeSubWorkflowResponse(resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("state_json")));
  ByteVector refs = {0x01, 0x00, 0x00};
  refs.insert(refs.end(), len.begin(), len.end());
  EXPECT_THAT(DecodeSubWorkflowResponse(refs),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("remote_refs")));
}

TEST(PostcardMalformedTest, MaxU64LengthPrefix) {
  ByteVector bytes = {0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  EXPECT_THAT(DecodeDerefResponse(bytes), StatusIs(StatusCode::kInvalidArgument));
}

TEST(PostcardMalformedTest, EmptyInput) {
  for (const Sample& s : Samples()) {
    EXPECT_THAT(s.decode(ByteSpan{}), StatusIs(StatusCode::kInvalidArgument)) << s.name;
  }
}

TEST(PostcardMalformedTest, RandomMutationsNeverCrash) {
  // Flip, insert and delete bytes of valid encodings; every outcome must be a decoded value or a
  // clean INVALID_ARGUMENT / FAILED_PRECONDITION. Under ASan this also proves bounds safety.
  std::mt19937 rng(20261126);
  int failures = 0;
  int successes = 0;
  for (const Sample& s : Samples()) {
    for (int iter = 0; iter < 3000; ++iter) {
      ByteVector bytes = s.bytes;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = bytes.empty() ? 0 : rng() % bytes.size();
        switch (rng() % 3) {
          case 0:
            if (!bytes.empty()) bytes[at] = static_cast<std::uint8_t>(rng());
            break;
          case 1:
            bytes.insert(bytes.begin() + static_cast<long>(at), static_cast<std::uint8_t>(rng()));
            break;
          default:
            if (!bytes.empty()) bytes.erase(bytes.begin() + static_cast<long>(at));
        }
      }
      const Status st = s.decode(bytes);
      if (st.ok()) {
        ++successes;
      } else {
        ++failures;
        EXPECT_THAT(st.code(), AnyOf(StatusCode::kInvalidArgument, StatusCode::kFailedPrecondition))
            << s.name << ": " << st;
      }
    }
  }
  // Both outcomes must occur, or the mutation loop is not exercising the decoders.
  EXPECT_GT(failures, 1000);
  EXPECT_GT(successes, 100);
}

TEST(PostcardMalformedTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(7);
  for (const Sample& s : Samples()) {
    for (int iter = 0; iter < 2000; ++iter) {
      ByteVector bytes(rng() % 64);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
      const Status st = s.decode(bytes);
      if (!st.ok()) {
        EXPECT_THAT(st.code(),
                    AnyOf(StatusCode::kInvalidArgument, StatusCode::kFailedPrecondition));
      }
    }
  }
}

}  // namespace
}  // namespace blazen
