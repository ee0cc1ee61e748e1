// SPDX-License-Identifier: Apache-2.0
#pragma once
// Counter-based random numbers shared by RandomUniformF32 (device) and its CPU reference: element
// i of a fill depends only on (seed, i), so any grid shape and the host loop give identical bits.

#include <cmath>
#include <cstdint>

#include "kernels/detail/host_device.h"

namespace blazen::kernels::detail {

/// The splitmix64 output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
BLAZEN_HOST_DEVICE inline std::uint64_t SplitMix64(std::uint64_t state) {
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Element `index` of the uniform stream `seed`: lo + u * (hi - lo) with u = 24 random bits / 2^24.
/// One fused multiply-add on both sides (host fmaf is correctly rounded like the device's), so no
/// compiler contraction choice can make host and device differ.
BLAZEN_HOST_DEVICE inline float UniformF32FromCounter(std::uint64_t seed, std::uint64_t index,
                                                      float lo, float hi) {
  const std::uint64_t bits = SplitMix64(seed + (index + 1) * 0x9E3779B97F4A7C15ULL);
  const float u = static_cast<float>(bits >> 40) * 0x1p-24f;  // exact: 24 bits fit a float
  return fmaf(u, hi - lo, lo);
}

}  // namespace blazen::kernels::detail
