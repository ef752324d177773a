#!/usr/bin/env bash
# On the GPU machine: unpack the carried Debian packages (.deps/, from scripts/fetch_gpu_deps.sh),
# build with CUDA for sm_90, run the tests (the GPU ones included), the GPU benchmarks and the
# PyTorch peer, print the table of the done-when figures, run compute-sanitizer, then profile.
#
#   scripts/gpu_check.sh [quick|full] [STAGES]
#
# quick: the benchmark shapes of the done-when figures only; full: the whole grid. STAGES, comma
# separated (default all, in this order): build, test, bench, peers, table, sanitize, profile
# (Nsight Compute on one Lloyd pass, scripts/ncu_table.py). A quick
# run of every stage is meant for ONE device command (a session has 15 minutes of device time,
# the machine's start included): SEGCORE_GPU_DEADLINE (seconds from the start, default 540) is
# checked before each benchmark, peer and sanitizer run, which past it are skipped and logged as
# skipped. On a warm machine a later call reuses build-gpu/.
# Logs and results go to build-gpu/gpu-results/. After every stage the summary, the benchmark
# JSON, the table and a tarball of the logs are copied to $OUT (at most 8 files come back from
# the device), or to bench/results/ without $OUT: a command stopped at its limit still returns
# what the finished stages measured.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quick}"
stages="${2:-build,test,bench,peers,table,sanitize,profile}"
deadline="${SEGCORE_GPU_DEADLINE:-540}"
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
km="$res/gpu-bench-kmeans-$device-$stamp.json"
lsq="$res/gpu-bench-lstsq-$device-$stamp.json"
torch="$res/gpu-peer-torch-$device-$stamp.jsonl"
table="$res/gpu-table-$device-$stamp.txt"
ncu_summary="$res/gpu-ncu-$device-$stamp.txt"
out="${OUT:-bench/results}"

log() { echo "$*" | tee -a "$summary"; }
# True when at least $1 seconds are left before the deadline; else logs that $2 is skipped.
time_for() {
  local left=$((deadline - SECONDS))
  [ "$left" -ge "$1" ] && return 0
  log "$2: skipped ($left s left before the $deadline s deadline, it needs $1)"
  return 1
}
# Runs "$@" for at most $1 seconds and never past the deadline (call time_for first).
bounded() {
  local cap=$1 left=$((deadline - SECONDS))
  shift
  timeout $((left < cap ? left : cap)) "$@"
}
# Stops the run after a failed build step: the end of its log, the summary, what there is to ship.
fail() {
  tail -40 "$res/$1.log"
  log "$1: failed"
  ship
  exit 1
}
# Back to this machine: the summary, the table, the JSON and the logs in one tarball.
ship() {
  mkdir -p "$out"
  tar -czf "$out/gpu-logs-$device.tar.gz" -C build-gpu gpu-results
  for f in "$summary" "$km" "$lsq" "$torch" "$table" "$ncu_summary"; do
    if [ -f "$f" ]; then cp "$f" "$out/"; fi
  done
}
log "== $(date -u +%FT%TZ) $device, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $mode, $stages, deadline $deadline s"

if has build; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEGCORE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$deps/usr;$deps/usr/share/eigen3/cmake;$deps/usr/lib/x86_64-linux-gnu/cmake" \
    > "$res/configure.log" 2>&1 || fail configure
  cmake --build build-gpu -j"$(nproc)" > "$res/build.log" 2>&1 || fail build
  log "build: ok at $SECONDS s"
  ship
fi

set +e
if has test; then
  # The GPU tests first, then the other C++ tests (the Python ones need packages this machine
  # does not have).
  for t in test_kmeans_cuda test_lstsq_cuda test_regress test_cuda_upload; do
    time_for 20 "$t" || continue
    bounded 300 "build-gpu/tests/$t" > "$res/$t.log" 2>&1
    log "$t: exit $? — $(grep -E '^\[ +(PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$res/$t.log" | tr '\n' ' ')"
  done
  if time_for 60 ctest; then
    bounded 300 ctest --test-dir build-gpu -E 'sklearn|cli|report|CudaBackend|LstsqCuda|BySegmentCuda|CudaUpload' \
      --output-on-failure -j"$(nproc)" > "$res/ctest.log" 2>&1
    log "ctest (the rest): exit $? — $(grep -E 'tests passed|tests failed' "$res/ctest.log" | tail -1) at $SECONDS s"
  fi
  ship
