// SPDX-License-Identifier: Apache-2.0
#pragma once
// Element-wise device helpers for tests, benchmarks and seeded model tables: fill with a constant,
// fill with counter-based uniform random numbers, convert f32 to f16. Each launcher has a CPU
// reference that produces bit-identical results.
//
// Launchers take a `cudaStream_t` passed opaquely as `void* stream` (nullptr is the legacy default
// stream), enqueue their work and return the launch error; none synchronizes `stream`. They return
// kInvalidArgument for bad arguments (negative n, null pointer with n > 0, bad range), kInternal
// for a failed launch, and kUnimplemented ("built without CUDA") when the library was built without
// CUDA. n == 0 launches nothing and returns OK.

#include <cstdint>

#include "core/status.h"

namespace blazen::kernels {

/// Sets data[0, n) (device memory) to `value`. Does not synchronize `stream`.
[[nodiscard]] Status FillF32(float* data, std::int64_t n, float value, void* stream);

/// Host reference of FillF32 (`data` in host memory). kInvalidArgument as the launcher.
[[nodiscard]] Status FillF32Reference(float* data, std::int64_t n, float value);

/// The value that RandomUniformF32 writes at `index` for `seed`: lo + u * (hi - lo), u uniform on
/// [0, 1) with 24 random bits from splitmix64 of (seed, index), computed with one fused
/// multiply-add. In [lo, hi]; hi itself only through rounding. Pure; thread-safe.
[[nodiscard]] float UniformF32At(std::uint64_t seed, std::uint64_t index, float lo, float hi);

/// Fills data[0, n) (device memory) with UniformF32At(seed, i, lo, hi) for each i: deterministic,
/// independent of the launch shape. Requires lo <= hi and a finite hi - lo (else
/// kInvalidArgument). Does not synchronize `stream`.
[[nodiscard]] Status RandomUniformF32(float* data, std::int64_t n, std::uint64_t seed, float lo,
                                      float hi, void* stream);

/// Host reference of RandomUniformF32, bit-identical to it. kInvalidArgument as the launcher.
[[nodiscard]] Status RandomUniformF32Reference(float* data, std::int64_t n, std::uint64_t seed,
                                               float lo, float hi);

/// Converts src[0, n) f32 to dst[0, n) binary16 bits (both device memory; must not overlap) with
/// round-to-nearest-even. Does not synchronize `stream`.
[[nodiscard]] Status ConvertF32ToF16(const float* src, std::uint16_t* dst, std::int64_t n,
                                     void* stream);

/// Host reference of ConvertF32ToF16 (FloatToHalf per element); bit-identical to it for every
/// non-NaN input. kInvalidArgument as the launcher.
[[nodiscard]] Status ConvertF32ToF16Reference(const float* src, std::uint16_t* dst, std::int64_t n);

}  // namespace blazen::kernels
