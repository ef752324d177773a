#!/usr/bin/env bash
# On the GPU machine: unpack the carried Debian packages (.deps/, from scripts/fetch_gpu_deps.sh),
# build with CUDA for sm_90, run the tests (the GPU ones included) and compute-sanitizer, run the
# GPU benchmarks and the PyTorch peer, and print the table of the done-when figures last.
#
#   scripts/gpu_check.sh [quick|full] [STAGES]
#
# quick: the benchmark shapes of the done-when figures only; full: the whole grid. STAGES, comma
# separated (default all): build, test, sanitize, bench, peers, table. Each stage fits well inside
# one 10-minute device command; on a warm machine later calls reuse build-gpu/.
# Logs and results go to build-gpu/gpu-results/; at the end of every call the summary, the
# benchmark JSON and a tarball of the logs are copied to $OUT (at most 8 files come back from
# the device), or to bench/results/ without $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quick}"
stages="${2:-build,test,sanitize,bench,peers,table}"
has() { [[ ",$stages," == *",$1,"* ]]; }
deps=/tmp/deps
if [ -d .deps ] && [ ! -d "$deps/usr" ]; then
  mkdir -p "$deps"
  for f in .deps/*.deb; do dpkg -x "$f" "$deps"; done
fi
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export PATH=/usr/local/cuda/bin:$PATH
res=build-gpu/gpu-results
mkdir -p "$res"
device="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')"
stamp="$(date +%Y-%m-%d)"
summary="$res/gpu-summary-$device.txt"
log() { echo "$*" | tee -a "$summary"; }
log "== $(date -u +%FT%TZ) $device, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $mode, $stages"

if has build; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEGCORE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$deps/usr;$deps/usr/share/eigen3/cmake;$deps/usr/lib/x86_64-linux-gnu/cmake" \
    > "$res/configure.log" 2>&1 || { tail -30 "$res/configure.log"; exit 1; }
  cmake --build build-gpu -j"$(nproc)" > "$res/build.log" 2>&1 || { tail -40 "$res/build.log"; exit 1; }
  log "build: ok"
fi

set +e
if has test; then
  # The C++ tests (the Python ones need packages this machine does not have).
  ctest --test-dir build-gpu -E 'sklearn|cli|report' --output-on-failure -j4 \
    > "$res/ctest.log" 2>&1
  log "ctest: exit $? — $(grep -E 'tests passed|tests failed' "$res/ctest.log" | tail -1)"
  for t in test_kmeans_cuda test_lstsq_cuda; do
    (cd build-gpu && "./tests/$t" > "gpu-results/$t.log" 2>&1)
    log "$t: exit $? — $(grep -E '^\[ +(PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$res/$t.log" | tr '\n' ' ')"
  done
fi

if has sanitize && command -v compute-sanitizer >/dev/null; then
  san() {  # tool binary filter name
    timeout 240 compute-sanitizer --tool "$1" --error-exitcode 9 "build-gpu/tests/$2" \
      --gtest_filter="$3" > "$res/$4.log" 2>&1
    log "$4: exit $? — $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$res/$4.log" | tail -1)"
  }
  san memcheck test_kmeans_cuda 'CudaBackend.*' memcheck-kmeans
  san racecheck test_kmeans_cuda 'CudaBackend.LloydPass*:CudaBackend.GemmAndFused*' racecheck-kmeans
  san memcheck test_lstsq_cuda 'LstsqCuda.*:-LstsqCuda.Command*' memcheck-lstsq
  san racecheck test_lstsq_cuda 'LstsqCuda.Ragged*:LstsqCuda.WellConditioned*' racecheck-lstsq
  san memcheck test_regress 'RegressBySegmentCuda.*' memcheck-regress
fi

km="$res/gpu-bench-kmeans-$device-$stamp.json"
lsq="$res/gpu-bench-lstsq-$device-$stamp.json"
torch="$res/gpu-peer-torch-$device-$stamp.jsonl"
if has bench; then
  # K-means: the copy bandwidth, the Lloyd grid (both paths where the choice is close) beside the
  # CPU backend on this machine's cores, the SGEMM of the distance shape and whole fits; quick:
  # the shapes of the done-when figures.
  filter='DeviceCopy|Lloyd<float>/n:(1000000|10000000)/.*/threads:0|LloydCuda|Sgemm|FitCuda'
  [ "$mode" = quick ] && filter='DeviceCopy|Lloyd<float>/n:10000000/d:(16/k:32|128/k:1024)/threads:0|LloydCuda<float>/n:(10000000/d:(16/k:32|128/k:1024)|100000000/d:16/k:32)/|Sgemm/n:(10000000/d:128/k:1024|100000000/d:16/k:32)|FitCuda/n:100000000'
  build-gpu/bench/bench_kmeans --benchmark_filter="$filter" --benchmark_out="$km" \
    --benchmark_out_format=json > /dev/null 2> "$res/bench-kmeans.err"
  log "bench_kmeans: exit $?"
  # Least squares: 10M problems, the kernels alone, end to end, and cublasSgelsBatched.
  lfilter='BM_(lstsq_cuda_kernel|lstsq_cuda_end_to_end|cublas_gels_batched)/'
  [ "$mode" = quick ] && lfilter='BM_(lstsq_cuda_kernel|cublas_gels_batched)/m:24/features:4'
  build-gpu/bench/bench_lstsq --problems=10000000 --benchmark_filter="$lfilter" \
    --benchmark_out="$lsq" --benchmark_out_format=json > /dev/null 2> "$res/bench-lstsq.err"
  log "bench_lstsq: exit $?"
fi
if has peers; then
  # The PyTorch peer (where PyTorch is installed) on the same data and init.
  python3 bench/peers/torch_kmeans.py --shape 100000000,16,32 --shape 10000000,128,1024 \
    > "$torch" 2> "$res/peer-torch.err"
  log "torch_kmeans: exit $? $(head -c 200 "$torch")"
fi
set -e

if has table; then
  python3 scripts/gpu_table.py "$km" "$lsq" "$torch" | tee "$res/gpu-table-$device-$stamp.txt" || true
fi

# Back to this machine: the summary, the table, the JSON and the logs in one tarball.
out="${OUT:-bench/results}"
mkdir -p "$out"
tar -czf "$out/gpu-logs-$device.tar.gz" -C build-gpu gpu-results
for f in "$summary" "$km" "$lsq" "$torch" "$res/gpu-table-$device-$stamp.txt"; do
  [ -f "$f" ] && cp "$f" "$out/"
done
echo "results in $out: $(ls "$out" | tr '\n' ' ')"
