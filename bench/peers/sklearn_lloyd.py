#!/usr/bin/env python3
"""Times one Lloyd iteration of scikit-learn's KMeans, of faiss-cpu's Kmeans (float32 only, when
faiss is installed) and of `segcore kmeans` on the same data, the same explicit init and the same
number of iterations, in the same run, and prints them with their ratios.

Per-iteration time is the difference between a fit with 1 + ITERS iterations and a fit with 1,
divided by ITERS (tol = 0), so set-up (validation, centring, norms, reading the file) cancels:
for scikit-learn the wall time of fit(), for segcore the Lloyd time segcore reports
(report.json timings.fit). FAISS reports its own cumulative time per iteration
(iteration_stats), so its figure is (time[last] - time[first]) / ITERS; max_points_per_centroid is
raised so it trains on every point. Each is the median of --repeats runs. All use every core.

  bench/peers/sklearn_lloyd.py --segcore build/segcore --n 1000000 --d 16 --k 64
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn import __version__ as sklearn_version
from sklearn.cluster import KMeans

try:
    import faiss
except ImportError:  # the faiss column is left out
    faiss = None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segcore", default="build/segcore")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    # Blobs with overlap: labels keep changing for many iterations, so no run stops early.
    centers = rng.normal(0, 4, size=(a.k, a.d))
    X = (centers[rng.integers(0, a.k, size=a.n)] + rng.normal(0, 3, size=(a.n, a.d))).astype(a.dtype)
    init = X[rng.choice(a.n, size=a.k, replace=False)].astype(np.float64)

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "x.npy")
        np.save(data, X)
        init_csv = os.path.join(tmp, "init.csv")
        with open(init_csv, "w") as f:
            f.write(",".join(f"x{j}" for j in range(a.d)) + "\n")
            for row in init:
                f.write(",".join(repr(float(v)) for v in row) + "\n")

        def sklearn_fit(iters):
            t = time.perf_counter()
            km = KMeans(a.k, init=init.astype(a.dtype), n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(X)
            elapsed = time.perf_counter() - t
            if km.n_iter_ != iters:
                sys.exit(f"scikit-learn stopped after {km.n_iter_} of {iters} iterations: use other data")
            return elapsed

        def segcore_fit(iters):
            out = os.path.join(tmp, f"out{iters}")
            subprocess.run([a.segcore, "kmeans", data, "--k", str(a.k), "--out", out, "--scale", "none",
                            "--dtype", a.dtype, "--init-centroids", init_csv, "--max-iter", str(iters),
                            "--tol", "0"], check=True, capture_output=True)
            report = json.load(open(os.path.join(out, "report.json")))
            if report["n_iter"] != iters:
                sys.exit(f"segcore stopped after {report['n_iter']} of {iters} iterations: use other data")
            return report["timings"]["fit"], report["backend"]

        def faiss_fit(iters):
            km = faiss.Kmeans(a.d, a.k, niter=iters, max_points_per_centroid=10**9, seed=a.seed)
            km.train(X, init_centroids=init.astype(np.float32))
            t = [s["time"] for s in km.iteration_stats]
            return (t[-1] - t[0]) / (iters - 1)

        use_faiss = faiss is not None and a.dtype == "float32"
        sk, sc, fa = [], [], []
        backend = ""
        for _ in range(a.repeats):
            sk.append((sklearn_fit(1 + a.iters) - sklearn_fit(1)) / a.iters)
            if use_faiss:
                fa.append(faiss_fit(1 + a.iters))
            t_long, backend = segcore_fit(1 + a.iters)
            t_short, _ = segcore_fit(1)
            sc.append((t_long - t_short) / a.iters)
    sk_ms, sc_ms = 1e3 * statistics.median(sk), 1e3 * statistics.median(sc)
    bytes_read = a.n * a.d * X.itemsize
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; scikit-learn {sklearn_version}, "
          f"numpy {np.__version__}; segcore backend: {backend}")
    print(f"# one Lloyd iteration, median of {a.repeats} (each = (t[1+{a.iters} iters] - t[1 iter]) / {a.iters})")
    fa_ms = 1e3 * statistics.median(fa) if fa else float("nan")
    faiss_note = f", faiss {faiss.__version__}" if faiss is not None else ", faiss not installed"
    print(f"# peers: scikit-learn {sklearn_version}{faiss_note}")
    print("| n | d | k | dtype | scikit-learn ms | faiss ms | segcore ms | vs scikit-learn | vs faiss | segcore GB/s | segcore GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {a.n} | {a.d} | {a.k} | {a.dtype} | {sk_ms:.1f} | {fa_ms:.1f} | {sc_ms:.1f} | {sk_ms / sc_ms:.2f}x | "
          f"{fa_ms / sc_ms:.2f}x | {bytes_read / (sc_ms * 1e-3) / 1e9:.2f} | "
          f"{2.0 * a.n * a.d * a.k / (sc_ms * 1e-3) / 1e9:.1f} |")


if __name__ == "__main__":
    main()
