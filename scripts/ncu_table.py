#!/usr/bin/env python3
"""Summarises Nsight Compute profiles of the Lloyd pass (scripts/gpu_check.sh, stage profile) per
point of the data, beside what the pass must move and issue:

  scripts/ncu_table.py --points N --dims D NAME=PROFILE.csv [NAME=PROFILE.csv ...]

PROFILE.csv: `ncu --csv --page raw` output, as the profiled program's stdout has it (the table
after the program's own lines: a header, a row of units, one row per profiled kernel). For each kernel: its time, DRAM bytes read per point against the
4 D bytes of one read of the row, the bytes L2 sent to L1 per point (more than one read of the
row: the kernel's re-reads missed L1), the L1 hit rate of its global loads, warp instructions
per point (bench/README.md has the SASS count they are measured against), issue-slot use,
achieved occupancy, registers and shared memory, shared-memory bank conflicts, and the stall
reasons and pipes that dominate. A metric the profile lacks prints as '-'."""
import csv
import io
import re
import sys


def number(text):
    """A value of the raw page: '1,234.5' or '1234.5' (ncu may group thousands); None if not one."""
    try:
        return float(text.replace(",", ""))
    except (AttributeError, ValueError):
        return None


# Units of the raw page (with --print-units base: byte and nsecond; ncu's default scales them).
SCALE = {"byte": 1, "kbyte": 1e3, "mbyte": 1e6, "gbyte": 1e9, "kibyte": 1024.0, "mibyte": 1024.0**2,
         "gibyte": 1024.0**3, "nsecond": 1, "usecond": 1e3, "msecond": 1e6, "second": 1e9}


def read_profile(path):
    """The kernel rows of a raw CSV page as {column: text}, values in bytes and nanoseconds
    whatever units ncu printed them in (its row of units, after the header, says)."""
    with open(path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    # The profiled program's own output and ncu's (==PROF== ...) come before the table.
    start = next((i for i, line in enumerate(lines) if '"Kernel Name"' in line), None)
    if start is None:
        return []
    rows = list(csv.DictReader(io.StringIO("".join(lines[start:]))))
    units = next((r for r in rows if number(r.get("ID", "")) is None), {})
    kernels = [r for r in rows if (r.get("Kernel Name") or "").strip() and number(r.get("ID", "")) is not None]
    for r in kernels:
        for col, unit in units.items():
            scale = SCALE.get((unit or "").strip().lower())
            v = number(r.get(col))
            if scale not in (None, 1) and v is not None:
                r[col] = repr(v * scale)
    return kernels


def short_name(kernel):
    """'void ns::(anonymous namespace)::f<float, (int)16>(ns::View<float>, int)' -> 'f<float, (int)16>'"""
    name = kernel.strip()
    if name.endswith(")"):  # the parameter list: back to its opening parenthesis
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(name[i], 0)
            if depth == 0:
                name = name[:i]
                break
    name = re.sub(r"^void\s+", "", name)
    head, angle, tail = name.partition("<")
    return head.rsplit("::", 1)[-1] + angle + tail


def top(row, pattern, count):
    """The `count` largest columns whose name matches `pattern` (its first group that matched
    names them)."""
    found = []
    for col, text in row.items():
        m = re.fullmatch(pattern, col or "")
        v = number(text)
        if m and v is not None and v > 0:
            found.append((v, next(g for g in m.groups() if g)))
    found.sort(reverse=True)
    return ", ".join(f"{name} {v:.2f}" for v, name in found[:count]) or "-"


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def summarise(name, row, points, dims):
    lines = []
    get = lambda name: number(row.get(name))
    t_ns = get("gpu__time_duration.sum")
    dram = get("dram__bytes_read.sum")
    l2_to_l1 = get("lts__t_sectors_srcunit_tex_op_read.sum")
    ld_hit = get("l1tex__t_sector_pipe_lsu_mem_global_op_ld_hit_rate.pct")
    if ld_hit is None:
        hits = get("l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum")
        sectors = get("l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum")
        ld_hit = 100.0 * hits / sectors if hits is not None and sectors else None
    inst = get("smsp__inst_executed.sum")
    issue = get("smsp__issue_active.avg.pct_of_peak_sustained_active")
    occ = get("sm__warps_active.avg.pct_of_peak_sustained_active")
    regs = get("launch__registers_per_thread")
    dyn = get("launch__shared_mem_per_block_dynamic")
    static = get("launch__shared_mem_per_block_static")
    config = get("launch__shared_mem_config_size")
    blocks_sm = get("launch__occupancy_limit_shared_mem")
    conflicts = get("l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum")
    row_bytes = 4.0 * dims
    per = lambda v, scale=1.0: None if v is None else v * scale / points
    lines.append(f"{name}: {short_name(row['Kernel Name'])}")
    lines.append(f"  time {fmt(None if t_ns is None else t_ns / 1e3, '.1f')} us; DRAM read "
                 f"{fmt(per(dram), '.1f')} B/point (one read of the row: {row_bytes:.0f}); L2 -> L1 "
                 f"{fmt(per(l2_to_l1, 32.0), '.1f')} B/point; L1 hit rate of global loads "
                 f"{fmt(ld_hit, '.1f')} %")
    lines.append(f"  {fmt(per(inst), '.2f')} warp instructions/point; issue slots busy {fmt(issue, '.1f')} %; "
                 f"achieved occupancy {fmt(occ, '.1f')} %; {fmt(regs, '.0f')} registers; shared "
                 f"{fmt(None if dyn is None else dyn / 1024, '.1f')} KiB dynamic + "
                 f"{fmt(None if static is None else static / 1024, '.1f')} KiB static a block, carveout "
                 f"{fmt(None if config is None else config / 1024, '.0f')} KiB, shared memory allows "
                 f"{fmt(blocks_sm, '.0f')} blocks/SM; bank conflicts {fmt(per(conflicts), '.2f')}/point")
    lines.append("  stalls (cycles per issue): " +
                 top(row, r"smsp__average_warps?_issue_stalled_(.+)_per_issue_active\.ratio", 4))
    lines.append("  busiest pipes (% of peak): " +
                 top(row, r"sm__(?:inst_executed_pipe_(.+)|pipe_(.+)_cycles_active)"
                          r"\.avg\.pct_of_peak_sustained_active", 4))
    return lines


def main(argv):
    points = dims = None
    profiles = []
    it = iter(argv)
    for a in it:
        if a == "--points":
            points = float(next(it))
        elif a == "--dims":
            dims = float(next(it))
        elif "=" in a:
            profiles.append(a.split("=", 1))
        else:
            sys.exit(f"ncu_table: unexpected argument {a!r} (see the docstring)")
    if not points or not dims or not profiles:
        sys.exit("usage: ncu_table.py --points N --dims D NAME=PROFILE.csv ...")
    for name, path in profiles:
        try:
            rows = read_profile(path)
        except OSError as e:
            print(f"{name}: no profile ({e.strerror})")
            continue
        if not rows:
            print(f"{name}: no kernel in {path}")
        for row in rows:
            print("\n".join(summarise(name, row, points, dims)))


if __name__ == "__main__":
    main(sys.argv[1:])
