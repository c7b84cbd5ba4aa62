"""``nas-sepconv confirm``: retrain a run's frontier and references with more seeds or epochs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas_sepconv.runs.run_dir import RunDir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("confirm", help="retrain frontier architectures and references with several seeds",
                       description=__doc__.split("``: ")[1] + " Each retraining is kept as "
                       "RUN/confirm/<arch>/seed<S>-epochs<E>.json (a rerun skips those already there); "
                       "RUN/confirmed.csv holds per architecture the accuracy of each seed, mean and std, and "
                       "the report is rewritten with error bars, the frontier on confirmed means and verdicts.")
    p.add_argument("run_path", type=Path, metavar="RUN", help="the run directory (results/...)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per architecture: the run's seed and the next "
                   "ones (default 3)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the search's)")
    p.add_argument("--top", type=int, default=None, help="only the K most accurate frontier points (default all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar: only the results and where the report is")
    p.add_argument("--verbose", action="store_true", help="log every retraining to the terminal too")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from nas_sepconv.cli._progress import finish_run, logging_to
    from nas_sepconv.core.validation import check_positive_int
    from nas_sepconv.runs.confirm import run_confirm

    for name in ("seeds", "epochs", "top"):
        if getattr(args, name) is not None:
            check_positive_int(name, getattr(args, name))
    run_dir = RunDir.open(args.run_path)
    bar = None if args.quiet else tqdm(total=None, unit="training", desc="confirm", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total, bar.n = total, done
            bar.refresh()

    try:
        with logging_to(run_dir, args.verbose):  # NNI's per-epoch trial logs go to RUN/run.log, as in `search`
            rows = run_confirm(run_dir, seeds=args.seeds, epochs=args.epochs, top=args.top, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    for row in rows:
        print(f"{row.label}: {row.params:,} params, accuracy {row.mean:.4f} ± {row.std:.4f} over seeds "
              f"{' '.join(map(str, row.seeds))}")
    return finish_run(run_dir)
