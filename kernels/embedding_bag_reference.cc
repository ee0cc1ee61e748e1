// SPDX-License-Identifier: Apache-2.0
// Argument validation and the host reference of EmbeddingBagMean (see embedding_bag.h).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "kernels/embedding_bag.h"
#include "kernels/half.h"

namespace blazen::kernels {
namespace {

// True when a * b elements of `element_size` bytes fit in int64 bytes (a, b >= 0).
bool FitsBytes(std::int64_t a, std::int64_t b, std::size_t element_size) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const auto size = static_cast<std::int64_t>(element_size);
  if (a == 0 || b == 0) return true;
  return a <= kMax / b && a * b <= kMax / size;
}

Status Invalid(const std::string& message) {
  return Status::InvalidArgument("EmbeddingBagMean: " + message);
}

template <typename Id>
Status CheckIds(const Id* ids, std::int64_t begin, std::int64_t end, std::int64_t num_rows) {
  for (std::int64_t i = begin; i < end; ++i) {
    const auto id = static_cast<std::int64_t>(ids[i]);
    if (id < 0 || id >= num_rows) {
      return Invalid("id " + std::to_string(id) + " at position " + std::to_string(i) +
                     " is outside the table's " + std::to_string(num_rows) + " rows");
    }
  }
  return Status::Ok();
}

float TableElement(const void* table, DType dtype, std::int64_t index) {
  if (dtype == DType::kF16) return HalfToFloat(static_cast<const std::uint16_t*>(table)[index]);
  return static_cast<const float*>(table)[index];
}

std::int64_t IdAt(const void* ids, DType dtype, std::int64_t index) {
  if (dtype == DType::kI32) return static_cast<const std::int32_t*>(ids)[index];
  return static_cast<const std::int64_t*>(ids)[index];
}

}  // namespace

Status ValidateEmbeddingBagArgs(const EmbeddingBagArgs& args) {
  if (args.table_dtype != DType::kF32 && args.table_dtype != DType::kF16) {
    return Invalid("table dtype must be f32 or f16, got " +
                   std::string(DTypeName(args.table_dtype)));
  }
  if (args.id_dtype != DType::kI32 && args.id_dtype != DType::kI64) {
    return Invalid("id dtype must be i32 or i64, got " + std::string(DTypeName(args.id_dtype)));
  }
  if (args.num_rows < 0 || args.dim < 0 || args.num_ids < 0 || args.num_bags < 0) {
    return Invalid("sizes must be non-negative");
  }
  if (!FitsBytes(args.num_rows, args.dim, DTypeSize(args.table_dtype)) ||
      !FitsBytes(args.num_bags, args.dim, sizeof(float)) ||
      !FitsBytes(args.num_ids, 1, DTypeSize(args.id_dtype)) ||
      !FitsBytes(args.num_bags, 1, 2 * sizeof(std::int64_t))) {
    return Invalid("sizes too large");
  }
  if (args.num_rows > 0 && args.dim > 0 && args.table == nullptr) return Invalid("null table");
  if (args.num_ids > 0 && args.ids == nullptr) return Invalid("null ids");
  if (args.num_bags > 0 && args.offsets == nullptr) return Invalid("null offsets");
  if (args.num_bags > 0 && args.dim > 0 && args.out == nullptr) return Invalid("null out");
  return Status::Ok();
}

Status EmbeddingBagMeanReference(const EmbeddingBagArgs& args) {
  BLAZEN_RETURN_IF_ERROR(ValidateEmbeddingBagArgs(args));
  if (args.num_bags == 0) return Status::Ok();
  // Validate everything before writing, so `out` is untouched on error.
  for (std::int64_t b = 0; b < args.num_bags; ++b) {
    const std::int64_t begin = args.offsets[b];
    const std::int64_t end = args.offsets[b + 1];
    if (begin < 0 || begin > end || end > args.num_ids) {
      return Invalid("bag " + std::to_string(b) + " has offsets [" + std::to_string(begin) + ", " +
                     std::to_string(end) + ") outside [0, " + std::to_string(args.num_ids) +
                     "] or decreasing");
    }
    const Status ids_ok =
        args.id_dtype == DType::kI32
            ? CheckIds(static_cast<const std::int32_t*>(args.ids), begin, end, args.num_rows)
            : CheckIds(static_cast<const std::int64_t*>(args.ids), begin, end, args.num_rows);
    BLAZEN_RETURN_IF_ERROR(ids_ok);
  }
  if (args.dim == 0) return Status::Ok();

  const auto dim = static_cast<std::size_t>(args.dim);
  std::vector<float> acc(dim);
  for (std::int64_t b = 0; b < args.num_bags; ++b) {
    const std::int64_t begin = args.offsets[b];
    const std::int64_t end = args.offsets[b + 1];
    std::fill(acc.begin(), acc.end(), 0.0f);
    // f32 sums in id order: the device kernel adds in the same order, so the sums match exactly.
    for (std::int64_t i = begin; i < end; ++i) {
      const std::int64_t row = IdAt(args.ids, args.id_dtype, i) * args.dim;
      for (std::int64_t d = 0; d < args.dim; ++d) {
        acc[static_cast<std::size_t>(d)] += TableElement(args.table, args.table_dtype, row + d);
      }
    }
    const std::int64_t count = end - begin;
    float* out = args.out + b * args.dim;
    float sum_squares = 0.0f;
    for (std::size_t d = 0; d < dim; ++d) {
      const float mean = count > 0 ? acc[d] / static_cast<float>(count) : 0.0f;
      out[d] = mean;
      sum_squares += mean * mean;
    }
    if (args.normalize) {
      const float denominator = std::fmax(std::sqrt(sum_squares), kEmbeddingBagNormEpsilon);
      for (std::size_t d = 0; d < dim; ++d) out[d] /= denominator;
    }
  }
  return Status::Ok();
}

}  // namespace blazen::kernels
