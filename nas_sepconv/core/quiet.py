"""Import NNI without the noise its dependencies print on import.

NNI 3.0 pulls in lightning (a ``pkg_resources is deprecated`` UserWarning), wraps torch's
classes (a "... is found to be not a nn.Module" RuntimeWarning per class torch added after
NNI 3.0) and, through tianshou, gym (a 4-line banner printed to stderr by ``gym_notices``).
None of it is actionable by a user of this package; :func:`import_nni` imports the NNI
modules we use once, with exactly these warnings filtered and the banner swallowed.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import sys
import warnings

NNI_MODULES = ("nni", "nni.nas.nn.pytorch", "nni.nas.strategy", "nni.nas.experiment", "nni.nas.evaluator")


def import_nni() -> None:
    """Import ``NNI_MODULES`` quietly (a no-op once they are imported)."""
    if all(name in sys.modules for name in NNI_MODULES):
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        warnings.filterwarnings("ignore", message=".*is found to be not a nn.Module")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        banner = io.StringIO()
        with contextlib.redirect_stderr(banner):
            for name in NNI_MODULES:
                importlib.import_module(name)
    kept = [line for line in banner.getvalue().splitlines() if line.strip() and not _is_gym_banner(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)


def _is_gym_banner(line: str) -> bool:
    return any(words in line for words in ("Gym has been unmaintained", "upgrade to Gymnasium",
                                           "Users of this version of Gym", "gymnasium.farama.org"))
