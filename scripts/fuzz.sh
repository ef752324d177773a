#!/usr/bin/env bash
# Fuzzes every file reader (tests/fuzz/fuzz_readers.cpp) under ASan and UBSan for SECONDS
# (default 120) on all cores. Builds build-fuzz/ with clang; seeds come from data/ and small
# hand-made files; crashes land in build-fuzz/crashes/. Exits non-zero when the fuzzer finds one.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-120}"
build=build-fuzz
bash scripts/setup.sh
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSEGCORE_CUDA=OFF -DSEGCORE_BUILD_FUZZ=ON -DSEGCORE_BUILD_TESTS=OFF -DSEGCORE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --parallel "$(nproc)"

# Seeds: the selector byte (fuzz_readers.cpp's switch) followed by a file for that reader.
seeds="$build/seeds"
rm -rf "$seeds" && mkdir -p "$seeds" "$build/crashes" "$build/corpus"
seed() { { printf "\\x$(printf %02x "$1")"; cat; } >"$seeds/$2"; }
head -c 1500 data/mall_customers.csv | seed 0 table.csv
printf 'id,a,b,w\nx,1,2,1\n"y,z",3.5,-1e3,0\nq, +4 ,5,2\n' | seed 1 named.csv
python3 -c '
import numpy as np, sys, io
b = io.BytesIO(); np.save(b, np.arange(12, dtype=np.float32).reshape(4, 3)); sys.stdout.buffer.write(b.getvalue())' |
  seed 2 table.npy
head -c 3000 data/online_retail_sample.csv | seed 3 transactions.csv
printf 'CustomerID,InvoiceNo,InvoiceDate,Amount\n1,A1,2011-12-01,10\n1,C2,2011-12-03T10:00:00,-2\n2,A3,12/4/11 8:26,5\n' |
  seed 4 amounts.csv
printf 'CustomerID,InvoiceDate,Amount\n1,2011-01-03,10\n1,2011-02-07,12\n1,2011-03-01,9\n2,2011-03-02,4\n' |
  seed 5 trends.csv
printf 'g,y,x1,x2,w\na,1,0,1,1\na,2,1,0,1\nb,3,1,1,0.5\na,4,2,2,1\nb,nan,1,2,1\n' | seed 6 grouped.csv
out=$(mktemp -d)
"$build/segcore" kmeans data/mall_customers.csv --k 3 --id-column customer_id --out "$out" >/dev/null
seed 7 model.json <"$out/model.json"
rm -rf "$out"

jobs=$(nproc)
status=0
(cd "$build/crashes" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ../tests/fuzz/fuzz_readers ../corpus ../seeds -max_len=4096 -max_total_time="$seconds" \
  -jobs="$jobs" -workers="$jobs" -print_final_stats=1) || status=$?
if compgen -G "$build/crashes/crash-*" >/dev/null || compgen -G "$build/crashes/leak-*" >/dev/null ||
   [ "$status" -ne 0 ]; then
  echo "fuzz.sh: the fuzzer found a failure (exit $status); see $build/crashes/" >&2
  exit 1
fi
echo "fuzz.sh: no failure in ${seconds} s on $jobs workers (corpus: $(ls "$build/corpus" | wc -l) inputs)"
