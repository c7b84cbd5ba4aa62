"""Evolution operators on their own: NNI mutables, seeded draws, NSGA-II selection vs brute force."""
from __future__ import annotations

import itertools
from collections import Counter

import nni
import numpy as np
import pytest
from nni.mutable import CategoricalMultiple, ExpressionConstraint, MutableDict
from numpy.random import RandomState

from strategies.evolution_ops import (
    crossover,
    crowded_tournament,
    mutate,
    nsga2_ranking,
    nsga2_select,
    random_sample,
    searchable,
)

SENSES = ("max", "min")


@pytest.fixture
def space():
    """A small space like a cell's: op choices, a one-of-n input choice, a constant, a constraint."""
    ops = {f"op_{i}": nni.choice(f"op_{i}", ["sep", "skip", "pool", "blk"]) for i in range(4)}
    inputs = {"input_0": CategoricalMultiple([0, 1, 2], n_chosen=1, label="input_0")}
    fixed = {"fixed": nni.choice("fixed", [7])}
    constraint = {"c": ExpressionConstraint(ops["op_0"] != "pool", label="c")}
    return MutableDict({**ops, **inputs, **fixed, **constraint}).simplify()


def test_random_sample_covers_every_label_and_is_seeded(space):
    first = random_sample(space, RandomState(3))
    assert set(first) == set(searchable(space)) == {"op_0", "op_1", "op_2", "op_3", "input_0", "fixed"}
    assert first == random_sample(space, RandomState(3))
    draws = [random_sample(space, RandomState(seed)) for seed in range(200)]
    assert len({str(d) for d in draws}) > 100
    assert Counter(d["op_1"] for d in draws).keys() == {"sep", "skip", "pool", "blk"}
    assert all(len(d["input_0"]) == 1 and d["input_0"][0] in (0, 1, 2) for d in draws)


def test_mutation_changes_exactly_k_labels_to_other_values(space):
    rng = RandomState(0)
    parent = random_sample(space, rng)
    for k in (1, 2, 3):
        for _ in range(50):
            child = mutate(parent, space, rng, k)
            changed = [label for label in parent if child[label] != parent[label]]
            # every picked label changes, except the constant one when it is picked
            assert k - 1 <= len(changed) <= k and "fixed" not in changed
            assert all(child[label] in _values(space[label]) for label in child)
    children = [mutate(parent, space, rng, 2) for _ in range(300)]
    counts = Counter(sum(child[k] != parent[k] for k in parent) for child in children)
    assert set(counts) == {1, 2} and 170 < counts[2] < 230  # 1 when "fixed" is picked: p = 1/3
    assert parent == random_sample(space, RandomState(0))  # the parent is not modified


def _values(mutable):
    return mutable.values if not isinstance(mutable, CategoricalMultiple) else [[v] for v in mutable.values]


def test_mutating_every_label_changes_every_changeable_one(space):
    rng = RandomState(1)
    parent = random_sample(space, rng)
    child = mutate(parent, space, rng, k=100)
    assert {k for k in parent if child[k] != parent[k]} == set(parent) - {"fixed"}


def test_uniform_crossover_takes_each_label_from_a_parent(space):
    rng = RandomState(5)
    a = {label: value for label, value in random_sample(space, rng).items()}
    b = mutate(a, space, rng, k=100)
    assert crossover(a, b, rng, 0.0) == a and crossover(a, b, rng, 1.0) == b
    from_b = Counter()
    for _ in range(400):
        child = crossover(a, b, rng)
        assert all(child[k] in (a[k], b[k]) for k in a)
        from_b.update(k for k in a if a[k] != b[k] and child[k] == b[k])
    assert all(150 < from_b[k] < 250 for k in a if a[k] != b[k])


