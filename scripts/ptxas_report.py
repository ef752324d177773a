#!/usr/bin/env python3
"""Registers, stack and spills of every segcore kernel, as ptxas reports them.

    scripts/ptxas_report.py [BUILD_DIR] [ARCH]

Configures BUILD_DIR (default build-ptxas) with CUDA for ARCH (default 90) and ptxas's verbose
report, rebuilds the segcore library from scratch (the kernels are compiled again so that
ptxas speaks), and prints a Markdown table: one row per kernel instantiation, segcore's own
kernels only (CUB's and Thrust's are left out). No GPU is needed: this is what the compiler
decided, the first thing to check when a kernel is slower than its bytes say it should be.
"""
import re
import subprocess
import sys
from pathlib import Path


def parse(log):
    """(name, registers, stack, spill stores, spill loads, shared) per compiled entry."""
    rows, cur = [], None
    for line in log.splitlines():
        m = re.search(r"Compiling entry function '(\S+)' for '(sm_\d+)'", line)
        if m:
            cur = {"name": m.group(1), "regs": 0, "stack": 0, "st": 0, "ld": 0, "smem": 0}
            rows.append(cur)
            continue
        if cur is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                      line)
        if m:
            cur["stack"], cur["st"], cur["ld"] = map(int, m.groups())
        m = re.search(r"Used (\d+) registers", line)
        if m:
            cur["regs"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            cur["smem"] = int(m.group(1))
    names = subprocess.run(["c++filt"], input="\n".join(r["name"] for r in rows),
                           capture_output=True, text=True, check=True).stdout.splitlines()
    out = []
    for r, name in zip(rows, names):
        if "cub::" in name or "thrust::" in name:
            continue
        name = re.sub(r"segcore::cuda::|\(anonymous namespace\)::", "", name)
        name = re.sub(r"\(.*\)$", "", name).replace("void ", "")
        out.append((name, r["regs"], r["stack"], r["st"], r["ld"], r["smem"]))

    def key(row):  # by kernel, then by its template arguments, numbers as numbers
        base, _, args = row[0].partition("<")
        return (base, [int(x) for x in re.findall(r"\d+", args)], args)

    return sorted(set(out), key=key)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build-ptxas"
    arch = sys.argv[2] if len(sys.argv) > 2 else "90"
    root = Path(__file__).resolve().parent.parent
    subprocess.run(["cmake", "-S", str(root), "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                    "-DSEGCORE_CUDA=ON", f"-DCMAKE_CUDA_ARCHITECTURES={arch}",
                    "-DCMAKE_CUDA_FLAGS=-Xptxas=-v"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "--target", "clean"], check=True,
                   stdout=subprocess.DEVNULL)
    done = subprocess.run(["cmake", "--build", build, "--target", "segcore", "--parallel"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        sys.exit(done.returncode)
    rows = parse(done.stdout + done.stderr)
    if not rows:
        sys.exit("ptxas_report: no ptxas report in the build output")
    print(f"sm_{arch}; registers per thread, stack frame, spill stores/loads (bytes of spill "
          "instructions, a static count) and static shared memory per block.\n")
    print("| kernel | registers | stack B | spill stores B | spill loads B | static shared B |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, regs, stack, st, ld, smem in rows:
        print(f"| `{name}` | {regs} | {stack} | {st} | {ld} | {smem} |")


if __name__ == "__main__":
    main()
