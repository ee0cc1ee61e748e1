// SPDX-License-Identifier: Apache-2.0
#pragma once
// EmbeddingBag(mean) fused with optional L2 normalisation: the GPU half of the `blazen::embed`
// step (token ids -> one pooled, normalised vector per text). The launcher runs on device memory;
// the reference runs the same math on host memory and is what the tests compare against.

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"

namespace blazen::kernels {

/// Lower bound of the norm that L2 normalisation divides by: out = mean / max(||mean||, eps).
inline constexpr float kEmbeddingBagNormEpsilon = 1e-12f;

/// Bits the device kernel ORs into `*d_error_flag` (see EmbeddingBagMean).
enum EmbeddingBagErrorBits : int {
  /// Some id was negative or >= num_rows; it was skipped.
  kEmbeddingBagBadId = 1,
  /// Some bag had offsets outside [0, num_ids], decreasing, or more than 2^31 - 1 ids; the bag was
  /// clamped to [0, num_ids] (an empty bag where they decrease) and to its first 2^31 - 1 ids.
  kEmbeddingBagBadOffsets = 2,
};

/// The operands of one EmbeddingBag(mean) call. All pointers are host memory for the reference and
/// device memory for the launcher; arrays are dense and row-major. Plain aggregate.
struct EmbeddingBagArgs {
  /// The embedding table, [num_rows, dim] elements of `table_dtype`.
  const void* table = nullptr;
  /// kF32 or kF16 (binary16 bits, see half.h).
  DType table_dtype = DType::kF32;
  std::int64_t num_rows = 0;
  std::int64_t dim = 0;
  /// The row ids of all bags back to back, [num_ids] elements of `id_dtype`.
  const void* ids = nullptr;
  /// kI32 or kI64.
  DType id_dtype = DType::kI64;
  std::int64_t num_ids = 0;
  /// [num_bags + 1]: bag b is ids[offsets[b], offsets[b + 1]). May be null when num_bags == 0.
  const std::int64_t* offsets = nullptr;
  std::int64_t num_bags = 0;
  /// When true each output row is divided by max(||row||_2, kEmbeddingBagNormEpsilon).
  bool normalize = true;
  /// Output, [num_bags, dim] f32. An empty bag gives a row of zeros (also when normalizing).
  float* out = nullptr;
};

/// Checks what can be checked without reading the arrays: dtypes, non-negative sizes, sizes whose
/// byte counts fit in 64 bits, and non-null pointers where elements exist. kInvalidArgument
/// naming the first problem; OK otherwise. Pure; thread-safe.
[[nodiscard]] Status ValidateEmbeddingBagArgs(const EmbeddingBagArgs& args);

/// Host reference: for each bag the f32 sum of its rows in id order, divided by the bag size, then
/// (if `normalize`) divided by max(||mean||, eps). Returns kInvalidArgument for what
/// ValidateEmbeddingBagArgs rejects, for offsets that are negative, decreasing or beyond num_ids,
/// and for any id outside [0, num_rows); `out` is left untouched on error. Thread-compatible.
[[nodiscard]] Status EmbeddingBagMeanReference(const EmbeddingBagArgs& args);

/// Device version of EmbeddingBagMeanReference on `stream` (a cudaStream_t; nullptr is the
/// default stream). Does not synchronize `stream`.
///
/// The arrays live in device memory, so ids and offsets cannot be validated before the launch:
/// the kernel never reads out of bounds, skips every invalid id (a bag's mean is then over its
/// valid ids only) and clamps invalid offsets into [0, num_ids]. When `d_error_flag` (device
/// memory, one int) is non-null, the launcher zeroes it on `stream` and the kernel ORs
/// EmbeddingBagErrorBits into it, so after synchronizing the caller can reject the input exactly
/// like the reference does; the check costs nothing extra (the kernel reads every id anyway).
///
/// With dim == 0 or no bags nothing is launched (the flag, if given, is still zeroed).
///
/// Returns kInvalidArgument for what ValidateEmbeddingBagArgs rejects and for dim > 2^30,
/// kInternal for a failed launch (kResourceExhausted if that was an allocation failure),
/// kUnimplemented when built without CUDA. Thread-safe as far as the arguments are not shared with
/// concurrent work.
[[nodiscard]] Status EmbeddingBagMean(const EmbeddingBagArgs& args, void* stream,
                                      int* d_error_flag = nullptr);

}  // namespace blazen::kernels
