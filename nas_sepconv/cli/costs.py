"""``nas-sepconv costs``: exact #params and FLOPs of every registered op for one layer shape."""
from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_text
from nas_sepconv.ops import OPS, op_cost


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("costs", help="table of every op's exact #params and FLOPs for one layer shape",
                       description=__doc__.split("``: ")[1])
    p.add_argument("--c-in", type=int, default=64, help="input channels (default 64)")
    p.add_argument("--c-out", type=int, default=64, help="output channels (default 64)")
    p.add_argument("--stride", type=int, default=1, help="1 or 2 (default 1)")
    p.add_argument("--input-size", type=int, default=32, help="input height = width (default 32)")
    p.add_argument("--ops", nargs="+", default=None, metavar="NAME", help="ops to list (default: all)")
    p.add_argument("--out", type=Path, default=Path("results/costs"),
                   help="directory for costs.csv (default results/costs)")
    p.set_defaults(run=run)


def cost_rows(names: list[str], c_in: int, c_out: int, stride: int, size: int) -> list[dict]:
    """One row per op; ops that reject the shape (e.g. pools with c_in != c_out) are left out."""
    rows = []
    for name in names:
        try:
            cost = op_cost(name, c_in, c_out, stride, input_size=size)
        except ValueError:
            continue
        rows.append({"op": name, "family": OPS[name].family, "params": cost.params, "flops": cost.flops})
    base = next((r for r in rows if r["op"] == "conv_3x3"), None)
    for r in rows:
        r["params_vs_conv3x3"] = round(r["params"] / base["params"], 4) if base else ""
    return rows


def run(args: argparse.Namespace) -> int:
    names = args.ops or sorted(OPS)
    for name in names:
        if name not in OPS:
            raise UserError(f"`--ops` must name registered ops ({', '.join(sorted(OPS))}), got {name!r}")
    op_cost(names[0], args.c_in, args.c_out, args.stride, input_size=args.input_size)  # validates the shape
    rows = cost_rows(names, args.c_in, args.c_out, args.stride, args.input_size)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["op"])
    writer.writeheader()
    writer.writerows(rows)
    path = atomic_write_text(args.out / "costs.csv", buf.getvalue())
    print(f"{'op':<20} {'family':<9} {'params':>12} {'FLOPs':>14} {'vs conv3x3':>10}")
    for r in rows:
        print(f"{r['op']:<20} {r['family']:<9} {r['params']:>12,} {r['flops']:>14,} {r['params_vs_conv3x3']:>10}")
    print(f"wrote {path}")
    return 0
