"""Every evaluated architecture of a search, with its objective vector, and the frontier.

The multi-objective rule: keep every evaluated point with its objective vector, seed,
fidelity (epochs) and status; compute the frontier, never pick it; measure hypervolume
against a declared reference point stored with the results. A :class:`TrialRecord`
(``nas_sepconv.evaluation.record``, the same type the run directory writes) is one trial;
the :class:`Archive` holds all of them (running, ok and failed), keyed by trial id,
and answers frontier / hypervolume / knee questions through ``nas_sepconv.frontier.pareto``.
Failed trials never enter the frontier. ``to_dict``/``from_dict`` give plain JSON.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_json
from nas_sepconv.evaluation.record import FAILED, FINISHED, OK, TrialRecord, reported_count
from nas_sepconv.frontier.objectives import DEFAULT_OBJECTIVES, check_objectives, senses
from nas_sepconv.frontier.pareto import (
    ReferencePoint,
    check_reference,
    hypervolume,
    knee_point,
    pareto_front,
    project_reference,
)


def sample_key(sample: Mapping[str, Any]) -> str:
    """Canonical text of an NNI sample (sorted-key JSON): equal samples, equal keys."""
    return json.dumps(sample, sort_keys=True, separators=(",", ":"), default=str)


class Archive:
    """All trials of one search (any status), in id order, with the frontier on demand.

    ``objectives`` are the default objective names (``nas_sepconv.frontier.objectives``); ``reference`` is
    the declared hypervolume reference point, a ``ReferencePoint`` over the same names.
    """

    def __init__(self, objectives: Sequence[str] = DEFAULT_OBJECTIVES,
                 reference: ReferencePoint | None = None, records: Iterable[TrialRecord] = ()) -> None:
        self.objectives = check_objectives(objectives)
        if reference is not None:
            check_reference(reference, self.objectives)
        self.reference = reference
        self._records: dict[int, TrialRecord] = {}
        for record in records:
            self.add(record)

    def add(self, record: TrialRecord) -> None:
        """Insert ``record``, replacing an earlier one with the same id (e.g. a running one)."""
        self._records[record.id] = record

    def discard(self, trial_id: int) -> None:
        self._records.pop(trial_id, None)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, trial_id: int) -> bool:
        return trial_id in self._records

    def __getitem__(self, trial_id: int) -> TrialRecord:
        return self._records[trial_id]

    @property
    def records(self) -> list[TrialRecord]:
        """Every record, by increasing id."""
        return [self._records[i] for i in sorted(self._records)]

    def with_status(self, *statuses: str) -> list[TrialRecord]:
        return [r for r in self.records if r.status in statuses]

    def keys(self, *statuses: str) -> set[str]:
        """Canonical keys of the records with any of ``statuses`` (all records if none given)."""
        return {r.key for r in self.records if not statuses or r.status in statuses}

    def points(self, records: Sequence[TrialRecord], objectives: Sequence[str] | None = None) -> np.ndarray:
        """Objective matrix (one row per record) in the order of ``objectives``."""
        names = check_objectives(objectives or self.objectives)
        missing = [(r.id, n) for r in records for n in names if n not in r.objectives]
        if missing:
            raise UserError(f"records lack objective values (trial id, objective): {missing[:5]}.")
        return np.array([[r.objectives[n] for n in names] for r in records], dtype=float).reshape(-1, len(names))

    def frontier(self, objectives: Sequence[str] | None = None) -> list[TrialRecord]:
        """Non-dominated 'ok' records (failed and running ones excluded), by id."""
        names = check_objectives(objectives or self.objectives)
        ok = self.with_status(OK)
        return [ok[i] for i in pareto_front(self.points(ok, names), senses(names))]

    def hypervolume(self, objectives: Sequence[str] | None = None,
                    reference: ReferencePoint | None = None) -> float:
        """Hypervolume of the 'ok' records against ``reference`` (default: the stored one,
        restricted to ``objectives`` when they are a subset of its objectives)."""
        names = check_objectives(objectives or self.objectives)
        reference = reference or self.reference
        if reference is None:
            raise UserError("`reference` must be given: this archive stores no reference point.")
        reference = project_reference(reference, names)
        return hypervolume(self.points(self.with_status(OK), names), senses(names), reference)

    def knee(self, objectives: Sequence[str] | None = None) -> TrialRecord:
        """The knee record of the frontier (``nas_sepconv.frontier.pareto.knee_point``)."""
        names = check_objectives(objectives or self.objectives)
        front = self.frontier(names)
        if not front:
            raise UserError("the archive has no 'ok' record, so no knee point.")
        return front[knee_point(self.points(front, names), senses(names))]

    def to_dict(self) -> dict[str, Any]:
        return {"objectives": list(self.objectives),
                "reference": None if self.reference is None else self.reference.to_dict(),
                "records": [r.to_dict() for r in self.records]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Archive":
        reference = data.get("reference")
        return cls(data["objectives"], None if reference is None else ReferencePoint.from_dict(reference),
                   [TrialRecord.from_dict(r) for r in data["records"]])

    def save(self, path: str | Path) -> Path:
        """Atomically write the archive as JSON."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Archive":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def record_from_metric(running: TrialRecord, metric: Any, required: Sequence[str]) -> TrialRecord:
    """The ended record of ``running`` from its final NNI metric.

    ``metric`` is a number (the accuracy) or a dict with ``'default'`` (the accuracy) and
    optionally ``params``, ``flops``, ``status``, ``reason``, ``seed``, ``epochs``,
    ``trained_epochs``, ``seconds`` (what ``nas_sepconv.evaluation.trial.evaluate_sample`` reports); other entries go to
    ``extra``. Reported costs replace the analytic ones already in ``running.objectives``.
    A non-finite accuracy, or a ``required`` objective that is still unknown, fails the trial.
    """
    data = dict(metric) if isinstance(metric, Mapping) else {"default": metric}
    raw_accuracy = data.pop("default", None)
    objectives = dict(running.objectives)
    for name in ("params", "flops"):
        value = _finite(data.pop(name, None))
        if value is not None:
            objectives[name] = value
    status, reason = str(data.pop("status", OK)), str(data.pop("reason", ""))
    seed, epochs, seconds = (data.pop(k, None) for k in ("seed", "epochs", "seconds"))
    trained = reported_count(data.get("trained_epochs"))
    if trained is not None:   # else (not a count) it stays in `extra` as reported
        del data["trained_epochs"]
    accuracy = _finite(raw_accuracy)
    if accuracy is not None and status == OK:  # a failure reports a placeholder 'default' (NNI needs one)
        objectives["accuracy"] = accuracy
    missing = [n for n in required if n not in objectives]
    if status not in FINISHED:
        status, reason = FAILED, f"unknown trial status {status!r}"
    elif status == OK and accuracy is None:
        status, reason = FAILED, f"non-finite accuracy {raw_accuracy!r}"
    elif status == OK and missing:
        status, reason = FAILED, f"objective values {missing} neither reported nor computable"
    return replace(running, objectives=objectives, status=status, reason=reason,
                   seed=None if seed is None else int(seed), epochs=None if epochs is None else int(epochs),
                   trained_epochs=trained, seconds=_finite(seconds), extra={k: _plain(v) for k, v in data.items()})


def _plain(value: Any) -> Any:
    """``value`` if JSON can store it, else its text (the archive must stay JSON)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


def record_without_metric(running: TrialRecord, reason: str) -> TrialRecord:
    """The failed record of a trial that ended without a final metric (``reason`` says how)."""
    return replace(running, status=FAILED, reason=reason)
