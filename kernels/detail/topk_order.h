// SPDX-License-Identifier: Apache-2.0
#pragma once
// The total order of CosineTopK results, shared by the device selection and the CPU reference so
// that both pick exactly the same ids for the same scores.

#include <cstdint>

#include "kernels/detail/host_device.h"

namespace blazen::kernels::detail {

/// True when candidate (score_a, id_a) ranks strictly before (score_b, id_b): empty slots (id < 0)
/// rank last, then NaN scores, then higher scores first; equal scores rank the smaller id first.
/// A strict weak ordering (in fact a total order over distinct ids).
BLAZEN_HOST_DEVICE inline bool RanksBefore(float score_a, std::int64_t id_a, float score_b,
                                           std::int64_t id_b) {
  const bool empty_a = id_a < 0;
  const bool empty_b = id_b < 0;
  if (empty_a != empty_b) return empty_b;
  const bool nan_a = score_a != score_a;
  const bool nan_b = score_b != score_b;
  if (nan_a != nan_b) return nan_b;
  if (!nan_a && score_a != score_b) return score_a > score_b;
  return id_a < id_b;
}

}  // namespace blazen::kernels::detail
