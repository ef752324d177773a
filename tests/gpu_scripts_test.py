#!/usr/bin/env python3
"""Checks the scripts that turn a GPU run's output into its figures (scripts/gpu_table.py), on
made-up benchmark output whose figures are known: they run on a GPU machine only once a session
has one, and a wrong ratio there would be a wrong claim.

  tests/gpu_scripts_test.py SCRIPTS_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SCRIPTS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "scripts")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def bench(name, ms, **counters):
    return dict(name=name, run_name=name, real_time=ms, cpu_time=ms, time_unit="ms", iterations=10,
                **counters)


def write_json(path, benchmarks):
    with open(path, "w") as f:
        json.dump({"context": {"host_name": "test"}, "benchmarks": benchmarks}, f)


def table(tmp, km, lsq=None, torch=None):
    kp, lp, tp = (os.path.join(tmp, n) for n in ("km.json", "lsq.json", "torch.jsonl"))
    write_json(kp, km)
    if lsq is not None:
        write_json(lp, lsq)
    elif os.path.exists(lp):
        os.remove(lp)
    with open(tp, "w") as f:
        for t in torch or []:
            f.write(json.dumps(t) + "\n")
    r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "gpu_table.py"), kp, lp, tp],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"gpu_table exits 0 (stderr: {r.stderr.strip()})")
    return r.stdout


def figure(out, pattern):
    m = re.search(pattern, out)
    return float(m.group(1)) if m else None


with tempfile.TemporaryDirectory() as tmp:
    # A copy of 4 GiB at 3000 GB/s moved (1500 read): reading 100M x 16 floats (6.4 GB) once
    # takes 6.4 / 3000 s = 2.133 ms, so 2.773 ms is 1.30 x the read time.
    copy = bench("DeviceCopy/manual_time", 2.863, GB_read=1500.0, GB_moved=3000.0)
    lloyd = bench("LloydCuda<float>/n:100000000/d:16/k:32/path:0/real_time", 2.773, GB=6.4 / 2.773e-3,
                  pass_ms=2.70, kernels_ms=2.56)
    labels = bench("LloydCudaLabels<float>/n:100000000/d:16/k:32/path:0/real_time", 2.347)
    one_group = bench("LloydCudaGroups<float>/n:100000000/d:16/k:32/groups:1/inertia:1/real_time", 3.2)
    two_walk = bench("LloydCudaGroups<float>/n:100000000/d:16/k:32/groups:2/inertia:2/real_time", 2.56)
    two_none = bench("LloydCudaGroups<float>/n:100000000/d:16/k:32/groups:2/inertia:0/real_time", 2.347)
    labels_exact = bench("LloydCudaLabels<float>/n:100000000/d:16/k:32/path:3/real_time", 9.9)
    exact = bench("LloydCuda<float>/n:100000000/d:16/k:32/path:3/real_time", 4.267)
    big = bench("LloydCuda<float>/n:10000000/d:128/k:1024/path:0/real_time", 60.0)
    sgemm = bench("Sgemm/n:10000000/d:128/k:1024/manual_time", 48.0)
    fit = bench("FitCuda/n:100000000/d:16/k:32/iterations:3/real_time", 1500.0, lloyd_iterations=37)
    kern = bench("BM_lstsq_cuda_kernel/m:24/features:4/manual_time", 2.0)
    gels = bench("BM_cublas_gels_batched/m:24/features:4/manual_time", 30.0)
    torch = [{"peer": "pytorch", "n": 100000000, "d": 16, "k": 32, "ms_median": 27.73}]
    out = table(tmp, [copy, lloyd, labels, labels_exact, one_group, two_walk, two_none, exact, big, sgemm,
                      fit],
                [kern, gels], torch)
    print(out)
    for pattern, expected, what in [
        (r"device copy: (\d+) GB/s", 3000, "the copy's bandwidth is bytes read + written"),
        (r"100M x 16 k=32: [\d.]+ ms = ([\d.]+) x read time", 1.30,
         "100M x 16: 2.773 ms over 6.4 GB at 3000 GB/s is 1.30 x the read time"),
        (r"its kernels [\d.]+ ms = ([\d.]+) x read time", 1.20,
         "the kernels' 2.56 ms (CUDA events) are 1.20 x the read time"),
        (r"the host and the copy back ([\d.]+) ms", 0.07, "wall 2.773 - pass 2.70 ms"),
        (r"without the update's sums: [\d.]+ ms = ([\d.]+) x read time", 1.10,
         "the pass without sums, 2.347 ms, is 1.10 x the read time"),
        (r"at most 1 group of lanes per warp, the inertia from the settle: [\d.]+ ms = ([\d.]+) x read",
         1.50, "one group: 3.2 ms is 1.50 x the read time"),
        (r"at most 2 groups of lanes per warp, the inertia in the walk: [\d.]+ ms = ([\d.]+) x read",
         1.20, "two groups, the inertia in the walk: 2.56 ms is 1.20 x the read time"),
        (r"at most 2 groups of lanes per warp, no inertia: [\d.]+ ms = ([\d.]+) x read",
         1.10, "two groups, no inertia: 2.347 ms is 1.10 x the read time"),
        (r"exact search instead .*= ([\d.]+) x read time", 2.00,
         "the exact search's 4.267 ms (not the labels-only pass's) is 2.00 x the read time"),
        (r"vs PyTorch [\d.]+ ms: ([\d.]+)x faster", 10.0, "PyTorch 27.73 ms is 10.0x"),
        (r"10M x 128 k=1024: [\d.]+ ms = ([\d.]+) x SGEMM", 1.25, "60 / 48 ms is 1.25 x SGEMM"),
        (r"fit 100M x 16 k=32: ([\d.]+) s", 1.50, "the fit's 1500 ms is 1.50 s"),
        (r"fit 100M x 16 k=32: [\d.]+ s, (\d+) Lloyd iterations", 37,
         "the fit's Lloyd iterations, not the benchmark's"),
        # 10M problems of 24 x 5 floats: 4.8 GB, 1.6 ms at 3000 GB/s; 2 ms is 1.25 x.
        (r"lstsq 10M x 24x\(4\+1\): [\d.]+ ms = ([\d.]+) x read time", 1.25,
         "lstsq: 2 ms over 4.8 GB at 3000 GB/s is 1.25 x the read time"),
        (r"gelsBatched [\d.]+ ms: ([\d.]+)x faster", 15.0, "gelsBatched 30 / 2 ms is 15.0x"),
    ]:
        check(figure(out, pattern) == expected, what)

    # Output from before GB_moved (the read rate only) gives the same reference.
    legacy = dict(copy)
    del legacy["GB_moved"]
    out = table(tmp, [legacy, lloyd])
    check(figure(out, r"device copy: (\d+) GB/s") == 3000, "GB_read alone: twice it is the bandwidth")
    check(figure(out, r"100M x 16 k=32: [\d.]+ ms = ([\d.]+) x read time") == 1.30,
          "GB_read alone: the same ratio")

    # No copy measured: no ratio is claimed.
    out = table(tmp, [lloyd])
    check("x read time" not in out, "without a copy there is no read-time ratio")

# scripts/ncu_table.py on a raw page as ncu prints it after the profiled program's output.
COLUMNS = ["ID", "Process ID", "Kernel Name", "gpu__time_duration.sum", "dram__bytes_read.sum",
           "lts__t_sectors_srcunit_tex_op_read.sum", "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
           "l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum", "smsp__inst_executed.sum",
           "launch__registers_per_thread", "launch__shared_mem_per_block_dynamic",
           "smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio",
           "smsp__average_warps_issue_stalled_wait_per_issue_active.ratio",
           "smsp__average_warps_issue_stalled_mio_throttle_per_issue_active.ratio",
           "sm__inst_executed_pipe_fp64.avg.pct_of_peak_sustained_active",
           "sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active"]


def raw_page(units, kernel_row):
    q = lambda cells: ",".join('"%s"' % c for c in cells)
    return "\n".join([
        "LloydCuda<float>/n:10000000/d:16/k:32/path:0/real_time  0.31 ms",
        "==PROF== Disconnected from process 4242",
        q(COLUMNS), q(units), q(kernel_row),
        q(["1", "4242", "lloyd_finalize(const double *, int, int, int, bool, const double *, double *)",
           "9000"] + [""] * (len(COLUMNS) - 4)), ""])


def ncu_table(tmp, text):
    path = os.path.join(tmp, "profile.csv")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "ncu_table.py"), "--points", "10000000",
                        "--dims", "16", f"tensor={path}"], capture_output=True, text=True)
    check(r.returncode == 0, f"ncu_table exits 0 (stderr: {r.stderr.strip()})")
    print(r.stdout)
    return r.stdout


KERNEL = "void segcore::cuda::(anonymous namespace)::lloyd_warp_sums_kernel<float, (int)16, (bool)1>(segcore::cuda::DataView<float>, int)"
with tempfile.TemporaryDirectory() as tmp:
    base = ["", "", "", "nsecond", "byte", "sector", "sector", "sector", "inst", "register/thread",
            "byte/block", "ratio", "ratio", "ratio", "%", "%"]
    row = ["0", "4242", KERNEL, "250,000", "680,000,000", "40,000,000", "60,000,000", "30,000,000",
           "240,000,000", "80", "73,184", "1.5", "0.7", "0.2", "40", "55"]
    for units, values in ((base, row),
                          # ncu's default units: microseconds and megabytes
                          ([u.replace("nsecond", "usecond") if i == 3 else u.replace("byte", "Mbyte") if i == 4 else u
                            for i, u in enumerate(base)],
                           [v if i not in (3, 4) else {3: "250", 4: "680"}[i] for i, v in enumerate(row)])):
        out = ncu_table(tmp, raw_page(units, values))
        check("tensor: lloyd_warp_sums_kernel<float, (int)16, (bool)1>" in out, "the kernel's short name")
        check(figure(out, r"time ([\d.]+) us") == 250.0, "250 us")
        check(figure(out, r"DRAM read ([\d.]+) B/point") == 68.0, "680 MB over 10M points: 68 B/point")
        check(figure(out, r"L2 -> L1 ([\d.]+) B/point") == 128.0, "40M sectors of 32 B: 128 B/point")
        check(figure(out, r"L1 hit rate of global loads ([\d.]+) %") == 50.0, "30M of 60M sectors hit")
        check(figure(out, r"([\d.]+) warp instructions/point") == 24.0, "240M instructions: 24/point")
        check("stalls (cycles per issue): long_scoreboard 1.50, wait 0.70, mio_throttle 0.20" in out,
              "the stalls, largest first")
        check("busiest pipes (% of peak): fma 55.00, fp64 40.00" in out, "the pipes, either metric family")
        check("tensor: lloyd_finalize" in out and "issue slots busy -" in out,
              "the reduction kernel, with what it lacks as '-'")
    out = ncu_table(tmp, "==ERROR== ERR_NVGPUCTRPERM\n")
    check("no kernel in" in out, "a profile without a table says so")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
