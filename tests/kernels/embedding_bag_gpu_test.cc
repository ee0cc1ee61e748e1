// SPDX-License-Identifier: Apache-2.0
// EmbeddingBagMean on the device against its CPU reference: every table/id type, widths that take
// the vector, scalar and multi-pass paths, invalid ids and offsets (skipped, clamped, flagged).
// Skips itself when no CUDA device is visible.

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/embedding_bag.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/kernels/kernel_test_data.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::kernels::testing::BagProblem;
using ::blazen::kernels::testing::DeviceArray;
using ::blazen::kernels::testing::MakeBagProblem;
using ::blazen::testing::StatusIs;

// The problem's arrays on the device, plus args pointing at them.
struct DeviceBagProblem {
  explicit DeviceBagProblem(const BagProblem& p)
      : table_f32(p.table_f32),
        table_f16(p.table_f16),
        ids64(p.ids64),
        ids32(p.ids32),
        offsets(p.offsets),
        out(static_cast<std::size_t>(p.num_bags() * p.dim)),
        host(p) {}

  EmbeddingBagArgs Args(DType table_dtype, DType id_dtype, bool normalize) const {
    EmbeddingBagArgs args = host.HostArgs(table_dtype, id_dtype, normalize, out.data());
    args.table = table_dtype == DType::kF16 ? static_cast<const void*>(table_f16.data())
                                            : static_cast<const void*>(table_f32.data());
    args.ids = id_dtype == DType::kI32 ? static_cast<const void*>(ids32.data())
                                       : static_cast<const void*>(ids64.data());
    args.offsets = offsets.data();
    return args;
  }

  DeviceArray<float> table_f32;
  DeviceArray<std::uint16_t> table_f16;
  DeviceArray<std::int64_t> ids64;
  DeviceArray<std::int32_t> ids32;
  DeviceArray<std::int64_t> offsets;
  DeviceArray<float> out;
  const BagProblem& host;
};

// |gpu - ref| <= tolerance * max(|ref|, row's largest |ref|): relative to the row's scale, so
// cancellation near zero does not produce false failures.
void ExpectRowsNear(const std::vector<float>& gpu, const std::vector<float>& ref, std::int64_t dim,
                    double tolerance) {
  ASSERT_EQ(gpu.size(), ref.size());
  const auto width = static_cast<std::size_t>(dim);
  for (std::size_t row = 0; width > 0 && row < ref.size() / width; ++row) {
    double scale = 0.0;
    for (std::size_t d = 0; d < width; ++d)
      scale = std::fmax(scale, std::fabs(ref[row * width + d]));
    for (std::size_t d = 0; d < width; ++d) {
      const std::size_t i = row * width + d;
      ASSERT_NEAR(gpu[i], ref[i], tolerance * std::fmax(scale, 1e-30))
          << "row " << row << " col " << d;
    }
  }
}

using Params = std::tuple<DType, DType, std::int64_t, bool>;

class EmbeddingBagGpuTest : public ::testing::TestWithParam<Params> {};

TEST_P(EmbeddingBagGpuTest, MatchesReference) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  const auto [table_dtype, id_dtype, dim, normalize] = GetParam();
  const BagProblem p = MakeBagProblem(/*num_rows=*/3000, dim, /*num_bags=*/101, /*max_bag=*/150,
                                      /*seed=*/static_cast<std::uint32_t>(dim));
  DeviceBagProblem d(p);
  DeviceArray<int> flag(1);
  BLAZEN_ASSERT_OK(
      EmbeddingBagMean(d.Args(table_dtype, id_dtype, normalize), nullptr, flag.data()));
  const std::vector<float> gpu = d.out.ToHost();
  EXPECT_EQ(flag.ToHost()[0], 0);

  std::vector<float> ref(gpu.size());
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(table_dtype, id_dtype, normalize, ref.data())));
  ExpectRowsNear(gpu, ref, dim, table_dtype == DType::kF16 ? 1e-4 : 1e-5);
}

std::string ParamName(const ::testing::TestParamInfo<Params>& info) {
  const auto [table_dtype, id_dtype, dim, normalize] = info.param;
  return std::string(DTypeName(table_dtype)) + "_" + std::string(DTypeName(id_dtype)) + "_d" +
         std::to_string(dim) + (normalize ? "_normalized" : "_mean");
}

// 384: 16-byte vectors, 3 (f32) / 2 (f16) per lane. 128: one per lane. 37 and 1: scalar path.
// 1000 (f32) and 1032 (f16 vectors: 129 > 4 * 32 vectors): several passes. 3: tiny rows.
INSTANTIATE_TEST_SUITE_P(Shapes, EmbeddingBagGpuTest,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kF16),
                                            ::testing::Values(DType::kI32, DType::kI64),
                                            ::testing::Values<std::int64_t>(1, 3, 37, 128, 384,
                                                                            1000, 1032, 2056),
                                            ::testing::Bool()),
                         ParamName);

TEST(EmbeddingBagGpuShapeTest, BenchmarkShapeMatchesReference) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  // The benchmark's bag shape (4096 bags x 128 ids, D = 384) over a smaller table.
  BagProblem p = MakeBagProblem(1 << 16, 384, 0, 0, 5);
  std::mt19937 rng(6);
  std::uniform_int_distribution<std::int64_t> row(0, p.num_rows - 1);
  for (int b = 0; b < 4096; ++b) {
    for (int i = 0; i < 128; ++i) {
      p.ids64.push_back(row(rng));
      p.ids32.push_back(static_cast<std::int32_t>(p.ids64.back()));
    }
    p.offsets.push_back(static_cast<std::int64_t>(p.ids64.size()));
  }
  DeviceBagProblem d(p);
  BLAZEN_ASSERT_OK(EmbeddingBagMean(d.Args(DType::kF32, DType::kI64, true), nullptr));
  const std::vector<float> gpu = d.out.ToHost();
  std::vector<float> ref(gpu.size());
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF32, DType::kI64, true, ref.data())));
  ExpectRowsNear(gpu, ref, p.dim, 1e-5);
}

