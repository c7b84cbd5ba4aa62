"""The multi-fidelity tabular benchmark's CSV and the NNI evaluator that looks trials up in it at a budget.

``results/bench/tabular_mf_digits.csv`` (``build_mf_table.py`` says how it is made and what a
budget means) has one row per (architecture, seed, epoch): ``key``, ``seed``, ``epoch``,
``params``, ``flops``, ``accuracy``, ``seconds``. The benchmark's accuracy of an architecture at
budget ``b`` is the mean over the table's seeds of the accuracy after epoch ``b``
(:func:`budget_rows`); one evaluation at budget ``b`` costs ``b`` training epochs (one run; the
mean of two seeds stands in for a less noisy run, and the same rule for every strategy keeps the
ratios honest). :func:`lookup_mf_trial` is the ``FunctionalEvaluator`` function: it takes the
``epochs`` (and ``schedule_epochs``) argument a trial gets, so full-fidelity strategies and MO-ASHA
(``strategies.mo_asha``, which sets ``epochs`` per trial) run through the real NNI engine.

Continued training (MO-ASHA's ``checkpoint_dir``): the lookup takes ``save_checkpoint`` and
``resume_from`` as ``evaluate_sample`` does. A table run's "checkpoint" is a small JSON file
naming the architecture and the epochs done (the table already holds every epoch of the one
8-epoch run, so continuing it to budget ``b`` gives the accuracy after epoch ``b`` of that run,
as real continued training does); a trial that continues one reports ``trained_epochs`` =
``b`` minus the checkpoint's epoch, so the strategy's own accounting is the cost
(:func:`table_checkpoint`).
"""
from __future__ import annotations

import csv
import functools
import io
import json
import os
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Iterable

import nni
import numpy as np
from tabular_space import choice_key, edge_sample
from tabular_table import TABLE_PATH, Row, write_table

from nas_sepconv.core.io import atomic_write_json

MF_TABLE_PATH = TABLE_PATH.parent / "tabular_mf_digits.csv"
TOP_EPOCHS = 8
SEEDS = (0, 1)


@dataclass(frozen=True)
class MFRow:
    """The accuracy of one architecture after ``epoch`` epochs of the run with ``seed``."""

    key: str
    seed: int
    epoch: int
    params: int
    flops: int
    accuracy: float
    seconds: float


MF_COLUMNS = tuple(f.name for f in fields(MFRow))


def read_mf_table(path: str | Path = MF_TABLE_PATH) -> list[MFRow]:
    """The rows of a multi-fidelity table file, in file order (an absent file has none); a
    run appended twice (two builders racing) keeps its first rows."""
    path = Path(path)
    if not path.exists():
        return []
    rows, seen = [], set()
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["key"] == "key" or not r.get("seconds"):   # a repeated header or a torn last line
                continue
            row = MFRow(r["key"], int(r["seed"]), int(r["epoch"]), int(r["params"]), int(r["flops"]),
                        float(r["accuracy"]), float(r["seconds"]))
            if (row.key, row.seed, row.epoch) not in seen:
                seen.add((row.key, row.seed, row.epoch))
                rows.append(row)
    return rows


