// SPDX-License-Identifier: Apache-2.0
// The Range header rules of GET /v1/peer/refs/{uuid}, without a server: parsing (what RFC 9110
// lets a server ignore) and resolution against the payload size (206 range, 200 whole, 416).

#include "server/transport/http/http_range.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace blazen::server::http_transport {
namespace {

using ::blazen::testing::StatusIs;
using detail::ByteRange;
using Kind = RangeSpec::Kind;

TEST(HttpRangeTest, ParsesTheFormsWeServe) {
  EXPECT_EQ(ParseRangeHeader(std::nullopt).kind, Kind::kWhole);
  EXPECT_EQ(ParseRangeHeader("bytes=0-"), (RangeSpec{Kind::kFromTo, 0, std::nullopt, 0}));
  EXPECT_EQ(ParseRangeHeader("bytes=5-9"), (RangeSpec{Kind::kFromTo, 5, 9, 0}));
  EXPECT_EQ(ParseRangeHeader("bytes= 5-9 "), (RangeSpec{Kind::kFromTo, 5, 9, 0}));
  EXPECT_EQ(ParseRangeHeader("bytes=-10"), (RangeSpec{Kind::kSuffix, 0, std::nullopt, 10}));
}

TEST(HttpRangeTest, IgnoresWhatItMayIgnore) {
  for (const char* header :
       {"", "bytes", "bytes=", "items=0-5", "bytes=0-5,7-9", "bytes=a-5", "bytes=5-a", "bytes=9-5",
        "bytes=-", "bytes=--5", "bytes=99999999999999999999-", "BYTES=0-5"}) {
    EXPECT_EQ(ParseRangeHeader(header).kind, Kind::kWhole) << header;
  }
}

TEST(HttpRangeTest, ResolvesAgainstThePayload) {
  const Uuid key = Uuid::NewV4();
  auto resolve = [&](const char* header, std::uint64_t total) {
    std::optional<std::string_view> value;
    if (header != nullptr) value = header;
    return ResolveRange(key, ParseRangeHeader(value), total);
  };
  EXPECT_EQ(**resolve("bytes=0-", 100), (ByteRange{0, 100}));
  EXPECT_EQ(**resolve("bytes=10-19", 100), (ByteRange{10, 20}));
  EXPECT_EQ(**resolve("bytes=90-1000", 100), (ByteRange{90, 100}));
  EXPECT_EQ(**resolve("bytes=99-99", 100), (ByteRange{99, 100}));
  EXPECT_EQ(**resolve("bytes=-10", 100), (ByteRange{90, 100}));
  EXPECT_EQ(**resolve("bytes=-1000", 100), (ByteRange{0, 100}));
  EXPECT_FALSE(resolve("bytes=5-1", 100)->has_value()) << "ignored: the whole payload";
  EXPECT_FALSE(resolve(nullptr, 0)->has_value());
  EXPECT_THAT(resolve("bytes=100-", 100), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(resolve("bytes=100-200", 100), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(resolve("bytes=0-", 0), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(resolve("bytes=-0", 100), StatusIs(StatusCode::kOutOfRange));
  EXPECT_THAT(resolve("bytes=-5", 0), StatusIs(StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace blazen::server::http_transport
