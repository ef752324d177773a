#!/usr/bin/env bash
# One command on the GPU machine: unpack the carried Debian packages (.deps/, from
# scripts/fetch_gpu_deps.sh), build with CUDA for sm_90, run every test (the GPU tests included),
# run the GPU benchmarks, and write the results with the device name under $OUT (or
# bench/results/) with a short table last.
#   scripts/gpu_check.sh [quick]     quick: tests and a handful of benchmark shapes only
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
out="${OUT:-bench/results}"
mkdir -p "$out"
deps=/tmp/deps
if [ -d .deps ] && [ ! -d "$deps/usr" ]; then
  mkdir -p "$deps"
  for f in .deps/*.deb; do dpkg -x "$f" "$deps"; done
fi
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export PATH=/usr/local/cuda/bin:$PATH
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEGCORE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_PREFIX_PATH="$deps/usr;$deps/usr/share/eigen3/cmake;$deps/usr/lib/x86_64-linux-gnu/cmake" \
  > "$out/gpu-configure.log" 2>&1 || { tail -30 "$out/gpu-configure.log"; exit 1; }
cmake --build build-gpu -j"$(nproc)" > "$out/gpu-build.log" 2>&1 || { tail -40 "$out/gpu-build.log"; exit 1; }
device="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')"
stamp="$(date +%Y-%m-%d)"
# The C++ tests (the Python ones need packages this machine does not have).
set +e
ctest --test-dir build-gpu -E 'sklearn|cli|report' --output-on-failure > "$out/gpu-ctest-$device.log" 2>&1
ctest_rc=$?
(cd build-gpu && ./tests/test_kmeans_cuda > "$out/gpu-test-kmeans-cuda-$device.log" 2>&1)
if [ -x build-gpu/tests/test_lstsq_cuda ]; then
  (cd build-gpu && ./tests/test_lstsq_cuda > "$out/gpu-test-lstsq-cuda-$device.log" 2>&1)
fi
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck build-gpu/tests/test_kmeans_cuda --gtest_filter='CudaBackend.*' \
    > "$out/gpu-memcheck-$device.log" 2>&1
  compute-sanitizer --tool racecheck build-gpu/tests/test_kmeans_cuda \
    --gtest_filter='CudaBackend.LloydPass*' > "$out/gpu-racecheck-$device.log" 2>&1
  compute-sanitizer --tool memcheck build-gpu/tests/test_lstsq_cuda \
    --gtest_filter='LstsqCuda.*:-LstsqCuda.Command*' > "$out/gpu-memcheck-lstsq-$device.log" 2>&1
  compute-sanitizer --tool racecheck build-gpu/tests/test_lstsq_cuda \
    --gtest_filter='LstsqCuda.Ragged*:LstsqCuda.WellConditioned*' \
    > "$out/gpu-racecheck-lstsq-$device.log" 2>&1
  for f in "$out"/gpu-*check*-"$device".log; do
    echo "$(basename "$f"): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$f" | tail -1)"
  done
fi
set -e
filter='DeviceCopy|LloydCuda'
[ "$mode" = quick ] && filter='DeviceCopy|LloydCuda<float>/n:(10000000/d:(16/k:32|128/k:1024)|100000000/d:16/k:32)/'
build-gpu/bench/bench_kmeans --benchmark_filter="$filter" --benchmark_format=json \
  --benchmark_out="$out/gpu-bench-kmeans-$device-$stamp.json" --benchmark_out_format=json \
  > /dev/null 2> "$out/gpu-bench-kmeans-$device.err" || true
lfilter='BM_(lstsq_cuda_kernel|lstsq_cuda_end_to_end|cublas_gels_batched)/'
[ "$mode" = quick ] && lfilter='BM_(lstsq_cuda_kernel|cublas_gels_batched)/m:24/features:4'
build-gpu/bench/bench_lstsq --problems=10000000 --benchmark_filter="$lfilter" \
  --benchmark_out="$out/gpu-bench-lstsq-$device-$stamp.json" --benchmark_out_format=json \
  > /dev/null 2> "$out/gpu-bench-lstsq-$device.err" || true
python3 - "$out/gpu-bench-kmeans-$device-$stamp.json" "$out/gpu-bench-lstsq-$device-$stamp.json" <<'PY' || true
import json, os, sys
b = json.load(open(sys.argv[1]))["benchmarks"]
lsq = json.load(open(sys.argv[2]))["benchmarks"] if os.path.exists(sys.argv[2]) else []
copy = [x for x in b if x["name"].startswith("DeviceCopy")]
bw = copy[0].get("GB_read", 0) if copy else 0
print(f"device copy: {bw:.0f} GB/s read")
print(f"{'benchmark':58} {'ms':>9} {'GB/s':>8} {'x read time':>11}")
for x in b:
    if not x["name"].startswith("LloydCuda") or "error_message" in x: continue
    gbs = x.get("GB", 0)
    print(f"{x['name']:58} {x['real_time']:9.3f} {gbs:8.0f} {bw / gbs if gbs else 0:11.2f}")
for x in lsq:
    if "error_message" in x: continue
    gbs = x.get("GB/s", 0)
    print(f"{x['name']:58} {x['real_time']:9.3f} {gbs:8.0f} {bw / gbs if gbs else 0:11.2f}")
PY
echo "ctest exit $ctest_rc; logs in $out"
tail -3 "$out/gpu-ctest-$device.log"
