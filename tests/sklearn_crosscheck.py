#!/usr/bin/env python3
"""Cross-checks `segcore kmeans` against scikit-learn's KMeans on data generated here (not in the
repository): with --scale none --dtype float64 --n-init 1 --init-centroids F, labels must equal
KMeans(algorithm="lloyd", n_init=1, init=F)'s and inertia agree to 1e-9 relative.

Usage: sklearn_crosscheck.py PATH/TO/segcore     (exit 77 = skipped: numpy/scikit-learn missing)
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from sklearn.cluster import KMeans
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e}")
    sys.exit(77)


def datasets(rng):
    """(name, X, weights or None, k) over shapes retail data has and a few awkward ones."""
    out = []
    # Gaussian blobs with unequal spreads.
    centers = rng.uniform(-10, 10, size=(6, 4))
    X = np.vstack([c + rng.normal(0, s, size=(400, 4)) for c, s in zip(centers, [0.5, 1, 2, 3, 1, 4])])
    out.append(("blobs 2400x4 k=6", X, None, 6))
    # Heavy-tailed, skewed, correlated "customer" features.
    n = 3000
    z = rng.normal(size=(n, 3))
    spend = np.exp(1.5 + 0.8 * z[:, 0])
    freq = rng.poisson(np.exp(0.5 + 0.6 * z[:, 0] + 0.3 * z[:, 1])) + 1
    recency = rng.exponential(60, size=n)
    tenure = recency + rng.gamma(2.0, 200.0, size=n)
    out.append(("customers 3000x4 k=8", np.column_stack([spend, freq, recency, tenure]), None, 8))
    # Uniform noise: no structure, many iterations.
    out.append(("uniform 5000x3 k=10", rng.uniform(size=(5000, 3)), None, 10))
    # Weighted, anisotropic.
    A = rng.normal(size=(2500, 5)) @ rng.normal(size=(5, 5))
    out.append(("anisotropic weighted 2500x5 k=7", A, rng.uniform(0.1, 5.0, size=2500), 7))
    # Wide-ish with odd d, k not a power of two.
    out.append(("wide 1200x33 k=13", rng.normal(size=(1200, 33)) + rng.integers(0, 3, size=(1200, 1)), None, 13))
    # One feature.
    out.append(("1-D 4000x1 k=5", rng.gamma(2.0, 3.0, size=(4000, 1)), None, 5))
    return out


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(repr(float(v)) for v in r) + "\n")


def main():
    segcore = sys.argv[1]
    rng = np.random.default_rng(20261123)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, X, w, k in datasets(rng):
            d = X.shape[1]
            names = [f"f{j}" for j in range(d)]
            init = X[rng.choice(len(X), size=k, replace=False)] + rng.normal(0, 0.01, size=(k, d))
            data_csv = os.path.join(tmp, "data.csv")
            init_csv = os.path.join(tmp, "init.csv")
            cols = names + (["w"] if w is not None else [])
            write_csv(data_csv, cols, np.column_stack([X, w]) if w is not None else X)
            write_csv(init_csv, names, init)
            out = os.path.join(tmp, "out-" + str(abs(hash(name))))
            cmd = [segcore, "kmeans", data_csv, "--k", str(k), "--out", out, "--scale", "none",
                   "--dtype", "float64", "--n-init", "1", "--init-centroids", init_csv,
                   "--columns", ",".join(names)]
            if w is not None:
                cmd += ["--weight-column", "w"]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                print(f"FAIL {name}: segcore exited {run.returncode}: {run.stderr}")
                failures += 1
                continue
            labels = np.loadtxt(os.path.join(out, "labels.csv"), delimiter=",", skiprows=1, dtype=np.int64)[:, 1]
            report = json.load(open(os.path.join(out, "report.json")))
            centroids = np.loadtxt(os.path.join(out, "centroids.csv"), delimiter=",", skiprows=1, ndmin=2)

            km = KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
            same_labels = np.array_equal(labels, km.labels_)
            rel = abs(report["inertia"] - km.inertia_) / km.inertia_
            cdiff = np.max(np.abs(centroids - km.cluster_centers_) / (1 + np.abs(km.cluster_centers_)))
            ok = same_labels and rel <= 1e-9 and cdiff <= 1e-9 and report["n_iter"] == km.n_iter_
            print(f"{'ok  ' if ok else 'FAIL'} {name}: labels equal={same_labels} "
                  f"(differ at {int(np.sum(labels != km.labels_))}), inertia rel diff={rel:.2e}, "
                  f"centroid max rel diff={cdiff:.2e}, n_iter segcore={report['n_iter']} "
                  f"sklearn={km.n_iter_}")
            failures += 0 if ok else 1
    print(f"{6 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
