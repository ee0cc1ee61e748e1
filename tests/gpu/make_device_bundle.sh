#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the GPU test and benchmark binaries (CUDA on, in build-device/) and bundles them with every shared library
# they need into .devbundle/b, for a GPU machine that has the CUDA driver but none of the
# project's libraries. Then, on that machine: tests/gpu/run_on_device.sh .devbundle/b OUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bundler=${BLAZEN_DEVICE_BUNDLER:-../shared/tools/device-bundle.sh}
targets=(blazen_kernels_gpu_tests blazen_gpu_device_tests blazen_gpu_tests blazen_server_tests
  blazen_client_tests blazen_gpu_bench)
cmake -S . -B build-device -G Ninja -DCMAKE_BUILD_TYPE=Release -DBLAZEN_ENABLE_CUDA=ON \
  -DBLAZEN_BUILD_BENCHMARKS=ON -DBLAZEN_BUILD_EXAMPLES=OFF
cmake --build build-device -j "${BLAZEN_JOBS:-$(nproc)}" --target "${targets[@]}"
binaries=()
for t in "${targets[@]}"; do
  binaries+=("$(find build-device/tests build-device/bench -type f -name "$t" -perm -u+x | head -n 1)")
done
rm -rf .devbundle/b
"$bundler" --strip "${binaries[@]}" .devbundle/b
echo "bundle ready: .devbundle/b (${#binaries[@]} binaries)"
