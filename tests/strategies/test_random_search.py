"""MultiObjectiveRandom in real NNI runs: the seeded uniform draw, three objectives, budget, exhaustion."""
from __future__ import annotations

import numpy as np
from search_helpers import MAX_PARAMS, evaluations, run_search, tiny_space
from test_archive import bf_front_ids

from strategies import MultiObjectiveRandom
from strategies.evolution_ops import random_sample

SPACE = tiny_space()
MAX_FLOPS = 100_000
OBJECTIVES = ("accuracy", "params", "flops")


def key(sample) -> str:
    return SPACE.genotype(sample).to_json(indent=None)


def replay(seed: int, count: int) -> list[str]:
    """Independent replay of the rules: uniform draws, feasible and not seen before."""
    rng, keys = np.random.RandomState(seed), []
    while len(keys) < count:
        sample = random_sample(SPACE.simplify(), rng)
        cost = SPACE.cost(sample)
        if cost.params <= MAX_PARAMS and cost.flops <= MAX_FLOPS and key(sample) not in keys:
            keys.append(key(sample))
    return keys


def test_random_search_with_three_objectives_and_both_constraints(tmp_path):
    def make():
        return MultiObjectiveRandom(seed=4, max_trials=5, batch_size=3, objectives=OBJECTIVES, max_params=MAX_PARAMS,
                                    max_flops=MAX_FLOPS, checkpoint_path=tmp_path / "state.json")
    strategy = run_search(make(), tmp_path)
    records = strategy.archive.records
    evaluated = evaluations(tmp_path / "evaluations.log")
    assert [(r.id, r.generation, r.status) for r in records] == [(0, 0, "ok"), (1, 0, "ok"), (2, 0, "ok"),
                                                                 (3, 1, "ok"), (4, 1, "ok")]
    assert [key(s) for s in evaluated] == [key(r.sample) for r in records] == replay(4, 5)
    assert all(r.objectives["flops"] <= MAX_FLOPS and r.objectives["params"] <= MAX_PARAMS for r in records)
    assert all(r.objectives["flops"] == SPACE.cost(r.sample).flops for r in records)
    assert [r.id for r in strategy.frontier()] == bf_front_ids(records, OBJECTIVES)
    assert strategy.archive.reference.values == (0.0, MAX_PARAMS, MAX_FLOPS)
    assert strategy.hypervolume() > 0
    # running again from the finished checkpoint trains nothing: the budget is spent
    again = run_search(make(), tmp_path)
    assert len(evaluations(tmp_path / "evaluations.log")) == 5
    assert again.archive.records == records


def test_search_stops_when_no_new_sample_is_left(tmp_path):
    # a duplicate key that only sees one edge's op: 4 distinct "architectures" in all
    strategy = MultiObjectiveRandom(seed=0, max_trials=10, batch_size=8, max_retries=60,
                                    key_fn=lambda sample: sample["normal/op_2_0"])
    run_search(strategy, tmp_path)
    keys = [r.sample["normal/op_2_0"] for r in strategy.archive.records]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 4
    assert len(evaluations(tmp_path / "evaluations.log")) == 4
