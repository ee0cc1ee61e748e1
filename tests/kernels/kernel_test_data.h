// SPDX-License-Identifier: Apache-2.0
#pragma once
// Deterministic random inputs shared by the CPU reference tests and the GPU comparison tests.

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/embedding_bag.h"
#include "kernels/half.h"

namespace blazen::kernels::testing {

/// A random embedding-bag problem with ragged bags (some empty) over a random table; the table is
/// available as f32 and as the f16 rounding of the same values, the ids as int32 and int64.
struct BagProblem {
  std::int64_t num_rows = 0;
  std::int64_t dim = 0;
  std::vector<float> table_f32;
  std::vector<std::uint16_t> table_f16;
  std::vector<std::int64_t> ids64;
  std::vector<std::int32_t> ids32;
  std::vector<std::int64_t> offsets;

  [[nodiscard]] std::int64_t num_bags() const {
    return static_cast<std::int64_t>(offsets.size()) - 1;
  }
  [[nodiscard]] std::int64_t num_ids() const { return static_cast<std::int64_t>(ids64.size()); }

  /// Args over this problem's host arrays (the caller swaps in device pointers as needed).
  [[nodiscard]] EmbeddingBagArgs HostArgs(DType table_dtype, DType id_dtype, bool normalize,
                                          float* out) const {
    EmbeddingBagArgs args;
    args.table = table_dtype == DType::kF16 ? static_cast<const void*>(table_f16.data())
                                            : static_cast<const void*>(table_f32.data());
    args.table_dtype = table_dtype;
    args.num_rows = num_rows;
    args.dim = dim;
    args.ids = id_dtype == DType::kI32 ? static_cast<const void*>(ids32.data())
                                       : static_cast<const void*>(ids64.data());
    args.id_dtype = id_dtype;
    args.num_ids = num_ids();
    args.offsets = offsets.data();
    args.num_bags = num_bags();
    args.normalize = normalize;
    args.out = out;
    return args;
  }
};

/// Table values uniform in [-1, 1) (non-zero almost surely), bag sizes uniform in [0, max_bag]
/// with every 7th bag empty.
inline BagProblem MakeBagProblem(std::int64_t num_rows, std::int64_t dim, std::int64_t num_bags,
                                 int max_bag, std::uint32_t seed) {
  std::mt19937 rng(seed);
  BagProblem p;
  p.num_rows = num_rows;
  p.dim = dim;
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  const auto elements = static_cast<std::size_t>(num_rows * dim);
  p.table_f32.resize(elements);
  p.table_f16.resize(elements);
  for (std::size_t i = 0; i < elements; ++i) {
    p.table_f32[i] = value(rng);
    p.table_f16[i] = FloatToHalf(p.table_f32[i]);
  }
  std::uniform_int_distribution<std::int64_t> row(0, num_rows - 1);
  std::uniform_int_distribution<int> size(0, max_bag);
  p.offsets.push_back(0);
  for (std::int64_t b = 0; b < num_bags; ++b) {
    const int n = b % 7 == 3 ? 0 : size(rng);
    for (int i = 0; i < n; ++i) {
      const std::int64_t id = row(rng);
      p.ids64.push_back(id);
      p.ids32.push_back(static_cast<std::int32_t>(id));
    }
    p.offsets.push_back(static_cast<std::int64_t>(p.ids64.size()));
  }
  return p;
}

}  // namespace blazen::kernels::testing