def test_crossover_does_not_depend_on_dict_order(space):
    """A parent reloaded from sorted-key JSON (a resumed search) must breed the same child."""
    a = random_sample(space, RandomState(2))
    b = mutate(a, space, RandomState(3), k=100)
    shuffled = dict(reversed(list(a.items())))
    assert crossover(a, b, RandomState(9)) == crossover(shuffled, b, RandomState(9))


def test_crossover_refuses_different_labels_and_bad_probability(space):
    a = random_sample(space, RandomState(0))
    with pytest.raises(ValueError, match="same labels"):
        crossover(a, {**a, "extra": 1}, RandomState(0))
    with pytest.raises(ValueError, match="`swap_probability`"):
        crossover(a, a, RandomState(0), 1.5)
    with pytest.raises(ValueError, match="`k`"):
        mutate(a, space, RandomState(0), 0)


# ---------------------------------------------------------------- NSGA-II vs brute force
def bf_dominates(a, b) -> bool:
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def bf_fronts(points) -> list[list[int]]:
    alive, fronts = list(range(len(points))), []
    while alive:
        front = [i for i in alive if not any(bf_dominates(points[j], points[i]) for j in alive)]
        fronts.append(front)
        alive = [i for i in alive if i not in front]
    return fronts


def bf_crowding(points, front) -> dict[int, float]:
    """Deb et al.'s crowding distance written out per point: boundary points infinite."""
    distance = {i: 0.0 for i in front}
    for j in range(2):
        ordered = sorted(front, key=lambda i: (points[i][j], i))
        span = points[ordered[-1]][j] - points[ordered[0]][j]
        if span == 0:
            continue
        distance[ordered[0]] = distance[ordered[-1]] = float("inf")
        for left, mid, right in zip(ordered, ordered[1:], ordered[2:]):
            distance[mid] += (points[right][j] - points[left][j]) / span
    return distance


@pytest.mark.parametrize("seed", range(6))
def test_nsga2_selection_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    # small integer grid: ties and duplicate points are frequent
    points = np.column_stack([rng.integers(0, 6, 25) / 10, rng.integers(1, 7, 25) * 1000.0])
    fronts = bf_fronts(points.tolist())
    ranks, crowding = nsga2_ranking(points, SENSES)
    for rank, front in enumerate(fronts):
        assert sorted(np.flatnonzero(ranks == rank)) == sorted(front)
        expected = bf_crowding(points.tolist(), front)
        assert all(crowding[i] == pytest.approx(expected[i]) for i in front)
    for k in (1, 5, 12, 25, 40):
        chosen = list(nsga2_select(points, SENSES, k))
        assert len(chosen) == min(k, 25) and len(set(chosen)) == len(chosen)
        taken = []
        for front in fronts:  # whole fronts first, then the most crowded-apart of the cut front
            if len(taken) + len(front) <= k:
                taken += front
                continue
            distance = bf_crowding(points.tolist(), front)
            taken += sorted(front, key=lambda i: (-distance[i], i))[:k - len(taken)]
            break
        assert sorted(chosen) == sorted(taken)


def test_crowded_tournament_prefers_rank_then_crowding():
    ranks, crowding = np.array([0, 1, 0]), np.array([1.0, np.inf, np.inf])
    rng = RandomState(0)
    wins = Counter(crowded_tournament(ranks, crowding, rng) for _ in range(600))
    # pairs: a rank-0 point always beats index 1; index 2 (infinite crowding) beats index 0
    assert wins[1] == pytest.approx(600 / 9, rel=0.4) and wins[2] > wins[0]
    for a, b in itertools.product(range(3), repeat=2):
        pair_rng = _FixedDraw([a, b])
        winner = crowded_tournament(ranks, crowding, pair_rng)
        assert winner == min((a, b), key=lambda i: (ranks[i], -crowding[i], (a, b).index(i)))
    with pytest.raises(ValueError, match="`ranks`"):
        crowded_tournament(np.array([]), np.array([]), rng)


class _FixedDraw:
    def __init__(self, pair):
        self.pair = pair

    def randint(self, high, size):
        return np.array(self.pair)
