#!/usr/bin/env python3
"""Compares two tensor dumps written by `hearth run --dump-tensors DIR` (e.g. CPU vs a GPU backend,
or two kernel levels) pass by pass, tensor by tensor in graph order, and reports the largest
absolute difference of each tensor; the first one over --tol is where the backends part.
Usage: dump-diff.py DIR_A DIR_B [--tol 1e-3] [--all]. Exit 1 when a tensor differs by more than tol."""
import argparse
import array
import math
import os
import sys


def read_index(pass_dir):
    rows = []
    with open(os.path.join(pass_dir, "index.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 7:
                rows.append((parts[0], parts[1], tuple(int(x) for x in parts[2:6]), parts[6]))
    return rows


def read_f32(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--all", action="store_true", help="print every tensor, not only the first over tol")
    args = ap.parse_args()
    passes = sorted(p for p in os.listdir(args.a) if p.startswith("pass"))
    if not passes:
        sys.exit(f"dump-diff: no pass*/ folders in {args.a}")
    worst = 0.0
    for p in passes:
        pa, pb = os.path.join(args.a, p), os.path.join(args.b, p)
        if not os.path.isdir(pb):
            sys.exit(f"dump-diff: {pb} is missing")
        rows_b = {r[0]: r for r in read_index(pb)}
        for name, op, shape, dev in read_index(pa):
            if name not in rows_b:
                print(f"{p} {name}: only in {args.a}")
                continue
            if rows_b[name][2] != shape:
                print(f"{p} {name}: shapes differ {shape} vs {rows_b[name][2]}")
                return 1
            x = read_f32(os.path.join(pa, name + ".f32"))
            y = read_f32(os.path.join(pb, name + ".f32"))
            d = max((abs(u - v) for u, v in zip(x, y) if not (math.isnan(u) and math.isnan(v))), default=0.0)
            worst = max(worst, d)
            over = d > args.tol
            if args.all or over:
                print(f"{p} {name:32s} {op:10s} {dev}/{rows_b[name][3]}  max|diff| {d:.3g}")
            if over:
                print(f"dump-diff: first difference over {args.tol} at {p}/{name}")
                return 1
    print(f"dump-diff: {len(passes)} pass(es) agree within {args.tol} (largest difference {worst:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
