#!/usr/bin/env python3
"""Prints the GPU benchmark table and the done-when figures of the K-means and least-squares issues
from the JSON that scripts/gpu_check.sh writes:

  scripts/gpu_table.py KMEANS.json LSTSQ.json TORCH.jsonl

Ratios use the device's bandwidth as a device-to-device copy measures it in the same run
(DeviceCopy: bytes read plus bytes written per second): "x read" is a benchmark's time over the
time of reading its data once at that bandwidth.

  scripts/gpu_table.py --merge OUT.json IN.json...

writes the benchmarks of every IN that parses (a run stopped at its limit leaves a truncated
file, which is left out) into OUT, with the first one's context."""
import json, os, re, sys

if len(sys.argv) > 1 and sys.argv[1] == "--merge":
    merged = None
    for path in sys.argv[3:]:
        try:
            part = json.load(open(path))
        except (OSError, ValueError):
            print(f"gpu_table: {path} is missing or truncated, left out", file=sys.stderr)
            continue
        if merged is None:
            merged = part
        else:
            merged["benchmarks"] += part.get("benchmarks", [])
    if merged is not None:
        json.dump(merged, open(sys.argv[2], "w"), indent=1)
    sys.exit(0)

def load(path):
    return json.load(open(path))["benchmarks"] if os.path.exists(path) else []

km, lsq = load(sys.argv[1]), load(sys.argv[2])
torch = []
if os.path.exists(sys.argv[3]):
    torch = [json.loads(l) for l in open(sys.argv[3]) if l.strip().startswith("{")]
copy = [x for x in km if x["name"].startswith("DeviceCopy") and "error_message" not in x]
# GB/s moved (read + written) by a device-to-device copy; JSON from before GB_moved has the read
# rate only, half of it.
bw = (copy[0].get("GB_moved") or 2 * copy[0].get("GB_read", 0)) if copy else 0
print(f"device copy: {bw:.0f} GB/s (bytes read + written)")

def shape(name):
    m = re.search(r"n:(\d+)/d:(\d+)/k:(\d+)", name)
    return tuple(int(v) for v in m.groups()) if m else None

def ms(x):
    return x["real_time"] if x.get("time_unit") == "ms" else x["real_time"] / 1e6

ok = [x for x in km + lsq if "error_message" not in x]
# ms: the wall time per benchmark iteration; for the GPU Lloyd passes, pass and kernels: the
# device's time of the same passes from CUDA events (upload and kernels; kernels alone).
print(f"{'benchmark':64} {'ms':>9} {'pass':>8} {'kernels':>8} {'GB/s':>8} {'x read':>7}")
for x in ok:
    gbs = x.get("GB", x.get("GB/s", 0))
    on_cpu = x["name"].startswith("Lloyd<")  # the CPU backend: no device bandwidth ratio
    ratio = f"{bw / gbs:7.2f}" if gbs and bw and not on_cpu else ""
    dev = "".join(f" {x[c]:8.3f}" if c in x else " " * 9 for c in ("pass_ms", "kernels_ms"))
    print(f"{x['name']:64} {ms(x):9.3f}{dev} {gbs:8.0f} {ratio:>7}")
for t in torch:
    if "ms_median" in t:
        print(f"{'pytorch n=%d d=%d k=%d' % (t['n'], t['d'], t['k']):64} {t['ms_median']:9.3f}")
# The done-when figures.
def runs(prefix, part):
    """The runs of benchmark `prefix` (exactly: LloydCuda is not LloydCudaLabels) whose name has
    `part`, by shape."""
    return {shape(x["name"]): x for x in ok if x["name"].startswith(prefix + "<") and part in x["name"]}
lloyd_runs, labels_runs = runs("LloydCuda", "/path:0"), runs("LloydCudaLabels", "/path:0")
lloyd = {s: ms(x) for s, x in lloyd_runs.items()}
sgemm = {shape(x["name"]): ms(x) for x in ok if x["name"].startswith("Sgemm")}
cpu = {shape(x["name"]): ms(x) for x in ok
       if x["name"].startswith("Lloyd<float>") and x["name"].endswith("/threads:0/real_time")}
