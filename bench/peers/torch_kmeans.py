#!/usr/bin/env python3
"""The GPU peer of bench_kmeans's LloydCuda: one Lloyd iteration of a K-means written in PyTorch the
usual way (matmul distances, argmin, index_add_), on the same data, the same init and the same
shape as the C++ benchmark, timed with CUDA events; prints one JSON object per shape.

Same data: the C++ benchmark's x[i, f] = counter_uniform(i, f) * 2 - 1 (segcore's splitmix64
counter generator, host/parallel.hpp), generated here on the GPU with int64 tensor arithmetic and
checked against a NumPy uint64 copy on the first rows. Same init: the first k rows. Each timed
iteration starts from those centroids (as LloydCuda does), so every run does the same work.
Distances in float32 (TF32 off, PyTorch's default for matmul), in row chunks so that the n x k
distance matrix of a chunk stays within --chunk-bytes (all of n at once when it fits).

  bench/peers/torch_kmeans.py --shape 100000000,16,32 --shape 10000000,128,1024
"""
import argparse
import json
import statistics
import sys

import numpy as np

try:
    import torch
except ImportError:
    torch = None

MASK64 = (1 << 64) - 1


def signed(c):
    """A uint64 constant as the int64 with the same bits."""
    return c - (1 << 64) if c >= 1 << 63 else c


def shr(z, s):
    """Logical right shift of int64 values (tensor or int64 array) by s bits."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix64(z):
    """splitmix64's finaliser on int64 values, wrapping like uint64 (two's complement)."""
    z = z + signed(0x9E3779B97F4A7C15)
    z = (z ^ shr(z, 30)) * signed(0xBF58476D1CE4E5B9)
    z = (z ^ shr(z, 27)) * signed(0x94D049BB133111EB)
    return z ^ shr(z, 31)


def reference_rows(rows, d):
    """The first rows of the C++ benchmark's data, in NumPy uint64 arithmetic (the check)."""
    with np.errstate(over="ignore"):
        i = np.arange(rows, dtype=np.uint64)[:, None]
        f = np.arange(d, dtype=np.uint64)[None, :]

        def mix(z):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))

        z = mix(mix(i) ^ f)
        u = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return (u * 2 - 1).astype(np.float32)


def make_data(n, d, device, chunk=1 << 22):
    x = torch.empty((n, d), dtype=torch.float32, device=device)
    f = torch.arange(d, dtype=torch.int64, device=device)[None, :]
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        i = torch.arange(r0, r1, dtype=torch.int64, device=device)[:, None]
        z = mix64(mix64(i) ^ f)
        u = shr(z, 11).to(torch.float64) * 2.0**-53
        x[r0:r1] = (u * 2 - 1).to(torch.float32)
    return x


def lloyd_step(x, c, chunk_rows):
    """One iteration: labels by argmin of ||x||^2 - 2 x c^T + ||c||^2, new centroids by index_add_."""
    n, k = x.shape[0], c.shape[0]
    c_norm = (c * c).sum(1)
    labels = torch.empty(n, dtype=torch.int64, device=x.device)
    inertia = torch.zeros((), dtype=torch.float64, device=x.device)
    for r0 in range(0, n, chunk_rows):
        xs = x[r0 : r0 + chunk_rows]
        dist = torch.addmm(c_norm[None, :], xs, c.T, alpha=-2.0) + (xs * xs).sum(1, keepdim=True)
        best, labels[r0 : r0 + chunk_rows] = dist.min(1)
        inertia += best.clamp_min(0).sum(dtype=torch.float64)
    sums = torch.zeros((k, x.shape[1]), dtype=torch.float32, device=x.device).index_add_(0, labels, x)
    counts = torch.zeros(k, dtype=torch.float32, device=x.device).index_add_(
        0, labels, torch.ones(n, dtype=torch.float32, device=x.device)
    )
    new_c = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], c)
    return new_c, labels, inertia


def time_shape(n, d, k, repeats, chunk_bytes):
    device = torch.device("cuda")
    x = make_data(n, d, device)
    head = x[: min(n, 1000)].cpu().numpy()
    if not np.array_equal(head, reference_rows(head.shape[0], d)):
        sys.exit("torch_kmeans: the generated data differs from the C++ benchmark's (int64 wrap?)")
    c0 = x[:k].clone()
    chunk_rows = max(1, min(n, chunk_bytes // (4 * k)))
    lloyd_step(x, c0, chunk_rows)  # warm-up: kernels, cuBLAS workspace, allocator
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        new_c, labels, inertia = lloyd_step(x, c0, chunk_rows)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    del x
    torch.cuda.empty_cache()
    return {
        "peer": "pytorch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "n": n,
        "d": d,
        "k": k,
        "chunk_rows": chunk_rows,
        "ms_median": statistics.median(times),
        "ms_min": min(times),
        "repeats": repeats,
        "inertia": float(inertia),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", action="append", help="n,d,k (repeatable); default 100M,16,32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunk-bytes", type=int, default=8 << 30, help="largest n x k distance chunk")
    ap.add_argument("--self-test", action="store_true", help="check the generator (NumPy only)")
    a = ap.parse_args()
    if a.self_test:
        # The int64 formulation, run on NumPy int64 arrays, against the uint64 reference.
        with np.errstate(over="ignore"):
            i = np.arange(5000, dtype=np.int64)[:, None]
            f = np.arange(7, dtype=np.int64)[None, :]
            u = shr(mix64(mix64(i) ^ f), 11).astype(np.float64) * 2.0**-53
        ok = np.array_equal((u * 2 - 1).astype(np.float32), reference_rows(5000, 7))
        print("generator self-test:", "ok" if ok else "MISMATCH")
        return 0 if ok else 1
    if torch is None or not torch.cuda.is_available():
        print(json.dumps({"peer": "pytorch", "skipped": "no PyTorch with CUDA"}))
        return 77
    shapes = a.shape or ["100000000,16,32"]
    for s in shapes:
        n, d, k = (int(v) for v in s.split(","))
        print(json.dumps(time_shape(n, d, k, a.repeats, a.chunk_bytes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
