// SPDX-License-Identifier: Apache-2.0
// EmbeddingBag(mean) + L2 normalisation on the GPU (see embedding_bag.h).
//
// Design. The op is a gather: every id pulls one table row (1.5 KiB for D = 384 f32) from device
// memory at a random address, so it is bound by memory bandwidth, and the kernel's job is to keep
// enough independent row loads in flight and to touch every byte once.
// - One warp per bag (kWarpsPerBlock bags per block). 32 lanes split the D columns, each lane
//   loading 16 bytes per access (float4 for f32, 8 halves for f16) so a warp reads 512 contiguous
//   bytes of a row per instruction, fully coalesced. A lane owns up to 4 (f32) or 3 (f16) such
//   vectors (D <= 512 f32 or D <= 768 f16 in registers); wider rows take several passes over the
//   bag, with the normalisation applied in a final rescale of the written row.
// - A bag's ids are read 32 at a time, one per lane, validated with one ballot, and broadcast by
//   shuffles. Rows are loaded kIdBatch ids at a time before any is added, so each lane has
//   kIdBatch * chunks 16-byte loads outstanding (6 for D = 384 f32): at 32 warps per SM about
//   100 KB in flight per SM, several times the HBM latency-bandwidth product (~20 KB per SM).
// - Sums are f32 in id order (bit-identical to the CPU reference's sums), then divided by the bag
//   size; the squared norm is a warp butterfly reduction, and the normalised row is written once,
//   vectorised. No shared memory, no block barriers, no atomics (except the optional error flag).
// - __launch_bounds__(128, 8) caps registers at 64 so 32 warps fit on each SM: a batch of 4096
//   bags is then a single wave on 132 SMs, with no tail.
// Invalid ids are skipped (never read) and invalid offsets clamped; see EmbeddingBagMean's
// contract. For the benchmark shape ([2^20, 384] f32, 4096 bags x 128 ids) the kernel reads 805 MB
// of rows: an estimated 0.3 ms at H100 memory bandwidth.

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <limits>

#include "kernels/detail/cuda_status.h"
#include "kernels/embedding_bag.h"

namespace blazen::kernels {
namespace {

constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = 4;
constexpr int kThreadsPerBlock = kWarpSize * kWarpsPerBlock;
constexpr int kMinBlocksPerSm = 8;
constexpr unsigned kFullMask = 0xffffffffu;
// Row width and bag size limits that keep the kernel's column and position arithmetic in 32 bits.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 30;
constexpr std::int64_t kMaxBagSize = (std::int64_t{1} << 31) - 1;

// Loads kVec consecutive table elements as one access and widens them to f32.
template <typename T, int kVec>
struct RowVector;

template <>
struct RowVector<float, 4> {
  using Raw = float4;
  static constexpr int kRawRegisters = 4;
  __device__ static Raw Load(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }
  __device__ static void Widen(const Raw& raw, float (&v)[4]) {
    v[0] = raw.x;
    v[1] = raw.y;
    v[2] = raw.z;
    v[3] = raw.w;
  }
};

template <>
struct RowVector<float, 1> {
  using Raw = float;
  static constexpr int kRawRegisters = 1;
  __device__ static Raw Load(const float* p) { return __ldg(p); }
  __device__ static void Widen(const Raw& raw, float (&v)[1]) { v[0] = raw; }
};

template <>
struct RowVector<__half, 8> {
  using Raw = uint4;
  static constexpr int kRawRegisters = 4;
  __device__ static Raw Load(const __half* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }
  __device__ static void Widen(const Raw& raw, float (&v)[8]) {
    const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      // Little-endian: the low 16 bits are the element at the lower address.
      v[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(words[i] & 0xffffu)));
      v[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(words[i] >> 16)));
    }
  }
};

template <>
struct RowVector<__half, 1> {
  using Raw = unsigned short;
  static constexpr int kRawRegisters = 1;
  __device__ static Raw Load(const __half* p) {
    return __ldg(reinterpret_cast<const unsigned short*>(p));
  }
  __device__ static void Widen(const Raw& raw, float (&v)[1]) {
    v[0] = __half2float(__ushort_as_half(raw));
  }
};

// Writes kVec floats to `p` (16-byte aligned when kVec > 1).
template <int kVec>
__device__ void StoreRow(float* p, const float (&v)[kVec]) {
  if constexpr (kVec == 1) {
    p[0] = v[0];
  } else {
#pragma unroll
    for (int i = 0; i < kVec; i += 4) {
      *reinterpret_cast<float4*>(p + i) = make_float4(v[i], v[i + 1], v[i + 2], v[i + 3]);
    }
  }
}

__device__ std::int64_t Clamp(std::int64_t value, std::int64_t lo, std::int64_t hi) {
  return value < lo ? lo : (value > hi ? hi : value);
}

__device__ float WarpSum(float value) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullMask, value, offset);
  }
  return value;
}