both = sorted(set(cpu) & set(lloyd))
if both:
    print("\none Lloyd pass, CPU backend (all cores of this machine) vs GPU")
    for s in both:
        print(f"n={s[0]} d={s[1]} k={s[2]}: cpu {cpu[s]:.2f} ms, gpu {lloyd[s]:.3f} ms, "
              f"{cpu[s] / lloyd[s]:.0f}x")
tt = {(t["n"], t["d"], t["k"]): t["ms_median"] for t in torch if "ms_median" in t}
print("\ndone-when figures")
s = (100000000, 16, 32)
if s in lloyd and bw:
    read_ms = s[0] * s[1] * 4 / (bw * 1e9) * 1e3
    print(f"100M x 16 k=32: {lloyd[s]:.2f} ms = {lloyd[s] / read_ms:.2f} x read time (target <= 1.3)")
    run = lloyd_runs[s]
    if "kernels_ms" in run:
        print(f"  on the device (CUDA events): the pass {run['pass_ms']:.2f} ms, its kernels "
              f"{run['kernels_ms']:.2f} ms = {run['kernels_ms'] / read_ms:.2f} x read time; "
              f"the host and the copy back {lloyd[s] - run['pass_ms']:.2f} ms")
    if s in labels_runs:
        lab = labels_runs[s]
        print(f"  without the update's sums: {ms(lab):.2f} ms = {ms(lab) / read_ms:.2f} x read time "
              f"(the sums {lloyd[s] - ms(lab):.2f} ms)")
    for g in (1, 2):
        for inertia in (0, 1, 2):
            grp = runs("LloydCudaGroups", f"/groups:{g}/inertia:{inertia}/").get(s)
            if grp:
                how = ("no inertia", "the inertia from the settle", "the inertia in the walk")[inertia]
                print(f"  at most {g} group{'s' if g > 1 else ''} of lanes per warp, {how}: "
                      f"{ms(grp):.2f} ms = {ms(grp) / read_ms:.2f} x read time")
    exact = runs("LloydCuda", "/path:3").get(s)
    if exact:
        print(f"  the exact search instead of the tensor-core one: {ms(exact):.2f} ms = "
              f"{ms(exact) / read_ms:.2f} x read time")
    if s in tt:
        print(f"  vs PyTorch {tt[s]:.2f} ms: {tt[s] / lloyd[s]:.1f}x faster (target >= 5)")
s = (10000000, 128, 1024)
if s in lloyd and s in sgemm:
    print(f"10M x 128 k=1024: {lloyd[s]:.2f} ms = {lloyd[s] / sgemm[s]:.2f} x SGEMM (target <= 1.5)")
for x in ok:
    if x["name"].startswith("FitCuda/n:100000000"):
        print(f"fit 100M x 16 k=32: {ms(x) / 1e3:.2f} s, {x.get('lloyd_iterations', 0):.0f} Lloyd "
              f"iterations (target < 2 s)")
kern = {x["name"].split("/")[0]: x for x in ok if "m:24/features:4" in x["name"]}
if "BM_lstsq_cuda_kernel" in kern and bw:
    k = kern["BM_lstsq_cuda_kernel"]
    read_ms = 10000000 * 24 * 5 * 4 / (bw * 1e9) * 1e3
    print(f"lstsq 10M x 24x(4+1): {ms(k):.2f} ms = {ms(k) / read_ms:.2f} x read time (target <= 1.5)")
    if "BM_cublas_gels_batched" in kern:
        g = kern["BM_cublas_gels_batched"]
        print(f"  vs gelsBatched {ms(g):.2f} ms: {ms(g) / ms(k):.1f}x faster (target >= 10)")
