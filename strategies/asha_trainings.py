"""What MO-ASHA (``strategies.mo_asha``) hands each trial: its budget, and the files of continued training.

:func:`budget_evaluator` copies a ``FunctionalEvaluator`` with the job's ``epochs`` and
``schedule_epochs`` and, when training continues, the paths of the checkpoints the trial writes
(``save_checkpoint``) and continues from (``resume_from``), the arguments of
``nas_sepconv.evaluation.trial.evaluate_sample``. :class:`TrainingFolder` is the folder of those
checkpoints, one file per trial id (``trial-<id>.pt``), on the file system the trials share (the
sequential engine's process, the pool engine's forked workers, training-service processes).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import clean_stale_tmp

_logger = logging.getLogger(__name__)
PATH_ARGUMENTS = ("resume_from", "save_checkpoint")


class TrainingFolder:
    """The training checkpoints of a search's trials, by trial id (an absolute folder)."""

    def __init__(self, path: str | os.PathLike) -> None:
        if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or not str(path):
            raise UserError(f"`checkpoint_dir` must be a folder path, got {path!r}.")
        self.path = Path(path).expanduser().resolve()
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"`checkpoint_dir` {self.path} exists and is not a folder.")

    def __repr__(self) -> str:
        return f"TrainingFolder({str(self.path)!r})"

    def of(self, trial_id: int) -> Path:
        return self.path / f"trial-{int(trial_id)}.pt"

    def has(self, trial_id: int) -> bool:
        return self.of(trial_id).is_file()

    def files(self) -> list[Path]:
        return sorted(self.path.glob("trial-*.pt")) if self.path.is_dir() else []

    def trial_ids(self) -> list[int]:
        """The ids of the trials whose checkpoint is in the folder (the names :meth:`of` gives)."""
        return [int(f.stem.split("-", 1)[1]) for f in self.files()]

    def prepare(self) -> None:
        """Make the folder; drop the temporary files of writers a kill stopped (no trial runs yet)."""
        self.path.mkdir(parents=True, exist_ok=True)
        clean_stale_tmp(self.path, min_age=0.0)

    def remove(self, trial_id: int) -> None:
        try:
            self.of(trial_id).unlink(missing_ok=True)
        except OSError as err:   # a checkpoint left over costs disk space, never a wrong result
            _logger.warning("Could not remove the training checkpoint of trial %d: %s", trial_id, err)

    def clear(self) -> int:
        """Remove every checkpoint (and the folder once empty); the number removed."""
        files = self.files()
        for file in files:
            file.unlink(missing_ok=True)
        if self.path.is_dir():
            clean_stale_tmp(self.path, min_age=0.0)
            try:
                self.path.rmdir()
            except OSError:
                pass   # something else lives there: leave it
        return len(files)


def budget_evaluator(evaluator: Any, epochs: int, schedule_epochs: int, *, resume_from: str | None = None,
                     save_checkpoint: str | None = None) -> Any:
    """A copy of a ``FunctionalEvaluator`` that trains ``epochs`` epochs of a ``schedule_epochs`` run,
    continuing the checkpoint ``resume_from`` and writing one to ``save_checkpoint`` if given."""
    from nni.nas.evaluator import FunctionalEvaluator  # after .base quieted NNI's import

    if not isinstance(evaluator, FunctionalEvaluator):
        raise UserError(f"MO-ASHA sets each trial's epochs through a FunctionalEvaluator's arguments, "
                        f"got {type(evaluator).__name__}.")
    arguments = {k: v for k, v in evaluator.arguments.items() if k not in PATH_ARGUMENTS}
    paths = {k: v for k, v in (("resume_from", resume_from), ("save_checkpoint", save_checkpoint)) if v is not None}
    return FunctionalEvaluator(evaluator.function, **{**arguments, "epochs": epochs, "schedule_epochs": schedule_epochs,
                                                     **paths})
