#!/usr/bin/env python3
"""Cross-checks `segcore rfm` against the same definitions computed with pandas.

Usage: rfm_pandas_check.py PATH/TO/segcore DATA_DIR

Runs `segcore rfm DATA_DIR/online_retail_sample.csv --out TMP/c.csv`, recomputes every customer's
recency_days, frequency, monetary, tenure_days, avg_order_value and return_rate from the raw file
with pandas, and compares every customer and column (ids as strings, values to 1e-9 relative),
plus the counts the command prints. A few command-line checks that need no pandas (errors exit 1
and leave no output file; --amount-column and --as-of) run first. Exit 77 (skipped) when pandas
is missing; prints 'N passed, M failed' last and exits 1 on any failure.
"""
import math
import os
import re
import subprocess
import sys
import tempfile

PASSED = 0
FAILED = 0


def check(ok, what):
    global PASSED, FAILED
    if ok:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what)


def close(a, b, rel=1e-9):
    # Relative, with an absolute floor for values that cancel to about zero.
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def run(segcore, *args):
    return subprocess.run([segcore, "rfm", *args], capture_output=True, text=True)


def read_output(path):
    """The output CSV as (header, rows), ids kept as text."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def command_line_checks(segcore, data_dir, tmp):
    sample = os.path.join(data_dir, "online_retail_sample.csv")
    out = os.path.join(tmp, "err.csv")

    # Every error exits 1 with one message and leaves no file (and no temporary file) behind.
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
                "1,2,12/1/10 8:26,1.5,A\n"
                "2,x2,12/1/10 8:26,1.5,B\n")
    cases = [  # (arguments, the message, the exit status: 1 bad data, 2 bad command line)
        ([bad, "--out", out], r"row 2 \(line 3\), column 'Quantity': not a number: 'x2'", 1),
        ([sample, "--out", out, "--customer-column", "Cust"],
         r"unknown customer column.*CustomerID", 1),
        ([sample, "--out", out, "--as-of", "soon"], r"as-of date 'soon'", 1),
        ([sample, "--out", out, "--date-format", "ymd"], r"date format must be", 2),
        ([sample, "--out", out, "--date-format", "iso"],
         r"not a date: '12/1/10 8:26' \(expected format iso", 1),
        ([os.path.join(tmp, "missing.csv"), "--out", out], r"cannot open", 1),
    ]
    for args, pattern, want in cases:
        r = run(segcore, *args)
        check(r.returncode == want, f"{args}: exit {r.returncode}, expected {want}")
        check(re.search(pattern, r.stderr) is not None,
              f"{args}: stderr {r.stderr!r} does not match {pattern!r}")
        check(not os.path.exists(out), f"{args}: output written on error")
        check(not any(n.startswith(".err.csv") for n in os.listdir(tmp)),
              f"{args}: temporary file left behind")
    r = run(segcore, sample, "--out", out, "--amount-column", "UnitPrice", "--price-column", "X")
    check(r.returncode == 2, f"--amount-column with --price-column: exit {r.returncode}, expected 2")

    # --amount-column and an explicit --as-of on a hand-made file.
    amounts = os.path.join(tmp, "amounts.csv")
    with open(amounts, "w") as f:
        f.write("order,who,day,total\n"
                "O1,x,2012-02-28,100\n"
                "O2,x,2012-03-01 10:00,50\n"
                "O3,x,3/1/12 11:00,-30\n"
                'O4,"Smith, J",2011-12-31T23:59:00,80\n')
    out2 = os.path.join(tmp, "amounts_out.csv")
    r = run(segcore, amounts, "--out", out2, "--customer-column", "who", "--invoice-column",
            "order", "--date-column", "day", "--amount-column", "total", "--as-of", "2012-03-01")
    check(r.returncode == 0, f"amount mode: exit {r.returncode}: {r.stderr}")
    if r.returncode == 0:
        with open(out2) as f:
            text = f.read()
        expected = ("customer_id,recency_days,frequency,monetary,tenure_days,avg_order_value,"
                    "return_rate\n"
                    "x,0,2,120,2,75,0.2\n"
                    '"Smith, J",61,1,80,61,80,0\n')
        check(text == expected, f"amount mode output {text!r}, expected {expected!r}")


def pandas_check(segcore, data_dir, tmp, pd):
    sample = os.path.join(data_dir, "online_retail_sample.csv")
    out = os.path.join(tmp, "c.csv")
    r = run(segcore, sample, "--out", out)
    check(r.returncode == 0, f"segcore rfm failed: {r.stderr}")
    if r.returncode != 0:
        return

    raw = pd.read_csv(sample, dtype=str, keep_default_na=False)
    has_customer = raw["CustomerID"].str.strip() != ""
    dropped = int((~has_customer).sum())
    df = raw[has_customer].copy()
    df["amount"] = df["Quantity"].astype(float) * df["UnitPrice"].astype(float)
    df["cancelled"] = df["InvoiceNo"].str.startswith("C") | (df["Quantity"].astype(float) < 0)
    df["day"] = pd.to_datetime(df["InvoiceDate"], format="%m/%d/%y %H:%M").dt.normalize()
    as_of = df["day"].max() + pd.Timedelta(days=1)

    expected = {}
    order = list(dict.fromkeys(df["CustomerID"]))  # first appearance
    for cid, g in df.groupby("CustomerID", sort=False):
        kept = g[~g["cancelled"]]
        dated = kept if len(kept) else g
        frequency = kept["InvoiceNo"].nunique()
        kept_amount = math.fsum(kept["amount"])
        returned = -math.fsum(g.loc[g["cancelled"], "amount"])
        expected[cid] = [
            (as_of - dated["day"].max()).days,
            frequency,
            math.fsum(g["amount"]),
            (as_of - dated["day"].min()).days,
            kept_amount / frequency if frequency else 0.0,
            returned / kept_amount if kept_amount != 0 else 0.0,
        ]

    header, rows = read_output(out)
    check(header == ["customer_id", "recency_days", "frequency", "monetary", "tenure_days",
                     "avg_order_value", "return_rate"], f"header {header}")
    check([row[0] for row in rows] == order, "customer ids or their order differ")
    for row in rows:
        want = expected.get(row[0])
        if want is None:
            check(False, f"unexpected customer {row[0]!r}")
            continue
        for name, got, exp in zip(header[1:], row[1:], want):
            check(close(float(got), float(exp)), f"customer {row[0]} {name}: {got} vs {exp}")

    # The summary: rows read, dropped, cancelled, customers, as-of date.
    summary = r.stdout.splitlines()
    values = summary[2].split() if len(summary) > 2 else []
    check(values[:4] == [str(len(raw)), str(dropped), str(int(df["cancelled"].sum())),
                         str(len(expected))], f"summary counts {values[:4]}")
    check(len(values) > 4 and values[4] == as_of.strftime("%Y-%m-%d"),
          f"summary as-of {values[4:]}, expected {as_of:%Y-%m-%d}")
    check(f"dropped {dropped} row" in r.stderr, f"stderr notice {r.stderr!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    segcore, data_dir = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        command_line_checks(segcore, data_dir, tmp)
    try:
        import pandas as pd
    except ImportError:
        print(f"{PASSED} passed, {FAILED} failed (pandas is not installed: skipping the rest)")
        return 1 if FAILED else 77
    with tempfile.TemporaryDirectory() as tmp:
        pandas_check(segcore, data_dir, tmp, pd)
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
