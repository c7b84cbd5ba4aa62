"""``trials.csv`` and ``frontier.csv``: one row per ended trial (a ``TrialRecord``), as CSV.

Columns: id, genotype (compact JSON), params, flops, accuracy, epochs, seed, seconds, status,
reason, trained_epochs (the epochs the trial itself trained, its cost: fewer than ``epochs`` for a
multi-fidelity promotion that continued a checkpoint; empty when unknown), then columns derived
from those for people and spreadsheets: ``is_pareto`` (1 when the trial is on the run's
frontier), ``share_<family>`` per registered op family (share of edges or blocks,
``nas_sepconv.genotypes.composition``) and ``internals`` (the op internals used).
Reading needs only the first eleven columns, so files written before the derived ones still
read; files written before ``trained_epochs`` (their header starts with ``OLD_COLUMNS``) read
with it unknown. A row is written only for an ended trial that knows its genotype; an 'ok' row
must know every objective, its fidelity and its seed. A failed row may lack accuracy or costs.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable

from nas_sepconv.core.errors import UserError, cut_message
from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.genotypes.architecture import architecture_from_json
from nas_sepconv.genotypes.composition import composition, families

#: The columns of files written before ``trained_epochs`` was one.
OLD_COLUMNS = ("id", "genotype", "params", "flops", "accuracy", "epochs", "seed", "seconds", "status", "reason")
COLUMNS = (*OLD_COLUMNS, "trained_epochs")


def check_row(record: TrialRecord) -> TrialRecord:
    """``record`` if it can be a row of ``trials.csv`` (see the module docstring)."""
    if not isinstance(record, TrialRecord):
        raise UserError(f"a trial row must be a TrialRecord, got {type(record).__name__}.")
    if record.genotype is None:
        raise UserError(f"trial {record.id} has no genotype, so it cannot be a row.")
    return record.check_ended()


def _cell(record: TrialRecord, name: str) -> str:
    value = getattr(record, name)
    if name == "genotype":
        return json.dumps(value.to_dict(), separators=(",", ":"))
    if name == "seconds" and value is not None:
        return f"{value:.3f}"
    return "" if value is None else (repr(value) if isinstance(value, float) else str(value))


def derived_columns() -> tuple[str, ...]:
    """The columns after ``COLUMNS``: is_pareto, one share per registered family, internals."""
    return ("is_pareto", *(f"share_{family}" for family in families()), "internals")


def _derived(record: TrialRecord, pareto: set[int]) -> list[str]:
    found = composition(record.genotype)
    shares = [f"{found.shares.get(family, 0.0):.4g}" for family in families()]
    return [str(int(record.id in pareto)), *shares, " ".join(found.internals)]


def rows_to_csv(records: Iterable[TrialRecord], pareto: Iterable[int] = ()) -> str:
    """CSV text with a header of ``COLUMNS`` and the derived columns; the genotype column is
    compact JSON; ``pareto`` holds the ids of the frontier trials."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS + derived_columns())
    pareto = set(pareto)
    for record in records:
        writer.writerow([_cell(check_row(record), name) for name in COLUMNS] + _derived(record, pareto))
    return buffer.getvalue()


def _parse(name: str, text: str) -> Any:
    if name in ("status", "reason"):
        return text
    if name == "genotype":
        return architecture_from_json(text)
    if text == "":
        return None
    if name == "id" and not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise UserError(f"`id` must be a whole number >= 0 written in digits, got {text[:40]!r}.")
    try:
        return int(text) if name in ("id", "params", "flops", "epochs", "seed", "trained_epochs") else float(text)
    except ValueError:
        raise UserError(f"`{name}` must be a number, got {text!r}.") from None


def _record(cells: dict[str, Any]) -> TrialRecord:
    if cells["id"] is None:
        raise UserError("`id` must be a trial number, got ''.")
    return check_row(TrialRecord.ended(**cells))


def rows_from_csv(text: str, source: str = "trials.csv") -> list[TrialRecord]:
    """Parse ``rows_to_csv`` output; a bad cell is a UserError naming ``source`` and the line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    columns = next((c for c in (COLUMNS, OLD_COLUMNS) if header is not None and tuple(header[:len(c)]) == c), None)
    if columns is None:
        raise UserError(f"{source} must start with the header {','.join(COLUMNS)}, got {header!r}.")
    rows = []
    line = 1
    try:
        for line, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                raise UserError(f"{source} line {line}: must have {len(header)} cells, got {len(cells)}.")
            try:
                rows.append(_record({name: _parse(name, cell) for name, cell in zip(columns, cells)}))
            except RecursionError:
                raise UserError(f"{source} line {line}: the genotype is nested too deeply to be one.") from None
            except UserError as err:
                raise UserError(f"{source} line {line}: {cut_message(err)}") from None
    except csv.Error as err:
        raise UserError(f"{source} line {line + 1}: not a trial row ({err}).") from None
    ids = [row.id for row in rows]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"{source} must have unique trial ids, got {duplicate!r} twice.")
    return rows
