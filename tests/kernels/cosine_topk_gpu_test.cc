// SPDX-License-Identifier: Apache-2.0
// CosineTopK on the device against its CPU reference, for shapes that take the single-block and
// the split + merge paths, the vector and scalar paths, ties, and N < k. Skips itself when no
// CUDA device is visible.

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cosine_topk.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::kernels::testing::DeviceArray;
using ::blazen::testing::StatusIs;

struct Shape {
  std::int64_t num_queries;
  std::int64_t num_rows;
  std::int64_t dim;
  int k;
};

struct Problem {
  Shape shape;
  std::vector<float> queries;
  std::vector<float> matrix;
};

// Random rows in [-1, 1) with some exact duplicates (exact ties) and query 0 equal to row 0.
Problem MakeProblem(const Shape& shape, std::uint32_t seed) {
  Problem p{shape, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  p.queries.resize(static_cast<std::size_t>(shape.num_queries * shape.dim));
  p.matrix.resize(static_cast<std::size_t>(shape.num_rows * shape.dim));
  for (float& v : p.queries) v = value(rng);
  for (float& v : p.matrix) v = value(rng);
  if (shape.num_rows > 1) {
    std::uniform_int_distribution<std::int64_t> row(0, shape.num_rows - 1);
    for (std::int64_t i = 0; i < shape.num_rows / 10; ++i) {
      const std::int64_t from = row(rng);
      const std::int64_t to = row(rng);
      std::copy_n(p.matrix.begin() + from * shape.dim, shape.dim,
                  p.matrix.begin() + to * shape.dim);
    }
    if (shape.num_queries > 0) {
      std::copy_n(p.matrix.begin(), shape.dim, p.queries.begin());
    }
  }
  return p;
}

struct TopK {
  std::vector<float> scores;
  std::vector<std::int64_t> ids;
};

double CosineDouble(const Problem& p, std::int64_t q, std::int64_t r) {
  double dot = 0;
  double qq = 0;
  double rr = 0;
  for (std::int64_t d = 0; d < p.shape.dim; ++d) {
    const double a = p.queries[static_cast<std::size_t>(q * p.shape.dim + d)];
    const double b = p.matrix[static_cast<std::size_t>(r * p.shape.dim + d)];
    dot += a * b;
    qq += a * a;
    rr += b * b;
  }
  return dot / (std::sqrt(qq) * std::sqrt(rr));
}

Result<TopK> RunGpu(const Problem& p) {
  const Shape& s = p.shape;
  DeviceArray<float> queries(p.queries);
  DeviceArray<float> matrix(p.matrix);
  DeviceArray<float> scores(static_cast<std::size_t>(s.num_queries * s.k));
  DeviceArray<std::int64_t> ids(scores.size());
  BLAZEN_ASSIGN_OR_RETURN(const std::size_t scratch_bytes,
                          CosineTopKScratchBytes(s.num_queries, s.num_rows, s.k));
  DeviceArray<unsigned char> scratch(scratch_bytes);
  CosineTopKArgs args;
  args.queries = queries.data();
  args.num_queries = s.num_queries;
  args.matrix = matrix.data();
  args.num_rows = s.num_rows;
  args.dim = s.dim;
  args.k = s.k;
  args.out_scores = scores.data();
  args.out_ids = ids.data();
  BLAZEN_RETURN_IF_ERROR(CosineTopK(args, scratch.data(), scratch.size(), nullptr));
  return TopK{scores.ToHost(), ids.ToHost()};
}

TopK RunReference(const Problem& p) {
  const Shape& s = p.shape;
  TopK out{std::vector<float>(static_cast<std::size_t>(s.num_queries * s.k)),
           std::vector<std::int64_t>(static_cast<std::size_t>(s.num_queries * s.k))};
  CosineTopKArgs args;
  args.queries = p.queries.data();
  args.num_queries = s.num_queries;
  args.matrix = p.matrix.data();
  args.num_rows = s.num_rows;
  args.dim = s.dim;
  args.k = s.k;
  args.out_scores = out.scores.data();
  args.out_ids = out.ids.data();
  EXPECT_THAT(CosineTopKReference(args), ::blazen::testing::IsOk());
  return out;
}

class CosineTopKGpuTest : public ::testing::TestWithParam<Shape> {};

TEST_P(CosineTopKGpuTest, MatchesReference) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  const Shape s = GetParam();
  const Problem p = MakeProblem(s, static_cast<std::uint32_t>(s.num_rows + s.k));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK gpu, RunGpu(p));
  const TopK ref = RunReference(p);
  constexpr double kTolerance = 1e-5;
  for (std::int64_t q = 0; q < s.num_queries; ++q) {
    for (int i = 0; i < s.k; ++i) {
      const auto slot = static_cast<std::size_t>(q * s.k + i);
      const std::int64_t id = gpu.ids[slot];
      if (i >= s.num_rows) {
        EXPECT_EQ(id, -1);
        EXPECT_EQ(gpu.scores[slot], -std::numeric_limits<float>::infinity());
        continue;
      }
      ASSERT_GE(id, 0);
      ASSERT_LT(id, s.num_rows);
      // The score is the cosine of the id it names, equals the reference's score at this rank, and
      // ranks are in order.
      EXPECT_NEAR(gpu.scores[slot], CosineDouble(p, q, id), kTolerance) << q << "/" << i;
      EXPECT_NEAR(gpu.scores[slot], ref.scores[slot], kTolerance) << q << "/" << i;
      if (i > 0) {
        EXPECT_TRUE(gpu.scores[slot - 1] > gpu.scores[slot] ||
                    (gpu.scores[slot - 1] == gpu.scores[slot] && gpu.ids[slot - 1] < id))
            << q << "/" << i;
      }
      // Ids must agree wherever the reference's score is not a near tie with a neighbour rank.
      const bool near_tie =
          (i > 0 && std::fabs(ref.scores[slot] - ref.scores[slot - 1]) <= kTolerance) ||
          (i + 1 < s.k && i + 1 < s.num_rows &&
           std::fabs(ref.scores[slot] - ref.scores[slot + 1]) <= kTolerance);
      if (!near_tie) {
        EXPECT_EQ(id, ref.ids[slot]) << q << "/" << i;
      }
    }
    // Query 0 is a copy of row 0, which beats its own duplicates by id.
    if (q == 0 && s.num_rows > 1) {
      EXPECT_EQ(gpu.ids[0], 0);
    }
  }
}

