#!/usr/bin/env bash
# Downloads (does not install) the Debian packages the GPU machine lacks into .deps/ (ignored by
# git), for scripts/gpu_check.sh to unpack there: that machine has nvcc, CMake and Ninja but no
# Eigen, GoogleTest, Google Benchmark, CLI11 or nlohmann-json, and no network.
#   scripts/fetch_gpu_deps.sh      then carry .deps to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps
cd .deps
pkgs=(libeigen3-dev libgtest-dev libgmock-dev googletest libbenchmark-dev libbenchmark1debian
      libcli11-dev nlohmann-json3-dev)
for p in "${pkgs[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p"
done
ls -1 *.deb
