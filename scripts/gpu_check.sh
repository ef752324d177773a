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
  compute-sanitizer --tool memcheck build-gpu/tests/test_regress \
    --gtest_filter='RegressBySegmentCuda.*' > "$out/gpu-memcheck-regress-$device.log" 2>&1
  for f in "$out"/gpu-*check*-"$device".log; do
    echo "$(basename "$f"): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$f" | tail -1)"
  done
fi
set -e
# K-means: the device's copy bandwidth, the Lloyd grid (both paths where the choice is close),
# the SGEMM of the distance shape and whole fits; quick: the shapes of the done-when figures.
filter='DeviceCopy|LloydCuda|Sgemm|FitCuda'
[ "$mode" = quick ] && filter='DeviceCopy|LloydCuda<float>/n:(10000000/d:(16/k:32|128/k:1024)|100000000/d:16/k:32)/|Sgemm/n:(10000000/d:128/k:1024|100000000/d:16/k:32)|FitCuda/n:100000000'
build-gpu/bench/bench_kmeans --benchmark_filter="$filter" \
  --benchmark_out="$out/gpu-bench-kmeans-$device-$stamp.json" --benchmark_out_format=json \
  > /dev/null 2> "$out/gpu-bench-kmeans-$device.err" || true
# Least squares: 10M problems, the kernels alone, end to end, and cublasSgelsBatched.
lfilter='BM_(lstsq_cuda_kernel|lstsq_cuda_end_to_end|cublas_gels_batched)/'
[ "$mode" = quick ] && lfilter='BM_(lstsq_cuda_kernel|cublas_gels_batched)/m:24/features:4'
build-gpu/bench/bench_lstsq --problems=10000000 --benchmark_filter="$lfilter" \
  --benchmark_out="$out/gpu-bench-lstsq-$device-$stamp.json" --benchmark_out_format=json \
  > /dev/null 2> "$out/gpu-bench-lstsq-$device.err" || true
# The PyTorch peer (where PyTorch is installed) on the same data and init.
python3 bench/peers/torch_kmeans.py --shape 100000000,16,32 --shape 10000000,128,1024 \
  > "$out/gpu-peer-torch-$device-$stamp.jsonl" 2> "$out/gpu-peer-torch-$device.err" || true
python3 - "$out/gpu-bench-kmeans-$device-$stamp.json" "$out/gpu-bench-lstsq-$device-$stamp.json" \
  "$out/gpu-peer-torch-$device-$stamp.jsonl" <<'PY' || true
import json, os, re, sys

def load(path):
    return json.load(open(path))["benchmarks"] if os.path.exists(path) else []

km, lsq = load(sys.argv[1]), load(sys.argv[2])
torch = []
if os.path.exists(sys.argv[3]):
    torch = [json.loads(l) for l in open(sys.argv[3]) if l.strip().startswith("{")]
copy = [x for x in km if x["name"].startswith("DeviceCopy")]
bw = copy[0].get("GB_read", 0) if copy else 0  # GB/s read by a device-to-device copy
print(f"device copy: {bw:.0f} GB/s read")

def shape(name):
    m = re.search(r"n:(\d+)/d:(\d+)/k:(\d+)", name)
    return tuple(int(v) for v in m.groups()) if m else None

def ms(x):
    return x["real_time"] if x.get("time_unit") == "ms" else x["real_time"] / 1e6

ok = [x for x in km + lsq if "error_message" not in x]
print(f"{'benchmark':64} {'ms':>9} {'GB/s':>8} {'x read':>7}")
for x in ok:
    gbs = x.get("GB", x.get("GB/s", 0))
    ratio = f"{bw / gbs:7.2f}" if gbs and bw else ""
    print(f"{x['name']:64} {ms(x):9.3f} {gbs:8.0f} {ratio:>7}")
for t in torch:
    if "ms_median" in t:
        print(f"{'pytorch n=%d d=%d k=%d' % (t['n'], t['d'], t['k']):64} {t['ms_median']:9.3f}")
# The done-when figures.
lloyd = {shape(x["name"]): ms(x) for x in ok
         if x["name"].startswith("LloydCuda") and "/path:0" in x["name"]}
sgemm = {shape(x["name"]): ms(x) for x in ok if x["name"].startswith("Sgemm")}
tt = {(t["n"], t["d"], t["k"]): t["ms_median"] for t in torch if "ms_median" in t}
print("\ndone-when figures")
s = (100000000, 16, 32)
if s in lloyd and bw:
    read_ms = s[0] * s[1] * 4 / (bw * 1e9) * 1e3
    print(f"100M x 16 k=32: {lloyd[s]:.2f} ms = {lloyd[s] / read_ms:.2f} x read time (target <= 1.3)")
    if s in tt:
        print(f"  vs PyTorch {tt[s]:.2f} ms: {tt[s] / lloyd[s]:.1f}x faster (target >= 5)")
s = (10000000, 128, 1024)
if s in lloyd and s in sgemm:
    print(f"10M x 128 k=1024: {lloyd[s]:.2f} ms = {lloyd[s] / sgemm[s]:.2f} x SGEMM (target <= 1.5)")
for x in ok:
    if x["name"].startswith("FitCuda/n:100000000"):
        print(f"fit 100M x 16 k=32: {ms(x) / 1e3:.2f} s, {x.get('iterations', 0):.0f} iterations "
              f"(target < 2 s)")
kern = {x["name"].split("/")[0]: x for x in ok if "m:24/features:4" in x["name"]}
if "BM_lstsq_cuda_kernel" in kern and bw:
    k = kern["BM_lstsq_cuda_kernel"]
    read_ms = 10000000 * 24 * 5 * 4 / (bw * 1e9) * 1e3
    print(f"lstsq 10M x 24x(4+1): {ms(k):.2f} ms = {ms(k) / read_ms:.2f} x read time (target <= 1.5)")
    if "BM_cublas_gels_batched" in kern:
        g = kern["BM_cublas_gels_batched"]
        print(f"  vs gelsBatched {ms(g):.2f} ms: {ms(g) / ms(k):.1f}x faster (target >= 10)")
PY
echo "ctest exit $ctest_rc; logs in $out"
tail -3 "$out/gpu-ctest-$device.log"
