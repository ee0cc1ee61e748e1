// SPDX-License-Identifier: Apache-2.0
// Cosine top-k on the GPU (see cosine_topk.h).
//
// Design (straightforward and exact under the shared ranking, not a GEMM):
// - Pass kernel, grid (query, split): a block of 256 threads scans the rows of its split in passes
//   of kTopKNewSlots rows. Each warp computes whole rows: lanes split D (float4 when aligned), one
//   butterfly reduction gives q.m and |m|^2 from the same loads, so no norm precomputation and no
//   extra traffic. Scores land in a shared 2048-slot buffer whose first kTopKKeptSlots slots carry
//   the best candidates so far; a block-wide bitonic sort under RanksBefore then leaves the best
//   128 of (kept + new) in front. The query index is the fast grid dimension, so the blocks of all
//   queries scanning one split run together and share the matrix rows through L2.
// - When there are few queries the rows are split over several blocks per query (to fill the
//   GPU); each split writes its own top k into the caller's scratch and a merge kernel (one block
//   per query) streams those candidates through the same buffer and sort.
// The ranking is a strict total order, so the selected ids do not depend on the split.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "kernels/cosine_topk.h"
#include "kernels/detail/cosine_topk_plan.h"
#include "kernels/detail/cuda_status.h"
#include "kernels/detail/topk_order.h"

namespace blazen::kernels {
namespace {

using detail::kTopKKeptSlots;
using detail::kTopKNewSlots;
using detail::kTopKSortSlots;

constexpr int kWarpSize = 32;
constexpr int kThreadsPerBlock = 256;
constexpr int kWarpsPerBlock = kThreadsPerBlock / kWarpSize;
constexpr unsigned kFullMask = 0xffffffffu;

static_assert(kTopKKeptSlots >= kCosineTopKMaxK, "the kept slots must hold a full result");
static_assert((kTopKSortSlots & (kTopKSortSlots - 1)) == 0, "bitonic sort needs a power of two");

// numeric_limits is host-only constexpr; this is its device twin.
__device__ float NegativeInfinity() { return __int_as_float(static_cast<int>(0xff800000u)); }

__device__ float WarpSum(float value) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullMask, value, offset);
  }
  return value;
}

// The block's candidate buffer in shared memory.
struct Slots {
  float scores[kTopKSortSlots];
  std::int64_t ids[kTopKSortSlots];
};

__device__ void MarkEmpty(Slots& slots, int begin, int end) {
  for (int i = begin + static_cast<int>(threadIdx.x); i < end; i += kThreadsPerBlock) {
    slots.scores[i] = NegativeInfinity();
    slots.ids[i] = -1;
  }
}

// Sorts all slots best first under RanksBefore. Callers synchronize before (writes visible); the
// sort ends with a barrier.
__device__ void SortSlots(Slots& slots) {
  for (int size = 2; size <= kTopKSortSlots; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int t = static_cast<int>(threadIdx.x); t < kTopKSortSlots / 2; t += kThreadsPerBlock) {
        const int i = 2 * stride * (t / stride) + t % stride;
        const int j = i + stride;
        const float score_i = slots.scores[i];
        const float score_j = slots.scores[j];
        const std::int64_t id_i = slots.ids[i];
        const std::int64_t id_j = slots.ids[j];
        const bool best_first = (i & size) == 0;
        const bool swap = best_first ? detail::RanksBefore(score_j, id_j, score_i, id_i)
                                     : detail::RanksBefore(score_i, id_i, score_j, id_j);
        if (swap) {
          slots.scores[i] = score_j;
          slots.scores[j] = score_i;
          slots.ids[i] = id_j;
          slots.ids[j] = id_i;
        }
      }
      __syncthreads();
    }
  }
}

__device__ void WriteBest(const Slots& slots, int k, float* scores, std::int64_t* ids) {
  for (int i = static_cast<int>(threadIdx.x); i < k; i += kThreadsPerBlock) {
    scores[i] = slots.scores[i];
    ids[i] = slots.ids[i];
  }
}

// Lane-partial q.m and |m|^2 of one row; lanes split the columns.
template <bool kVec4>
__device__ void PartialDot(const float* __restrict__ query, const float* __restrict__ row,
                           std::int64_t dim, int lane, float& dot, float& row_squares) {
  if constexpr (kVec4) {
    const auto* query4 = reinterpret_cast<const float4*>(query);
    const auto* row4 = reinterpret_cast<const float4*>(row);
    const std::int64_t vectors = dim / 4;
#pragma unroll 4
    for (std::int64_t c = lane; c < vectors; c += kWarpSize) {
      const float4 a = __ldg(query4 + c);
      const float4 b = __ldg(row4 + c);
      dot += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
      row_squares += b.x * b.x + b.y * b.y + b.z * b.z + b.w * b.w;
    }
  } else {
#pragma unroll 4
    for (std::int64_t c = lane; c < dim; c += kWarpSize) {
      const float a = __ldg(query + c);
      const float b = __ldg(row + c);
      dot += a * b;
      row_squares += b * b;
    }
  }
}

