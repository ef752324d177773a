#!/usr/bin/env python3
"""End to end `segcore segment`: the report renders in headless Chromium without errors and shows
every segment; a second run with --previous keeps segment numbers and gives a diagonal migration
table; on shifted data the matching keeps stable segments stable; a transaction log goes through
--transactions; bad input leaves nothing behind.

Usage: report_browser_check.py PATH/TO/segcore DATA_DIR
The browser part is skipped (the rest still runs) when no chromium is installed; scripts/setup.sh
installs Debian's chromium.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SEGCORE, DATA = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def segment(*args):
    r = subprocess.run([SEGCORE, "segment", *args], capture_output=True, text=True)
    return r


def labels(path):
    with open(path) as f:
        return [row for row in csv.reader(f)][1:]


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def render(chrome, html, tmp):
    """DOM after scripts ran, and a screenshot."""
    base = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--user-data-dir=" + os.path.join(tmp, "profile")]
    dom = subprocess.run(base + ["--dump-dom", "file://" + html], capture_output=True, text=True, timeout=120)
    shot = os.path.join(tmp, "report.png")
    subprocess.run(base + ["--screenshot=" + shot, "--window-size=1280,4000", "file://" + html],
                   capture_output=True, text=True, timeout=120)
    return dom.stdout, shot


def main():
    mall = os.path.join(DATA, "mall_customers.csv")
    with tempfile.TemporaryDirectory() as tmp:
        first = os.path.join(tmp, "first")
        r = segment(mall, "--id-column", "customer_id", "--out", first, "--seed", "0")
        check("segment exits 0", r.returncode == 0, r.stderr)
        report = json.load(open(os.path.join(first, "report.json")))
        names = [s["name"] for s in report["segments"]]
        k = len(names)
        check("k chosen in range", 2 <= k <= 10, k)
        check("names are unique", len(set(names)) == k, names)
        html_path = os.path.join(first, "report.html")
        html = open(html_path).read()
        for section in ("summary", "sizes", "profiles", "scatter", "choose-k", "dendrogram", "stages"):
            check(f"section {section}", f'id="{section}"' in html, section)
        check("no external resource", not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
              and "@import" not in html and "url(" not in html)
        check("stage timings and memory in report.json",
              [s["stage"] for s in report["stages"]][:4] == ["read", "scale", "choose-k", "k-means"]
              and all(s["peak_mib"] > 0 for s in report["stages"]), report["stages"])

        chrome = browser()
        if chrome:
            dom, shot = render(chrome, html_path, tmp)
            check("page script ran without errors", 'data-report-ok="yes"' in dom, dom[-500:])
            for n in names:
                check(f"segment '{n}' shown", n.replace("&", "&amp;") in dom, n)
            check("screenshot written", os.path.exists(shot) and os.path.getsize(shot) > 20000)
            out_png = os.environ.get("SEGCORE_REPORT_SCREENSHOT")
            if out_png and os.path.exists(shot):
                shutil.copy(shot, out_png)
        else:
            print("browser part skipped: no chromium on PATH")

        # Next month, same data: same numbers and a diagonal migration table.
        second = os.path.join(tmp, "second")
        r = segment(mall, "--id-column", "customer_id", "--out", second, "--previous", first)
        check("--previous run exits 0", r.returncode == 0, r.stderr)
        check("same labels", labels(os.path.join(first, "labels.csv")) == labels(os.path.join(second, "labels.csv")))
        rep2 = json.load(open(os.path.join(second, "report.json")))
        check("same names", [s["name"] for s in rep2["segments"]] == names)
        table = rep2["migration"]["table"]
        diag = all(table[i][j] == 0 for i in range(k) for j in range(k + 1) if i != j)
        check("diagonal migration table", diag and table[k] == [0] * (k + 1), table)

        # Shifted data: every customer's spending score moves a little, 10 customers leave, and
        # the rows are reordered. Stable segments keep their numbers.
        rows = list(csv.reader(open(mall)))
        header, body = rows[0], rows[1:]
        shifted = os.path.join(tmp, "shifted.csv")
        with open(shifted, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for i, row in enumerate(reversed(body[10:])):
                row = list(row)
                row[4] = str(int(row[4]) + (i % 5) - 2)
                w.writerow(row)
        third = os.path.join(tmp, "third")
        r = segment(shifted, "--id-column", "customer_id", "--out", third, "--previous", first)
        check("shifted --previous run exits 0", r.returncode == 0, r.stderr)
        table = json.load(open(os.path.join(third, "report.json")))["migration"]["table"]
        for i in range(k):
            row = table[i][:k]
            check(f"old segment {i} mostly stays {i}", row[i] >= 0.8 * sum(row), table)
        check("10 customers gone", sum(table[i][k] for i in range(k)) == 10, table)

        # A transaction log.
        tx = os.path.join(tmp, "tx")
        r = segment(os.path.join(DATA, "online_retail_sample.csv"), "--transactions", "--k", "3", "--out", tx)
        check("--transactions run", r.returncode == 0 and os.path.exists(os.path.join(tx, "report.html")), r.stderr)
        rep = json.load(open(os.path.join(tx, "report.json")))
        check("RFM features", rep["input"]["features"][:3] == ["recency_days", "frequency", "monetary"], rep["input"])

        # --device: the CPU when asked, and the request recorded; cuda runs there or, without a
        # device, is one clear error that leaves nothing behind.
        on_cpu = os.path.join(tmp, "on_cpu")
        r = segment(mall, "--k", "3", "--device", "cpu", "--out", on_cpu)
        rep = json.load(open(os.path.join(on_cpu, "report.json"))) if r.returncode == 0 else {}
        check("--device cpu runs on the CPU", rep.get("backend", "").startswith("cpu")
              and rep["params"]["device"] == "cpu", (r.stderr, rep.get("backend")))
        on_cuda = os.path.join(tmp, "on_cuda")
        r = segment(mall, "--k", "3", "--device", "cuda", "--out", on_cuda)
        if r.returncode == 0:
            rep = json.load(open(os.path.join(on_cuda, "report.json")))
            check("--device cuda runs on the GPU", rep["backend"].startswith("cuda"), rep["backend"])
        else:
            errors = [l for l in r.stderr.splitlines() if l.startswith("segcore: error:")]
            check("--device cuda without a device: one clear error",
                  len(errors) == 1 and "--device cpu" in errors[0] and not os.path.exists(on_cuda),
                  r.stderr)
        bad = os.path.join(tmp, "bad")
        r = segment(mall, "--device", "tpu", "--out", bad)
        check("unknown device fails cleanly", r.returncode != 0 and "unknown device 'tpu'" in r.stderr
              and not os.path.exists(bad), r.stderr)

        # Bad input: a clear error and nothing written.
        r = segment(mall, "--k", "500", "--out", bad)
        check("k > rows fails cleanly", r.returncode != 0 and "larger than" in r.stderr and not os.path.exists(bad), r.stderr)
        r = segment(mall, "--previous", os.path.join(tmp, "nowhere"), "--out", bad)
        check("missing previous run fails cleanly", r.returncode != 0 and "nowhere" in r.stderr and not os.path.exists(bad), r.stderr)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
