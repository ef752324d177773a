#!/usr/bin/env python3
"""segcore CUDA emulator: rewrites a .cu file into C++ the host compiler accepts.

Two constructs have no C++ spelling, and only these change:
  kernel<<<grid, block[, shmem[, stream]]>>>(args)
      -> ::segcore_emu::launch("kernel", kernel, grid, block[, shmem[, stream]])(args)
  extern __shared__ [__align__(n)] T name[];
      -> T* name = reinterpret_cast<T*>(::segcore_emu::dynamic_shared());
Line breaks are kept and a #line directive names the original file, so compiler messages and
__FILE__/__LINE__ point into the .cu source.

usage: rewrite.py INPUT.cu OUTPUT.cpp
"""
import re
import sys

SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([^;\[\]]+?)\s+(\w+)\s*\[\s*\]\s*;")


def kernel_start(src, end):
    """Start of the kernel expression that ends just before src[end] (a name, maybe with
    ::-qualification and one set of template arguments)."""
    i = end
    while i > 0 and src[i - 1].isspace():
        i -= 1
    if src[i - 1] == ">":  # template arguments: walk back to the matching '<'
        depth = 0
        while True:
            i -= 1
            c = src[i]
            if c == ">":
                depth += 1
            elif c == "<":
                depth -= 1
                if depth == 0:
                    break
        while i > 0 and src[i - 1].isspace():
            i -= 1
    while i > 0 and (src[i - 1].isalnum() or src[i - 1] in "_:"):
        i -= 1
    return i


def rewrite_launches(src):
    out = []
    pos = 0
    while True:
        at = src.find("<<<", pos)
        if at < 0:
            out.append(src[pos:])
            return "".join(out)
        start = kernel_start(src, at)
        close = src.find(">>>", at)
        if close < 0:
            sys.exit(f"rewrite.py: no >>> after the <<< at offset {at}")
        paren = close + 3
        while src[paren].isspace():
            paren += 1
        if src[paren] != "(":
            sys.exit(f"rewrite.py: cannot parse the launch at offset {at}")
        kernel = src[start:at]  # any line break before <<< stays
        name = " ".join(kernel.split())
        config = src[at + 3:close]
        out.append(src[pos:start])
        out.append(f'::segcore_emu::launch("{name}", {kernel}, {config})')
        out.append(src[close + 3:paren])  # keeps any line break before the arguments
        pos = paren


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, dest = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        src = f.read()
    src = SHARED.sub(
        lambda m: f"{m.group(1)}* {m.group(2)} = "
        f"reinterpret_cast<{m.group(1)}*>(::segcore_emu::dynamic_shared());", src)
    src = rewrite_launches(src)
    text = f'#line 1 "{path}"\n' + src
    try:
        with open(dest, encoding="utf-8") as f:
            if f.read() == text:
                return  # unchanged: keep the timestamp, no rebuild
    except OSError:
        pass
    with open(dest, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
