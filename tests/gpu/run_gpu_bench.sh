#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU benchmark, on a machine with a CUDA device and torch. Usage:
#
#   tests/gpu/run_gpu_bench.sh BUNDLE_DIR OUT_DIR [--quick]
#
# BUNDLE_DIR holds blazen_gpu_bench (tests/gpu/make_device_bundle.sh). Writes gpu_bench.json,
# torch.json and report.md (the table BENCHMARKS.md records) to OUT_DIR.
set -euo pipefail
bundle=${1:?usage: run_gpu_bench.sh BUNDLE_DIR OUT_DIR [--quick]}
out=${2:?usage: run_gpu_bench.sh BUNDLE_DIR OUT_DIR [--quick]}
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$out"
"$bundle/run.sh" blazen_gpu_bench --json "$out/gpu_bench.json" "$@" 2>&1 | tee "$out/gpu_bench.log"
python3 "$here/bench/torch_embedding_bag.py" --json "$out/torch.json" "$@" 2>&1 |
  tee "$out/torch.log"
python3 "$here/bench/gpu_report.py" "$out/gpu_bench.json" "$out/torch.json" | tee "$out/report.md"
