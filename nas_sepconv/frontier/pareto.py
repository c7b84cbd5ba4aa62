"""Pareto dominance, non-dominated sorting, crowding, knee and hypervolume.

Points are rows of objective vectors, one declared direction per objective
("max" for accuracy, "min" for #params or FLOPs).  Internally every objective is
turned into minimisation by negating the "max" columns, so one dominance rule holds:
``a`` dominates ``b`` when ``a <= b`` in every objective and ``a < b`` in at least one.
Identical vectors do not dominate each other, so duplicates of a non-dominated point
are all non-dominated and share a rank.  Exact front and hypervolume computations are
delegated to ``moocore`` (O(n log n) in 2-D and 3-D); crowding distance and the knee
point follow NSGA-II (Deb et al. 2002) and the distance-to-extremes-hyperplane rule.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import moocore
import numpy as np

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_float
from nas_sepconv.frontier.objectives import DIRECTIONS, Objective, check_objectives, senses

Sense = str | Objective


def _signs(senses: Sequence[Sense]) -> np.ndarray:
    """Validate ``senses`` and return +1 for "min" columns and -1 for "max" columns."""
    if isinstance(senses, str) or not isinstance(senses, Sequence) or len(senses) == 0:
        raise UserError(
            f"`senses` must be a non-empty sequence of 'max'/'min' or Objective, got {senses!r}."
        )
    directions = [s.direction if isinstance(s, Objective) else s for s in senses]
    for j, direction in enumerate(directions):
        check_choice(f"senses[{j}]", direction, DIRECTIONS)
    return np.array([-1.0 if d == "max" else 1.0 for d in directions])


def _directions(senses: Sequence[Sense]) -> tuple[str, ...]:
    return tuple(s.direction if isinstance(s, Objective) else s for s in senses)


def _as_points(points: Any, n_obj: int, *, min_rows: int = 0) -> np.ndarray:
    """Return ``points`` as a finite float array of shape (n, n_obj) with n >= min_rows."""
    allowed = f"a 2-D array of numbers of shape (n_points, {n_obj})"
    try:
        array = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"`points` must be {allowed}, got {points!r}.") from None
    if array.ndim != 2 or array.shape[1] != n_obj:
        raise UserError(f"`points` must be {allowed}, got an array of shape {array.shape}.")
    if array.shape[0] < min_rows:
        raise UserError(f"`points` must contain at least {min_rows} point(s), got 0.")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, col = bad[0]
        raise UserError(
            f"`points` must contain only finite numbers, got {array[row, col]} "
            f"at row {row}, column {col}."
        )
    return array


def _minimised(points: Any, senses: Sequence[Sense], *, min_rows: int = 0) -> np.ndarray:
    signs = _signs(senses)
    return _as_points(points, len(signs), min_rows=min_rows) * signs


def pareto_front(points: Any, senses: Sequence[Sense]) -> np.ndarray:
    """Indices (ascending) of the non-dominated points.

    A point is kept unless another point is at least as good in every objective and
    strictly better in one.  Duplicates of a non-dominated point are all kept; a point
    tied with another in some objectives but worse in one is dominated.
    """
    z = _minimised(points, senses)
    if len(z) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(moocore.is_nondominated(z, keep_weakly=True))


def pareto_ranks(points: Any, senses: Sequence[Sense]) -> np.ndarray:
    """Non-domination rank per point: 0 for the front, 1 for the front once 0 is removed, ...

    The same partition as NSGA-II's fast non-dominated sort; duplicates share a rank.
    """
    z = _minimised(points, senses)
    if len(z) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(moocore.pareto_rank(z), dtype=np.int64)


def non_dominated_sort(points: Any, senses: Sequence[Sense]) -> list[np.ndarray]:
    """Fronts of NSGA-II's non-dominated sorting, best first, each an ascending index array."""
    ranks = pareto_ranks(points, senses)
    return [np.flatnonzero(ranks == r) for r in range(int(ranks.max(initial=-1)) + 1)]


def crowding_distance(points: Any, senses: Sequence[Sense]) -> np.ndarray:
    """NSGA-II crowding distance of each point of one front (Deb et al. 2002, Sec. III-B).

    Per objective the points are sorted (stably, so ties keep index order); the first
    and last get infinity and an inner point adds the gap between its two neighbours
    divided by the objective's range.  An objective with zero range adds nothing.
    The direction of an objective does not change the distance.
    """
    x = _as_points(points, len(_signs(senses)))
    distance = np.zeros(len(x))
    for column in x.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        if span == 0:
            continue
        distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
        distance[order[[0, -1]]] = np.inf
    return distance


