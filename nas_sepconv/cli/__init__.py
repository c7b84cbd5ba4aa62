"""The ``nas-sepconv`` command: one sub-command per module, each with ``add_parser`` and ``run``.

Exit codes: 0 done; 2 bad input, a file that cannot be read or written, or a full disk (one line
on stderr, never a traceback); 130 interrupted by Ctrl-C (a search says how to resume); 1 a bug
(its traceback).
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
import warnings
from typing import NoReturn, Sequence

from nas_sepconv.cli import blk_search, confirm, costs, count, decompose, export, report, resume, search, train
from nas_sepconv.core.errors import Interrupted, UserError, cut_message

DESCRIPTION = ("Search for accuracy-vs-#params Pareto frontiers of networks built from separable "
               "convolutions (osep, blk, xsep and DARTS's ops) on NNI, then report, export, train, count "
               "and compress the architectures found. `nas-sepconv COMMAND --help` describes a command.")
EPILOG = "exit codes: 0 done, 2 bad input or an unwritable/full disk, 130 interrupted (Ctrl-C), 1 a bug"
COMMANDS = (search, resume, report, confirm, train, count, export, costs, blk_search, decompose)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to render ``--help``)."""
    from importlib import metadata

    try:
        version = metadata.version("nas-sepconv")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    parser = _Parser(prog="nas-sepconv", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"nas-sepconv {version}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND",
                                title="commands")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    # Noise from NNI's dependencies on import, not actionable by a user of this command.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    warnings.filterwarnings("ignore", message=".*is found to be not a nn.Module")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        return args.run(args) or 0
    except Interrupted as stop:  # Ctrl-C: finished trials saved, resumable
        print(f"nas-sepconv {args.command}: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"nas-sepconv {args.command}: interrupted", file=sys.stderr)
        return 130
    except (UserError, OSError) as err:  # bad input, or a file the user named (missing, unwritable, full disk)
        text = str(err)
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            text = ("no space left on the device of the output files; the files written before are intact, "
                    "free some space and run the command again (a search: nas-sepconv resume RUN)")
        print(f"nas-sepconv {args.command}: error: {cut_message(text, 2000)}", file=sys.stderr)
        return 2
    except Exception:  # a bug, not the user's input: the whole traceback, and exit 1
        traceback.print_exc()
        print(f"nas-sepconv {args.command}: internal error (the traceback above); please report it",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
