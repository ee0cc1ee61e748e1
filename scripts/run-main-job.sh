#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the main job from a fresh machine: installs the Debian packages, builds the project in
# build/ and runs a peer plus a parent that offloads a sub-workflow to it over gRPC.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
JOBS=${BLAZEN_JOBS:-$(nproc)}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$JOBS" --target echo_round_trip
./build/examples/echo_round_trip "$@"