def knee_point(points: Any, senses: Sequence[Sense]) -> int:
    """Index of the front point furthest beyond the hyperplane through the front's extremes.

    Objectives are normalised over the front to [0, 1] (0 = best, constant ones to 0).
    The extreme of objective j is the front point best in j (ties: best normalised sum).
    The knee maximises the signed distance to the hyperplane through the extremes,
    positive on the ideal point's side; if the extremes do not span a hyperplane the
    plane through the unit vectors (sum = 1) is used.  Ties go to the lowest index.
    """
    z = _minimised(points, senses, min_rows=1)
    front = pareto_front(z, ("min",) * z.shape[1])
    f = z[front]
    span = f.max(axis=0) - f.min(axis=0)
    u = (f - f.min(axis=0)) / np.where(span > 0, span, 1.0)
    n_obj = u.shape[1]
    extremes = u[[np.lexsort((u.sum(axis=1), u[:, j])).item(0) for j in range(n_obj)]]
    normal = np.ones(n_obj)
    if np.linalg.matrix_rank(extremes) == n_obj:
        normal = np.linalg.solve(extremes, np.ones(n_obj))
    distance = (1.0 - u @ normal) / np.linalg.norm(normal)
    return int(front[np.argmax(distance)])


@dataclass(frozen=True)
class ReferencePoint:
    """A declared hypervolume reference point in original units, storable as JSON.

    Store it with the results so two runs are compared on the same scale.
    """

    objectives: tuple[Objective, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        objectives = tuple(self.objectives) if isinstance(self.objectives, Sequence) else ()
        if not objectives or not all(isinstance(o, Objective) for o in objectives):
            raise UserError(
                f"`objectives` must be a non-empty sequence of Objective, got {self.objectives!r}."
            )
        object.__setattr__(self, "objectives", objectives)
        object.__setattr__(self, "values", _as_reference(self.values, len(objectives), "values"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: objective names, directions and reference values."""
        return {
            "objectives": [{"name": o.name, "direction": o.direction} for o in self.objectives],
            "values": list(self.values),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ReferencePoint":
        """Rebuild from :meth:`to_dict` output (validating every field)."""
        try:
            objectives = tuple(Objective(o["name"], o["direction"]) for o in data["objectives"])
            values = tuple(data["values"])
        except (KeyError, TypeError):
            raise UserError(
                f"`data` must be a dict with 'objectives' ({{name, direction}} list) and "
                f"'values', got {data!r}."
            ) from None
        return cls(objectives, values)


def _as_reference(reference: Any, n_obj: int, name: str = "reference") -> tuple[float, ...]:
    values = list(reference) if isinstance(reference, Sequence | np.ndarray) else None
    if (
        values is None
        or len(values) != n_obj
        or not all(isinstance(v, numbers.Real) and np.isfinite(v) for v in values)
    ):
        raise UserError(
            f"`{name}` must be {n_obj} finite numbers (one per objective), got {reference!r}."
        )
    return tuple(float(v) for v in values)


def _reference_minimised(reference: Any, senses: Sequence[Sense]) -> np.ndarray:
    signs = _signs(senses)
    if isinstance(reference, ReferencePoint):
        if _directions(reference.objectives) != _directions(senses):
            raise UserError(
                f"`reference` directions {_directions(reference.objectives)} must match "
                f"`senses` {_directions(senses)}."
            )
        reference = reference.values
    return np.array(_as_reference(reference, len(signs))) * signs


def reference_point(
    points: Any, senses: Sequence[Sense], margin: float = 0.1
) -> ReferencePoint:
    """Propose a reference point: the front's worst value per objective, moved further
    by ``margin`` times the front's range (or ``margin * max(|worst|, 1)`` if the range
    is 0), so every front point is strictly better and the extremes contribute volume.
    Plain 'max'/'min' senses are named ``objective_0``, ``objective_1``, ...
    """
    margin = check_positive_float("margin", margin)
    signs = _signs(senses)
    z = _minimised(points, senses, min_rows=1)
    front = z[pareto_front(z, ("min",) * len(signs))]
    worst, span = front.max(axis=0), front.max(axis=0) - front.min(axis=0)
    offset = margin * np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    objectives = tuple(
        s if isinstance(s, Objective) else Objective(f"objective_{j}", s)
        for j, s in enumerate(senses)
    )
    return ReferencePoint(objectives, tuple(((worst + offset) * signs).tolist()))


def _inside(z: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Mask of points strictly better than the reference in every objective."""
    return np.all(z < ref, axis=1)


def hypervolume(points: Any, senses: Sequence[Sense], reference: Any) -> float:
    """Volume of objective space dominated by ``points`` and bounded by ``reference``.

    ``reference`` is in original units (a sequence or a :class:`ReferencePoint`); points
    not strictly better than it in every objective contribute nothing.
    """
    z = _minimised(points, senses)
    ref = _reference_minimised(reference, senses)
    kept = z[_inside(z, ref)]
    return float(moocore.hypervolume(kept, ref=ref)) if len(kept) else 0.0


def hypervolume_contributions(points: Any, senses: Sequence[Sense], reference: Any) -> np.ndarray:
    """Exclusive hypervolume of each point: ``HV(all) - HV(all without that point)``.

    Dominated points and duplicated points therefore contribute 0, and a point that
    alone dominates another only gets the volume that the other does not cover.
    Exact also with dominated points present, but slower then (quadratic in 3-D).
    """
    z = _minimised(points, senses)
    ref = _reference_minimised(reference, senses)
    inside = _inside(z, ref)
    contributions = np.zeros(len(z))
    if inside.any():
        kept = z[inside]
        mutual = bool(moocore.is_nondominated(kept, keep_weakly=True).all())
        contributions[inside] = moocore.hv_contributions(kept, ref=ref, ignore_dominated=mutual)
    return contributions


def reference_for(objectives: Sequence[str], values: Mapping[str, float]) -> ReferencePoint:
    """A ``ReferencePoint`` over ``objectives`` from per-name values, e.g. {'accuracy': 0, 'params': 1e6}."""
    names = check_objectives(objectives)
    missing = [n for n in names if n not in values]
    if missing:
        raise UserError(f"`values` must give a reference value for every objective, missing {missing}.")
    return ReferencePoint(senses(names), tuple(float(values[n]) for n in names))


def check_reference(reference: ReferencePoint, names: Sequence[str]) -> None:
    if not isinstance(reference, ReferencePoint):
        raise UserError(f"`reference` must be a ReferencePoint, got {type(reference).__name__}.")
    declared = tuple(o.name for o in reference.objectives)
    if declared != tuple(names):
        raise UserError(f"`reference` is declared over {declared}, but the objectives are {tuple(names)}.")


def declared_reference(objectives: Sequence[str], reference: ReferencePoint | Mapping[str, float] | None,
                       limits: Mapping[str, float]) -> ReferencePoint | None:
    """The reference a search declares: ``reference`` as given (a ``ReferencePoint`` or
    {name: value}), else accuracy 0 and the cost ``limits`` (e.g. {'params': max_params}) when
    they cover every objective, else ``None`` (hypervolume then needs an explicit reference)."""
    if isinstance(reference, ReferencePoint):
        check_reference(reference, check_objectives(objectives))
        return reference
    if reference is not None:
        return reference_for(objectives, reference)
    values = {"accuracy": 0.0, **limits}
    return reference_for(objectives, values) if all(n in values for n in objectives) else None


def project_reference(reference: ReferencePoint, names: Sequence[str]) -> ReferencePoint:
    """``reference`` restricted to (and ordered as) ``names``."""
    if not isinstance(reference, ReferencePoint):
        raise UserError(f"`reference` must be a ReferencePoint, got {type(reference).__name__}.")
    declared = {o.name: (o, v) for o, v in zip(reference.objectives, reference.values)}
    if not set(names) <= set(declared):
        raise UserError(f"`reference` is declared over {tuple(declared)}, which lacks some of {tuple(names)}.")
    return ReferencePoint(tuple(declared[n][0] for n in names), tuple(declared[n][1] for n in names))


def ideal_point(objectives: Sequence[Objective]) -> tuple[float, ...]:
    """The best value each objective can take: accuracy 1, every cost 0."""
    return tuple(1.0 if o.name == "accuracy" else 0.0 for o in objectives)


def box_volume(box: ReferencePoint) -> float:
    """Volume of the box between ``ideal_point`` and the reference ``box``: the largest
    hypervolume any point set can have against ``box``."""
    ideal = ideal_point(box.objectives)
    volume = float(np.prod([abs(v - i) for v, i in zip(box.values, ideal)]))
    if volume <= 0:
        raise UserError(f"`box` must span a non-empty box from the ideal point {ideal}, got {box.values}.")
    return volume


def normalized_hypervolume(points: Any, box: ReferencePoint) -> float:
    """Hypervolume against ``box`` divided by the box's volume, in [0, 1]: the share of the box
    between the ideal point (accuracy 1, costs 0) and ``box`` that the points dominate."""
    return hypervolume(points, box.objectives, box) / box_volume(box)
