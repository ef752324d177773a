#!/usr/bin/env python3
"""Cross-checks `segcore choose-k` against scikit-learn's metrics.

For every k, `segcore kmeans` with the same flags and seed gives the clustering choose-k scored
(both call the same fit); sklearn.metrics' silhouette_score (exact: --sample-size 0),
calinski_harabasz_score and davies_bouldin_score on X and those labels must match choose_k.csv to
1e-6 relative, and choose-k's inertia must equal kmeans' report.json inertia. Data: Gaussian blobs
plus uniform noise generated here (not stored in the repository), in input units (--scale none),
and the bundled mall_customers.csv with --scale standard (StandardScaler on the scikit-learn side).
Also: a sampled silhouette does not depend on --threads, the SVG is well-formed XML, the
suggestion follows the documented rule, and bad --k ranges fail without writing anything.

Usage: choose_k_sklearn_check.py PATH/TO/segcore DATA_DIR    (exit 77 = skipped: numpy/sklearn
missing). Prints 'N passed, M failed' last; exits non-zero on any failure.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

try:
    import numpy as np
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
    from sklearn.preprocessing import StandardScaler
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e}")
    sys.exit(77)

REL = 1e-6
passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if ok:
        passed += 1
    else:
        failed += 1
    return ok


def rel_diff(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def read_choose_k_csv(path):
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_csv(path, header, X):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in X:
            f.write(",".join(repr(float(v)) for v in r) + "\n")


def cross_check(segcore, name, data_csv, X, flags, k_min, k_max, tmp):
    """choose-k with `flags` against sklearn on X (already in the clustering space)."""
    out = os.path.join(tmp, f"ck-{name}")
    r = run([segcore, "choose-k", data_csv, "--k-min", str(k_min), "--k-max", str(k_max),
             "--sample-size", "0", "--dtype", "float64", "--out", out] + flags)
    if not check(r.returncode == 0, f"{name}: choose-k exits 0 ({r.stderr.strip()[:300]})"):
        return
    rows = read_choose_k_csv(os.path.join(out, "choose_k.csv"))
    check([int(row["k"]) for row in rows] == list(range(k_min, k_max + 1)),
          f"{name}: one CSV row per k")
    for row in rows:
        k = int(row["k"])
        km_out = os.path.join(tmp, f"km-{name}-{k}")
        r = run([segcore, "kmeans", data_csv, "--k", str(k), "--dtype", "float64", "--out",
                 km_out] + flags)
        if not check(r.returncode == 0, f"{name} k={k}: kmeans exits 0 ({r.stderr.strip()[:300]})"):
            continue
        labels = np.loadtxt(os.path.join(km_out, "labels.csv"), delimiter=",", skiprows=1,
                            dtype=str)[:, 1].astype(np.int64)
        report = json.load(open(os.path.join(km_out, "report.json")))
        want = {
            "silhouette": silhouette_score(X, labels),
            "calinski_harabasz": calinski_harabasz_score(X, labels),
            "davies_bouldin": davies_bouldin_score(X, labels),
        }
        diffs = {m: rel_diff(row[m], v) for m, v in want.items()}
        check(all(d <= REL for d in diffs.values()),
              f"{name} k={k}: metrics match sklearn (" +
              ", ".join(f"{m} {row[m]:.6g} vs {want[m]:.6g} rel {diffs[m]:.1e}" for m in want) + ")")
        check(rel_diff(row["inertia"], report["inertia"]) <= 1e-12,
              f"{name} k={k}: inertia {row['inertia']!r} equals kmeans' {report['inertia']!r}")
        check(int(row["n_iter"]) == report["n_iter"], f"{name} k={k}: n_iter equals kmeans'")

    doc = json.load(open(os.path.join(out, "choose_k.json")))
    sil = {int(r["k"]): r["silhouette"] for r in rows}
    best = max(sil.values())
    rule = min(k for k, s in sil.items() if best - s <= 0.005)
    check(doc["suggested_k"] == rule and str(rule) in doc["reason"],
          f"{name}: suggested k {doc['suggested_k']} follows the rule ({rule}): {doc['reason']}")
    check(doc["sample_size"] == len(X) and doc["silhouette_exact"] is True,
          f"{name}: JSON records the exact silhouette over {len(X)} rows")
    try:
        root = ET.parse(os.path.join(out, "choose_k.svg")).getroot()
        charts = root.findall("{http://www.w3.org/2000/svg}svg")
        ok = root.tag.endswith("svg") and "viewBox" in root.attrib and len(charts) == 4
    except ET.ParseError as e:
        ok = False
        print(f"     {e}")
    check(ok, f"{name}: choose_k.svg is well-formed with 4 charts")


def main():
    if len(sys.argv) < 3:
        print("usage: choose_k_sklearn_check.py PATH/TO/segcore DATA_DIR")
        return 2
    segcore, data_dir = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20261124)
    with tempfile.TemporaryDirectory() as tmp:
        # Blobs of unequal spread plus 10% uniform noise, 2200 x 4.
        centers = rng.uniform(-8, 8, size=(5, 4))
        X = np.vstack([c + rng.normal(0, s, size=(400, 4)) for c, s in zip(centers, [0.6, 1, 1.5, 2, 1])]
                      + [rng.uniform(-12, 12, size=(200, 4))])
        X = X[rng.permutation(len(X))]
        data_csv = os.path.join(tmp, "blobs.csv")
        write_csv(data_csv, [f"f{j}" for j in range(4)], X)
        cross_check(segcore, "blobs", data_csv, X, ["--scale", "none", "--seed", "7"], 2, 6, tmp)

        # The bundled real set, standardised on both sides.
        mall = os.path.join(data_dir, "mall_customers.csv")
        cols = ["age", "annual_income_thousands", "spending_score"]
        M = np.loadtxt(mall, delimiter=",", skiprows=1, usecols=(2, 3, 4))
        cross_check(segcore, "mall", mall, StandardScaler().fit_transform(M),
                    ["--columns", ",".join(cols), "--scale", "standard", "--seed", "3",
                     "--init", "random", "--n-init", "4"], 2, 8, tmp)

        # A sampled silhouette depends on the seed only, not on the threads.
        outs = []
        for threads in ("1", "2"):
            out = os.path.join(tmp, f"sampled-{threads}")
            r = run([segcore, "choose-k", data_csv, "--k-min", "2", "--k-max", "4", "--scale", "none",
                     "--sample-size", "500", "--seed", "11", "--threads", threads, "--out", out])
            outs.append([row["silhouette"] for row in read_choose_k_csv(os.path.join(out, "choose_k.csv"))]
                        if r.returncode == 0 else None)
        check(outs[0] is not None and outs[0] == outs[1],
              f"sampled silhouette is the same for 1 and 2 threads ({outs[0]})")

        # Bad ranges fail with a message and leave no output.
        for flags, what in ((["--k-min", "1"], "--k-min"), (["--k-min", "5", "--k-max", "4"], "--k-max"),
                            (["--k-max", str(len(X))], "--k-max")):
            out = os.path.join(tmp, "bad")
            r = run([segcore, "choose-k", data_csv, "--out", out] + flags)
            check(r.returncode != 0 and what in r.stderr and not os.path.exists(out),
                  f"{' '.join(flags)} fails naming {what}: {r.stderr.strip()}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
