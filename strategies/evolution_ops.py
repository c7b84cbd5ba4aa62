"""Pure variation and selection operators over NNI samples, for evolutionary NAS strategies.

A *space* is the dict that ``model_space.simplify()`` returns (label -> NNI mutable, e.g. a
``Categorical`` with ``.values``); a *sample* is a dict label -> chosen value, as NNI exports it.
Every function is pure apart from the random generator it is given, a
``numpy.random.RandomState``: it is what NNI's ``Mutable.random`` draws from, so one seeded
generator drives our operators and NNI's samplers alike, and its state is checkpointable.

Selection is NSGA-II's (Deb et al. 2002): rank by non-dominated sorting, break ties inside a
front by crowding distance (larger is better), binary tournaments with the crowded comparison.
Objective vectors are rows of numbers with one direction ('max'/'min') per column, as in
``nas_sepconv.frontier.pareto``.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import numpy as np
from nni.mutable import Categorical, CategoricalMultiple, LabeledMutable, MutableAnnotation
from numpy.random import RandomState

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.frontier.pareto import Sense, crowding_distance, non_dominated_sort

Sample = dict[str, Any]
Space = Mapping[str, Any]
RESAMPLE_TRIES = 16


def searchable(space: Space) -> dict[str, LabeledMutable]:
    """The labels a sampler must choose: every mutable except annotations (constraints)."""
    return {label: m for label, m in space.items() if not isinstance(m, MutableAnnotation)}


def random_sample(space: Space, rng: RandomState) -> Sample:
    """One uniform draw of every searchable label (NNI's own per-mutable sampler, in label order)."""
    memo: Sample = {}
    for mutable in searchable(space).values():
        mutable.random(memo=memo, random_state=rng)
    return memo


def uniform_sample(space: Space, rng: RandomState) -> Sample:
    """Like :func:`random_sample` (a different stream): :class:`UniformSampler` of ``space``, once."""
    return UniformSampler(space)(rng)


class UniformSampler:
    """Uniform draws of a space, compiled once: unweighted ``Categorical`` labels and unweighted
    ``CategoricalMultiple`` labels that choose one value (a cell's inputs) take one ``randint``
    each, all drawn at once (~100x faster than NNI's per-mutable sampler); the others are drawn
    after them with NNI's sampler, in label order. Draws follow from the generator alone."""

    def __init__(self, space: Space) -> None:
        self.direct: list[tuple[str, list[Any], bool]] = []   # (label, values, as a one-element list)
        self.others: list[LabeledMutable] = []
        for label, mutable in searchable(space).items():
            kind = type(mutable)
            if kind is Categorical and _uniform(mutable):
                self.direct.append((label, list(mutable.values), False))
            elif kind is CategoricalMultiple and mutable.n_chosen == 1 and _uniform(mutable):
                self.direct.append((label, list(mutable.values), True))
            else:
                self.others.append(mutable)
        self._sizes = np.array([len(values) for _, values, _ in self.direct], dtype=np.int64)

    def __call__(self, rng: RandomState) -> Sample:
        memo: Sample = {}
        if self.direct:
            for (label, values, listed), i in zip(self.direct, rng.randint(0, self._sizes).tolist()):
                memo[label] = [values[i]] if listed else values[i]
        for mutable in self.others:
            mutable.random(memo=memo, random_state=rng)
        return memo


def _uniform(mutable: Categorical) -> bool:
    weights = getattr(mutable, "weights", None)
    return weights is None or max(weights) - min(weights) <= 1e-12


def _other_value(mutable: LabeledMutable, current: Any, rng: RandomState) -> Any:
    """A value of ``mutable`` different from ``current`` when one exists (else ``current``)."""
    if isinstance(mutable, Categorical):
        others = [v for v in mutable.values if v != current]
        return others[rng.randint(len(others))] if others else current
    for _ in range(RESAMPLE_TRIES):  # CategoricalMultiple, numerical, ...: NNI's sampler
        memo: Sample = {}
        mutable.random(memo=memo, random_state=rng)
        if memo[mutable.label] != current:
            return memo[mutable.label]
    return current


def mutate(sample: Mapping[str, Any], space: Space, rng: RandomState, k: int = 1) -> Sample:
    """A copy of ``sample`` with ``k`` distinct labels, drawn uniformly, set to a different value.

    Labels whose mutable has a single value cannot change; ``k`` is capped at the number
    of searchable labels.
    """
    k = check_positive_int("k", k)
    labels = list(searchable(space))
    child = copy.deepcopy(dict(sample))
    for index in rng.choice(len(labels), size=min(k, len(labels)), replace=False):
        label = labels[int(index)]
        child[label] = _other_value(space[label], child.get(label), rng)
    return child


def crossover(first: Mapping[str, Any], second: Mapping[str, Any], rng: RandomState,
              swap_probability: float = 0.5) -> Sample:
    """Uniform crossover: each label of ``first`` is taken from ``second`` with ``swap_probability``.

    Labels draw in sorted order, so the child does not depend on the parents' dict order
    (a sample reloaded from sorted-key JSON breeds the same child).
    """
    if set(first) != set(second):
        raise UserError(f"`first` and `second` must have the same labels; they differ in "
                        f"{sorted(set(first) ^ set(second))}.")
    if not 0.0 <= swap_probability <= 1.0:
        raise UserError(f"`swap_probability` must be a number in [0, 1], got {swap_probability!r}.")
    swapped = {label for label in sorted(first) if rng.random_sample() < swap_probability}
    return {label: copy.deepcopy(second[label] if label in swapped else value) for label, value in first.items()}


def nsga2_ranking(points: Any, senses: Sequence[Sense]) -> tuple[np.ndarray, np.ndarray]:
    """(rank, crowding) of every point: its non-domination rank (0 = frontier) and its
    NSGA-II crowding distance within its own front."""
    points = np.asarray(points, dtype=float).reshape(-1, len(senses))
    ranks = np.zeros(len(points), dtype=np.int64)
    crowding = np.zeros(len(points))
    for rank, front in enumerate(non_dominated_sort(points, senses)):
        ranks[front] = rank
        crowding[front] = crowding_distance(points[front], senses)
    return ranks, crowding


def nsga2_select(points: Any, senses: Sequence[Sense], k: int) -> np.ndarray:
    """Indices of the ``k`` survivors of NSGA-II's environmental selection.

    Whole fronts are taken best first; the front that does not fit is cut by decreasing
    crowding distance (ties keep the lower index, so selection is deterministic). The
    result is in selection order; all points are kept when ``k`` >= their number.
    """
    k = check_positive_int("k", k)
    ranks, crowding = nsga2_ranking(points, senses)
    order = np.lexsort((np.arange(len(ranks)), -crowding, ranks))
    return order[:k]


def crowded_tournament(ranks: np.ndarray, crowding: np.ndarray, rng: RandomState) -> int:
    """Binary tournament with NSGA-II's crowded comparison: lower rank wins, then larger
    crowding distance, then the first drawn. Returns the winner's index."""
    if len(ranks) == 0 or len(ranks) != len(crowding):
        raise UserError(f"`ranks` and `crowding` must be non-empty and of equal length, "
                        f"got {len(ranks)} and {len(crowding)}.")
    a, b = (int(i) for i in rng.randint(len(ranks), size=2))
    if (ranks[b], -crowding[b]) < (ranks[a], -crowding[a]):
        return b
    return a
