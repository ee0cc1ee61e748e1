// SPDX-License-Identifier: Apache-2.0
#pragma once
// Build configuration of gpu/: whether the CUDA backend was compiled in (BLAZEN_ENABLE_CUDA).
// This is the only header that differs between CUDA and host-only builds; everything else reads
// kBuiltWithCuda instead of testing macros. Without CUDA, or on a machine without a usable
// device, every gpu/ type runs over aligned host memory (the host fallback).

namespace blazen::gpu {

#if defined(BLAZEN_GPU_BUILT_WITH_CUDA) && BLAZEN_GPU_BUILT_WITH_CUDA
/// True when gpu/ was built against the CUDA runtime (a device is then used when one is usable).
inline constexpr bool kBuiltWithCuda = true;
#else
/// True when gpu/ was built against the CUDA runtime (a device is then used when one is usable).
inline constexpr bool kBuiltWithCuda = false;
#endif

}  // namespace blazen::gpu
