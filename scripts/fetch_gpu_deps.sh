#!/usr/bin/env bash
# Downloads (does not install) the Debian packages the GPU machine lacks into .deps/ (ignored by
# git), for scripts/gpu_check.sh to unpack there: that machine has nvcc, CMake and Ninja but no
# Eigen, GoogleTest, Google Benchmark, CLI11 or nlohmann-json, and no network. Then checks that
# they are enough: unpacked into a scratch prefix, the CPU-only build configures with CMake's
# system search paths turned off, every package found under that prefix (as gpu_check.sh looks).
#   scripts/fetch_gpu_deps.sh      then carry .deps to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps
pkgs=(libeigen3-dev libgtest-dev libgmock-dev googletest libbenchmark-dev libbenchmark1debian
      libcli11-dev nlohmann-json3-dev)
(
  cd .deps
  for p in "${pkgs[@]}"; do
    ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" 2> >(grep -v '^W: Download is performed unsandboxed' >&2)
  done
  ls -1 *.deb
)

check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
for f in .deps/*.deb; do dpkg -x "$f" "$check/deps"; done
d="$check/deps"
generator=(-G "Unix Makefiles" -DCMAKE_MAKE_PROGRAM="$(command -v make)")
command -v ninja >/dev/null && generator=(-G Ninja -DCMAKE_MAKE_PROGRAM="$(command -v ninja)")
if ! cmake -S . -B "$check/build" "${generator[@]}" -DSEGCORE_CUDA=OFF \
  -DCMAKE_CXX_COMPILER="$(command -v c++)" \
  -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DCMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH=OFF \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_PREFIX_PATH="$d/usr;$d/usr/share/eigen3/cmake;$d/usr/lib/x86_64-linux-gnu/cmake" \
  >"$check/configure.log" 2>&1; then
  tail -20 "$check/configure.log" >&2
  echo "fetch_gpu_deps: the packages in .deps/ do not configure the build on their own" >&2
  exit 1
fi
# The benchmarks link Google Benchmark's shared library: it must be there to run, not only to link.
ls "$d"/usr/lib/x86_64-linux-gnu/libbenchmark.so.1* >/dev/null 2>&1 ||
  { echo "fetch_gpu_deps: no Google Benchmark runtime library in .deps/" >&2; exit 1; }
echo "fetch_gpu_deps: .deps/ ($(du -sh .deps | cut -f1)) configures the build with no system package"
