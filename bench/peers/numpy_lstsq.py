#!/usr/bin/env python3
"""NumPy peer for bench_lstsq: batched least squares through the normal equations.

Per problem, A^T A and A^T b are formed with np.einsum (in float64) and all systems are solved
at once with np.linalg.solve on the stacked (n, p, p) array: the fastest batched route NumPy
offers (np.linalg.lstsq is not batched). Same data recipe as bench/bench_lstsq.cpp: float32
features uniform in [-1, 1), an intercept column of ones, b = A x_i + noise.

    python3 bench/peers/numpy_lstsq.py --problems 1000000 --rows 24 --features 4 \
        [--segcore-bench build/bench/bench_lstsq]

With --segcore-bench, runs the segcore benchmark on the same shape and prints the ratio.
"""
import argparse
import json
import subprocess
import time

import numpy as np


def make_data(n, m, f, seed=0):
    rng = np.random.default_rng(seed)
    a = np.empty((n, m, f + 1), dtype=np.float32)
    a[:, :, :f] = rng.uniform(-1, 1, size=(n, m, f)).astype(np.float32)
    a[:, :, f] = 1.0
    x = rng.uniform(-2, 2, size=(n, f + 1)).astype(np.float32)
    b = np.einsum("nmp,np->nm", a, x) + rng.uniform(-0.05, 0.05, size=(n, m)).astype(np.float32)
    return a, b.astype(np.float32)


def solve_normal_equations(a, b):
    ata = np.einsum("nmi,nmj->nij", a, a, dtype=np.float64)
    atb = np.einsum("nmi,nm->ni", a, b, dtype=np.float64)
    return np.linalg.solve(ata, atb[..., None])[..., 0]


def segcore_rate(binary, n, m, f):
    out = subprocess.run(
        [binary, f"--problems={n}", f"--benchmark_filter=BM_lstsq_cpu/m:{m}/features:{f}/",
         "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    bench = json.loads(out)["benchmarks"][0]
    return bench["problems/s"], bench["real_time"], bench.get("time_unit", "ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--features", type=int, default=4, help="features, intercept not counted")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--segcore-bench", help="path to the bench_lstsq binary for a ratio")
    args = ap.parse_args()
    n, m, f = args.problems, args.rows, args.features
    a, b = make_data(n, m, f)
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        x = solve_normal_equations(a, b)
        best = min(best, time.perf_counter() - t0)
    assert x.shape == (n, f + 1) and np.isfinite(x).all()
    rate = n / best
    gb = (a.nbytes + b.nbytes) / 1e9
    print(f"numpy {np.__version__}: {n} problems of {m}x{f + 1}: best of {args.repeats} "
          f"{best:.3f} s, {rate:.4g} problems/s, {gb / best:.3g} GB/s")
    if args.segcore_bench:
        seg_rate, seg_time, unit = segcore_rate(args.segcore_bench, n, m, f)
        print(f"segcore cpu: {seg_time:.1f} {unit} per batch, {seg_rate:.4g} problems/s, "
              f"{seg_rate / rate:.1f}x numpy")


if __name__ == "__main__":
    main()
