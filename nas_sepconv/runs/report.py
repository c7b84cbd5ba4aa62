"""What a run report shows, computed apart from any drawing (tested on its own).

For one run or an overlay of several: each run's training cost (the epochs its trials trained),
its points on the accuracy-vs-#params plane
split into the 2-D frontier (drawn as a staircase) and dominated points, each point with its
dominant op family and a hover text, the reference architectures and which frontier points
they dominate, op frequencies on the frontier against the population, the hypervolume after
each evaluation, and a hypervolume table. Hypervolume is shown normalised by the run's box
(``RunDir.box``: accuracy 0 and the space's largest costs; 1 is the whole box), and raw on the
run's own reference point. Runs whose configs differ only in the seed are grouped and the
spread of their hypervolume is given (mean, sample standard deviation, min, max), with their
empirical attainment surfaces (``nas_sepconv.runs.comparison``).
``nas_sepconv.runs.plots`` draws these values; ``nas_sepconv.runs.pages`` writes the pages.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from nas_sepconv.core.errors import UserError
from nas_sepconv.evaluation.record import TrialRecord, top_fidelity
from nas_sepconv.frontier.objectives import PLANE
from nas_sepconv.frontier.pareto import ReferencePoint, hypervolume, normalized_hypervolume, pareto_front
from nas_sepconv.genotypes.architecture import architecture_text
from nas_sepconv.genotypes.composition import composition
from nas_sepconv.runs.attribution import (
    Dominance,
    OpFrequencies,
    dominance_statement,
    op_frequencies,
    reference_dominance,
)
from nas_sepconv.runs.run_dir import ReferenceArch, RunDir, frontier

if TYPE_CHECKING:
    from nas_sepconv.runs.comparison import Attainment, ConfirmationView


@dataclass(frozen=True)
class PlotPoint:
    """One finished trial on the accuracy-vs-#params plane, its dominant op family (or
    ``mixed``) and the text shown when the pointer is over it."""

    id: int
    params: int
    accuracy: float
    family: str = ""
    hover: str = ""


def plot_point(row: TrialRecord) -> PlotPoint:
    """The point of an ok trial, with family and hover text (id, params, FLOPs, accuracy, genotype)."""
    found = composition(row.genotype)
    shares = ", ".join(f"{f} {v:.0%}" for f, v in found.shares.items() if v)
    hover = (f"trial {row.id}: {row.params:,} params, {row.flops:,} FLOPs, accuracy {row.accuracy:.4f}\n"
             f"families: {shares}\n{architecture_text(row.genotype)}")
    return PlotPoint(row.id, row.params, row.accuracy, found.dominant, hover)


@dataclass(frozen=True)
class FrontierSeries:
    """One run on the frontier figure: its 2-D frontier, the rest, and the staircase line."""

    label: str
    frontier: tuple[PlotPoint, ...]
    dominated: tuple[PlotPoint, ...]
    staircase: tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class HypervolumeCurve:
    """Hypervolume of the ok trials among the first k evaluations, for k = 1..n."""

    label: str
    evaluations: tuple[int, ...]
    hypervolume: tuple[float, ...]


def staircase(points: Sequence[PlotPoint]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The frontier as a step line: the best accuracy reachable with at most x parameters.

    Points must be non-dominated and sorted by ascending #params (so also by ascending
    accuracy); each step runs right at the current accuracy, then up to the next point's.
    """
    xs: list[float] = []
    ys: list[float] = []
    for i, point in enumerate(points):
        if i:
            xs.append(float(point.params))
            ys.append(ys[-1])
        xs.append(float(point.params))
        ys.append(float(point.accuracy))
    return tuple(xs), tuple(ys)


def frontier_series(label: str, rows: Sequence[TrialRecord]) -> FrontierSeries:
    """Split the ok trials into the accuracy-vs-#params frontier and the dominated rest.

    The plot is 2-D, so domination here is in (accuracy, #params) only, even for a run that
    also minimised FLOPs.
    """
    points = [plot_point(row) for row in rows if row.ok]
    on_front = set()
    if points:
        on_front = set(pareto_front([(p.accuracy, p.params) for p in points], PLANE).tolist())
    front = sorted((p for i, p in enumerate(points) if i in on_front), key=lambda p: (p.params, p.accuracy, p.id))
    rest = tuple(p for i, p in enumerate(points) if i not in on_front)
    return FrontierSeries(label, tuple(front), rest, staircase(front))


def hypervolume_curve(label: str, rows: Sequence[TrialRecord], box: ReferencePoint) -> HypervolumeCurve:
    """Normalised hypervolume (on ``box``) of everything evaluated so far, after each trial."""
    names = [objective.name for objective in box.objectives]
    seen: list[tuple[float, ...]] = []
    values: list[float] = []
    for row in rows:
        if row.ok:
            seen.append(row.values(names))
            values.append(normalized_hypervolume(np.array(seen), box))
        else:
            values.append(values[-1] if values else 0.0)
    return HypervolumeCurve(label, tuple(range(1, len(rows) + 1)), tuple(values))


def common_reference(references: Sequence[ReferencePoint]) -> ReferencePoint:
    """The least demanding of several reference points: per objective the worst value.

    Every run's points that count under its own reference also count under this one, so
    hypervolumes of all runs compare on one scale. Objectives must match by name and direction.
    """
    first = references[0]
    for other in references[1:]:
        if other.objectives != first.objectives:
            raise UserError(f"runs must share objectives to be compared, got "
                            f"{[o.name for o in first.objectives]} and {[o.name for o in other.objectives]}.")
    worst = [min(vals) if obj.direction == "max" else max(vals)
             for obj, vals in zip(first.objectives, zip(*(ref.values for ref in references)))]
    return ReferencePoint(first.objectives, tuple(worst))


