// SPDX-License-Identifier: Apache-2.0
// Host reference of CosineTopK: hand-checked ranking and tie-breaking, padding when N < k, a
// brute-force sort on random data with ties, and the scratch-size query.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cosine_topk.h"
#include "tests/testing/status_matchers.h"

namespace blazen::kernels {
namespace {

using ::blazen::testing::StatusIs;

constexpr float kInf = std::numeric_limits<float>::infinity();

struct TopK {
  std::vector<float> scores;
  std::vector<std::int64_t> ids;
};

Result<TopK> RunReference(const std::vector<float>& queries, const std::vector<float>& matrix,
                          std::int64_t dim, int k) {
  const auto num_queries =
      static_cast<std::int64_t>(queries.size()) / std::max<std::int64_t>(dim, 1);
  TopK out;
  out.scores.resize(static_cast<std::size_t>(num_queries * k));
  out.ids.resize(out.scores.size());
  CosineTopKArgs args;
  args.queries = queries.data();
  args.num_queries = num_queries;
  args.matrix = matrix.data();
  args.num_rows = static_cast<std::int64_t>(matrix.size()) / std::max<std::int64_t>(dim, 1);
  args.dim = dim;
  args.k = k;
  args.out_scores = out.scores.data();
  args.out_ids = out.ids.data();
  BLAZEN_RETURN_IF_ERROR(CosineTopKReference(args));
  return out;
}

TEST(CosineTopKReferenceTest, RanksHandCheckedScoresAndBreaksTiesBySmallerId) {
  const std::vector<float> queries = {2, 0};
  // Cosines with [1, 0]: 1, 0, -1, 1/sqrt(2), 1 (unnormalised rows on purpose).
  const std::vector<float> matrix = {1, 0, 0, 3, -1, 0, 1, 1, 5, 0};
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK top, RunReference(queries, matrix, 2, 4));
  EXPECT_EQ(top.ids, (std::vector<std::int64_t>{0, 4, 3, 1}));
  EXPECT_FLOAT_EQ(top.scores[0], 1.0f);
  EXPECT_FLOAT_EQ(top.scores[1], 1.0f);
  EXPECT_FLOAT_EQ(top.scores[2], 1.0f / std::sqrt(2.0f));
  EXPECT_FLOAT_EQ(top.scores[3], 0.0f);
}

TEST(CosineTopKReferenceTest, PadsWithMinusOneAndMinusInfinityWhenFewerRowsThanK) {
  const std::vector<float> queries = {1, 1, 0, -1};
  const std::vector<float> matrix = {0, 1, 1, 0};
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK top, RunReference(queries, matrix, 2, 4));
  EXPECT_EQ(top.ids, (std::vector<std::int64_t>{0, 1, -1, -1, 1, 0, -1, -1}));
  EXPECT_FLOAT_EQ(top.scores[0], 1.0f / std::sqrt(2.0f));
  EXPECT_FLOAT_EQ(top.scores[5], -1.0f);
  for (const std::size_t i : {2u, 3u, 6u, 7u}) EXPECT_EQ(top.scores[i], -kInf);
}

TEST(CosineTopKReferenceTest, EmptyMatrixGivesOnlyPadding) {
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK top, RunReference({1, 2, 3}, {}, 3, 2));
  EXPECT_EQ(top.ids, (std::vector<std::int64_t>{-1, -1}));
  EXPECT_EQ(top.scores, (std::vector<float>{-kInf, -kInf}));
}

TEST(CosineTopKReferenceTest, ZeroVectorsScoreZeroAndNanRanksLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> matrix = {0, 0, nan, 1, -1, -1, 1, 0};
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK top, RunReference({1, 0}, matrix, 2, 4));
  EXPECT_EQ(top.ids, (std::vector<std::int64_t>{3, 0, 2, 1}));
  EXPECT_EQ(top.scores[1], 0.0f);
  EXPECT_TRUE(std::isnan(top.scores[3]));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK zero_query, RunReference({0, 0}, matrix, 2, 1));
  EXPECT_EQ(zero_query.ids[0], 0);  // every number scores 0: the smallest id wins
  EXPECT_EQ(zero_query.scores[0], 0.0f);
}

