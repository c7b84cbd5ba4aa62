"""Where the op families sit: composition of the frontier against the population, and which
reference architectures dominate which frontier points (computed here, drawn by ``plots``).

Op frequency counts edges (cell genotypes) or residual blocks (ResNet genotypes) that use an op
or a family, over the frontier's architectures and over every finished trial, so "the frontier
uses osep twice as often as the population" is read off the two shares (or its absence is).
Domination is on the accuracy-vs-#params plane: a reference dominates a point when it is at
least as accurate with at most as many parameters, and strictly better in one of the two.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.genotypes.composition import composition, families
from nas_sepconv.ops.registry import OPS


@dataclass(frozen=True)
class Frequency:
    """How often ``name`` (an op or a family) is used: counts of edges/blocks on the frontier
    and in the population (every finished trial), and the totals they are shares of."""

    name: str
    family: str
    frontier: int
    frontier_total: int
    population: int
    population_total: int

    @property
    def frontier_share(self) -> float:
        return self.frontier / self.frontier_total if self.frontier_total else 0.0

    @property
    def population_share(self) -> float:
        return self.population / self.population_total if self.population_total else 0.0

    @property
    def ratio(self) -> float | None:
        """Frontier share over population share (None when the population never uses it)."""
        return self.frontier_share / self.population_share if self.population else None


@dataclass(frozen=True)
class OpFrequencies:
    """Per family (every registered one) and per op used: frontier against population."""

    families: tuple[Frequency, ...]
    ops: tuple[Frequency, ...]


def op_frequencies(population: Sequence[TrialRecord], front: Sequence[TrialRecord]) -> OpFrequencies:
    """Count ops and families over the ok trials of ``population`` and over ``front``."""
    def counts(rows):
        ops: Counter = Counter()
        for row in rows:
            ops.update(composition(row.genotype).ops)
        fams = Counter()
        for op, n in ops.items():
            fams[OPS[op].family] += n
        return ops, fams, sum(ops.values())

    rows = [row for row in population if row.ok]
    pop_ops, pop_fams, pop_total = counts(rows)
    front_ops, front_fams, front_total = counts(front)
    fams = tuple(Frequency(f, f, front_fams[f], front_total, pop_fams[f], pop_total)
                 for f in dict.fromkeys([*families(), *pop_fams]))
    names = sorted(pop_ops, key=lambda op: (list(OPS).index(op), op))
    ops = tuple(Frequency(op, OPS[op].family, front_ops[op], front_total, pop_ops[op], pop_total) for op in names)
    return OpFrequencies(fams, ops)


@dataclass(frozen=True)
class Dominance:
    """Reference ``label`` (params, accuracy) and the frontier trial ids it dominates."""

    label: str
    params: int
    accuracy: float
    dominated: tuple[int, ...]


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(accuracy, params) ``a`` dominates ``b``: no worse in both, better in one."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def reference_dominance(references, front: Sequence[TrialRecord]) -> tuple[Dominance, ...]:
    """For each reference (``label``, ``params``, ``accuracy``) the frontier points it dominates."""
    return tuple(Dominance(ref.label, ref.params, ref.accuracy,
                           tuple(row.id for row in front
                                 if dominates((ref.accuracy, ref.params), (row.accuracy, row.params))))
                 for ref in references)


def dominance_statement(dominance: Sequence[Dominance], front: Sequence[TrialRecord]) -> str:
    """The dominance result in words, e.g. "DARTS_V2 (36,586 params, 0.8832) dominates frontier
    point 20 (37,042 params, 0.8818)." or "No reference architecture dominates a frontier point."."""
    if not dominance:
        return "No reference architectures were trained, so none is compared with the frontier."
    rows = {row.id: row for row in front}
    parts = []
    for d in dominance:
        if d.dominated:
            points = ", ".join(f"{i} ({rows[i].params:,} params, {rows[i].accuracy:.4f})" for i in d.dominated)
            noun = "point" if len(d.dominated) == 1 else "points"
            parts.append(f"{d.label} ({d.params:,} params, {d.accuracy:.4f}) dominates frontier {noun} {points}.")
    free = [d.label for d in dominance if not d.dominated]
    if free:
        parts.append(f"{' and '.join(free)} {'dominates' if len(free) == 1 else 'dominate'} no frontier point.")
    if not any(d.dominated for d in dominance):
        parts = ["No reference architecture dominates a frontier point "
                 f"({', '.join(f'{d.label}: {d.params:,} params, {d.accuracy:.4f}' for d in dominance)})."]
    return " ".join(parts)