@dataclass(frozen=True)
class TrainingCost:
    """What a run's trials trained: ``epochs``, the sum of ``trained_epochs`` over the ``counted``
    trials that recorded it, and ``unknown``, how many did not (a one-shot score, a file written
    before the column, a trial that ended without reporting it)."""

    epochs: int
    counted: int
    unknown: int


def training_cost(rows: Sequence[TrialRecord]) -> TrainingCost:
    """The cost of ``rows`` (failed trials included: they trained too)."""
    known = [row.trained_epochs for row in rows if row.trained_epochs is not None]
    return TrainingCost(sum(known), len(known), len(rows) - len(known))


@dataclass(frozen=True)
class RunSummary:
    """One run's report values: ``hypervolume`` is raw on the run's own reference point,
    ``normalized`` on the run's own box, ``common_normalized`` on the report's common box
    (equal to ``normalized`` when all runs share a box, as a run and its baseline do)."""

    label: str
    run: RunDir
    rows: tuple[TrialRecord, ...]
    frontier: tuple[TrialRecord, ...]
    hypervolume: float
    normalized: float
    common_normalized: float
    curve: HypervolumeCurve
    series: FrontierSeries
    references: tuple[ReferenceArch, ...]
    frequencies: OpFrequencies
    dominance: tuple[Dominance, ...]

    @property
    def dominance_text(self) -> str:
        return dominance_statement(self.dominance, self.rows)

    @property
    def failed(self) -> int:
        return sum(not row.ok for row in self.rows)

    @property
    def cost(self) -> TrainingCost:
        return training_cost(self.rows)


@dataclass(frozen=True)
class SeedSpread:
    """Normalised hypervolume (common box) across runs whose configs differ only in the seed."""

    runs: tuple[str, ...]
    seeds: tuple[int, ...]
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class Report:
    """Everything a report shows: per-run summaries, the common box, seed spreads, the
    attainment surfaces of each group of seeds, and the confirmation of the first run (if any)."""

    runs: tuple[RunSummary, ...]
    reference: ReferencePoint
    spreads: tuple[SeedSpread, ...]
    attainment: tuple["Attainment", ...] = ()
    confirmation: "ConfirmationView | None" = None

    @property
    def references(self) -> tuple[ReferenceArch, ...]:
        """Reference architectures of all runs, each distinct one once."""
        return tuple(dict.fromkeys(ref for run in self.runs for ref in run.references))


def _points(rows: Sequence[TrialRecord], reference: ReferencePoint) -> np.ndarray:
    names = [objective.name for objective in reference.objectives]
    return np.array([row.values(names) for row in rows if row.ok]).reshape(-1, len(names))


def _hv(rows: Sequence[TrialRecord], reference: ReferencePoint) -> float:
    return hypervolume(_points(rows, reference), reference.objectives, reference)


def _normalized(rows: Sequence[TrialRecord], box: ReferencePoint) -> float:
    return normalized_hypervolume(_points(rows, box), box)


def summarize(run: RunDir, label: str, box: ReferencePoint) -> RunSummary:
    """One run's values; curves and ``common_normalized`` use the shared ``box``."""
    rows = tuple(run.read_trials())
    scored = top_fidelity(rows)   # a multi-fidelity run: its top-budget trials only
    front = tuple(frontier(rows, run.reference))
    references = tuple(run.read_references())
    plane = frontier_series(label, scored)
    on_plane = {p.id for p in plane.frontier}
    plane_rows = tuple(row for row in rows if row.id in on_plane)
    return RunSummary(label, run, rows, front, _hv(scored, run.reference), _normalized(scored, run.box),
                      _normalized(scored, box), hypervolume_curve(label, scored, box), plane, references,
                      op_frequencies(rows, front), reference_dominance(references, plane_rows))


def config_key(run: RunDir) -> str:
    """The run's config with its seed removed, as canonical JSON: equal keys differ in seed only."""
    config = {key: value for key, value in run.config.items() if key != "seed"}
    return json.dumps(config, sort_keys=True)


def seed_spreads(summaries: Sequence[RunSummary]) -> tuple[SeedSpread, ...]:
    """One spread per group of at least two runs sharing a config but not all one seed."""
    groups: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        groups.setdefault(config_key(summary.run), []).append(summary)
    spreads = []
    for members in groups.values():
        seeds = tuple(m.run.seed for m in members)
        if len(members) < 2 or len(set(seeds)) < 2:
            continue
        values = [m.common_normalized for m in members]
        spreads.append(SeedSpread(tuple(m.label for m in members), seeds, statistics.fmean(values),
                                  statistics.stdev(values), min(values), max(values)))
    return tuple(spreads)


def _labels(runs: Sequence[RunDir]) -> list[str]:
    names = [run.name for run in runs]
    return names if len(set(names)) == len(names) else [str(run.path) for run in runs]


def build_report(runs: Sequence[RunDir]) -> Report:
    """The report of one run, or the overlay of several on their common box."""
    if not runs:
        raise UserError("`runs` must name at least one run directory, got none.")
    labels = _labels(runs)
    if len(set(labels)) != len(labels):
        raise UserError(f"`runs` must be distinct run directories, got {labels}.")
    from nas_sepconv.runs.comparison import attainment_groups, confirmation_view
    from nas_sepconv.runs.confirm import read_confirmation

    box = common_reference([run.box for run in runs])
    summaries = tuple(summarize(run, label, box) for run, label in zip(runs, labels))
    return Report(summaries, box, seed_spreads(summaries), attainment_groups(summaries),
                  confirmation_view(read_confirmation(runs[0])))