// Independent selection: score every row the same way, sort everything, take k.
TEST(CosineTopKReferenceTest, MatchesBruteForceSortOnRandomDataWithTies) {
  constexpr std::int64_t kDim = 24;
  constexpr std::int64_t kRows = 3000;
  constexpr std::int64_t kQueries = 6;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> matrix(kRows * kDim);
  for (float& v : matrix) v = value(rng);
  // Exact duplicates (ties) and scaled copies (equal cosine up to rounding).
  std::uniform_int_distribution<std::int64_t> row(0, kRows - 1);
  for (int i = 0; i < 300; ++i) {
    const std::int64_t from = row(rng);
    const std::int64_t to = row(rng);
    std::copy_n(matrix.begin() + from * kDim, kDim, matrix.begin() + to * kDim);
  }
  std::vector<float> queries(kQueries * kDim);
  for (float& v : queries) v = value(rng);
  // Query 0 equals a fresh row that has exactly two duplicates, so its top 3 scores tie exactly.
  for (std::int64_t d = 0; d < kDim; ++d)
    matrix[static_cast<std::size_t>(5 * kDim + d)] = value(rng);
  std::copy_n(matrix.begin() + 5 * kDim, kDim, queries.begin());
  std::copy_n(matrix.begin() + 5 * kDim, kDim, matrix.begin() + 17 * kDim);
  std::copy_n(matrix.begin() + 5 * kDim, kDim, matrix.begin() + 2999 * kDim);

  for (const int k : {1, 7, 128}) {
    BLAZEN_ASSERT_OK_AND_ASSIGN(const TopK top, RunReference(queries, matrix, kDim, k));
    for (std::int64_t q = 0; q < kQueries; ++q) {
      const float* query = queries.data() + q * kDim;
      float query_squares = 0;
      for (std::int64_t d = 0; d < kDim; ++d) query_squares += query[d] * query[d];
      std::vector<std::pair<float, std::int64_t>> all;
      for (std::int64_t r = 0; r < kRows; ++r) {
        const float* m = matrix.data() + r * kDim;
        float dot = 0;
        float row_squares = 0;
        for (std::int64_t d = 0; d < kDim; ++d) {
          dot += query[d] * m[d];
          row_squares += m[d] * m[d];
        }
        all.emplace_back(dot / (std::sqrt(query_squares) * std::sqrt(row_squares)), r);
      }
      std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (int i = 0; i < k; ++i) {
        const auto slot = static_cast<std::size_t>(q * k + i);
        EXPECT_EQ(top.ids[slot], all[static_cast<std::size_t>(i)].second) << q << " " << i;
        EXPECT_EQ(top.scores[slot], all[static_cast<std::size_t>(i)].first) << q << " " << i;
      }
      if (q == 0 && k >= 3) {
        EXPECT_EQ(top.ids[0], 5);
        EXPECT_EQ(top.ids[1], 17);
        EXPECT_EQ(top.ids[2], 2999);
        EXPECT_EQ(top.scores[0], top.scores[2]);
      }
    }
  }
}

TEST(CosineTopKReferenceTest, ValidatesArguments) {
  std::vector<float> data(4, 1.0f);
  std::vector<float> scores(2);
  std::vector<std::int64_t> ids(2);
  CosineTopKArgs good;
  good.queries = data.data();
  good.num_queries = 2;
  good.matrix = data.data();
  good.num_rows = 2;
  good.dim = 2;
  good.k = 1;
  good.out_scores = scores.data();
  good.out_ids = ids.data();
  BLAZEN_EXPECT_OK(ValidateCosineTopKArgs(good));
  const auto expect_invalid = [&](auto mutate) {
    CosineTopKArgs args = good;
    mutate(args);
    EXPECT_THAT(ValidateCosineTopKArgs(args), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(CosineTopKReference(args), StatusIs(StatusCode::kInvalidArgument));
  };
  expect_invalid([](CosineTopKArgs& a) { a.k = 0; });
  expect_invalid([](CosineTopKArgs& a) { a.k = kCosineTopKMaxK + 1; });
  expect_invalid([](CosineTopKArgs& a) { a.num_queries = -1; });
  expect_invalid([](CosineTopKArgs& a) { a.num_rows = -1; });
  expect_invalid([](CosineTopKArgs& a) { a.dim = -1; });
  expect_invalid([](CosineTopKArgs& a) { a.num_rows = std::int64_t{1} << 62; });
  expect_invalid([](CosineTopKArgs& a) { a.queries = nullptr; });
  expect_invalid([](CosineTopKArgs& a) { a.matrix = nullptr; });
  expect_invalid([](CosineTopKArgs& a) { a.out_scores = nullptr; });
  expect_invalid([](CosineTopKArgs& a) { a.out_ids = nullptr; });
}

TEST(CosineTopKScratchBytesTest, NeedsScratchOnlyWhenRowsAreSplitAcrossBlocks) {
  // Few rows: one pass per query, no scratch.
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::size_t small, CosineTopKScratchBytes(1, 1000, 10));
  EXPECT_EQ(small, 0u);
  // Many queries already fill the GPU: one block per query, no scratch.
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::size_t many, CosineTopKScratchBytes(4096, 1 << 20, 128));
  EXPECT_EQ(many, 0u);
  // One query against many rows: split, candidates need scratch, growing with k.
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::size_t k8, CosineTopKScratchBytes(1, 1 << 20, 8));
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::size_t k128, CosineTopKScratchBytes(1, 1 << 20, 128));
  EXPECT_GT(k8, 0u);
  EXPECT_GT(k128, k8);
  BLAZEN_ASSERT_OK_AND_ASSIGN(const std::size_t none, CosineTopKScratchBytes(0, 1 << 20, 8));
  EXPECT_EQ(none, 0u);
}

TEST(CosineTopKScratchBytesTest, RejectsBadSizes) {
  EXPECT_THAT(CosineTopKScratchBytes(1, 10, 0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CosineTopKScratchBytes(1, 10, 129), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CosineTopKScratchBytes(-1, 10, 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CosineTopKScratchBytes(1, -10, 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(CosineTopKScratchBytes(std::int64_t{1} << 40, 10, 1),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace blazen::kernels
