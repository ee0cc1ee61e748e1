// SPDX-License-Identifier: Apache-2.0
// Element-wise device kernels against their CPU references, bit for bit. Skips itself when no
// CUDA device is visible.

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/fill.h"
#include "kernels/half.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::kernels::testing::DeviceArray;
using ::blazen::testing::StatusIs;

TEST(FillGpuTest, FillF32SetsEveryElement) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr std::int64_t kN = (1 << 22) + 3;  // more than one grid-stride round
  DeviceArray<float> data(static_cast<std::size_t>(kN));
  BLAZEN_ASSERT_OK(FillF32(data.data(), kN, 3.5f, nullptr));
  const std::vector<float> host = data.ToHost();
  for (const float v : host) ASSERT_EQ(v, 3.5f);
}

TEST(FillGpuTest, RandomUniformMatchesTheReferenceBitForBit) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  constexpr std::int64_t kN = (1 << 21) + 17;
  for (const auto& [seed, lo, hi] : {std::tuple{42ULL, -1.0f, 2.0f}, std::tuple{0ULL, 0.0f, 1.0f},
                                     std::tuple{~0ULL, -1e-3f, 1e-3f}}) {
    DeviceArray<float> data(static_cast<std::size_t>(kN));
    BLAZEN_ASSERT_OK(RandomUniformF32(data.data(), kN, seed, lo, hi, nullptr));
    const std::vector<float> gpu = data.ToHost();
    std::vector<float> ref(gpu.size());
    BLAZEN_ASSERT_OK(RandomUniformF32Reference(ref.data(), kN, seed, lo, hi));
    for (std::size_t i = 0; i < ref.size(); ++i) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(gpu[i]), std::bit_cast<std::uint32_t>(ref[i]))
          << "seed " << seed << " index " << i;
    }
  }
}

TEST(FillGpuTest, ConvertF32ToF16MatchesFloatToHalf) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  std::vector<float> src = {0.0f,
                            -0.0f,
                            1.0f,
                            65504.0f,
                            65519.0f,
                            65520.0f,
                            -1e9f,
                            std::ldexp(1.0f, -25),
                            std::ldexp(3.0f, -25),
                            std::ldexp(1023.5f, -24),
                            std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1.0f + std::ldexp(1.0f, -11)};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-28, 17);
  while (src.size() < 200000) src.push_back(std::ldexp(mantissa(rng), exponent(rng)));
  const auto n = static_cast<std::int64_t>(src.size());
  DeviceArray<float> d_src(src);
  DeviceArray<std::uint16_t> d_dst(src.size());
  BLAZEN_ASSERT_OK(ConvertF32ToF16(d_src.data(), d_dst.data(), n, nullptr));
  const std::vector<std::uint16_t> gpu = d_dst.ToHost();
  for (std::size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(gpu[i], FloatToHalf(src[i])) << "value " << src[i];
  }

  // NaN stays NaN (payload bits may differ between implementations).
  DeviceArray<float> nan_src(std::vector<float>{std::numeric_limits<float>::quiet_NaN()});
  DeviceArray<std::uint16_t> nan_dst(1);
  BLAZEN_ASSERT_OK(ConvertF32ToF16(nan_src.data(), nan_dst.data(), 1, nullptr));
  EXPECT_TRUE(std::isnan(HalfToFloat(nan_dst.ToHost()[0])));
}

TEST(FillGpuTest, EmptyInputsLaunchNothingAndBadInputsAreRejected) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  BLAZEN_EXPECT_OK(FillF32(nullptr, 0, 1.0f, nullptr));
  BLAZEN_EXPECT_OK(RandomUniformF32(nullptr, 0, 1, 0.0f, 1.0f, nullptr));
  BLAZEN_EXPECT_OK(ConvertF32ToF16(nullptr, nullptr, 0, nullptr));
  EXPECT_THAT(FillF32(nullptr, 5, 1.0f, nullptr), StatusIs(StatusCode::kInvalidArgument));
  DeviceArray<float> data(4);
  EXPECT_THAT(RandomUniformF32(data.data(), 4, 1, 1.0f, 0.0f, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(FillF32(data.data(), -1, 1.0f, nullptr), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace blazen::kernels
