// SPDX-License-Identifier: Apache-2.0
#pragma once
// How CosineTopK splits its work and lays out its scratch. Host-only arithmetic shared by
// CosineTopKScratchBytes (always built) and the device launcher, so both agree on the size.

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace blazen::kernels::detail {

/// Slots of the shared-memory buffer one block sorts per pass (a power of two).
inline constexpr int kTopKSortSlots = 2048;
/// Leading slots that carry the best candidates so far from one pass to the next (>= max k).
inline constexpr int kTopKKeptSlots = 128;
/// New candidates (matrix rows or partial results) that one pass adds.
inline constexpr int kTopKNewSlots = kTopKSortSlots - kTopKKeptSlots;
/// Blocks wanted in flight (an H100 has 132 SMs; a few blocks each). Small query batches split
/// the matrix rows over several blocks per query to reach it.
inline constexpr std::int64_t kTopKTargetBlocks = 132 * 8;

/// The work split of one CosineTopK call.
struct CosineTopKPlan {
  /// Blocks per query, each scanning `rows_per_split` consecutive rows (the last may scan fewer).
  std::int64_t splits = 1;
  std::int64_t rows_per_split = 0;
  /// When splits > 1: offset of the candidate scores [num_queries, splits, k] f32 and of the
  /// candidate ids [num_queries, splits, k] int64 in the scratch, and the total scratch bytes.
  std::size_t candidate_ids_offset = 0;
  std::size_t scratch_bytes = 0;
};

/// Computes the plan. kInvalidArgument for negative sizes, k outside [1, 128], more queries than a
/// grid dimension holds, or a scratch size that overflows.
[[nodiscard]] Result<CosineTopKPlan> PlanCosineTopK(std::int64_t num_queries, std::int64_t num_rows,
                                                    int k);

}  // namespace blazen::kernels::detail
