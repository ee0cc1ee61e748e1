// SPDX-License-Identifier: Apache-2.0
// Uuid: v4 generation, parsing of every accepted form, formatting.

#include "core/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace blazen {
namespace {

using ::blazen::testing::StatusIs;

constexpr const char* kText = "00112233-4455-6677-8899-aabbccddeeff";

TEST(UuidTest, ParsesEveryAcceptedForm) {
  for (const char* form :
       {"00112233-4455-6677-8899-aabbccddeeff", "00112233445566778899AABBCCDDEEFF",
        "00112233445566778899aabbccddeeff", "{00112233-4455-6677-8899-AABBCCDDEEFF}",
        "urn:uuid:00112233-4455-6677-8899-aabbccddeeff",
        "URN:UUID:00112233-4455-6677-8899-aabbccddeeff"}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(Uuid u, Uuid::Parse(form));
    EXPECT_EQ(u.ToString(), kText) << form;
    EXPECT_EQ(u.bytes()[0], 0x00);
    EXPECT_EQ(u.bytes()[15], 0xFF);
  }
}

TEST(UuidTest, RejectsMalformedText) {
  for (const char* bad : {"", "not-a-uuid", "00112233-4455-6677-8899-aabbccddeef",  // 35 chars
                          "00112233-4455-6677-8899-aabbccddeefff",                  // 37 chars
                          "0011223344-55-6677-8899-aabbccddeeff",  // hyphens misplaced
                          "00112233-4455-6677-8899-aabbccddeefg",  // non-hex
                          "00112233445566778899aabbccddeef", "{00112233445566778899aabbccddeeff}",
                          "00112233-4455-6677-8899+aabbccddeeff"}) {
    EXPECT_THAT(Uuid::Parse(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(UuidTest, NewV4IsRandomVersion4Rfc4122) {
  std::set<Uuid> seen;
  for (int i = 0; i < 1000; ++i) {
    const Uuid u = Uuid::NewV4();
    EXPECT_EQ(u.version(), 4);
    EXPECT_EQ(u.bytes()[8] & 0xC0, 0x80);
    EXPECT_FALSE(u.is_nil());
    seen.insert(u);
    BLAZEN_ASSERT_OK_AND_ASSIGN(Uuid back, Uuid::Parse(u.ToString()));
    EXPECT_EQ(back, u);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UuidTest, NewV4FastIsVersion4AndUniqueAcrossThreads) {
  constexpr int kPerThread = 20000;
  std::vector<std::vector<Uuid>> made(4);
  std::vector<std::thread> threads;
  for (auto& out : made) {
    threads.emplace_back([&out] {
      for (int i = 0; i < kPerThread; ++i) out.push_back(Uuid::NewV4Fast());
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<Uuid> seen;
  for (const auto& out : made) {
    for (const Uuid& u : out) {
      ASSERT_EQ(u.version(), 4);
      ASSERT_EQ(u.bytes()[8] & 0xC0, 0x80);
      seen.insert(u);
    }
  }
  EXPECT_EQ(seen.size(), 4u * kPerThread);  // per-thread seeds differ
}

TEST(UuidTest, FromBytesRequiresSixteen) {
  const std::uint8_t raw[17] = {};
  EXPECT_TRUE(Uuid::FromBytes(std::span(raw, 16)).ok());
  EXPECT_THAT(Uuid::FromBytes(std::span(raw, 15)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Uuid::FromBytes(std::span(raw, 17)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(Uuid().is_nil());
  EXPECT_EQ(Uuid().ToString(), "00000000-0000-0000-0000-000000000000");
}

TEST(UuidTest, OrderingAndHashFollowBytes) {
  const Uuid a = Uuid::Parse("00000000-0000-0000-0000-000000000001").value();
  const Uuid b = Uuid::Parse("00000000-0000-0000-0000-000000000002").value();
  EXPECT_LT(a, b);
  EXPECT_NE(std::hash<Uuid>{}(a), std::hash<Uuid>{}(b));
  EXPECT_EQ(std::hash<Uuid>{}(a), std::hash<Uuid>{}(Uuid(a.bytes())));
}

}  // namespace
}  // namespace blazen
