"""Shared by ``search`` and ``resume``: progress bar, logging, and the report at the end."""
from __future__ import annotations

import argparse
import logging
import sys

from ..run_dir import RunDir


def run_with_progress(run_dir: RunDir, args: argparse.Namespace) -> None:
    """Run the search of ``run_dir`` with a tqdm bar over trials (ETA) and a log file."""
    from tqdm import tqdm

    from ..search_job import run_search

    _configure_logging(run_dir, args)
    bar = None if args.quiet else tqdm(total=None, unit="trial", desc="search", file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        run_search(run_dir, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def _configure_logging(run_dir: RunDir, args: argparse.Namespace) -> None:
    file_handler = logging.FileHandler(run_dir.path / "run.log", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("nni", "strategies", "nas_sepconv"):
        logger = logging.getLogger(name)
        logger.handlers = [file_handler]
        if args.verbose:
            logger.addHandler(logging.StreamHandler(sys.stderr))
        logger.setLevel(logging.INFO)
        logger.propagate = False


def finish_run(run_dir: RunDir) -> int:
    """Write the report of the finished run and print where it is."""
    from ..report import build_report
    from ..report_pages import report_files
    from ._shared import write_files

    write_files(run_dir.path, report_files(build_report([run_dir])))
    front = run_dir.read_trials()
    print(f"{len(front)} trials; frontier and report in {run_dir.path} (report.html)")
    return 0
