"""One row of a run's trial table: an evaluated architecture and its objective vector.

``TrialRow`` is the record every run file is written from: ``trials.csv`` holds one row per
evaluated architecture, ``frontier.csv`` the non-dominated ones. ``TrialRow.from_record``
converts what a strategy keeps (an object or a mapping with ``sample`` or ``genotype``;
``accuracy``, ``params``, ``flops`` as fields or in an ``objectives`` dict, or NNI's
``default`` for the accuracy) so a strategy archive maps onto the table one record at a time.
A failed trial keeps its reason and may lack accuracy or costs; it never enters a frontier.
"""
from __future__ import annotations

import csv
import io
import json
import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.genotypes.architecture import Architecture, architecture_from_json, is_architecture
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.core.validation import check_choice, check_positive_int

STATUSES = ("ok", "failed")
OBJECTIVE_FIELDS = ("accuracy", "params", "flops")


def _whole(value: Any) -> Any:
    """Integral floats (as objective dicts hold costs) become ints; anything else is kept."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _optional(name: str, value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "int":
        return check_positive_int(name, value, minimum=0)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise UserError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class TrialRow:
    """An evaluated architecture: id, genotype, costs, accuracy in [0, 1], fidelity, outcome.

    ``accuracy``, ``params``, ``flops``, ``epochs`` and ``seed`` may be ``None`` only for a failed
    trial (one that ended without a metric knows none of them); ``seconds`` may always be.
    """

    id: str
    genotype: Architecture
    params: int | None
    flops: int | None
    accuracy: float | None
    epochs: int | None
    seed: int | None
    seconds: float | None = None
    status: str = "ok"
    reason: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.id, numbers.Integral) and not isinstance(self.id, bool):
            object.__setattr__(self, "id", str(self.id))
        if not isinstance(self.id, str) or not self.id or "#" in self.id or self.id != self.id.strip():
            raise UserError(f"`id` must be a non-empty string without '#' or surrounding blanks, got {self.id!r}.")
        if not is_architecture(self.genotype):
            raise UserError(f"`genotype` must be a Genotype or ResNetGenotype, got {type(self.genotype).__name__}.")
        check_choice("status", self.status, STATUSES)
        for name, kind in (("params", "int"), ("flops", "int"), ("accuracy", "real"), ("seconds", "real")):
            object.__setattr__(self, name, _optional(name, getattr(self, name), kind))
        if self.accuracy is not None and self.accuracy > 1:
            raise UserError(f"`accuracy` must be a fraction in [0, 1], got {self.accuracy!r}.")
        if self.status == "ok" and None in (self.params, self.flops, self.accuracy, self.epochs, self.seed):
            raise UserError(f"trial {self.id!r} has status 'ok' but lacks accuracy, params, flops, "
                            f"epochs or seed.")
        if self.epochs is not None:
            object.__setattr__(self, "epochs", check_positive_int("epochs", self.epochs))
        object.__setattr__(self, "seed", _optional("seed", self.seed, "int"))
        if not isinstance(self.reason, str):
            raise UserError(f"`reason` must be a string, got {self.reason!r}.")

    @property
    def ok(self) -> bool:
        """Whether the trial finished and may enter a frontier."""
        return self.status == "ok"

    def objectives(self, names: Iterable[str]) -> tuple[float, ...]:
        """The objective values named ``names`` (fields among ``OBJECTIVE_FIELDS``)."""
        return tuple(float(getattr(self, check_choice("objective", name, OBJECTIVE_FIELDS))) for name in names)

    @classmethod
    def from_record(cls, record: Any, genotype_of: Callable[[Any], Architecture] = Genotype.from_sample
                    ) -> TrialRow:
        """Convert a strategy's trial record: an ``strategies.archive.TrialRecord``, a trial's
        metric dict or any object or mapping with the fields (see the module docstring).

        ``genotype_of`` turns the record's NNI ``sample`` into a genotype when the record has
        no ``genotype``; pass the search space's ``genotype`` to keep its macro settings.
        """
        get = record.get if isinstance(record, Mapping) else lambda key, default=None: getattr(record, key, default)
        values = {**{k: get(k) for k in ("accuracy", "params", "flops")}, **(get("objectives") or {})}
        accuracy = values["accuracy"] if values["accuracy"] is not None else get("default")
        status = get("status") or "ok"
        if status == "failed" and accuracy == 0.0:
            accuracy = None  # NNI needs a 'default' metric; a failure has no accuracy
        genotype = get("genotype")
        if genotype is None and get("sample") is not None:
            genotype = genotype_of(get("sample"))
        return cls(id=get("id"), genotype=genotype, params=_whole(values["params"]), flops=_whole(values["flops"]),
                   accuracy=accuracy, epochs=get("epochs"), seed=get("seed"), seconds=get("seconds"),
                   status=status, reason=get("reason") or "")

COLUMNS = tuple(f.name for f in fields(TrialRow))


def _cell(row: TrialRow, name: str) -> str:
    value = getattr(row, name)
    if name == "genotype":
        return json.dumps(value.to_dict(), separators=(",", ":"))
    if name == "seconds" and value is not None:
        return f"{value:.3f}"
    return "" if value is None else (repr(value) if isinstance(value, float) else str(value))


def rows_to_csv(rows: Iterable[TrialRow]) -> str:
    """CSV text with a header of ``COLUMNS``; the genotype column is compact JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row, name) for name in COLUMNS])
    return buffer.getvalue()


def _parse(name: str, text: str) -> Any:
    if name in ("id", "status", "reason"):
        return text
    if name == "genotype":
        return architecture_from_json(text)
    if text == "":
        return None
    try:
        return int(text) if name in ("params", "flops", "epochs", "seed") else float(text)
    except ValueError:
        raise UserError(f"`{name}` must be a number, got {text!r}.") from None


def rows_from_csv(text: str, source: str = "trials.csv") -> list[TrialRow]:
    """Parse ``rows_to_csv`` output; a bad cell is a ValueError naming ``source`` and the line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise UserError(f"{source} must start with the header {','.join(COLUMNS)}, got {header!r}.")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if len(cells) != len(COLUMNS):
            raise UserError(f"{source} line {line}: must have {len(COLUMNS)} cells, got {len(cells)}.")
        try:
            rows.append(TrialRow(**{name: _parse(name, cell) for name, cell in zip(COLUMNS, cells)}))
        except ValueError as err:
            raise UserError(f"{source} line {line}: {err}") from None
    ids = [row.id for row in rows]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"{source} must have unique trial ids, got {duplicate!r} twice.")
    return rows