// Grid (query, split); see the file comment. Writes the split's top k, best first, to
// best_scores/best_ids[(query * splits + split) * k ...] (the final output when splits == 1).
template <bool kVec4>
__global__ void __launch_bounds__(kThreadsPerBlock)
    CosineTopKPassKernel(const float* __restrict__ queries, const float* __restrict__ matrix,
                         std::int64_t num_rows, std::int64_t dim, int k,
                         std::int64_t rows_per_split, float* __restrict__ best_scores,
                         std::int64_t* __restrict__ best_ids) {
  __shared__ Slots slots;
  __shared__ float warp_sums[kWarpsPerBlock];

  const std::int64_t q = blockIdx.x;
  const std::int64_t split = blockIdx.y;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const float* query = queries + q * dim;

  // |q|, reduced over the block.
  float query_squares = 0.0f;
  for (std::int64_t d = threadIdx.x; d < dim; d += kThreadsPerBlock) {
    query_squares += query[d] * query[d];
  }
  query_squares = WarpSum(query_squares);
  if (lane == 0) warp_sums[warp] = query_squares;
  MarkEmpty(slots, 0, kTopKKeptSlots);
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kWarpsPerBlock; ++w) total += warp_sums[w];
  const float query_norm = fmaxf(sqrtf(total), kCosineNormEpsilon);

  const std::int64_t split_begin = split * rows_per_split;
  const std::int64_t split_end =
      split_begin + rows_per_split < num_rows ? split_begin + rows_per_split : num_rows;
  for (std::int64_t pass = split_begin; pass < split_end; pass += kTopKNewSlots) {
    const std::int64_t rows_here = split_end - pass;
    for (int r = warp; r < kTopKNewSlots; r += kWarpsPerBlock) {  // warp-uniform
      float score = NegativeInfinity();
      std::int64_t id = -1;
      if (r < rows_here) {
        id = pass + r;
        float dot = 0.0f;
        float row_squares = 0.0f;
        PartialDot<kVec4>(query, matrix + id * dim, dim, lane, dot, row_squares);
        dot = WarpSum(dot);
        row_squares = WarpSum(row_squares);
        score = dot / (query_norm * fmaxf(sqrtf(row_squares), kCosineNormEpsilon));
      }
      if (lane == 0) {
        slots.scores[kTopKKeptSlots + r] = score;
        slots.ids[kTopKKeptSlots + r] = id;
      }
    }
    __syncthreads();
    SortSlots(slots);
  }
  const std::int64_t out_offset = (q * gridDim.y + split) * k;
  WriteBest(slots, k, best_scores + out_offset, best_ids + out_offset);
}

// One block per query: the best k of the query's splits * k candidates.
__global__ void __launch_bounds__(kThreadsPerBlock)
    CosineTopKMergeKernel(const float* __restrict__ candidate_scores,
                          const std::int64_t* __restrict__ candidate_ids, std::int64_t per_query,
                          int k, float* __restrict__ out_scores,
                          std::int64_t* __restrict__ out_ids) {
  __shared__ Slots slots;
  const std::int64_t q = blockIdx.x;
  const float* scores = candidate_scores + q * per_query;
  const std::int64_t* ids = candidate_ids + q * per_query;
  MarkEmpty(slots, 0, kTopKKeptSlots);
  for (std::int64_t base = 0; base < per_query; base += kTopKNewSlots) {
    for (int t = static_cast<int>(threadIdx.x); t < kTopKNewSlots; t += kThreadsPerBlock) {
      const std::int64_t index = base + t;
      const bool present = index < per_query;
      slots.scores[kTopKKeptSlots + t] = present ? scores[index] : NegativeInfinity();
      slots.ids[kTopKKeptSlots + t] = present ? ids[index] : -1;
    }
    __syncthreads();
    SortSlots(slots);
  }
  WriteBest(slots, k, out_scores + q * k, out_ids + q * k);
}

bool Aligned(const void* p, std::uintptr_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

}  // namespace

Status CosineTopK(const CosineTopKArgs& args, void* scratch, std::size_t scratch_bytes,
                  void* stream) {
  BLAZEN_RETURN_IF_ERROR(ValidateCosineTopKArgs(args));
  BLAZEN_ASSIGN_OR_RETURN(const detail::CosineTopKPlan plan,
                          detail::PlanCosineTopK(args.num_queries, args.num_rows, args.k));
  if (args.num_queries == 0) return Status::Ok();
  if (plan.scratch_bytes > 0 &&
      (scratch == nullptr || scratch_bytes < plan.scratch_bytes || !Aligned(scratch, 8))) {
    return Status::InvalidArgument("CosineTopK: scratch must be 8-byte aligned and hold " +
                                   std::to_string(plan.scratch_bytes) + " bytes");
  }
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  const bool merge = plan.splits > 1;
  float* best_scores = merge ? static_cast<float*>(scratch) : args.out_scores;
  std::int64_t* best_ids =
      merge
          ? reinterpret_cast<std::int64_t*>(static_cast<char*>(scratch) + plan.candidate_ids_offset)
          : args.out_ids;

  const dim3 grid(static_cast<unsigned>(args.num_queries), static_cast<unsigned>(plan.splits));
  const bool vec4 = args.dim % 4 == 0 && Aligned(args.queries, 16) && Aligned(args.matrix, 16);
  if (vec4) {
    CosineTopKPassKernel<true><<<grid, kThreadsPerBlock, 0, cuda_stream>>>(
        args.queries, args.matrix, args.num_rows, args.dim, args.k, plan.rows_per_split,
        best_scores, best_ids);
  } else {
    CosineTopKPassKernel<false><<<grid, kThreadsPerBlock, 0, cuda_stream>>>(
        args.queries, args.matrix, args.num_rows, args.dim, args.k, plan.rows_per_split,
        best_scores, best_ids);
  }
  BLAZEN_RETURN_IF_ERROR(detail::LastLaunchStatus("CosineTopKPassKernel"));
  if (!merge) return Status::Ok();
  CosineTopKMergeKernel<<<static_cast<unsigned>(args.num_queries), kThreadsPerBlock, 0,
                          cuda_stream>>>(best_scores, best_ids, plan.splits * args.k, args.k,
                                         args.out_scores, args.out_ids);
  return detail::LastLaunchStatus("CosineTopKMergeKernel");
}

}  // namespace blazen::kernels