fi

if has bench; then
  # K-means, in groups by priority, each into its own JSON and merged into $km after each.
  # quick: the copy bandwidth and the done-when shapes first (100M x 16 k = 32 beside the copy,
  # with and without the update's sums;
  # 10M x 128 k = 1024 beside the SGEMM of its distance shape; the whole 100M fit), then one
  # and two groups of lanes per warp at 100M x 16 k = 32 (L1 against the walk), each without
  # the inertia, with it from the settle and with it in the walk, then the CPU
  # backend on this machine's cores at two of them. full: the whole GPU grid at 1M and 10M (both
  # paths where the choice is close), the fits, the grid at 100M, then the CPU grid: more than
  # the ten minutes of one device command; each group ships as it finishes.
  groups=('DeviceCopy|LloydCuda(Labels)?<float>/n:100000000/d:16/k:32/|Sgemm/n:100000000/d:16/k:32'
          'LloydCuda<float>/n:10000000/d:128/k:1024/|Sgemm/n:10000000/d:128/k:1024'
          'FitCuda/n:100000000'
          'LloydCudaGroups<float>/n:100000000/'
          'LloydCuda<float>/n:10000000/d:16/k:32/|Lloyd<float>/n:10000000/d:(16/k:32|128/k:1024)/threads:0')
  [ "$mode" = full ] && groups=('DeviceCopy|LloydCuda[A-Za-z]*<float>/n:(1000000|10000000)/|Sgemm'
    'FitCuda' 'LloydCuda[A-Za-z]*<float>/n:100000000/' 'Lloyd<float>/n:(1000000|10000000)/.*/threads:0')
  g=0
  for filter in "${groups[@]}"; do
    g=$((g + 1))
    time_for 45 "bench_kmeans group $g" || continue
    bounded 600 build-gpu/bench/bench_kmeans --benchmark_filter="$filter" \
      --benchmark_out="$res/bench-kmeans-$g.json" --benchmark_out_format=json \
      > /dev/null 2> "$res/bench-kmeans-$g.err"
    log "bench_kmeans group $g: exit $? at $SECONDS s"
    python3 scripts/gpu_table.py --merge "$km" "$res"/bench-kmeans-*.json
    ship
  done
  # Least squares: 10M problems, the kernels alone, end to end, and cublasSgelsBatched.
  lfilter='BM_(lstsq_cuda_kernel|lstsq_cuda_end_to_end|cublas_gels_batched)/'
  [ "$mode" = quick ] && lfilter='BM_(lstsq_cuda_kernel|cublas_gels_batched)/m:24/features:4'
  if time_for 45 bench_lstsq; then
    bounded 600 build-gpu/bench/bench_lstsq --problems=10000000 \
      --benchmark_filter="$lfilter" --benchmark_out="$lsq" --benchmark_out_format=json \
      > /dev/null 2> "$res/bench-lstsq.err"
    log "bench_lstsq: exit $? at $SECONDS s"
    ship
  fi
fi
if has peers && time_for 30 torch_kmeans; then
  # The PyTorch peer (where PyTorch is installed) on the same data and init.
  bounded 600 python3 bench/peers/torch_kmeans.py \
    --shape 100000000,16,32 --shape 10000000,128,1024 > "$torch" 2> "$res/peer-torch.err"
  log "torch_kmeans: exit $? at $SECONDS s $(head -c 200 "$torch")"
  ship
fi
if has table; then
  python3 scripts/gpu_table.py "$km" "$lsq" "$torch" > "$table"
  ship
fi