std::string ShapeName(const ::testing::TestParamInfo<Shape>& info) {
  const Shape& s = info.param;
  return "q" + std::to_string(s.num_queries) + "_n" + std::to_string(s.num_rows) + "_d" +
         std::to_string(s.dim) + "_k" + std::to_string(s.k);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CosineTopKGpuTest,
    ::testing::Values(Shape{3, 10000, 384, 10},     // split over blocks + merge, float4 rows
                      Shape{5, 4000, 37, 128},      // split + merge, scalar rows, full k
                      Shape{2000, 3000, 32, 16},    // many queries: one block per query
                      Shape{1, 50, 64, 128},        // N < k: padding
                      Shape{4, 1920, 16, 5},        // exactly one pass
                      Shape{1, 1, 1, 1},            // smallest
                      Shape{4, 0, 8, 5},            // empty matrix
                      Shape{2, 200000, 128, 100}),  // many passes per split
    ShapeName);

TEST(CosineTopKGpuApiTest, IsDeterministic) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  const Problem p = MakeProblem({7, 30000, 96, 50}, 21);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK a, RunGpu(p));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK b, RunGpu(p));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.scores, b.scores);
}

TEST(CosineTopKGpuApiTest, RejectsMissingOrSmallScratch) {
  BLAZEN_SKIP_WITHOUT_CUDA_DEVICE();
  const Problem p = MakeProblem({1, 100000, 8, 4}, 22);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::size_t needed, CosineTopKScratchBytes(1, 100000, 4));
  ASSERT_GT(needed, 0u);
  DeviceArray<float> queries(p.queries);
  DeviceArray<float> matrix(p.matrix);
  DeviceArray<float> scores(4);
  DeviceArray<std::int64_t> ids(4);
  DeviceArray<unsigned char> scratch(needed);
  CosineTopKArgs args;
  args.queries = queries.data();
  args.num_queries = 1;
  args.matrix = matrix.data();
  args.num_rows = 100000;
  args.dim = 8;
  args.k = 4;
  args.out_scores = scores.data();
  args.out_ids = ids.data();
  EXPECT_THAT(CosineTopK(args, nullptr, 0, nullptr), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CosineTopK(args, scratch.data(), needed - 1, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CosineTopK(args, scratch.data() + 1, needed - 1, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  BLAZEN_EXPECT_OK(CosineTopK(args, scratch.data(), needed, nullptr));
  args.k = 0;
  EXPECT_THAT(CosineTopK(args, scratch.data(), needed, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  static_cast<void>(ids.ToHost());
}

}  // namespace
}  // namespace blazen::kernels
