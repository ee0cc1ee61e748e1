// SPDX-License-Identifier: Apache-2.0
#pragma once
// IEEE 754 binary16 ("f16") conversions on the host, for the CPU reference kernels, tests and
// loaders that fill f16 embedding tables. Bit-compatible with the device's __float2half_rn and
// __half2float for every non-NaN value.

#include <cstdint>

namespace blazen::kernels {

/// Converts `value` to binary16 bits with round-to-nearest-even. Overflow (|value| >= 65520) gives
/// +-infinity, values below half the smallest subnormal (2^-25) give a signed zero, subnormal
/// results are rounded correctly, infinities stay infinities and a NaN stays a quiet NaN (sign and
/// the top payload bits kept). Pure; thread-safe.
[[nodiscard]] std::uint16_t FloatToHalf(float value);

/// Converts binary16 bits to float exactly (every binary16 value, subnormals included, is a float).
/// Infinities map to infinities, NaNs to NaNs with the payload kept. Pure; thread-safe.
[[nodiscard]] float HalfToFloat(std::uint16_t bits);

}  // namespace blazen::kernels
