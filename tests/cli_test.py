#!/usr/bin/env python3
"""End-to-end tests of the `segcore` command: the outputs of a good run, and for every bad input
one clear message naming the file (and row/column where they apply), a non-zero exit, and no
output left behind.

Usage: cli_test.py PATH/TO/segcore DATA_DIR
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

SEGCORE, DATA = sys.argv[1], sys.argv[2]
MALL = os.path.join(DATA, "mall_customers.csv")
passed = failed = 0


def run(*args):
    return subprocess.run([SEGCORE, *args], capture_output=True, text=True)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def expect_error(tmp, name, args, *needles, out_name="out", code=1):
    """A bad input: exit `code` (1: the data or files, 2: the command line), exactly one
    'segcore: error:' line holding every needle, and no output or temporary file left."""
    out = os.path.join(tmp, out_name)
    r = run(*args, "--out", out) if "predict" not in args else run(*args)
    err = r.stderr.strip()
    lines = [l for l in err.splitlines() if l.startswith("segcore: error:")]
    ok = r.returncode == code and len(lines) == 1 and all(n in lines[0] for n in needles)
    check(name, ok, f"exit {r.returncode}, stderr {err!r}, wanted {needles}")
    check(name + " leaves no output", not os.path.exists(out), f"{out} exists")
    leftovers = [f for f in os.listdir(tmp) if ".tmp." in f]
    check(name + " leaves no temporary file", not leftovers, str(leftovers))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # ---- a good run -----------------------------------------------------------------
        out = os.path.join(tmp, "mall")
        r = run("kmeans", MALL, "--k", "5", "--id-column", "customer_id", "--seed", "3",
                "--log1p", "annual_income_thousands", "--out", out)
        check("good run exits 0", r.returncode == 0, r.stderr)
        # Nothing on stderr but, in a CUDA build on a machine without a GPU, the one-line notice
        # that --device auto runs on the CPU.
        other = [l for l in r.stderr.splitlines() if "running on the CPU" not in l]
        check("no progress when stderr is not a terminal", other == [], repr(r.stderr))
        check("at most one device notice", len(r.stderr.splitlines()) <= 1, repr(r.stderr))
        check("summary table on stdout", "segment" in r.stdout and "inertia" in r.stdout, r.stdout)
        rows = list(csv.reader(open(os.path.join(out, "labels.csv"))))
        check("labels header", rows[0] == ["id", "segment"], rows[0])
        check("labels one row per input row", len(rows) == 201, len(rows))
        check("labels keep the id text", rows[1][0] == "0001", rows[1])
        check("segments numbered from 0", {int(x[1]) for x in rows[1:]} == set(range(5)))
        cent = list(csv.reader(open(os.path.join(out, "centroids.csv"))))
        check("centroids header = features",
              cent[0] == ["age", "annual_income_thousands", "spending_score"], cent[0])
        check("centroids one row per segment", len(cent) == 6, len(cent))
        ages = [float(c[0]) for c in cent[1:]]
        check("centroids in original units", all(18 <= a <= 70 for a in ages), ages)
        report = json.load(open(os.path.join(out, "report.json")))
        for key in ("params", "inertia", "n_iter", "converged", "timings", "segments"):
            check(f"report has {key}", key in report, list(report))
        check("timings", set(report["timings"]) >= {"read", "init", "fit", "write"}, report["timings"])
        seg = report["segments"][0]
        check("profile like describe()",
              set(seg["profile"]["age"]) == {"mean", "std", "min", "25%", "50%", "75%", "max"}, seg)
        check("segment counts add up", sum(s["count"] for s in report["segments"]) == 200)
        model = json.load(open(os.path.join(out, "model.json")))
        check("model keeps the scaler", model["scaler"]["log1p"] == [False, True, False], model["scaler"])

        # predict on the training data reproduces the labels
        pred = os.path.join(tmp, "pred.csv")
        r = run("predict", "--model", os.path.join(out, "model.json"), MALL, "--out", pred)
        check("predict exits 0", r.returncode == 0, r.stderr)
        prows = list(csv.reader(open(pred)))
        check("predict header", prows[0] == ["id", "segment", "distance"], prows[0])
        check("predict uses the model's id column", prows[1][0] == "0001", prows[1])
        check("predict reproduces the fit's labels", [p[1] for p in prows[1:]] == [x[1] for x in rows[1:]])

        # progress is drawn when stderr is a terminal (util-linux `script` gives a pseudo-terminal)
        if shutil.which("script"):
            tty_out = os.path.join(tmp, "tty")
            cmd = " ".join([SEGCORE, "kmeans", MALL, "--k", "5", "--out", tty_out])
            r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True)
            check("progress on a terminal", r.returncode == 0 and "k-means: run 1/1, iteration" in r.stdout,
                  r.stdout[-300:])

        # the same run twice is identical
        out2 = os.path.join(tmp, "mall2")
        run("kmeans", MALL, "--k", "5", "--id-column", "customer_id", "--seed", "3",
            "--log1p", "annual_income_thousands", "--out", out2)
        same = all(open(os.path.join(out, f)).read() == open(os.path.join(out2, f)).read()
                   for f in ("labels.csv", "centroids.csv", "model.json"))
        check("same input and seed give identical files", same)

        # float32 and threads
        out3 = os.path.join(tmp, "mall3")
        r = run("kmeans", MALL, "--k", "4", "--dtype", "float32", "--threads", "1",
                "--init", "k-means||", "--out", out3)
        check("float32 k-means|| run", r.returncode == 0, r.stderr)

        # float32 rows are scaled by blocks of 4096 rows from the input: on 10,000 generated
        # customers (three blocks, the last partial) the float32 fit must find the float64 one
        gen = os.path.join(tmp, "gen.csv")
        run("generate", "--customers", "10000", "--seed", "4", "--out", gen)
        fits = {}
        for dtype in ("float64", "float32"):
            o = os.path.join(tmp, "gen_" + dtype)
            r = run("kmeans", gen, "--k", "5", "--id-column", "customer_id", "--seed", "2",
                    "--log1p", "monetary", "--dtype", dtype, "--out", o)
            fits[dtype] = (r.returncode,
                           [row[1] for row in csv.reader(open(os.path.join(o, "labels.csv")))][1:],
                           [[float(v) for v in row] for row in
                            list(csv.reader(open(os.path.join(o, "centroids.csv"))))[1:]])
        (r64, l64, c64), (r32, l32, c32) = fits["float64"], fits["float32"]
        agree = sum(a == b for a, b in zip(l64, l32)) / max(len(l64), 1)
        close = all(abs(a - b) <= 1e-3 * (1 + abs(a)) for ra, rb in zip(c64, c32) for a, b in zip(ra, rb))
        check("float32 fit on 10,000 rows matches float64", r64 == 0 and r32 == 0 and len(l32) == 10000
              and agree > 0.999 and close, f"agree={agree} c64={c64[:1]} c32={c32[:1]}")

        # ---- bad inputs ---------------------------------------------------------------------
        good = ["kmeans", MALL, "--k", "3"]
        missing = os.path.join(tmp, "nope.csv")
        expect_error(tmp, "missing file", ["kmeans", missing, "--k", "2"], "nope.csv", "cannot open")
        expect_error(tmp, "empty file", ["kmeans", write(tmp, "empty.csv", ""), "--k", "2"],
                     "empty.csv", "empty")
        expect_error(tmp, "header only", ["kmeans", write(tmp, "h.csv", "a,b\n"), "--k", "1"],
                     "h.csv", "no data rows")
        expect_error(tmp, "ragged row", ["kmeans", write(tmp, "r.csv", "a,b\n1,2\n3\n"), "--k", "1"],
                     "r.csv", "row 2", "expected 2 fields")
        expect_error(tmp, "non-numeric cell",
                     ["kmeans", write(tmp, "n.csv", "a,b\n1,2\n3,x7\n"), "--k", "1"],
                     "n.csv", "row 2", "'b'", "x7")
        expect_error(tmp, "empty cell", ["kmeans", write(tmp, "e.csv", "a,b\n1,2\n3,\n"), "--k", "1"],
                     "e.csv", "row 2", "'b'", "empty")
        expect_error(tmp, "NaN", ["kmeans", write(tmp, "nan.csv", "a,b\n1,2\n3,nan\n"), "--k", "1", "--columns", "a,b"],
                     "nan.csv", "row 2", "'b'", "non-finite")
        expect_error(tmp, "inf", ["kmeans", write(tmp, "inf.csv", "a,b\n1,-inf\n3,4\n"), "--k", "1", "--columns", "a,b"],
                     "inf.csv", "row 1", "'b'", "non-finite")
        expect_error(tmp, "unknown column", good + ["--columns", "age,height"], "mall_customers.csv", "height")
        expect_error(tmp, "k < 1", ["kmeans", MALL, "--k", "0"], "--k")
        expect_error(tmp, "k > rows", ["kmeans", MALL, "--k", "201"], "larger than the number of rows", "200")
        init_rows = write(tmp, "init2.csv", "age,annual_income_thousands,spending_score\n20,20,20\n40,40,40\n")
        expect_error(tmp, "init centroids: wrong row count", good + ["--init-centroids", init_rows],
                     "init2.csv", "2 rows", "k = 3")
        init_cols = write(tmp, "initc.csv", "age,annual_income_thousands\n20,20\n40,40\n60,60\n")
        expect_error(tmp, "init centroids: missing column", good + ["--init-centroids", init_cols],
                     "initc.csv", "spending_score")
        init_extra = write(tmp, "inite.csv", "age,annual_income_thousands,spending_score,x\n1,2,3,4\n1,2,3,4\n1,2,3,4\n")
        expect_error(tmp, "init centroids: extra column", good + ["--init-centroids", init_extra],
                     "inite.csv", "4 columns", "expected 3")
        neg = write(tmp, "neg.csv", "a,w\n1,1\n2,-1\n")
        expect_error(tmp, "negative weight", ["kmeans", neg, "--k", "1", "--weight-column", "w"],
                     "neg.csv", "row 2", "'w'", "negative")
        zero = write(tmp, "zero.csv", "a,w\n1,0\n2,0\n")
        expect_error(tmp, "all-zero weights", ["kmeans", zero, "--k", "1", "--weight-column", "w"],
                     "zero.csv", "zero")
        expect_error(tmp, "log1p of a value <= -1",
                     ["kmeans", write(tmp, "l.csv", "a,b\n1,2\n-1,3\n"), "--k", "1", "--log1p", "a"],
                     "l.csv", "row 2", "'a'", "log1p")
        expect_error(tmp, "log1p of a non-feature", good + ["--log1p", "gender"], "gender")
        expect_error(tmp, "unknown init", good + ["--init", "kmeans"], "unknown init", code=2)
        expect_error(tmp, "unknown dtype", good + ["--dtype", "float16"], "float16", code=2)
        expect_error(tmp, "unknown scale", good + ["--scale", "minmax"], "minmax", code=2)
        expect_error(tmp, "unknown device", good + ["--device", "tpu"], "--device",
                     "unknown device 'tpu'", code=2)
        expect_error(tmp, "unknown flag", good + ["--kay", "3"], "--kay", code=2)
        expect_error(tmp, "cuda device", good + ["--device", "cuda"], "--device cpu")
        # an existing regular file in the way of the output directory
        blocker = write(tmp, "blocker", "x")
        r = run(*good, "--out", blocker)
        check("output dir is a file", r.returncode != 0 and open(blocker).read() == "x", r.stderr)
        # predict with a model whose features the input lacks
        bad_input = write(tmp, "p.csv", "age,spending_score\n20,30\n")
        pred2 = os.path.join(tmp, "pred2.csv")
        r = run("predict", "--model", os.path.join(out, "model.json"), bad_input, "--out", pred2)
        check("predict: missing feature column", r.returncode != 0 and "annual_income_thousands" in r.stderr
              and not os.path.exists(pred2), r.stderr)
        r = run("predict", "--model", write(tmp, "m.json", "{}"), MALL, "--out", pred2)
        check("predict: malformed model", r.returncode != 0 and "m.json" in r.stderr
              and not os.path.exists(pred2), r.stderr)
        # ---- trends: a good run on the bundled retail sample, then bad inputs ------------
        retail = os.path.join(DATA, "online_retail_sample.csv")
        trends = os.path.join(tmp, "trends.csv")
        r = run("trends", retail, "--out", trends)
        check("trends exits 0", r.returncode == 0, r.stderr)
        with open(trends, newline="") as f:
            rows = list(csv.DictReader(f))
        check("trends header", rows and list(rows[0]) ==
              ["customer_id", "periods", "total", "level", "slope", "r2", "status"], str(rows[:1]))
        check("trends: one row per customer", len({r["customer_id"] for r in rows}) == len(rows))
        tx = write(tmp, "tx.csv", "CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                                  "1,1/5/11 10:00,1,10\n1,2/30/11 9:00,1,15\n")
        expect_error(tmp, "trends: bad date", ["trends", tx], "tx.csv", "row 2", "InvoiceDate")
        expect_error(tmp, "trends: unknown column", ["trends", tx, "--amount-column", "spend"],
                     "tx.csv", "spend")
        expect_error(tmp, "trends: degree 3", ["trends", retail, "--degree", "3"], "degree",
                     code=2)
        expect_error(tmp, "trends: unknown period", ["trends", retail, "--period", "day"], "day",
                     code=2)
        expect_error(tmp, "trends: unknown device", ["trends", retail, "--device", "tpu"],
                     "unknown device 'tpu'", code=2)
        # --device cpu: the fits run on the CPU and the summary says so; the same numbers as auto
        # on a machine without a GPU (CI), and within rounding of the GPU's elsewhere.
        trends_cpu = os.path.join(tmp, "trends_cpu.csv")
        r = run("trends", retail, "--out", trends_cpu, "--device", "cpu")
        check("trends --device cpu", r.returncode == 0 and "fits on cpu (" in r.stdout,
              r.stdout + r.stderr)
        expect_error(tmp, "trends: missing file", ["trends", os.path.join(tmp, "none.csv")],
                     "none.csv")
        r = run("info")
        check("info", r.returncode == 0 and "CUDA" in r.stdout, r.stdout + r.stderr)
        r = run("kmeans", MALL)
        check("usage error exits 2 with one line",
              r.returncode == 2 and r.stderr.startswith("segcore: error: --k is required")
              and len(r.stderr.splitlines()) == 1, f"exit {r.returncode}: {r.stderr!r}")
        r = run("kmeans", "--help")
        check("--help exits 0", r.returncode == 0 and "--device" in r.stdout and not r.stderr,
              f"exit {r.returncode}: {r.stderr!r}")
        r = run()
        check("no subcommand is a usage error", r.returncode == 2, f"exit {r.returncode}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
