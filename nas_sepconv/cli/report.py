"""``nas-sepconv report``: regenerate one run's report or overlay several runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from nas_sepconv.cli._shared import check_writable, write_files
from nas_sepconv.runs.run_dir import RunDir, unique_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="frontier plots, hypervolume and tables of one run or several",
                       description=__doc__.split("``: ")[1] + " Writes frontier.png/.svg (points coloured by "
                       "dominant op family, frontier ids, references), op_frequency.png (frontier vs population), "
                       "hypervolume.png, genotype_ID.png per frontier point, report.html (self-contained; hover a "
                       "point for its id, costs, accuracy and genotype) and report.md, with the reference-dominance "
                       "statement and hypervolume normalised by the run's box. A run's --baseline runs are "
                       "included; several runs share one figure, runs differing only in the seed get the spread "
                       "of their hypervolume and attainment.png (empirical attainment surfaces); a confirmed "
                       "run (nas-sepconv confirm) adds confirmed.png and verdicts against the seed spread.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories (results/...)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: the run itself for one run, a new "
                        "results/<time>-compare directory for several)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas_sepconv.runs.pages import report_files
    from nas_sepconv.runs.report import build_report  # matplotlib loads only when a report is drawn

    runs = [RunDir.open(path) for path in args.runs]
    runs += [base for run in runs for base in run.baselines()]
    files = report_files(build_report(runs))
    if args.out is not None:
        out = check_writable(args.out)
    elif len(args.runs) == 1:
        out = runs[0].path
    else:
        out = unique_dir("results", "compare")
    for path in write_files(out, files):
        print(f"wrote {path}")
    return 0
