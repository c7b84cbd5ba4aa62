"""The tabular benchmark's CSV and the NNI evaluator that looks trials up in it.

``results/bench/tabular_digits.csv`` has one row per architecture of the sub-space
(``tabular_space``): ``key`` (slot choices, sorted JSON), ``sample`` (the
``SepConvDartsSpace`` labels the architecture uses, JSON), ``params`` and ``flops`` (measured on the built model
by ``evaluate_sample``), ``accuracy`` (after the fixed training budget) and ``seconds``.
:func:`lookup_trial` is a ``FunctionalEvaluator`` function: instead of training, it reports
the table's numbers as the dict metric a real trial reports, so strategies run through the
real NNI engine at table speed.
"""
from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Iterable

import nni
import numpy as np
from tabular_space import choice_key

from nas_sepconv.core.io import atomic_write_text
from nas_sepconv.frontier.objectives import DEFAULT_OBJECTIVES, senses
from nas_sepconv.frontier.pareto import ReferencePoint, hypervolume, pareto_front, reference_for

TABLE_PATH = Path(__file__).resolve().parents[2] / "results" / "bench" / "tabular_digits.csv"
OBJECTIVES = DEFAULT_OBJECTIVES  # the table records accuracy and #params


@dataclass(frozen=True)
class Row:
    """One trained architecture of the table."""

    key: str
    sample: str
    params: int
    flops: int
    accuracy: float
    seconds: float


COLUMNS = tuple(f.name for f in fields(Row))


def read_table(path: str | Path = TABLE_PATH) -> list[Row]:
    """The rows of a table file, in file order (an absent file has none)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [Row(r["key"], r["sample"], int(r["params"]), int(r["flops"]), float(r["accuracy"]),
                    float(r["seconds"])) for r in csv.DictReader(fh)]


def write_table(rows: Iterable[Row], path: str | Path = TABLE_PATH) -> Path:
    """Atomically (re)write the table file with ``rows``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(astuple(row) for row in rows)
    return atomic_write_text(path, buffer.getvalue())


@functools.lru_cache(maxsize=4)
def load_table(path: str) -> dict[str, Row]:
    """The table at ``path`` keyed by sample key, read once per process."""
    return {row.key: row for row in read_table(path)}


def lookup_trial(model: Any, table: str) -> dict[str, Any]:
    """NNI trial that reports the table's result for the frozen ``TabularSubspace`` ``model``:
    ``{'default': accuracy, 'params', 'flops'}``, as ``nas_sepconv.evaluation.trial.evaluate_sample`` does."""
    row = load_table(str(table))[choice_key(model.choice)]
    metric = {"default": row.accuracy, "params": row.params, "flops": row.flops}
    nni.report_final_result(metric)
    return metric


def declared_reference(rows: Iterable[Row]) -> ReferencePoint:
    """The benchmark's reference point, declared as the CLI does (``search_job.declare_reference``):
    accuracy 0 and 1.1 times the largest #params of the sub-space."""
    return reference_for(OBJECTIVES, {"accuracy": 0.0, "params": float(np.ceil(1.1 * max(r.params for r in rows)))})


def points(rows: Iterable[Row]) -> np.ndarray:
    """(accuracy, params) matrix of ``rows``."""
    return np.array([[r.accuracy, r.params] for r in rows], dtype=float).reshape(-1, 2)


def frontier(rows: list[Row]) -> list[Row]:
    """The non-dominated rows (accuracy up, #params down)."""
    return [rows[i] for i in pareto_front(points(rows), senses(OBJECTIVES))]


def rows_hypervolume(rows: list[Row], reference: ReferencePoint) -> float:
    """Hypervolume of ``rows`` against ``reference`` (0 for no rows)."""
    return hypervolume(points(rows), senses(OBJECTIVES), reference) if rows else 0.0


def sample_of(row: Row) -> dict[str, Any]:
    return json.loads(row.sample)