TEST(EmbeddingBagGpuShapeTest, UnalignedTableTakesTheScalarPathAndMatches) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  BagProblem p = MakeBagProblem(500, 384, 20, 40, 8);
  // Shift the table by one element: rows stay dense, but no longer 16-byte aligned.
  std::vector<float> shifted(p.table_f32.size() + 1);
  std::copy(p.table_f32.begin(), p.table_f32.end(), shifted.begin() + 1);
  DeviceArray<float> table(shifted);
  DeviceBagProblem d(p);
  EmbeddingBagArgs args = d.Args(DType::kF32, DType::kI64, true);
  args.table = table.data() + 1;
  BLAZEN_ASSERT_OK(EmbeddingBagMean(args, nullptr));
  const std::vector<float> gpu = d.out.ToHost();
  std::vector<float> ref(gpu.size());
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(p.HostArgs(DType::kF32, DType::kI64, true, ref.data())));
  ExpectRowsNear(gpu, ref, p.dim, 1e-5);
}

TEST(EmbeddingBagGpuErrorTest, SkipsAndFlagsOutOfRangeIds) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  BagProblem p = MakeBagProblem(100, 64, 10, 20, 9);
  // The same problem without the bad ids is what the kernel must compute.
  BagProblem clean = p;
  const std::vector<std::size_t> bad_positions = {0, 5, 17};
  const std::vector<std::int64_t> bad_values = {-1, 100, std::int64_t{1} << 40};
  for (std::size_t i = 0; i < bad_positions.size(); ++i) {
    ASSERT_LT(bad_positions[i], p.ids64.size());
    p.ids64[bad_positions[i]] = bad_values[i];
  }
  clean.ids64.clear();
  clean.ids32.clear();
  clean.offsets = {0};
  for (std::size_t b = 0; b + 1 < p.offsets.size(); ++b) {
    for (auto i = static_cast<std::size_t>(p.offsets[b]);
         i < static_cast<std::size_t>(p.offsets[b + 1]); ++i) {
      if (p.ids64[i] >= 0 && p.ids64[i] < p.num_rows) {
        clean.ids64.push_back(p.ids64[i]);
        clean.ids32.push_back(static_cast<std::int32_t>(p.ids64[i]));
      }
    }
    clean.offsets.push_back(static_cast<std::int64_t>(clean.ids64.size()));
  }
  DeviceBagProblem d(p);
  DeviceArray<int> flag(1);
  BLAZEN_ASSERT_OK(EmbeddingBagMean(d.Args(DType::kF32, DType::kI64, true), nullptr, flag.data()));
  const std::vector<float> gpu = d.out.ToHost();
  EXPECT_EQ(flag.ToHost()[0], kEmbeddingBagBadId);

  std::vector<float> ref(gpu.size());
  EXPECT_THAT(EmbeddingBagMeanReference(p.HostArgs(DType::kF32, DType::kI64, true, ref.data())),
              StatusIs(StatusCode::kInvalidArgument));
  BLAZEN_ASSERT_OK(
      EmbeddingBagMeanReference(clean.HostArgs(DType::kF32, DType::kI64, true, ref.data())));
  ExpectRowsNear(gpu, ref, p.dim, 1e-5);
}

TEST(EmbeddingBagGpuErrorTest, ClampsAndFlagsBadOffsetsWithoutFaulting) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  BagProblem p = MakeBagProblem(100, 32, 6, 10, 10);
  p.offsets[2] = p.offsets[1] - 1;    // decreasing
  p.offsets[6] = p.num_ids() + 1000;  // past the ids
  DeviceBagProblem d(p);
  DeviceArray<int> flag(1);
  BLAZEN_ASSERT_OK(EmbeddingBagMean(d.Args(DType::kF16, DType::kI32, false), nullptr, flag.data()));
  static_cast<void>(d.out.ToHost());
  EXPECT_EQ(flag.ToHost()[0], kEmbeddingBagBadOffsets);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(EmbeddingBagGpuErrorTest, ResetsTheFlagForValidInput) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  const BagProblem p = MakeBagProblem(100, 32, 6, 10, 11);
  DeviceBagProblem d(p);
  DeviceArray<int> flag(std::vector<int>{0x7f});
  BLAZEN_ASSERT_OK(EmbeddingBagMean(d.Args(DType::kF32, DType::kI64, true), nullptr, flag.data()));
  EXPECT_EQ(flag.ToHost()[0], 0);
}

TEST(EmbeddingBagGpuErrorTest, RejectsInvalidArgumentsBeforeLaunching) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  EmbeddingBagArgs args;
  args.table_dtype = DType::kU8;
  EXPECT_THAT(EmbeddingBagMean(args, nullptr), StatusIs(StatusCode::kInvalidArgument));
  args = EmbeddingBagArgs{};
  BLAZEN_EXPECT_OK(EmbeddingBagMean(args, nullptr));  // nothing to do
}

}  // namespace
}  // namespace blazen::kernels
