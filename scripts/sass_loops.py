#!/usr/bin/env python3
"""Instructions per loop of a segcore kernel, read off its SASS: a static count, no GPU needed.

    scripts/sass_loops.py KERNEL_SUBSTRING [SOURCE.cu] [ARCH]
    scripts/sass_loops.py KERNEL_SUBSTRING [SOURCE.cu] [ARCH] --path START [--take ADDR[:N]]...
                          [--stop ADDR]

With --path: the instructions one warp issues along one path from address START (hex) to STOP
(default: back at START, one trip of a loop whose head is START), a conditional branch taken
where --take names it (N: taken the first N times it is met, then not; a loop's back-edge taken
N times runs N + 1 trips), not taken elsewhere. It prints the count and every conditional branch
met with the choice made, to check the path against the source (predicated-off instructions
still issue and are counted). bench/results/sass-sm90-tensor-keys-2026-12-07.md counts the
tensor kernel's pass this way.

Compiles SOURCE (default kernels/kmeans_kernels.cu) to a cubin for ARCH (default 90) with the
Release optimisation level, disassembles it with cuobjdump and, for every kernel whose mangled
name contains KERNEL_SUBSTRING (e.g. 'lloyd_warp_sums_kernelIfLi16E': float, DP = 16), prints
each loop (a backward branch and its target) with its instruction count and the most frequent
opcodes. Dividing a loop's count by the work of one trip (4 centroids of the unrolled search,
say) gives issue slots per unit of work, which with the SM count, 4 schedulers per SM and the
clock bounds the time from below; see bench/README.md. cuobjdump and nvdisasm are not in this
machine's toolkit: they come from the PyPI wheels nvidia-cuda-cuobjdump and
nvidia-cuda-nvdisasm, installed on first use into build-sass/tools (ignored by git, like every
build folder, and not in the .deps/ that travels to the GPU machine).
"""
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tools():
    """The directory holding cuobjdump and nvdisasm, installing the wheels when needed."""
    target = ROOT / "build-sass" / "tools"
    bins = list(target.glob("nvidia/cu*/bin"))
    if not bins:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--root-user-action=ignore", "--target", str(target),
                        "nvidia-cuda-cuobjdump", "nvidia-cuda-nvdisasm"], check=True)
        bins = list(target.glob("nvidia/cu*/bin"))
    return bins[0]


def loops(function_text):
    """(first address, last address, instruction count, opcode counts) per backward branch."""
    ins = instructions(function_text)
    where = {a: i for i, (a, _) in enumerate(ins)}
    out = []
    for i, (a, op) in enumerate(ins):
        m = re.search(r"\bBRA (?:`\(.*?\)\s*)?(0x[0-9a-f]+)", op)
        if not m or int(m.group(1), 16) >= a or int(m.group(1), 16) not in where:
            continue
        t = where[int(m.group(1), 16)]
        body = [o for _, o in ins[t:i + 1]]
        ops = collections.Counter(re.sub(r"^@!?U?P\w+\s+", "", o).split()[0].split(".")[0]
                                  for o in body)
        out.append((ins[t][0], a, len(body), ops))
    return len(ins), out


def instructions(function_text):
    """(address, instruction text without its ';') in order."""
    ins = []
    for line in function_text.splitlines():
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2)))
    return ins


def walk_path(function_text, start, stop, take):
    """(instructions issued from start to stop, [(address, branch, taken)]) along the path that
    `take` ({address: times taken}) chooses; None for the count if it runs past 100000."""
    ins = instructions(function_text)
    where = {a: i for i, (a, _) in enumerate(ins)}
    left = dict(take)
    i, n, met = where[start], 0, []
    while n < 100000:
        a, op = ins[i]
        if n > 0 and a == stop:
            return n, met
        n += 1
        m = re.match(r"(@!?U?P\w+\s+)?BRA\s+(?:!?U?P\w+,\s*)?(0x[0-9a-f]+)$", op)
        if m:
            target = where[int(m.group(2), 16)]
            if m.group(1) is None and "," not in op:
                i = target
                continue
            taken = left.get(a, 0) > 0
            if taken:
                left[a] -= 1
            met.append((a, op, taken))
            if taken:
                i = target
                continue
        i += 1
    return None, met


def main():
    args, path_args = sys.argv[1:], {}
    if "--path" in args:
        k = args.index("--path")
        rest, args = args[k:], args[:k]
        take, it = {}, iter(rest)
        for flag in it:
            value = next(it, None)
            if value is None:
                sys.exit(__doc__)
            if flag == "--path":
                path_args["start"] = int(value, 16)
            elif flag == "--stop":
                path_args["stop"] = int(value, 16)
            elif flag == "--take":
                addr, _, times = value.partition(":")
                take[int(addr, 16)] = int(times) if times else 1
            else:
                sys.exit(__doc__)
        path_args["take"] = take
    if len(args) < 1:
        sys.exit(__doc__)
    pattern = args[0]
    source = Path(args[1]) if len(args) > 1 else ROOT / "kernels" / "kmeans_kernels.cu"
    arch = args[2] if len(args) > 2 else "90"
    out_dir = ROOT / "build-sass"
    out_dir.mkdir(parents=True, exist_ok=True)
    cubin = out_dir / (source.stem + f".sm_{arch}.cubin")
    nvcc = os.environ.get("NVCC", "/usr/local/cuda/bin/nvcc")
    subprocess.run([nvcc, "-cubin", f"-arch=sm_{arch}", "-O3", "-std=c++17", "-DNDEBUG",
                    f"-I{ROOT}", f"-I{ROOT / 'host'}", f"-I{ROOT / 'include'}", str(source),
                    "-o", str(cubin)], check=True)
    bin_dir = tools()
    env = dict(os.environ, NVDISASM_PATH=str(bin_dir),
               PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    sass = subprocess.run([str(bin_dir / "cuobjdump"), "-sass", str(cubin)], env=env,
                          capture_output=True, text=True, check=True).stdout
    found = False
    for part in sass.split("Function : ")[1:]:
        name = part.split("\n", 1)[0].strip()
        if pattern not in name:
            continue
        found = True
        if path_args:
            start = path_args["start"]
            count, met = walk_path(part, start, path_args.get("stop", start), path_args["take"])
            print(f"{name}: path from {start:#06x}: "
                  + (f"{count} instructions" if count is not None else "no end (over 100000)"))
            for a, op, taken in met:
                print(f"  {a:#06x} {op}: {'taken' if taken else 'not taken'}")
            continue
        total, found_loops = loops(part)
        print(f"{name}: {total} instructions")
        for first, last, count, ops in found_loops:
            top = ", ".join(f"{op} {n}" for op, n in ops.most_common(8))
            print(f"  loop {first:#06x}-{last:#06x}: {count:4d} instructions ({top})")
    if not found:
        sys.exit(f"no kernel in {source} matches '{pattern}'")


if __name__ == "__main__":
    main()
