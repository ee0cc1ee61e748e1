#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test from a fresh machine: installs the Debian packages, configures and builds the
# project in build/ with warnings as errors (Python module blazen._native included), runs the
# whole ctest suite (GPU tests skip themselves when no device is visible; label "python" is the
# pytest suite of the `blazen` package), then rebuilds the wire-protocol suite under
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and runs it (set
# BLAZEN_SKIP_SANITIZERS=1 to skip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
JOBS=${BLAZEN_JOBS:-$(nproc)}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLAZEN_WERROR=ON \
  -DBLAZEN_BUILD_TESTS=ON -DBLAZEN_BUILD_PYTHON=ON
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600

if [[ "${BLAZEN_SKIP_SANITIZERS:-0}" != "1" ]]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBLAZEN_SANITIZE=address \
    -DBLAZEN_ENABLE_CUDA=OFF -DBLAZEN_BUILD_EXAMPLES=OFF -DBLAZEN_WERROR=ON
  cmake --build build-asan -j "$JOBS" --target blazen_core_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ./build-asan/tests/core/blazen_core_tests --gtest_brief=1
fi
echo "run-tests: all tests passed"
