"""One trial of a search: the record the strategies archive and the run directory writes.

A :class:`TrialRecord` is what a strategy keeps for every proposal (its NNI ``sample``, the
canonical ``key`` used for duplicate avoidance, the ``generation``) and what ``trials.csv``
holds (the ``genotype``, objective values, fidelity and the epochs actually trained, seed,
seconds, outcome): one type from the proposal to the report. ``status`` is one of ``STATUSES``; a failed trial keeps its ``reason``
and its analytic costs but has no accuracy, and never enters a frontier.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.frontier.objectives import OBJECTIVES
from nas_sepconv.genotypes.architecture import Architecture, architecture_from_dict, is_architecture

#: How a trial stands: proposed and training, finished with a metric, or ended without one.
RUNNING, OK, FAILED = "running", "ok", "failed"
STATUSES = (OK, FAILED, RUNNING)
#: The statuses of a trial that has ended (what run files record).
FINISHED = (OK, FAILED)


def _optional_count(name: str, value: Any, minimum: int) -> int | None:
    return None if value is None else check_positive_int(name, value, minimum=minimum)


def reported_count(value: Any) -> int | None:
    """``value`` if it is a count (an integer >= 0, not a bool) as a metric or an old file may
    report one, else ``None``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0
    return int(value) if ok else None


def _objective(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"`{name}` must be a number, got {value!r}.")
    value = float(value)
    if math.isfinite(value) and (value < 0 or (name == "accuracy" and value > 1)):
        allowed = "a fraction in [0, 1]" if name == "accuracy" else "a finite number >= 0"
        raise UserError(f"`{name}` must be {allowed}, got {value!r}.")
    return value


