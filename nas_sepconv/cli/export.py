"""``nas-sepconv export``: a run's frontier genotypes as DARTS-style text and JSON files."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from nas_sepconv.cli._shared import write_files
from nas_sepconv.core.errors import UserError
from nas_sepconv.genotypes.architecture import is_backbone
from nas_sepconv.runs.run_dir import RunDir, frontier


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's frontier genotypes as DARTS text and JSON",
                       description=__doc__.split("``: ")[1] + " Per frontier trial ID: arch_ID.json (and "
                       "arch_ID.txt, DARTS's Genotype(...) text, for a cell genotype none of whose edges carries "
                       "op parameters, which DARTS text cannot hold); plus genotypes.json with all of them keyed by id. Each "
                       "file loads with load_genotype() and trains with `nas-sepconv train FILE`.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run directory (results/...)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default RUN/export)")
    p.set_defaults(run=run)


def export_files(run: RunDir) -> tuple[dict[str, bytes], list[int]]:
    """The files to write and the ids left without DARTS text (ResNet/MobileNet genotypes, edges with op parameters)."""
    front = frontier(run.read_trials(), run.reference)
    if not front:
        raise UserError(f"run '{run.path}' has no finished trials, so no frontier to export.")
    files: dict[str, bytes] = {}
    no_text = []
    for row in front:
        files[f"arch_{row.id}.json"] = (row.genotype.to_json() + "\n").encode("utf-8")
        if is_backbone(row.genotype) or any(
                edge.params for cell in (row.genotype.normal, row.genotype.reduce) for edge in cell):
            no_text.append(row.id)
        else:
            files[f"arch_{row.id}.txt"] = (row.genotype.to_darts() + "\n").encode("utf-8")
    collection = {str(row.id): row.genotype.to_dict() for row in front}
    files["genotypes.json"] = (json.dumps(collection, indent=2) + "\n").encode("utf-8")
    return files, no_text


def run(args: argparse.Namespace) -> int:
    run_dir = RunDir.open(args.run_dir)
    files, no_text = export_files(run_dir)
    out = args.out if args.out is not None else run_dir.path / "export"
    write_files(out, files)
    count = sum(name.endswith(".json") for name in files) - 1
    print(f"exported {count} frontier genotype(s) of {run_dir.name} to {out}")
    if no_text:
        print(f"no DARTS text for {', '.join(map(str, no_text))}: ResNet genotypes, or edges carrying op parameters "
              f"(JSON only)")
    return 0
