"""Comparing groups of runs over seeds: empirical attainment surfaces and hypervolume verdicts.

Runs whose configs differ only in the seed form a group (a search and its ``--baseline`` are
two groups). The empirical attainment function (EAF; Fonseca et al. 2011, computed by
``moocore.eaf``) of a group gives, for each level k/n, the surface attained by at least k of
its n runs on the accuracy-vs-#params plane: the best (1/n), median (50 %) and worst (n/n)
surfaces show where a group's frontier lands and how much it moves with the seed.
A verdict compares two groups' values as the studies do: "holds" only when every value of
one exceeds every value of the other.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

import moocore
import numpy as np


@dataclass(frozen=True)
class Attainment:
    """The attainment surfaces of one group of runs: each a tuple of (params, accuracy) points
    by ascending params; ``hypervolumes`` are the runs' normalised hypervolumes."""

    label: str
    runs: tuple[str, ...]
    seeds: tuple[int, ...]
    best: tuple[tuple[float, float], ...]
    median: tuple[tuple[float, float], ...]
    worst: tuple[tuple[float, float], ...]
    hypervolumes: tuple[float, ...]

    @property
    def hv_mean(self) -> float:
        return statistics.fmean(self.hypervolumes)

    @property
    def hv_std(self) -> float:
        return statistics.stdev(self.hypervolumes) if len(self.hypervolumes) > 1 else 0.0


def attainment_surfaces(fronts: Sequence[Sequence[tuple[float, float]]]) -> dict[str, tuple]:
    """Best, median and worst attainment surfaces of several (accuracy, params) point sets."""
    pts = [(-a, p, k) for k, front in enumerate(fronts) for a, p in front]
    if not pts or any(not front for front in fronts):
        return {"best": (), "median": (), "worst": ()}
    n = len(fronts)
    data = np.array(pts, dtype=float)
    levels = {"best": 100.0 / n, "median": 50.0, "worst": 100.0}
    out = {}
    for name, level in levels.items():
        eaf = moocore.eaf(data[:, :2], data[:, 2], percentiles=[level])
        surface = sorted({(float(p), float(-a)) for a, p, *_ in eaf.tolist()})
        out[name] = tuple(surface)
    return out


def _group_label(members) -> str:
    config = members[0].run.config
    ops = config.get("ops")
    return ops if isinstance(ops, str) else members[0].label


def attainment_groups(summaries) -> tuple[Attainment, ...]:
    """One ``Attainment`` per group of runs sharing a config up to the seed, in first-seen order."""
    from nas_sepconv.runs.report import config_key

    groups: dict[str, list] = {}
    for summary in summaries:
        groups.setdefault(config_key(summary.run), []).append(summary)
    out = []
    for members in groups.values():
        fronts = [[(p.accuracy, p.params) for p in m.series.frontier] for m in members]
        surfaces = attainment_surfaces(fronts)
        out.append(Attainment(_group_label(members), tuple(m.label for m in members),
                              tuple(m.run.seed for m in members), surfaces["best"], surfaces["median"],
                              surfaces["worst"], tuple(m.common_normalized for m in members)))
    return tuple(out)


def verdict(better: Sequence[float], worse: Sequence[float]) -> str:
    """Does ``better`` exceed ``worse`` beyond the seed spread? (the studies' rule)"""
    if not better or not worse:
        return "missing"
    if len(better) < 2 or len(worse) < 2:
        return "one seed, no spread to judge against"
    mb, mw = statistics.median(better), statistics.median(worse)
    if min(better) > max(worse):
        return "holds"
    if max(better) < min(worse):
        return "reversed"
    if mb > mw:
        return "same direction, within seed spread"
    if mb == mw:
        return "no difference"
    return "reversed, within seed spread"


@dataclass(frozen=True)
class Comparison:
    """A confirmed frontier trial against a confirmed reference: which is more accurate, by
    the studies' verdict over the seeds, and whether the reference dominates it on the means."""

    trial: str
    reference: str
    verdict: str
    dominated: bool

    def text(self, rows: dict) -> str:
        t, r = rows[self.trial], rows[self.reference]
        head = (f"{t.label} ({t.params:,} params, {t.mean:.4f} ± {t.std:.4f}) vs {r.label} ({r.params:,} params, "
                f"{r.mean:.4f} ± {r.std:.4f}): is {t.label} more accurate? {self.verdict}")
        return head + (f"; {r.label} dominates it on confirmed means" if self.dominated else "")


@dataclass(frozen=True)
class ConfirmationView:
    """What the report shows of ``confirmed.csv``: its rows, the labels of the trials on the
    accuracy-vs-#params frontier recomputed on confirmed means, and one comparison per
    (frontier trial, reference) pair."""

    rows: tuple
    frontier: tuple[str, ...]
    comparisons: tuple[Comparison, ...]

    @property
    def by_label(self) -> dict:
        return {row.label: row for row in self.rows}


def confirmation_view(rows) -> ConfirmationView | None:
    """The report values of confirmed rows (``nas_sepconv.runs.confirm.Confirmed``), or None."""
    if rows is None:
        return None
    from nas_sepconv.frontier.objectives import PLANE
    from nas_sepconv.frontier.pareto import pareto_front

    trials = [row for row in rows if row.trial is not None]
    refs = [row for row in rows if row.trial is None]
    front: tuple[str, ...] = ()
    if trials:
        kept = pareto_front([(row.mean, row.params) for row in trials], PLANE).tolist()
        front = tuple(trials[i].label for i in sorted(kept, key=lambda i: (trials[i].params, trials[i].label)))
    comparisons = tuple(
        Comparison(t.label, r.label, verdict(t.accuracies, r.accuracies),
                   r.mean >= t.mean and r.params <= t.params and (r.mean > t.mean or r.params < t.params))
        for t in trials if t.label in front for r in refs)
    return ConfirmationView(tuple(rows), front, comparisons)
