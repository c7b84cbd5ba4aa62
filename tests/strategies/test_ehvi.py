"""Closed-form EHVI with an exact cost against brute-force hypervolumes and Monte Carlo."""
from __future__ import annotations

import numpy as np
import pytest

from nas_sepconv.frontier.pareto import hypervolume
from strategies.ehvi import ehvi, hvi, staircase

SENSES = ("max", "min")
REF = (0.1, 100.0)


def brute_hvi(front: np.ndarray, point: tuple[float, float]) -> float:
    """HV(front + point) - HV(front) by the project's exact hypervolume (moocore)."""
    before = hypervolume(front, SENSES, REF) if len(front) else 0.0
    return hypervolume(np.vstack([front.reshape(-1, 2), [point]]), SENSES, REF) - before


def random_front(rng: np.random.RandomState, n: int) -> np.ndarray:
    """(accuracy, cost) rows, some dominated, some outside the reference."""
    return np.column_stack([rng.uniform(0.0, 1.0, n), rng.uniform(1.0, 120.0, n)])


@pytest.mark.parametrize("seed", range(6))
def test_hvi_equals_the_brute_force_hypervolume_difference(seed):
    rng = np.random.RandomState(seed)
    front = random_front(rng, rng.randint(0, 12))
    breaks, levels = staircase(front[:, 1], front[:, 0], *REF)
    assert np.all(np.diff(levels) > 0)
    for _ in range(40):
        point = (rng.uniform(0.0, 1.1), rng.uniform(0.0, 130.0))
        assert hvi(point[1], point[0], breaks, levels, REF[1]) == pytest.approx(brute_hvi(front, point), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_ehvi_equals_a_monte_carlo_mean_of_brute_force_improvements(seed):
    rng = np.random.RandomState(100 + seed)
    front = random_front(rng, 6)
    breaks, levels = staircase(front[:, 1], front[:, 0], *REF)
    costs = rng.uniform(1.0, 110.0, 4)
    means, stds = rng.uniform(0.3, 0.9, 4), rng.uniform(0.01, 0.2, 4)
    closed = ehvi(costs, means, stds, breaks, levels, REF[1])
    for c, m, s, value in zip(costs, means, stds, closed):
        draws = rng.normal(m, s, 4000)
        improvements = np.array([brute_hvi(front, (y, c)) for y in draws])
        error = 4 * improvements.std() / np.sqrt(len(draws)) + 1e-9
        assert abs(value - improvements.mean()) <= error
    # a point with no spread gets its exact improvement; one beyond the cost reference gets 0
    exact = ehvi([30.0, 150.0], [0.8, 0.99], [0.0, 0.1], breaks, levels, REF[1])
    assert exact[0] == pytest.approx(brute_hvi(front, (0.8, 30.0)), abs=1e-9) and exact[1] == 0.0


def test_staircase_drops_dominated_and_outside_points():
    front = np.array([[0.5, 10.0], [0.4, 20.0], [0.7, 30.0], [0.05, 5.0], [0.9, 200.0], [0.7, 30.0]])
    breaks, levels = staircase(front[:, 1], front[:, 0], *REF)
    assert breaks.tolist() == [-np.inf, 10.0, 30.0] and levels.tolist() == [0.1, 0.5, 0.7]
