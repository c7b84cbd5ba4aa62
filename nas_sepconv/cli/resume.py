"""``nas-sepconv resume``: continue a stopped search from its checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path

from nas_sepconv.cli._progress import finish_run, run_with_progress
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.ports import check_port, portal_port, portal_url
from nas_sepconv.evaluation.device import check_device
from nas_sepconv.runs.config import SearchConfig
from nas_sepconv.runs.run_dir import RunDir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue a stopped search", description=__doc__.split("``: ")[1]
                       + " Finished trials are read back from the checkpoint, not trained again.")
    p.add_argument("run_path", type=Path, metavar="RUN", help="the run directory (results/...)")
    p.add_argument("--device", default=None, metavar="{auto,cpu,cuda,cuda:N}",
                   help="where the remaining trials train (default: the run's device)")
    p.add_argument("--port", type=int, default=None,
                   help="ts engine: port of NNI's manager and web portal, 1024-65535 or 0 for a free one "
                        "(default: the run's port setting; a free one if it has none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="log every trial to the terminal")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    run_dir = RunDir.open(args.run_path)
    if args.device is not None:
        check_device(args.device, "--device")
    if args.port is not None:
        check_port("--port", args.port)
    override = {k: v for k, v in (("device", args.device), ("port", args.port)) if v is not None}
    config = SearchConfig.from_run({**run_dir.config, **override})  # a run written by `search`
    port = _port(config.port, args.port) if config.engine == "ts" else None
    if port is not None and not args.quiet:
        print(f"NNI web portal: {portal_url(port)}")
    run_with_progress(run_dir, args, port=port)
    return finish_run(run_dir)


def _port(run_port: int, flag: int | None) -> int:
    """The port this session starts NNI on: ``--port``, else the run's (0: a free one)."""
    try:
        return portal_port(run_port, "--port")
    except UserError:
        if flag is not None:
            raise
        raise UserError(f"the run's `port` {run_port} (its config.json) is in use; give `--port 0` for a free one, "
                        f"or another `--port`.") from None
