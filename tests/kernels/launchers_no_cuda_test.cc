// SPDX-License-Identifier: Apache-2.0
// Without CUDA the launchers exist (callers compile either way) and report kUnimplemented.
// Built only when BLAZEN_ENABLE_CUDA is OFF.

#include <gtest/gtest.h>

#include <cstdint>

#include "kernels/cosine_topk.h"
#include "kernels/embedding_bag.h"
#include "kernels/fill.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::testing::StatusIs;

TEST(LaunchersWithoutCudaTest, ReturnUnimplemented) {
  float data[4] = {};
  std::uint16_t half[4] = {};
  std::int64_t ids[1] = {};
  EXPECT_THAT(FillF32(data, 4, 1.0f, nullptr), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(RandomUniformF32(data, 4, 1, 0.0f, 1.0f, nullptr),
              StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(ConvertF32ToF16(data, half, 4, nullptr), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(EmbeddingBagMean(EmbeddingBagArgs{}, nullptr), StatusIs(StatusCode::kUnimplemented));
  CosineTopKArgs args;
  args.k = 1;
  args.out_scores = data;
  args.out_ids = ids;
  EXPECT_THAT(CosineTopK(args, nullptr, 0, nullptr), StatusIs(StatusCode::kUnimplemented));
}

}  // namespace
}  // namespace blazen::kernels