// One warp per bag; see the file comment. Template parameters: the table element type, the
// elements per access (kVec), the accesses per lane and pass (kChunks), the id type. `dim` is at
// most kMaxDim (checked by the launcher), so column arithmetic fits in 32 bits.
template <typename T, int kVec, int kChunks, typename Id>
__global__ void __launch_bounds__(kThreadsPerBlock, kMinBlocksPerSm)
    EmbeddingBagMeanKernel(const T* __restrict__ table, std::int64_t num_rows, int dim,
                           const Id* __restrict__ ids, std::int64_t num_ids,
                           const std::int64_t* __restrict__ offsets, std::int64_t num_bags,
                           bool normalize, float* __restrict__ out, int* error_flag) {
  using Vector = RowVector<T, kVec>;
  // Ids whose rows are loaded before the first is added. More ids in flight hide more latency,
  // but accumulators plus loads must stay within ~36 registers to fit the 64-register cap without
  // spilling (the rest holds pointers, bounds and loop state; the register report shows no spills).
  constexpr int kAccRegisters = kChunks * kVec;
  constexpr int kLoadRegisters = kChunks * Vector::kRawRegisters;
  constexpr int kBudget = (36 - kAccRegisters) / kLoadRegisters;
  constexpr int kIdBatch = kBudget < 1 ? 1 : (kBudget > 4 ? 4 : kBudget);
  constexpr int kChunkStride = kWarpSize * kVec;  // elements between a lane's chunks
  constexpr int kColumnsPerPass = kChunkStride * kChunks;

  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const std::int64_t bag = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock +
                           static_cast<std::int64_t>(threadIdx.x) / kWarpSize;
  if (bag >= num_bags) return;  // warp-uniform: whole warps leave, shuffles stay full-mask

  int error = 0;
  std::int64_t begin = offsets[bag];
  std::int64_t end = offsets[bag + 1];
  if (begin < 0 || begin > end || end > num_ids || end - begin > kMaxBagSize) {
    error |= kEmbeddingBagBadOffsets;
    begin = Clamp(begin, 0, num_ids);
    end = Clamp(end, begin, Clamp(begin + kMaxBagSize, 0, num_ids));
  }
  const Id* bag_ids = ids + begin;
  const int bag_size = static_cast<int>(end - begin);

  float* out_row = out + bag * dim;
  const bool single_pass = dim <= kColumnsPerPass;
  float sum_squares = 0.0f;  // this lane's share of ||mean||^2
  for (int pass = 0; pass < dim; pass += kColumnsPerPass) {
    // This lane's first column in the pass, and which of its chunks lie inside the row.
    const int lane_column = pass + lane * kVec;
    bool chunk_in_row[kChunks];
#pragma unroll
    for (int c = 0; c < kChunks; ++c) chunk_in_row[c] = lane_column + c * kChunkStride < dim;

    float acc[kChunks][kVec] = {};
    int count = 0;
    for (int base = 0; base < bag_size; base += kWarpSize) {
      const bool present = base + lane < bag_size;
      const std::int64_t my_id = present ? static_cast<std::int64_t>(bag_ids[base + lane]) : -1;
      const unsigned valid_mask =
          __ballot_sync(kFullMask, present && my_id >= 0 && my_id < num_rows);
      const unsigned present_mask = __ballot_sync(kFullMask, present);
      if (valid_mask != present_mask) error |= kEmbeddingBagBadId;
      count += __popc(valid_mask);
      const int in_batch = min(bag_size - base, kWarpSize);
      for (int j = 0; j < in_batch; j += kIdBatch) {
        // All loads of the batch first, then the adds, in id order. `use` is warp-uniform.
        typename Vector::Raw raw[kIdBatch][kChunks];
        bool use[kIdBatch];
#pragma unroll
        for (int u = 0; u < kIdBatch; ++u) {
          const int source = j + u;
          const std::int64_t id = __shfl_sync(kFullMask, my_id, source % kWarpSize);
          use[u] = source < in_batch && ((valid_mask >> (source % kWarpSize)) & 1u) != 0;
          const T* row = table + (use[u] ? id : 0) * dim + lane_column;
#pragma unroll
          for (int c = 0; c < kChunks; ++c) {
            raw[u][c] = {};
            if (use[u] && chunk_in_row[c]) raw[u][c] = Vector::Load(row + c * kChunkStride);
          }
        }
#pragma unroll
        for (int u = 0; u < kIdBatch; ++u) {
          if (!use[u]) continue;
#pragma unroll
          for (int c = 0; c < kChunks; ++c) {
            float v[kVec];
            Vector::Widen(raw[u][c], v);
#pragma unroll
            for (int e = 0; e < kVec; ++e) acc[c][e] += v[e];
          }
        }
      }
    }

    // Mean (division, as the reference does), then this lane's part of the squared norm.
    const float divisor = static_cast<float>(count);
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        acc[c][e] = count > 0 ? acc[c][e] / divisor : 0.0f;
        sum_squares += acc[c][e] * acc[c][e];  // columns past dim hold 0
      }
    }
    if (normalize && single_pass) {
      const float denominator = fmaxf(sqrtf(WarpSum(sum_squares)), kEmbeddingBagNormEpsilon);
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
#pragma unroll
        for (int e = 0; e < kVec; ++e) acc[c][e] /= denominator;
      }
    }
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (chunk_in_row[c]) StoreRow<kVec>(out_row + lane_column + c * kChunkStride, acc[c]);
    }
  }

  if (normalize && !single_pass) {
    // Rows wider than one pass: rescale what this lane wrote (only it touched those columns, so
    // no synchronisation is needed).
    const float denominator = fmaxf(sqrtf(WarpSum(sum_squares)), kEmbeddingBagNormEpsilon);
    for (int pass = 0; pass < dim; pass += kColumnsPerPass) {
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int column = pass + lane * kVec + c * kChunkStride;
        if (column < dim) {
#pragma unroll
          for (int e = 0; e < kVec; ++e) out_row[column + e] /= denominator;
        }
      }
    }
  }

  if (error != 0 && error_flag != nullptr && lane == 0) atomicOr(error_flag, error);
}

