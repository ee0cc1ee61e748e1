// SPDX-License-Identifier: Apache-2.0
#pragma once
// Cosine-similarity top-k of query vectors against a matrix resident in device memory: the GPU
// half of the `blazen::similarity_topk` step. Two-phase: ask CosineTopKScratchBytes for the
// scratch size, allocate it (pool or caller buffer), then call CosineTopK.

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace blazen::kernels {

/// Largest k CosineTopK accepts.
inline constexpr int kCosineTopKMaxK = 128;

/// Lower bound of each norm in the cosine: score = q.m / (max(|q|, eps) * max(|m|, eps)), so a zero
/// vector scores 0 against everything.
inline constexpr float kCosineNormEpsilon = 1e-12f;

/// The operands of one CosineTopK call. Host memory for the reference, device memory for the
/// launcher; dense row-major f32. Plain aggregate.
struct CosineTopKArgs {
  /// [num_queries, dim].
  const float* queries = nullptr;
  std::int64_t num_queries = 0;
  /// [num_rows, dim]; rows need not be normalised.
  const float* matrix = nullptr;
  std::int64_t num_rows = 0;
  std::int64_t dim = 0;
  /// 1 <= k <= kCosineTopKMaxK.
  int k = 0;
  /// [num_queries, k]: the best scores per query, best first. Ranking: higher score first, equal
  /// scores by smaller row id, NaN scores after all numbers. When num_rows < k the remaining slots
  /// hold score -infinity and id -1.
  float* out_scores = nullptr;
  /// [num_queries, k]: the row ids matching out_scores.
  std::int64_t* out_ids = nullptr;
};

/// Checks sizes (non-negative, 1 <= k <= kCosineTopKMaxK, byte counts that fit) and that pointers
/// are non-null where elements exist. kInvalidArgument naming the first problem. Pure; thread-safe.
[[nodiscard]] Status ValidateCosineTopKArgs(const CosineTopKArgs& args);

/// Bytes of device scratch CosineTopK needs for these sizes (0 is possible: then no scratch is
/// needed). kInvalidArgument for sizes that ValidateCosineTopKArgs rejects or whose scratch size
/// does not fit in 64 bits. Pure; thread-safe; the same on builds with and without CUDA.
[[nodiscard]] Result<std::size_t> CosineTopKScratchBytes(std::int64_t num_queries,
                                                         std::int64_t num_rows, int k);

/// Host reference: computes every score in f32 and selects the k best per query under the ranking
/// above. kInvalidArgument as ValidateCosineTopKArgs. Thread-compatible.
[[nodiscard]] Status CosineTopKReference(const CosineTopKArgs& args);

/// Device version of CosineTopKReference on `stream` (a cudaStream_t; nullptr is the default
/// stream). `scratch` is device memory of at least CosineTopKScratchBytes(...) bytes, 8-byte
/// aligned (may be null when that is 0); it is only used by work enqueued on `stream`, so it may be
/// reused once that work is done. Does not synchronize `stream`. Scores equal the reference's up to
/// f32 rounding of the sums (so near-ties may order differently); equal inputs give equal scores,
/// and the result is deterministic.
///
/// Returns kInvalidArgument for what ValidateCosineTopKArgs rejects or for missing, too small or
/// misaligned scratch, kInternal for a failed launch, kUnimplemented when built without CUDA.
[[nodiscard]] Status CosineTopK(const CosineTopKArgs& args, void* scratch,
                                std::size_t scratch_bytes, void* stream);

}  // namespace blazen::kernels
