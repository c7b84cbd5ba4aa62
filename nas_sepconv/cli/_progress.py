"""Shared by ``search``, ``resume`` and ``confirm``: progress bar, logging, and the report at the end."""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from nas_sepconv.runs.run_dir import LOG, RunDir


def run_with_progress(run_dir: RunDir, args: argparse.Namespace, port: int | None = None) -> None:
    """Run the search of ``run_dir`` with a tqdm bar over trials (ETA) and a log file; ``port``
    (ts engine) is where NNI's manager and web portal listen."""
    from tqdm import tqdm

    from nas_sepconv.runs.job import run_search

    bar = None if args.quiet else tqdm(total=None, unit="trial", desc="search", file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        with logging_to(run_dir, args.verbose):
            run_search(run_dir, progress=progress, device=getattr(args, "device", None), port=port)
    finally:
        if bar is not None:
            bar.close()


@contextlib.contextmanager
def logging_to(run_dir: RunDir, verbose: bool):
    """Send NNI's and our loggers to run.log (and stderr with ``verbose``) for the search,
    then put them back as they were. NNI is imported first: on import it adds its own stdout handler,
    which would otherwise come back after the swap."""
    from nas_sepconv.core.quiet import import_nni

    import_nni()
    file_handler = logging.FileHandler(run_dir.path / LOG, encoding="utf-8", delay=True)  # no file until a line
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers = [file_handler] + ([logging.StreamHandler(sys.stderr)] if verbose else [])
    loggers = [logging.getLogger(name) for name in ("nni", "strategies", "nas_sepconv")]
    saved = [(lg, lg.handlers, lg.level, lg.propagate) for lg in loggers]
    for logger in loggers:
        logger.handlers, logger.propagate = list(handlers), False
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, old_handlers, level, propagate in saved:
            logger.handlers, logger.propagate = old_handlers, propagate
            logger.setLevel(level)
        file_handler.close()


def finish_run(run_dir: RunDir) -> int:
    """Write the report of the finished run and print where it is."""
    from nas_sepconv.cli._shared import write_files
    from nas_sepconv.runs.pages import report_files
    from nas_sepconv.runs.report import build_report

    write_files(run_dir.path, report_files(build_report([run_dir, *run_dir.baselines()])))
    front = run_dir.read_trials()
    print(f"{len(front)} trials; frontier and report in {run_dir.path} (report.html)")
    return 0
