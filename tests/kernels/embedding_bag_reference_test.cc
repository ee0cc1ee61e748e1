// SPDX-License-Identifier: Apache-2.0
// Host reference of EmbeddingBag(mean) + L2 normalisation: hand-checked cases, ragged and empty
// bags, f16 tables, int32/int64 ids, and rejection of bad ids, offsets and arguments.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/embedding_bag.h"
#include "kernels/half.h"
#include "tests/kernels/kernel_test_data.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::kernels::testing::BagProblem;
using ::blazen::kernels::testing::MakeBagProblem;
using ::blazen::testing::StatusIs;

// 4 rows x 3 columns; bags {0, 1}, {2}, {}, {3, 3, 1}.
struct HandCase {
  std::vector<float> table = {1, 2, 3, 3, 2, 1, 0, -4, 8, 6, 0, 0};
  std::vector<std::int64_t> ids = {0, 1, 2, 3, 3, 1};
  std::vector<std::int64_t> offsets = {0, 2, 3, 3, 6};
  std::vector<float> out = std::vector<float>(12, -99.0f);

  EmbeddingBagArgs Args(bool normalize) {
    EmbeddingBagArgs args;
    args.table = table.data();
    args.table_dtype = DType::kF32;
    args.num_rows = 4;
    args.dim = 3;
    args.ids = ids.data();
    args.id_dtype = DType::kI64;
    args.num_ids = static_cast<std::int64_t>(ids.size());
    args.offsets = offsets.data();
    args.num_bags = 4;
    args.normalize = normalize;
    args.out = out.data();
    return args;
  }
};

void ExpectRow(const std::vector<float>& out, int row, std::vector<float> expected) {
  for (std::size_t d = 0; d < expected.size(); ++d) {
    EXPECT_FLOAT_EQ(out[static_cast<std::size_t>(row) * expected.size() + d], expected[d])
        << "row " << row << " column " << d;
  }
}

TEST(EmbeddingBagReferenceTest, ComputesHandCheckedMeans) {
  HandCase c;
  BLAZEN_ASSERT_OK(EmbeddingBagMeanReference(c.Args(/*normalize=*/false)));
  ExpectRow(c.out, 0, {2, 2, 2});
  ExpectRow(c.out, 1, {0, -4, 8});
  ExpectRow(c.out, 2, {0, 0, 0});
  ExpectRow(c.out, 3, {5, 2.0f / 3, 1.0f / 3});
}

TEST(EmbeddingBagReferenceTest, NormalisesHandCheckedMeans) {
  HandCase c;
  BLAZEN_ASSERT_OK(EmbeddingBagMeanReference(c.Args(/*normalize=*/true)));
  const float inv_sqrt3 = 1.0f / std::sqrt(3.0f);
  ExpectRow(c.out, 0, {inv_sqrt3, inv_sqrt3, inv_sqrt3});
  ExpectRow(c.out, 1, {0, -4 / std::sqrt(80.0f), 8 / std::sqrt(80.0f)});
  ExpectRow(c.out, 2, {0, 0, 0});  // an empty bag stays zero, no division by zero
  const double norm = std::sqrt(25.0 + 4.0 / 9 + 1.0 / 9);
  ExpectRow(c.out, 3,
            {static_cast<float>(5 / norm), static_cast<float>(2.0 / 3 / norm),
             static_cast<float>(1.0 / 3 / norm)});
}

TEST(EmbeddingBagReferenceTest, MatchesDoublePrecisionMeansOnRaggedBags) {
  const BagProblem p = MakeBagProblem(/*num_rows=*/500, /*dim=*/19, /*num_bags=*/40,
                                      /*max_bag=*/60, /*seed=*/1);
  std::vector<float> out(static_cast<std::size_t>(p.num_bags() * p.dim));
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF32, DType::kI64, false, out.data())));
  for (std::int64_t b = 0; b < p.num_bags(); ++b) {
    const auto begin = static_cast<std::size_t>(p.offsets[static_cast<std::size_t>(b)]);
    const auto end = static_cast<std::size_t>(p.offsets[static_cast<std::size_t>(b) + 1]);
    for (std::int64_t d = 0; d < p.dim; ++d) {
      double sum = 0.0;
      double magnitude = 0.0;
      for (std::size_t i = begin; i < end; ++i) {
        const double v = p.table_f32[static_cast<std::size_t>(p.ids64[i] * p.dim + d)];
        sum += v;
        magnitude += std::fabs(v);
      }
      const double n = static_cast<double>(end - begin);
      const double expected = n > 0 ? sum / n : 0.0;
      const double tolerance = n > 0 ? 1e-6 * magnitude / n + 1e-7 : 0.0;
      EXPECT_NEAR(out[static_cast<std::size_t>(b * p.dim + d)], expected, tolerance);
    }
  }
}