def append_rows(rows: Iterable[MFRow], path: str | Path) -> None:
    """Append ``rows`` to ``path`` in one ``write`` (the header first if the file is new)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [] if path.exists() and path.stat().st_size else [",".join(MF_COLUMNS)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(astuple(row) for row in rows)
    text = "".join(line + "\n" for line in lines) + buffer.getvalue()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def budget_rows(path: str | Path, epochs: int, seeds: Iterable[int] = SEEDS) -> dict[str, Row]:
    """The table at budget ``epochs`` as ``tabular_table.Row`` s keyed by architecture: accuracy the
    mean over ``seeds`` at that epoch, ``seconds`` their mean wall time (architectures lacking one
    of the seeds are left out); read once per process."""
    return _budget_rows(str(path), int(epochs), tuple(sorted(int(s) for s in seeds)))


@functools.lru_cache(maxsize=16)
def _budget_rows(path: str, epochs: int, seeds: tuple[int, ...]) -> dict[str, Row]:
    groups: dict[str, dict[int, MFRow]] = {}
    for row in read_mf_table(path):
        if row.epoch == epochs and row.seed in seeds:
            groups.setdefault(row.key, {})[row.seed] = row
    return {key: Row(key, "", rows[seeds[0]].params, rows[seeds[0]].flops,
                     float(np.mean([r.accuracy for r in rows.values()])), float(np.mean([r.seconds for r in rows.values()])))
            for key, rows in groups.items() if set(rows) == set(seeds)}


def top_table_csv(path: str | Path, out: str | Path, epochs: int = TOP_EPOCHS, seeds: Iterable[int] = SEEDS) -> Path:
    """Write the table at budget ``epochs`` (mean over ``seeds``) in ``tabular_digits.csv``'s format
    (with samples), so ``tabular_table.lookup_trial`` and the full-fidelity benchmarks run on it unchanged."""
    rows = budget_rows(path, epochs, seeds)
    return write_table([Row(r.key, json.dumps(edge_sample(json.loads(r.key)), sort_keys=True, separators=(",", ":")),
                            r.params, r.flops, r.accuracy, r.seconds) for r in rows.values()], out)


def table_checkpoint(key: str, epochs: int, resume_from: str | None = None,
                     save_checkpoint: str | None = None) -> dict[str, Any]:
    """The training-state part of a looked-up trial of architecture ``key`` at budget ``epochs``:
    continue ``resume_from`` if it is this architecture's run at most ``epochs`` epochs in (else from
    scratch, with a ``note``), write ``save_checkpoint``; ``{'trained_epochs', ['resumed_from'], ['note']}``."""
    done, note = 0, ""
    if resume_from is not None:
        try:
            saved = json.loads(Path(resume_from).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            saved, note = {}, f"trained from scratch: checkpoint unreadable ({type(err).__name__})"
        if saved.get("key") == key and isinstance(saved.get("epoch"), int) and 1 <= saved["epoch"] <= epochs:
            done = saved["epoch"]
        elif not note:
            note = "trained from scratch: the checkpoint is of another run"
    if save_checkpoint is not None:
        atomic_write_json(save_checkpoint, {"key": key, "epoch": int(epochs)})
    out: dict[str, Any] = {"trained_epochs": int(epochs) - done}
    if resume_from is not None:
        out["resumed_from"] = done
    return {**out, "note": note} if note else out


def lookup_mf_trial(model: Any, table: str, epochs: int = TOP_EPOCHS, schedule_epochs: int | None = None,
                    seeds: Iterable[int] = SEEDS, resume_from: str | None = None,
                    save_checkpoint: str | None = None) -> dict:
    """NNI trial that reports the table's result at budget ``epochs`` (mean over ``seeds``) for the
    frozen ``TabularSubspace`` ``model``: ``{'default': accuracy, 'params', 'flops', 'epochs', 'seed',
    'trained_epochs'}``, as ``evaluate_sample`` does (``resume_from``/``save_checkpoint``:
    :func:`table_checkpoint`). ``schedule_epochs`` must be the table's top budget (or absent)."""
    if schedule_epochs not in (None, TOP_EPOCHS):
        raise ValueError(f"the table's runs have a {TOP_EPOCHS}-epoch schedule, got schedule_epochs {schedule_epochs}.")
    key = choice_key(model.choice)
    row = budget_rows(table, epochs, seeds)[key]
    metric = {"default": row.accuracy, "params": row.params, "flops": row.flops, "epochs": int(epochs), "seed": 0,
              **table_checkpoint(key, int(epochs), resume_from, save_checkpoint)}
    nni.report_final_result(metric)
    return metric
