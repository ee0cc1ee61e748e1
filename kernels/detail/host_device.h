// SPDX-License-Identifier: Apache-2.0
#pragma once
// BLAZEN_HOST_DEVICE marks the few inline helpers that both the CPU reference versions (plain C++)
// and the device kernels (.cu) compile, so that both sides compute bit-identical values.

#if defined(__CUDACC__)
#define BLAZEN_HOST_DEVICE __host__ __device__
#else
#define BLAZEN_HOST_DEVICE
#endif