# compute-sanitizer before the profile: a clean run is one of the done-when checks, the profile
# a diagnosis (and the benchmark's groups/inertia rows already time the variants it explains).
if has sanitize && command -v compute-sanitizer > /dev/null; then
  san() { # tool binary filter name
    time_for 30 "$4" || return 0
    bounded 240 compute-sanitizer --tool "$1" --error-exitcode 9 "build-gpu/tests/$2" \
      --gtest_filter="$3" > "$res/$4.log" 2>&1
    log "$4: exit $? — $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$res/$4.log" | tail -1) at $SECONDS s"
    ship
  }
  san memcheck test_kmeans_cuda 'CudaBackend.*' memcheck-kmeans
  san memcheck test_lstsq_cuda 'LstsqCuda.*:-LstsqCuda.Command*' memcheck-lstsq
  san racecheck test_kmeans_cuda 'CudaBackend.LloydPass*:CudaBackend.GemmAndFused*' racecheck-kmeans
  san racecheck test_lstsq_cuda 'LstsqCuda.Ragged*:LstsqCuda.Tall*' racecheck-lstsq
  san memcheck test_regress 'RegressBySegmentCuda.*' memcheck-regress
fi
if has profile; then
  # Nsight Compute on one Lloyd pass (and its block reduction) at 10M x 16, k = 32 (data well
  # past L2), as the fit's iterations run it (no inertia): tensor-core search, exact search, the
  # tensor search with one group of lanes per warp instead of two (less shared memory, more L1),
  # and the tensor search with the inertia from the settle (a third read of each row): what each
  # moves and issues per point (scripts/ncu_table.py). --clock-control none leaves the clocks as
  # the card has them. A first
  # try asks for named metrics beside the sections; should this ncu not know one of them (or
  # --print-units), a second try takes the sections alone.
  ncu_bin="$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2> /dev/null | head -1 || true)"
  metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum
  metrics+=,lts__t_sectors_srcunit_tex_op_read.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum
  metrics+=,l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum,smsp__inst_executed.sum
  metrics+=,smsp__issue_active.avg.pct_of_peak_sustained_active
  metrics+=,sm__warps_active.avg.pct_of_peak_sustained_active
  metrics+=,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum
  for stall in long_scoreboard short_scoreboard mio_throttle lg_throttle math_pipe_throttle wait \
    barrier not_selected no_instruction dispatch_stall branch_resolving; do
    metrics+=,smsp__average_warps_issue_stalled_${stall}_per_issue_active.ratio
  done
  sections=(--section SpeedOfLight --section LaunchStats --section Occupancy
    --section WarpStateStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis)
  if [ -z "$ncu_bin" ]; then
    log "profile: no ncu on this machine"
  else
    profiles=()
    for run in 'tensor:LloydCuda<float>/n:10000000/d:16/k:32/path:0/' \
      'exact:LloydCuda<float>/n:10000000/d:16/k:32/path:3/' \
      'onegroup:LloydCudaGroups<float>/n:10000000/d:16/k:32/groups:1/inertia:0/' \
      'settle:LloydCudaGroups<float>/n:10000000/d:16/k:32/groups:2/inertia:1/'; do
      name=${run%%:*}
      csv="$res/ncu-lloyd-$name.csv"
      for try in metrics sections; do
        time_for 60 "ncu $name ($try)" || break
        extra=()
        [ $try = metrics ] && extra=(--metrics "$metrics" --print-units base)
        bounded 180 "$ncu_bin" --clock-control none --kernel-name 'regex:lloyd_(warp_sums_kernel|kernel|finalize)' \
          --launch-skip 2 --launch-count 2 "${sections[@]}" "${extra[@]}" \
          --csv --page raw \
          build-gpu/bench/bench_kmeans --benchmark_filter="${run#*:}" \
          --benchmark_min_time=0.01 > "$csv" 2> "$res/ncu-lloyd-$name.err"
        rc=$?
        log "ncu $name ($try): exit $rc at $SECONDS s"
        if [ $rc = 0 ] && grep -q lloyd "$csv"; then
          profiles+=("$name=$csv")
          break
        fi
      done
    done
    if [ ${#profiles[@]} -gt 0 ]; then
      python3 scripts/ncu_table.py --points 10000000 --dims 16 "${profiles[@]}" > "$ncu_summary" 2>&1
      cat "$ncu_summary" >> "$summary"
    fi
  fi
  ship
fi

set -e

ship
# The tables last, as the device tool's reply shows the end of the output.
[ -f "$ncu_summary" ] && cat "$ncu_summary"
[ -f "$table" ] && cat "$table"
echo "results in $out: $(ls "$out" | tr '\n' ' ')"
