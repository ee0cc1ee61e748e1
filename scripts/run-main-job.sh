#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the main job from a fresh machine: installs the Debian packages, builds the project in
# build/, starts a GPU-worker peer (`blazen-peer serve`; on the GPU when one is usable, else on the
# host fallback, which it says) and runs a parent that offloads an embedding sub-workflow to it over
# gRPC, dereferences the resident tensor (NPY), searches against it on the peer and releases it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
JOBS=${BLAZEN_JOBS:-$(nproc)}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS" --target blazen_peer_cli parent_offload

out=$(mktemp)
./build/tools/blazen-peer serve --node-id gpu-worker-1 --listen 127.0.0.1:0 >"$out" 2>&1 &
peer=$!
trap 'kill -TERM $peer 2>/dev/null || true; wait $peer 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 200); do
  grep -q '^listening on ' "$out" && break
  kill -0 $peer 2>/dev/null || { cat "$out"; echo "peer failed to start" >&2; exit 1; }
  sleep 0.05
done
address=$(awk '/^listening on /{print $3; exit}' "$out")
echo "peer:   gpu-worker-1 listening on $address"

status=0
./build/examples/parent_offload --peer "http://$address" "$@" || status=$?

kill -TERM $peer
wait $peer || status=$?
echo "--- peer log ---"
cat "$out"
exit $status
