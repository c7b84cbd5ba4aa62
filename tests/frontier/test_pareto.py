"""Pareto utilities against brute force: all-pairs dominance, front peeling, grid
hypervolume, leave-one-out contributions, and hand-computed small cases."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from nas_sepconv.frontier.pareto import (
    Objective,
    ReferencePoint,
    crowding_distance,
    hypervolume,
    hypervolume_contributions,
    knee_point,
    non_dominated_sort,
    pareto_front,
    pareto_ranks,
    reference_point,
)

ACC_PARAMS = ("max", "min")


# ---------------------------------------------------------------- brute force
def bf_dominates(a, b, senses) -> bool:
    """a dominates b: no worse anywhere, strictly better somewhere (directions as given)."""
    no_worse = all(x >= y if s == "max" else x <= y for x, y, s in zip(a, b, senses))
    better = any(x > y if s == "max" else x < y for x, y, s in zip(a, b, senses))
    return no_worse and better


def bf_front(points, senses, alive=None) -> list[int]:
    alive = range(len(points)) if alive is None else alive
    return [i for i in alive if not any(bf_dominates(points[j], points[i], senses) for j in alive)]


def bf_sort(points, senses) -> list[list[int]]:
    alive, fronts = list(range(len(points))), []
    while alive:
        front = bf_front(points, senses, alive)
        fronts.append(front)
        alive = [i for i in alive if i not in front]
    return fronts


def bf_hypervolume(points, senses, reference) -> float:
    """Grid decomposition: cut space at every coordinate, add the cells some point covers."""
    signs = np.array([-1.0 if s == "max" else 1.0 for s in senses])
    z, ref = np.asarray(points, float).reshape(-1, len(senses)) * signs, np.asarray(reference) * signs
    z = z[np.all(z < ref, axis=1)]
    if len(z) == 0:
        return 0.0
    axes = [np.unique(np.append(z[:, j], ref[j])) for j in range(len(ref))]
    corners = np.stack([g.ravel() for g in np.meshgrid(*[a[:-1] for a in axes], indexing="ij")], 1)
    widths = np.meshgrid(*[np.diff(a) for a in axes], indexing="ij")
    volume = np.prod([w.ravel() for w in widths], axis=0)
    covered = (z[None, :, :] <= corners[:, None, :]).all(-1).any(-1)
    return float(volume[covered].sum())


def bf_contributions(points, senses, reference) -> np.ndarray:
    total = bf_hypervolume(points, senses, reference)
    rest = lambda i: np.delete(np.asarray(points, float), i, axis=0)  # noqa: E731
    return np.array([total - bf_hypervolume(rest(i), senses, reference) for i in range(len(points))])


def bf_crowding(points) -> np.ndarray:
    n, distance = len(points), np.zeros(len(points))
    for j in range(points.shape[1]):
        order = sorted(range(n), key=lambda i: (points[i, j], i))
        lo, hi = points[order[0], j], points[order[-1], j]
        if hi == lo:
            continue
        for k, i in enumerate(order):
            if k in (0, n - 1):
                distance[i] = np.inf
            else:
                distance[i] += (points[order[k + 1], j] - points[order[k - 1], j]) / (hi - lo)
    return distance


def random_case(seed: int, n_obj: int, n: int):
    """Small integer grid: many ties and exact duplicates; mixed directions."""
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 5, size=(n, n_obj)).astype(float)
    if n > 3:
        points[-1] = points[0]
    senses = tuple(rng.choice(["max", "min"], size=n_obj))
    reference = [-1.0 if s == "max" else 5.0 for s in senses]
    reference[0] = 3.0 if senses[0] == "max" else 2.0  # some points beyond the reference
    return points, senses, reference


CASES = [(seed, n_obj) for n_obj in (2, 3) for seed in range(25)]


# ---------------------------------------------------------------- fronts and sorting
def test_ties_and_duplicates_by_hand():
    points = [[1, 1], [1, 1], [1, 2], [2, 1], [0, 3]]
    assert pareto_front(points, ("min", "min")).tolist() == [0, 1, 4]
    assert pareto_ranks(points, ("min", "min")).tolist() == [0, 0, 1, 1, 0]
    assert [f.tolist() for f in non_dominated_sort(points, ("min", "min"))] == [[0, 1, 4], [2, 3]]
    assert pareto_front(points, ("max", "max")).tolist() == [2, 3, 4]  # (0, 3) has the top y


@pytest.mark.parametrize("seed,n_obj", CASES)
def test_front_and_sort_match_brute_force(seed, n_obj):
    points, senses, _ = random_case(seed, n_obj, 5 + seed)
    assert pareto_front(points, senses).tolist() == bf_front(points, senses)
    assert [f.tolist() for f in non_dominated_sort(points, senses)] == bf_sort(points, senses)


def test_front_continuous_points_with_objective_records():
    rng = np.random.default_rng(7)
    points = rng.random((300, 3))
    senses = (Objective("accuracy", "max"), Objective("params", "min"), Objective("flops", "min"))
    expected = bf_front(points, [s.direction for s in senses])
    assert pareto_front(points, senses).tolist() == expected
    assert 3 < len(expected) < 300


def test_empty_input():
    assert pareto_front(np.zeros((0, 2)), ACC_PARAMS).size == 0
    assert non_dominated_sort(np.zeros((0, 2)), ACC_PARAMS) == []
    assert hypervolume(np.zeros((0, 2)), ACC_PARAMS, [0, 1]) == 0.0


# ---------------------------------------------------------------- hypervolume
def test_hypervolume_by_hand_2d():
    # accuracy up, params down; reference accuracy 0, params 5e6 (original units).
    points = [[0.9, 1e6], [0.8, 5e5], [0.95, 3e6], [0.85, 2e6], [0.9, 1e6], [0.99, 5e6]]
    expected = 0.8 * 5e5 + 0.9 * 2e6 + 0.95 * 2e6  # slabs 0.5-1M, 1-3M, 3-5M params
    assert hypervolume(points, ACC_PARAMS, [0.0, 5e6]) == pytest.approx(expected, rel=1e-12)
    assert hypervolume(points, ("min", "min"), [0.0, 5e6]) == 0.0  # nothing beats acc 0 downward


def test_hypervolume_by_hand_3d():
    points = [[1, 2, 3], [2, 1, 3], [3, 3, 1]]  # minimise all, reference 4
    # boxes 3*2*1, 2*3*1, 1*1*3; pairwise overlaps 2*2*1, 1*1*1, 1*1*1; triple 1*1*1
    expected = 6 + 6 + 3 - 4 - 1 - 1 + 1
    assert hypervolume(points, ("min",) * 3, [4, 4, 4]) == pytest.approx(expected)
    assert bf_hypervolume(points, ("min",) * 3, [4, 4, 4]) == pytest.approx(expected)


@pytest.mark.parametrize("seed,n_obj", CASES)
def test_hypervolume_matches_grid(seed, n_obj):
    points, senses, reference = random_case(seed, n_obj, 5 + seed)
    assert hypervolume(points, senses, reference) == pytest.approx(
        bf_hypervolume(points, senses, reference), abs=1e-9
    )


def test_hypervolume_continuous_3d_matches_grid():
    points = np.random.default_rng(3).random((25, 3))
    ref = [1.1, 1.0, 0.9]
    assert hypervolume(points, ("min",) * 3, ref) == pytest.approx(
        bf_hypervolume(points, ("min",) * 3, ref), rel=1e-12
    )


@pytest.mark.parametrize("seed,n_obj", CASES)
def test_contributions_match_leave_one_out(seed, n_obj):
    points, senses, reference = random_case(seed, n_obj, 4 + seed % 12)
    np.testing.assert_allclose(
        hypervolume_contributions(points, senses, reference),
        bf_contributions(points, senses, reference),
        atol=1e-9,
    )


def test_contributions_by_hand():
    # (2,2) is dominated only by (1,1): removing (1,1) leaves 2*2, so it contributes 9 - 4.
    assert hypervolume_contributions([[1, 1], [2, 2]], ("min", "min"), [4, 4]).tolist() == [5, 0]
    # duplicates contribute nothing; a point on the reference contributes nothing.
    got = hypervolume_contributions([[1, 3], [1, 3], [3, 1], [0, 4]], ("min", "min"), [4, 4])
    assert got.tolist() == [0, 0, 2, 0]


# ---------------------------------------------------------------- reference point
def test_reference_point_proposal_and_json_round_trip():
    points = [[0.9, 1e6], [0.8, 5e5], [0.95, 3e6], [0.7, 4e6]]
    senses = (Objective("accuracy", "max"), Objective("params", "min"))
    ref = reference_point(points, senses, margin=0.1)
    assert ref.values == pytest.approx((0.8 - 0.015, 3e6 + 2.5e5))  # front worst + 10% range
    stored = ReferencePoint.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert stored == ref
    assert hypervolume(points, senses, stored) == hypervolume(points, senses, list(ref.values))
    assert hypervolume_contributions(points, senses, stored)[:3].min() > 0


def test_reference_point_zero_range_and_plain_senses():
    ref = reference_point([[0.5, 100.0]], ACC_PARAMS, margin=0.1)
    assert ref.values == pytest.approx((0.4, 110.0))
    assert [o.name for o in ref.objectives] == ["objective_0", "objective_1"]


# ---------------------------------------------------------------- crowding and knee
def test_crowding_distance_by_hand():
    got = crowding_distance([[0, 4], [1, 2], [2, 1], [4, 0]], ("min", "min"))
    assert got.tolist() == [np.inf, 0.5 + 0.75, 0.75 + 0.5, np.inf]
    assert crowding_distance([[1, 2], [3, 4]], ACC_PARAMS).tolist() == [np.inf, np.inf]
    assert crowding_distance([[1, 2], [1, 2], [1, 2]], ACC_PARAMS).tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed,n_obj", CASES[::3])
def test_crowding_distance_matches_loop(seed, n_obj):
    points, senses, _ = random_case(seed, n_obj, 6 + seed)
    np.testing.assert_allclose(crowding_distance(points, senses), bf_crowding(points))


def test_knee_point_by_hand():
    # index 1 is dominated by 2; normalised front 0,2,3,4 = (0,1), (0.4,0.15), (0.8,0.1), (1,0):
    # the sum, hence the distance below the line x + y = 1, is best at index 2.
    points = [[0.95, 5e6], [0.90, 4e6], [0.91, 1.6e6], [0.87, 1.4e6], [0.85, 1e6]]
    assert knee_point(points, ACC_PARAMS) == 2
    assert knee_point(points + [points[2]], ACC_PARAMS) == 2  # tie: lowest index
    cube = [[0, 1, 1], [1, 0, 1], [1, 1, 0], [0.5, 0.5, 0.9], [0.3, 0.3, 0.3]]
    assert knee_point(cube, ("min",) * 3) == 4
    assert knee_point([[0, 0, 1], [1, 1, 0], [0.5, 0.6, 0.5]], ("min",) * 3) == 0  # sum=1 plane
    # tilted plane through the extremes, normal ~ (0.67, 0.83, 0.87): n.a = 0.59 < n.b = 0.60,
    # although b has the smaller plain sum (0.75 < 0.8).
    tilted = [[0, 1, 0.2], [0.2, 0, 1], [1, 0.4, 0], [0.5, 0.1, 0.2], [0.2, 0.25, 0.3]]
    assert knee_point(tilted, ("min",) * 3) == 3
    # ties for best x (1 and 2) and best y (0 and 2) go to the smaller normalised sum, point 2:
    # the extremes 2, 2, 3 span no plane, so sum = 1 is used and point 2 (sum 1) wins.
    tied = [[3, 2, 3], [1, 3, 3], [1, 2, 4], [4, 4, 1]]
    assert knee_point(tied, ("min",) * 3) == 2


@pytest.mark.parametrize("seed", range(10))
def test_knee_point_matches_2d_geometry(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.random(12))
    points = np.stack([x, rng.random() + np.sort(rng.random(12))[::-1] ** 2], 1)  # min/min
    front = bf_front(points, ("min", "min"))
    f = points[front]
    u = (f - f.min(0)) / (f.max(0) - f.min(0))
    a, b = u[np.argmin(u[:, 0])], u[np.argmin(u[:, 1])]
    cross = lambda p: (b - a)[0] * (p - a)[1] - (b - a)[1] * (p - a)[0]  # noqa: E731
    side = np.sign(cross(np.zeros(2)))  # the ideal point's side counts as positive
    expected = front[int(np.argmax([side * cross(p) for p in u]))]
    assert knee_point(points, ("min", "min")) == expected


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pareto_front([1.0, 2.0], ACC_PARAMS), r"`points`.*shape \(2,\)"),
        (lambda: pareto_front([[1, 2, 3]], ACC_PARAMS), r"`points`.*\(n_points, 2\)"),
        (lambda: pareto_front([[1, 2], [3]], ACC_PARAMS), r"`points`"),
        (lambda: pareto_front([[1, 2], [3, np.nan]], ACC_PARAMS), r"`points`.*nan at row 1"),
        (lambda: hypervolume([[1, np.inf]], ACC_PARAMS, [0, 5]), r"`points`.*inf"),
        (lambda: pareto_front([[1, 2]], ("max", "maximise")), r"`senses\[1\]`.*'maximise'"),
        (lambda: pareto_front([[1, 2]], "max"), r"`senses`.*'max'"),
        (lambda: pareto_front([[1, 2]], ()), r"`senses`"),
        (lambda: hypervolume([[1, 2]], ACC_PARAMS, [0, 5, 1]), r"`reference`.*2 finite.*\[0, 5, 1\]"),
        (lambda: hypervolume([[1, 2]], ACC_PARAMS, [0, np.nan]), r"`reference`.*nan"),
        (lambda: hypervolume([[1, 2]], ("min", "min"), reference_point([[1, 2]], ACC_PARAMS)),
         r"`reference` directions"),
        (lambda: reference_point([[1, 2]], ACC_PARAMS, margin=0), r"`margin`.*0"),
        (lambda: knee_point(np.zeros((0, 2)), ACC_PARAMS), r"`points`.*at least 1"),
        (lambda: Objective("acc", "up"), r"`direction`.*'up'"),
        (lambda: ReferencePoint.from_dict({"values": [1]}), r"`data`"),
        (lambda: ReferencePoint((Objective("a", "max"),), (1.0, 2.0)), r"`values`.*1 finite"),
    ],
)
def test_validation_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_senses_direction_changes_result():
    points = list(itertools.product([0.0, 1.0], repeat=2))
    assert pareto_front(points, ("min", "min")).tolist() == [0]
    assert pareto_front(points, ("max", "max")).tolist() == [3]
    assert pareto_front(points, ("max", "min")).tolist() == [2]
