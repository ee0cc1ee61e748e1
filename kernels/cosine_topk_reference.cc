// SPDX-License-Identifier: Apache-2.0
// Argument validation, the scratch plan and the host reference of CosineTopK (see cosine_topk.h).

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cosine_topk.h"
#include "kernels/detail/cosine_topk_plan.h"
#include "kernels/detail/topk_order.h"

namespace blazen::kernels {
namespace {

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

// True when a * b elements of `element_size` bytes fit in int64 bytes (a, b >= 0).
bool FitsBytes(std::int64_t a, std::int64_t b, std::int64_t element_size) {
  if (a == 0 || b == 0) return true;
  return a <= kMaxInt64 / b && a * b <= kMaxInt64 / element_size;
}

Status Invalid(const std::string& message) {
  return Status::InvalidArgument("CosineTopK: " + message);
}

Status ValidateSizes(std::int64_t num_queries, std::int64_t num_rows, std::int64_t dim, int k) {
  if (num_queries < 0 || num_rows < 0 || dim < 0) return Invalid("sizes must be non-negative");
  if (k < 1 || k > kCosineTopKMaxK) {
    return Invalid("k must be in [1, " + std::to_string(kCosineTopKMaxK) + "], got " +
                   std::to_string(k));
  }
  if (!FitsBytes(num_queries, dim, sizeof(float)) || !FitsBytes(num_rows, dim, sizeof(float)) ||
      !FitsBytes(num_queries, k, sizeof(std::int64_t))) {
    return Invalid("sizes too large");
  }
  return Status::Ok();
}

// Sequential f32 sums, the definition the device's tree sums approximate.
float Norm(const float* v, std::int64_t dim) {
  float sum = 0.0f;
  for (std::int64_t d = 0; d < dim; ++d) sum += v[d] * v[d];
  return std::sqrt(sum);
}

}  // namespace

namespace detail {

Result<CosineTopKPlan> PlanCosineTopK(std::int64_t num_queries, std::int64_t num_rows, int k) {
  BLAZEN_RETURN_IF_ERROR(ValidateSizes(num_queries, num_rows, 0, k));
  if (num_queries > std::numeric_limits<std::int32_t>::max()) {
    return Invalid("more than 2^31 - 1 queries");
  }
  CosineTopKPlan plan;
  const std::int64_t passes =
      std::max<std::int64_t>(1, (num_rows + kTopKNewSlots - 1) / kTopKNewSlots);
  const std::int64_t wanted_splits =
      num_queries == 0 ? 1 : std::max<std::int64_t>(1, kTopKTargetBlocks / num_queries);
  const std::int64_t splits = std::min(passes, wanted_splits);
  plan.rows_per_split = ((passes + splits - 1) / splits) * kTopKNewSlots;
  // Recount so that no split is empty.
  plan.splits =
      std::max<std::int64_t>(1, (num_rows + plan.rows_per_split - 1) / plan.rows_per_split);
  if (plan.splits == 1 || num_queries == 0) return plan;

  // Candidates: [num_queries, splits, k] scores (f32), then the same shape of ids (int64), the ids
  // starting 256-byte aligned.
  const std::int64_t candidates = num_queries * plan.splits;  // <= 2^31 * kTopKTargetBlocks
  if (!FitsBytes(candidates, k, sizeof(float) + sizeof(std::int64_t) + 1)) {
    return Invalid("scratch size too large");
  }
  const auto count = static_cast<std::size_t>(candidates * k);
  plan.candidate_ids_offset = (count * sizeof(float) + 255) / 256 * 256;
  plan.scratch_bytes = plan.candidate_ids_offset + count * sizeof(std::int64_t);
  return plan;
}

}  // namespace detail

Status ValidateCosineTopKArgs(const CosineTopKArgs& args) {
  BLAZEN_RETURN_IF_ERROR(ValidateSizes(args.num_queries, args.num_rows, args.dim, args.k));
  if (args.num_queries > 0 && args.dim > 0 && args.queries == nullptr) {
    return Invalid("null queries");
  }
  if (args.num_rows > 0 && args.dim > 0 && args.matrix == nullptr) return Invalid("null matrix");
  if (args.num_queries > 0 && (args.out_scores == nullptr || args.out_ids == nullptr)) {
    return Invalid("null output");
  }
  return Status::Ok();
}

Result<std::size_t> CosineTopKScratchBytes(std::int64_t num_queries, std::int64_t num_rows, int k) {
  BLAZEN_ASSIGN_OR_RETURN(const detail::CosineTopKPlan plan,
                          detail::PlanCosineTopK(num_queries, num_rows, k));
  return plan.scratch_bytes;
}

Status CosineTopKReference(const CosineTopKArgs& args) {
  BLAZEN_RETURN_IF_ERROR(ValidateCosineTopKArgs(args));
  const auto k = static_cast<std::size_t>(args.k);
  std::vector<float> row_norms(static_cast<std::size_t>(args.num_rows));
  for (std::int64_t r = 0; r < args.num_rows; ++r) {
    row_norms[static_cast<std::size_t>(r)] = Norm(args.matrix + r * args.dim, args.dim);
  }
  struct Candidate {
    float score;
    std::int64_t id;
  };
  std::vector<Candidate> candidates(static_cast<std::size_t>(args.num_rows));
  for (std::int64_t q = 0; q < args.num_queries; ++q) {
    const float* query = args.queries + q * args.dim;
    const float query_norm = std::fmax(Norm(query, args.dim), kCosineNormEpsilon);
    for (std::int64_t r = 0; r < args.num_rows; ++r) {
      const float* row = args.matrix + r * args.dim;
      float dot = 0.0f;
      for (std::int64_t d = 0; d < args.dim; ++d) dot += query[d] * row[d];
      const float row_norm = std::fmax(row_norms[static_cast<std::size_t>(r)], kCosineNormEpsilon);
      candidates[static_cast<std::size_t>(r)] = {dot / (query_norm * row_norm), r};
    }
    const std::size_t kept = std::min(k, candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(kept),
                      candidates.end(), [](const Candidate& a, const Candidate& b) {
                        return detail::RanksBefore(a.score, a.id, b.score, b.id);
                      });
    float* out_scores = args.out_scores + q * args.k;
    std::int64_t* out_ids = args.out_ids + q * args.k;
    for (std::size_t i = 0; i < k; ++i) {
      out_scores[i] = i < kept ? candidates[i].score : -std::numeric_limits<float>::infinity();
      out_ids[i] = i < kept ? candidates[i].id : -1;
    }
  }
  return Status::Ok();
}

}  // namespace blazen::kernels