TEST(EmbeddingBagReferenceTest, NormalisedRowsHaveUnitNormAndTheMeansDirection) {
  const BagProblem p = MakeBagProblem(300, 64, 50, 40, 2);
  std::vector<float> mean(static_cast<std::size_t>(p.num_bags() * p.dim));
  std::vector<float> unit(mean.size());
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF32, DType::kI64, false, mean.data())));
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF32, DType::kI64, true, unit.data())));
  for (std::int64_t b = 0; b < p.num_bags(); ++b) {
    const bool empty =
        p.offsets[static_cast<std::size_t>(b)] == p.offsets[static_cast<std::size_t>(b) + 1];
    double norm_squared = 0.0;
    double mean_norm_squared = 0.0;
    for (std::int64_t d = 0; d < p.dim; ++d) {
      const auto i = static_cast<std::size_t>(b * p.dim + d);
      norm_squared += static_cast<double>(unit[i]) * unit[i];
      mean_norm_squared += static_cast<double>(mean[i]) * mean[i];
    }
    if (empty) {
      EXPECT_EQ(norm_squared, 0.0) << b;
      continue;
    }
    EXPECT_NEAR(std::sqrt(norm_squared), 1.0, 1e-6) << b;
    const double mean_norm = std::sqrt(mean_norm_squared);
    for (std::int64_t d = 0; d < p.dim; ++d) {
      const auto i = static_cast<std::size_t>(b * p.dim + d);
      EXPECT_NEAR(unit[i], mean[i] / mean_norm, 1e-6);
    }
  }
}

TEST(EmbeddingBagReferenceTest, F16TableEqualsF32TableOfTheRoundedValues) {
  BagProblem p = MakeBagProblem(200, 24, 30, 30, 3);
  for (std::size_t i = 0; i < p.table_f32.size(); ++i) {
    p.table_f32[i] = HalfToFloat(p.table_f16[i]);
  }
  for (const bool normalize : {false, true}) {
    std::vector<float> from_f16(static_cast<std::size_t>(p.num_bags() * p.dim));
    std::vector<float> from_f32(from_f16.size());
    BLAZEN_ASSERT_OK(EmbeddingBagMeanReference(
        p.HostArgs(DType::kF16, DType::kI64, normalize, from_f16.data())));
    BLAZEN_ASSERT_OK(EmbeddingBagMeanReference(
        p.HostArgs(DType::kF32, DType::kI64, normalize, from_f32.data())));
    EXPECT_EQ(from_f16, from_f32);
  }
}

TEST(EmbeddingBagReferenceTest, Int32AndInt64IdsGiveIdenticalResults) {
  const BagProblem p = MakeBagProblem(1000, 16, 25, 50, 4);
  std::vector<float> from_i32(static_cast<std::size_t>(p.num_bags() * p.dim));
  std::vector<float> from_i64(from_i32.size());
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF16, DType::kI32, true, from_i32.data())));
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF16, DType::kI64, true, from_i64.data())));
  EXPECT_EQ(from_i32, from_i64);
}

