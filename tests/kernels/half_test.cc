// SPDX-License-Identifier: Apache-2.0
// Host binary16 conversions: exact values, round-to-nearest-even at every boundary, round trips.

#include "kernels/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace blazen::kernels {
namespace {

bool IsHalfNan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

TEST(HalfTest, ConvertsExactValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(0.5f), 0x3800);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);                  // largest finite
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);

  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x8000), 0.0f);
}

TEST(HalfTest, RoundsToNearestEvenAtTies) {
  const float ulp_at_one = std::ldexp(1.0f, -10);
  EXPECT_EQ(FloatToHalf(1.0f + ulp_at_one / 2), 0x3c00);      // tie -> even (down)
  EXPECT_EQ(FloatToHalf(1.0f + 3 * ulp_at_one / 2), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(FloatToHalf(std::nextafter(1.0f + ulp_at_one / 2, 2.0f)), 0x3c01);
  EXPECT_EQ(FloatToHalf(std::nextafter(1.0f + ulp_at_one / 2, 0.0f)), 0x3c00);
  EXPECT_EQ(FloatToHalf(-(1.0f + 3 * ulp_at_one / 2)), 0xbc02);
}

TEST(HalfTest, OverflowsToInfinityFrom65520) {
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // tie between 65504 and 65536 (=inf): even is inf
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e30f), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::max()), 0x7c00);
}

TEST(HalfTest, RoundsSubnormalsCorrectly) {
  const float quarter_unit = std::ldexp(1.0f, -26);
  EXPECT_EQ(FloatToHalf(2 * quarter_unit), 0x0000);  // 2^-25: tie -> even zero
  EXPECT_EQ(FloatToHalf(-2 * quarter_unit), 0x8000);
  EXPECT_EQ(FloatToHalf(std::nextafter(2 * quarter_unit, 1.0f)), 0x0001);
  EXPECT_EQ(FloatToHalf(quarter_unit), 0x0000);
  EXPECT_EQ(FloatToHalf(6 * quarter_unit), 0x0002);          // 1.5 units: tie -> even (2)
  EXPECT_EQ(FloatToHalf(10 * quarter_unit), 0x0002);         // 2.5 units: tie -> even (2)
  EXPECT_EQ(FloatToHalf(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::min()), 0x8000);
}

TEST(HalfTest, NanStaysNan) {
  EXPECT_TRUE(IsHalfNan(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(IsHalfNan(FloatToHalf(-std::numeric_limits<float>::quiet_NaN())));
  // A signalling NaN whose payload lives only in the low bits must not become infinity.
  EXPECT_TRUE(IsHalfNan(FloatToHalf(std::bit_cast<float>(0x7f800001u))));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0xfc01)));
}

TEST(HalfTest, EveryHalfRoundTripsThroughFloat) {
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = HalfToFloat(h);
    if (IsHalfNan(h)) {
      EXPECT_TRUE(std::isnan(f)) << bits;
      EXPECT_TRUE(IsHalfNan(FloatToHalf(f))) << bits;
    } else {
      ASSERT_EQ(FloatToHalf(f), h) << "bits 0x" << std::hex << bits;
    }
  }
}

// Brute-force definition of round-to-nearest-even: no neighbouring half is closer, and a tie
// picks the even mantissa.
TEST(HalfTest, RandomFloatsRoundToNearestHalf) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-26, 15);
  for (int i = 0; i < 200000; ++i) {
    const float f = std::ldexp(mantissa(rng), exponent(rng));
    if (std::fabs(f) >= 65504.0f) continue;
    const std::uint16_t h = FloatToHalf(f);
    const double error = std::fabs(static_cast<double>(HalfToFloat(h)) - f);
    for (const int step : {-1, 1}) {
      const int neighbour_bits = static_cast<int>(h & 0x7fffu) + step;
      if (neighbour_bits < 0 || neighbour_bits > 0x7bff) continue;
      const auto neighbour =
          static_cast<std::uint16_t>((h & 0x8000u) | static_cast<unsigned>(neighbour_bits));
      const double neighbour_error = std::fabs(static_cast<double>(HalfToFloat(neighbour)) - f);
      ASSERT_LE(error, neighbour_error) << f;
      if (error == neighbour_error) {
        ASSERT_EQ(h & 1u, 0u) << "tie must round to even: " << f;
      }
    }
  }
}

}  // namespace
}  // namespace blazen::kernels