@dataclass(frozen=True)
class TrialRecord:
    """One trial: proposal (``sample``, ``key``, ``generation``), architecture, outcome.

    ``objectives`` maps names of ``OBJECTIVES`` to numbers (absent when unknown); ``epochs`` is
    the fidelity; ``trained_epochs`` the epochs this trial itself trained (its cost: fewer than
    ``epochs`` when it continued another trial's checkpoint; ``None`` when not reported, as by a
    one-shot trial or a record written before it was kept); ``extra`` keeps the other entries of
    the trial's metric dict.
    """

    id: int
    sample: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    objectives: dict[str, float] = field(default_factory=dict)
    status: str = RUNNING
    reason: str = ""
    seed: int | None = None
    epochs: int | None = None
    trained_epochs: int | None = None
    seconds: float | None = None
    generation: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    genotype: Architecture | None = None

    def __post_init__(self) -> None:
        check_positive_int("id", self.id, minimum=0)
        object.__setattr__(self, "id", int(self.id))
        check_choice("status", self.status, STATUSES)
        unknown = sorted(set(self.objectives) - set(OBJECTIVES))
        if unknown:
            raise UserError(f"`objectives` must be named among {', '.join(OBJECTIVES)}, got {unknown}.")
        values = {name: _objective(name, value) for name, value in self.objectives.items()}
        object.__setattr__(self, "objectives", values)
        if self.status == OK:
            bad = {k: v for k, v in values.items() if not math.isfinite(v)}
            if bad:
                raise UserError(f"an 'ok' trial needs finite `objectives`, got {bad}.")
        object.__setattr__(self, "seed", _optional_count("seed", self.seed, 0))
        object.__setattr__(self, "epochs", _optional_count("epochs", self.epochs, 0))  # 0: inherited weights
        object.__setattr__(self, "trained_epochs", _optional_count("trained_epochs", self.trained_epochs, 0))
        if self.seconds is not None:
            object.__setattr__(self, "seconds", _objective("seconds", self.seconds))
        if not isinstance(self.reason, str):
            raise UserError(f"`reason` must be a string, got {self.reason!r}.")
        if self.genotype is not None and not is_architecture(self.genotype):
            raise UserError(f"`genotype` must be a Genotype, ResNetGenotype or MobileNetGenotype, "
                            f"got {type(self.genotype).__name__}.")

    # -- objective values ------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """Whether the trial finished with a metric and may enter a frontier."""
        return self.status == OK

    @property
    def accuracy(self) -> float | None:
        return self.objectives.get("accuracy")

    @property
    def params(self) -> int | None:
        return _whole(self.objectives.get("params"))

    @property
    def flops(self) -> int | None:
        return _whole(self.objectives.get("flops"))

    def values(self, names: Iterable[str]) -> tuple[float, ...]:
        """The objective values named ``names``, in that order."""
        names = list(names)
        missing = [n for n in names if n not in self.objectives]
        if missing:
            raise UserError(f"trial {self.id} lacks objective values {missing}.")
        return tuple(self.objectives[n] for n in names)

    # -- conversions -----------------------------------------------------------------------
    @classmethod
    def ended(cls, id: int, genotype: Architecture, params: int | None, flops: int | None,
              accuracy: float | None, epochs: int | None, seed: int | None, seconds: float | None = None,
              status: str = OK, reason: str = "", trained_epochs: int | None = None) -> TrialRecord:
        """An ended trial from its values, in the order of ``trials.csv``'s columns (unknown: None)."""
        values = {"params": params, "flops": flops, "accuracy": accuracy}
        return cls(id, objectives={k: v for k, v in values.items() if v is not None}, status=status,
                   reason=reason, seed=seed, epochs=epochs, trained_epochs=trained_epochs, seconds=seconds,
                   genotype=genotype).check_ended()

    def check_ended(self) -> TrialRecord:
        """``self`` if the trial has ended and, when 'ok', knows every objective, its epochs and seed."""
        if self.status not in FINISHED:
            raise UserError(f"trial {self.id} is still {self.status!r}, not ended.")
        if self.status == OK and (any(n not in self.objectives for n in OBJECTIVES)
                                  or self.epochs is None or self.seed is None):
            raise UserError(f"trial {self.id} has status 'ok' but lacks accuracy, params, flops, epochs or seed.")
        return self

    def with_genotype(self, genotype_of: Callable[[Mapping[str, Any]], Architecture]) -> TrialRecord:
        """This record with its ``genotype`` (from ``genotype_of(sample)`` when it has none yet)."""
        return self if self.genotype is not None else replace(self, genotype=genotype_of(self.sample))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (the genotype as its JSON object)."""
        data = {f: getattr(self, f) for f in self.__dataclass_fields__}
        data["genotype"] = None if self.genotype is None else self.genotype.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """The record of ``to_dict``; one saved before ``trained_epochs`` was a field (it was then an
        entry of ``extra``) gets it moved from ``extra``."""
        data = dict(data)
        genotype = data.pop("genotype", None)
        old = data.get("extra", {}).get("trained_epochs")
        if "trained_epochs" not in data and reported_count(old) is not None:
            data["extra"] = {k: v for k, v in data["extra"].items() if k != "trained_epochs"}
            data["trained_epochs"] = reported_count(old)
        return cls(**data, genotype=None if genotype is None else architecture_from_dict(genotype))


def _whole(value: float | None) -> int | float | None:
    """Costs are whole numbers: give them back as ints."""
    return int(value) if value is not None and math.isfinite(value) and float(value).is_integer() else value


def top_fidelity(records: Iterable[TrialRecord]) -> list[TrialRecord]:
    """The records a frontier or hypervolume may use: of a search that trained at several budgets
    (a multi-fidelity one, ``strategies.mo_asha``), only those at the highest budget (``epochs``)
    that an 'ok' trial reached, so a frontier never mixes a 1-epoch accuracy with 8-epoch ones.
    Records without ``epochs`` count as that budget; a single-budget search keeps every record."""
    records = list(records)
    budgets = {r.epochs for r in records if r.status == OK and r.epochs is not None}
    if len(budgets) <= 1:
        return records
    top = max(budgets)
    return [r for r in records if r.epochs is None or r.epochs == top]