TEST(EmbeddingBagReferenceTest, RejectsOutOfRangeIdsAndLeavesOutputUntouched) {
  for (const std::int64_t bad : {std::int64_t{4}, std::int64_t{-1}, std::int64_t{1} << 40}) {
    HandCase c;
    c.ids[4] = bad;
    EXPECT_THAT(EmbeddingBagMeanReference(c.Args(true)), StatusIs(StatusCode::kInvalidArgument))
        << bad;
    for (const float v : c.out) EXPECT_EQ(v, -99.0f);
  }
  std::vector<float> table = {1, 2};
  std::vector<std::int32_t> ids = {0, 2};
  std::vector<std::int64_t> offsets = {0, 2};
  float out[1] = {0};
  EmbeddingBagArgs args;
  args.table = table.data();
  args.num_rows = 2;
  args.dim = 1;
  args.ids = ids.data();
  args.id_dtype = DType::kI32;
  args.num_ids = 2;
  args.offsets = offsets.data();
  args.num_bags = 1;
  args.out = out;
  EXPECT_THAT(EmbeddingBagMeanReference(args), StatusIs(StatusCode::kInvalidArgument));
}

TEST(EmbeddingBagReferenceTest, RejectsBadOffsets) {
  const std::vector<std::vector<std::int64_t>> bad_offsets = {
      {0, 3, 2, 3, 6},   // decreasing
      {0, 2, 3, 3, 7},   // past num_ids
      {-1, 2, 3, 3, 6},  // negative
  };
  for (const auto& offsets : bad_offsets) {
    HandCase c;
    c.offsets = offsets;
    EXPECT_THAT(EmbeddingBagMeanReference(c.Args(false)), StatusIs(StatusCode::kInvalidArgument));
  }
}

TEST(EmbeddingBagReferenceTest, AcceptsOffsetsThatSkipIds) {
  // Offsets need not start at 0 nor cover every id.
  HandCase c;
  c.offsets = {1, 2, 2, 3, 5};  // bags {1}, {}, {2}, {3, 3}
  BLAZEN_ASSERT_OK(EmbeddingBagMeanReference(c.Args(false)));
  ExpectRow(c.out, 0, {3, 2, 1});
  ExpectRow(c.out, 1, {0, 0, 0});
  ExpectRow(c.out, 2, {0, -4, 8});
  ExpectRow(c.out, 3, {6, 0, 0});
}

TEST(EmbeddingBagReferenceTest, ValidateRejectsBadDtypesSizesAndNullPointers) {
  HandCase c;
  BLAZEN_EXPECT_OK(ValidateEmbeddingBagArgs(c.Args(true)));
  const auto expect_invalid = [&](auto mutate) {
    EmbeddingBagArgs args = c.Args(true);
    mutate(args);
    EXPECT_THAT(ValidateEmbeddingBagArgs(args), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(EmbeddingBagMeanReference(args), StatusIs(StatusCode::kInvalidArgument));
  };
  expect_invalid([](EmbeddingBagArgs& a) { a.table_dtype = DType::kU8; });
  expect_invalid([](EmbeddingBagArgs& a) { a.table_dtype = DType::kI32; });
  expect_invalid([](EmbeddingBagArgs& a) { a.id_dtype = DType::kF32; });
  expect_invalid([](EmbeddingBagArgs& a) { a.id_dtype = DType::kU8; });
  expect_invalid([](EmbeddingBagArgs& a) { a.num_rows = -1; });
  expect_invalid([](EmbeddingBagArgs& a) { a.dim = -3; });
  expect_invalid([](EmbeddingBagArgs& a) { a.num_ids = -1; });
  expect_invalid([](EmbeddingBagArgs& a) { a.num_bags = -1; });
  expect_invalid([](EmbeddingBagArgs& a) { a.num_rows = std::int64_t{1} << 62; });
  expect_invalid([](EmbeddingBagArgs& a) { a.table = nullptr; });
  expect_invalid([](EmbeddingBagArgs& a) { a.ids = nullptr; });
  expect_invalid([](EmbeddingBagArgs& a) { a.offsets = nullptr; });
  expect_invalid([](EmbeddingBagArgs& a) { a.out = nullptr; });
}

TEST(EmbeddingBagReferenceTest, NoBagsOrZeroWidthIsOk) {
  EmbeddingBagArgs none;
  BLAZEN_EXPECT_OK(EmbeddingBagMeanReference(none));
  HandCase c;
  EmbeddingBagArgs zero_width = c.Args(true);
  zero_width.dim = 0;
  zero_width.out = nullptr;
  zero_width.table = nullptr;
  BLAZEN_EXPECT_OK(EmbeddingBagMeanReference(zero_width));
}

}  // namespace
}  // namespace blazen::kernels
