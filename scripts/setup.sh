#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian package blazen-peer needs to build, test and run. Idempotent and
# non-interactive: when everything is present it only checks and returns. Also reports whether the
# CUDA toolkit is available (it is part of the machine image, not a Debian package).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  pybind11-dev python3-dev python3-pytest python3-numpy python3-grpcio python3-protobuf
  python3-setuptools python3-wheel python3-pip python3-venv
  libcpp-httplib-dev libssl-dev openssl curl
  etcd-server
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
fi

# CUDA: optional. Without it the project builds the host fallback (pool, lifetimes and the kernels'
# CPU references); GPU tests skip themselves.
NVCC=""
if command -v nvcc >/dev/null 2>&1; then
  NVCC=$(command -v nvcc)
elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
  NVCC=/usr/local/cuda/bin/nvcc
fi
if [[ -n "$NVCC" ]]; then
  echo "setup: CUDA toolkit found: $("$NVCC" --version | tail -n 2 | head -n 1) ($NVCC)"
else
  echo "setup: CUDA toolkit NOT found (no nvcc on PATH or in /usr/local/cuda/bin)." \
       "Building the host fallback only; install the CUDA 13 toolkit to build the GPU kernels."
fi