template <typename T, int kVec, int kChunks, typename Id>
Status Launch(const EmbeddingBagArgs& args, cudaStream_t stream, int* d_error_flag) {
  const std::int64_t blocks = (args.num_bags + kWarpsPerBlock - 1) / kWarpsPerBlock;
  EmbeddingBagMeanKernel<T, kVec, kChunks, Id>
      <<<static_cast<unsigned>(blocks), kThreadsPerBlock, 0, stream>>>(
          static_cast<const T*>(args.table), args.num_rows, static_cast<int>(args.dim),
          static_cast<const Id*>(args.ids), args.num_ids, args.offsets, args.num_bags,
          args.normalize, args.out, d_error_flag);
  return detail::LastLaunchStatus("EmbeddingBagMeanKernel");
}

// Picks kChunks: as many accesses per lane as the row needs, up to kMaxChunks (3 for f16 vectors,
// whose 8 accumulators per access would otherwise spill under the register cap; 4 otherwise).
template <typename T, int kVec, typename Id>
Status LaunchForWidth(const EmbeddingBagArgs& args, cudaStream_t stream, int* d_error_flag) {
  constexpr int kMaxChunks = kVec == 8 ? 3 : 4;
  const std::int64_t vectors = (args.dim + kVec - 1) / kVec;
  const std::int64_t chunks = (vectors + kWarpSize - 1) / kWarpSize;
  switch (chunks) {
    case 1:
      return Launch<T, kVec, 1, Id>(args, stream, d_error_flag);
    case 2:
      return Launch<T, kVec, 2, Id>(args, stream, d_error_flag);
    case 3:
      return Launch<T, kVec, 3, Id>(args, stream, d_error_flag);
    default:
      return Launch<T, kVec, kMaxChunks, Id>(args, stream, d_error_flag);
  }
}

bool Aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Vector accesses need 16-byte aligned rows in the table and the output; anything else (odd D,
// offset views) takes the scalar path, which is correct but slower.
template <typename T, typename Id>
Status LaunchForTypes(const EmbeddingBagArgs& args, cudaStream_t stream, int* d_error_flag) {
  constexpr int kVec = 16 / sizeof(T);
  if (args.dim % kVec == 0 && Aligned16(args.table) && Aligned16(args.out)) {
    return LaunchForWidth<T, kVec, Id>(args, stream, d_error_flag);
  }
  return LaunchForWidth<T, 1, Id>(args, stream, d_error_flag);
}

}  // namespace

Status EmbeddingBagMean(const EmbeddingBagArgs& args, void* stream, int* d_error_flag) {
  BLAZEN_RETURN_IF_ERROR(ValidateEmbeddingBagArgs(args));
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (d_error_flag != nullptr) {
    BLAZEN_KERNELS_CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(d_error_flag, 0, sizeof(*d_error_flag), cuda_stream));
  }
  if (args.num_bags == 0 || args.dim == 0) return Status::Ok();
  if ((args.num_bags + kWarpsPerBlock - 1) / kWarpsPerBlock >
      std::numeric_limits<std::int32_t>::max()) {
    return Status::InvalidArgument("EmbeddingBagMean: too many bags for one launch");
  }
  if (args.dim > kMaxDim) {
    return Status::InvalidArgument(
        "EmbeddingBagMean: dim above 2^30 is not supported on the device");
  }
  const bool f16 = args.table_dtype == DType::kF16;
  const bool i32 = args.id_dtype == DType::kI32;
  if (f16) {
    return i32 ? LaunchForTypes<__half, std::int32_t>(args, cuda_stream, d_error_flag)
               : LaunchForTypes<__half, std::int64_t>(args, cuda_stream, d_error_flag);
  }
  return i32 ? LaunchForTypes<float, std::int32_t>(args, cuda_stream, d_error_flag)
             : LaunchForTypes<float, std::int64_t>(args, cuda_stream, d_error_flag);
}

}  // namespace blazen::kernels
