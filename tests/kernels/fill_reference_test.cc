// SPDX-License-Identifier: Apache-2.0
// Host references of the element-wise kernels: fill, counter-based uniform RNG, f32 -> f16.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/fill.h"
#include "kernels/half.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::testing::StatusIs;

TEST(FillReferenceTest, FillsEveryElement) {
  std::vector<float> data(37, 1.0f);
  BLAZEN_ASSERT_OK(FillF32Reference(data.data(), 37, -2.5f));
  for (const float v : data) EXPECT_EQ(v, -2.5f);
}

TEST(FillReferenceTest, RejectsNegativeCountAndNullData) {
  float x = 0.0f;
  EXPECT_THAT(FillF32Reference(&x, -1, 0.0f), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FillF32Reference(nullptr, 1, 0.0f), StatusIs(StatusCode::kInvalidArgument));
  BLAZEN_EXPECT_OK(FillF32Reference(nullptr, 0, 0.0f));
}

// Pins the generator: seeded tables must stay identical across versions.
TEST(RandomUniformReferenceTest, MatchesGoldenSplitMix64Values) {
  EXPECT_EQ(UniformF32At(0, 0, 0.0f, 1.0f), std::ldexp(14819496.0f, -24));
  EXPECT_EQ(UniformF32At(0, 1, 0.0f, 1.0f), std::ldexp(7239838.0f, -24));
  EXPECT_EQ(UniformF32At(42, 7, -1.0f, 1.0f), std::ldexp(13432373.0f, -23) - 1.0f);
}

TEST(RandomUniformReferenceTest, IsDeterministicAndIndexAddressed) {
  std::vector<float> a(1000);
  std::vector<float> b(1000);
  std::vector<float> prefix(10);
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(a.data(), 1000, 1234, -3.0f, 5.0f));
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(b.data(), 1000, 1234, -3.0f, 5.0f));
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(prefix.data(), 10, 1234, -3.0f, 5.0f));
  EXPECT_EQ(a, b);
  for (std::size_t i = 0; i < prefix.size(); ++i) EXPECT_EQ(prefix[i], a[i]);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i], UniformF32At(1234, static_cast<std::uint64_t>(i), -3.0f, 5.0f));
  }
}

TEST(RandomUniformReferenceTest, DifferentSeedsGiveDifferentStreams) {
  std::vector<float> a(64);
  std::vector<float> b(64);
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(a.data(), 64, 1, 0.0f, 1.0f));
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(b.data(), 64, 2, 0.0f, 1.0f));
  int equal = 0;
  for (std::size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i] ? 1 : 0;
  EXPECT_LT(equal, 2);
}

TEST(RandomUniformReferenceTest, StaysInRangeWithTheRightMoments) {
  constexpr std::int64_t kN = 200000;
  std::vector<float> data(kN);
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(data.data(), kN, 99, -1.0f, 3.0f));
  double sum = 0.0;
  double sum_squares = 0.0;
  for (const float v : data) {
    ASSERT_GE(v, -1.0f);
    ASSERT_LE(v, 3.0f);
    sum += v;
    sum_squares += static_cast<double>(v) * v;
  }
  const double mean = sum / kN;
  const double variance = sum_squares / kN - mean * mean;
  EXPECT_NEAR(mean, 1.0, 0.02);
  EXPECT_NEAR(variance, 16.0 / 12.0, 0.02);  // (hi - lo)^2 / 12
}

TEST(RandomUniformReferenceTest, DegenerateRangeGivesTheBound) {
  std::vector<float> data(8);
  BLAZEN_ASSERT_OK(RandomUniformF32Reference(data.data(), 8, 5, 2.0f, 2.0f));
  for (const float v : data) EXPECT_EQ(v, 2.0f);
}

TEST(RandomUniformReferenceTest, RejectsBadRanges) {
  float x = 0.0f;
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(RandomUniformF32Reference(&x, 1, 0, 1.0f, 0.0f),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RandomUniformF32Reference(&x, 1, 0, nan, 1.0f),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RandomUniformF32Reference(&x, 1, 0, 0.0f, inf),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RandomUniformF32Reference(&x, 1, 0, -std::numeric_limits<float>::max(),
                                        std::numeric_limits<float>::max()),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(RandomUniformF32Reference(&x, -1, 0, 0.0f, 1.0f),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(ConvertF32ToF16ReferenceTest, ConvertsEachElementWithFloatToHalf) {
  const std::vector<float> src = {0.0f,     -0.0f,    1.0f,
                                  65504.0f, 65520.0f, 1e-8f,
                                  -3.25f,   0.1f,     std::ldexp(1.0f, -25),
                                  123.456f, -1e10f,   std::ldexp(3.0f, -25)};
  std::vector<std::uint16_t> dst(src.size());
  BLAZEN_ASSERT_OK(
      ConvertF32ToF16Reference(src.data(), dst.data(), static_cast<std::int64_t>(src.size())));
  for (std::size_t i = 0; i < src.size(); ++i) EXPECT_EQ(dst[i], FloatToHalf(src[i])) << i;
  EXPECT_EQ(dst[2], 0x3c00);
  EXPECT_EQ(dst[4], 0x7c00);
}

TEST(ConvertF32ToF16ReferenceTest, RejectsNullPointers) {
  float x = 0.0f;
  std::uint16_t h = 0;
  EXPECT_THAT(ConvertF32ToF16Reference(nullptr, &h, 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ConvertF32ToF16Reference(&x, nullptr, 1), StatusIs(StatusCode::kInvalidArgument));
  BLAZEN_EXPECT_OK(ConvertF32ToF16Reference(nullptr, nullptr, 0));
}

}  // namespace
}  // namespace blazen::kernels
