#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU checks, run on a machine with a CUDA device. Usage:
#
#   tests/gpu/run_on_device.sh BUNDLE_DIR OUT_DIR
#
# BUNDLE_DIR holds the test binaries built with -DBLAZEN_ENABLE_CUDA=ON plus the shared libraries
# they need, and a run.sh that sets the library path and runs `bin/<name>`:
# blazen_kernels_gpu_tests, blazen_gpu_device_tests, blazen_gpu_tests, blazen_server_tests,
# blazen_client_tests (tests/gpu/make_device_bundle.sh builds it). Results (logs, gtest XML,
# nvidia-smi, compute-sanitizer reports) go to OUT_DIR. Exits non-zero when any check fails.
set -u
bundle=${1:?usage: run_on_device.sh BUNDLE_DIR OUT_DIR}
out=${2:?usage: run_on_device.sh BUNDLE_DIR OUT_DIR}
mkdir -p "$out"
status=0

nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed" >>"$out/nvidia-smi.txt"

run() {  # run NAME [args...]: one gtest binary, log + XML, never aborts the script
  local name=$1
  shift
  echo "== $name $*" | tee -a "$out/summary.txt"
  if timeout 900 "$bundle/run.sh" "$name" --gtest_output="xml:$out/$name.xml" "$@" \
      >"$out/$name.log" 2>&1; then
    tail -n 3 "$out/$name.log" | tee -a "$out/summary.txt"
  else
    status=1
    echo "FAILED (exit $?)" | tee -a "$out/summary.txt"
    grep -E "FAILED|Failure" "$out/$name.log" | head -n 40 | tee -a "$out/summary.txt"
  fi
}

run blazen_kernels_gpu_tests
run blazen_gpu_device_tests
run blazen_gpu_tests
# The GPU steps on the device (embed, search, tensor refs dereferenced over loopback gRPC and
# compared byte for byte) and the client's DeviceSink (pinned bounce buffers, H2D copies).
run blazen_server_tests --gtest_filter='GpuSteps*:TableFile*'
run blazen_client_tests --gtest_filter='DeviceSink*'

# Memory checking of the device code paths (slow: only the device test binaries).
if command -v compute-sanitizer >/dev/null 2>&1; then
  for name in blazen_gpu_device_tests blazen_kernels_gpu_tests; do
    echo "== compute-sanitizer memcheck $name" | tee -a "$out/summary.txt"
    if timeout 900 compute-sanitizer --tool memcheck --target-processes all --error-exitcode 3 \
        "$bundle/run.sh" "$name" --gtest_brief=1 >"$out/memcheck-$name.log" 2>&1; then
      tail -n 2 "$out/memcheck-$name.log" | tee -a "$out/summary.txt"
    else
      status=1
      echo "memcheck FAILED" | tee -a "$out/summary.txt"
      grep -E "ERROR SUMMARY|Invalid" "$out/memcheck-$name.log" | head -n 20 | tee -a "$out/summary.txt"
    fi
  done
fi
# The GPU benchmark (bench/gpu_bench.cc against torch), when the bundle has it.
if [[ -x "$bundle/bin/blazen_gpu_bench" ]]; then
  echo "== gpu benchmark" | tee -a "$out/summary.txt"
  if "$(dirname "${BASH_SOURCE[0]}")/run_gpu_bench.sh" "$bundle" "$out/bench" >"$out/bench.log" 2>&1; then
    tee -a "$out/summary.txt" <"$out/bench/report.md"
  else
    status=1
    tail -n 20 "$out/bench.log" | tee -a "$out/summary.txt"
  fi
fi
exit $status
