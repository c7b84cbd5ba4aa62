"""MultiObjectiveEvolution in real NNI experiments on digits (tiny cell space, 1 epoch).

Sequential engine: every trial archived, frontier = brute force, constraints and duplicate
avoidance, same seed -> same run, failures recorded, SIGKILL + resume. Training-service
engine with two concurrent trial processes: all results arrive (marked slow).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from search_helpers import EVOLUTION, MAX_PARAMS, evaluations, run_search, tiny_space
from test_archive import bf_front_ids, bf_hypervolume_2d

from strategies import Archive, MultiObjectiveEvolution
from strategies.evolution_ops import random_sample

SPACE = tiny_space()


def key(sample) -> str:
    return SPACE.genotype(sample).to_json(indent=None)


def summary(archive):
    """What must be identical between two runs: ids, samples, statuses and objectives."""
    return [(r.id, key(r.sample), r.status, r.objectives) for r in archive.records]


@pytest.fixture(scope="module")
def seed0_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("seed0")
    return run_search(MultiObjectiveEvolution(seed=0, **EVOLUTION), work), evaluations(work / "evaluations.log")


def test_every_trial_is_archived_and_the_frontier_is_computed(seed0_run):
    strategy, evaluated = seed0_run
    records = strategy.archive.records
    assert [r.id for r in records] == list(range(9)) and all(r.status == "ok" for r in records)
    assert [r.generation for r in records] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [key(s) for s in evaluated] == [key(r.sample) for r in records]  # each trained once, in order
    assert all(r.objectives["params"] == SPACE.cost(r.sample).params for r in records)
    assert all(r.epochs == 1 and r.seed == 0 and r.seconds > 0 for r in records)
    front = strategy.frontier()
    assert [r.id for r in front] == bf_front_ids(records, ("accuracy", "params")) and front
    points = [(r.objectives["accuracy"], r.objectives["params"]) for r in records]
    assert strategy.hypervolume() == pytest.approx(bf_hypervolume_2d(points, 0.0, MAX_PARAMS))
    assert strategy.archive.reference.values == (0.0, MAX_PARAMS)
    assert len(strategy.population) == 3 and {r.id for r in front} <= {r.id for r in strategy.population} | {
        r.id for r in records}


def test_constraints_hold_and_no_sample_is_trained_twice(seed0_run):
    _, evaluated = seed0_run
    assert all(SPACE.cost(s).params <= MAX_PARAMS for s in evaluated)
    assert len({key(s) for s in evaluated}) == len(evaluated)
    rng = np.random.RandomState(0)  # the constraint is active: uniform samples often break it
    over = sum(SPACE.cost(random_sample(SPACE.simplify(), rng)).params > MAX_PARAMS for _ in range(50))
    assert over >= 10


def test_the_first_generation_is_the_seeded_uniform_draw(seed0_run):
    strategy, _ = seed0_run
    rng, expected = np.random.RandomState(0), []
    while len(expected) < 3:  # independent replay of the rules: unique and feasible
        sample = random_sample(SPACE.simplify(), rng)
        if SPACE.cost(sample).params <= MAX_PARAMS and key(sample) not in map(key, expected):
            expected.append(sample)
    assert [key(r.sample) for r in strategy.archive.records[:3]] == [key(s) for s in expected]


def test_same_seed_same_run_and_another_seed_differs(seed0_run, tmp_path):
    strategy, _ = seed0_run
    again = run_search(MultiObjectiveEvolution(seed=0, **EVOLUTION), tmp_path / "a")
    assert summary(again.archive) == summary(strategy.archive)
    assert [r.id for r in again.frontier()] == [r.id for r in strategy.frontier()]
    other = run_search(MultiObjectiveEvolution(seed=1, max_trials=3, **EVOLUTION), tmp_path / "b")
    assert [key(r.sample) for r in other.archive.records] != [key(r.sample) for r in strategy.archive.records[:3]]


def test_failed_trials_are_recorded_kept_off_the_frontier_and_the_search_goes_on(tmp_path):
    strategy = MultiObjectiveEvolution(seed=0, population_size=3, generations=2, max_params=MAX_PARAMS,
                                       checkpoint_path=tmp_path / "state.json")
    run_search(strategy, tmp_path, raise_at=1, nan_at=3)
    records = strategy.archive.records
    assert [r.status for r in records] == ["ok", "failed", "ok", "failed", "ok", "ok"]
    assert records[1].reason == "trial raised RuntimeError: planned failure of evaluation 1"
    assert "non-finite training loss" in records[3].reason
    assert all(r.objectives["params"] == SPACE.cost(r.sample).params for r in records)
    assert {1, 3}.isdisjoint(r.id for r in strategy.frontier())
    assert {1, 3}.isdisjoint(r.id for r in strategy.population)
    assert [r.id for r in strategy.frontier()] == bf_front_ids(records, ("accuracy", "params"))
    saved = Archive.from_dict(json.loads((tmp_path / "state.json").read_text())["archive"])
    assert saved.records == records


def test_killed_search_resumes_without_retraining_and_ends_like_an_uninterrupted_one(seed0_run, tmp_path):
    script = Path(__file__).with_name("search_helpers.py")
    state, log = tmp_path / "strategy.json", tmp_path / "evaluations.log"
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path), "0"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and _ended(state) < 3:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = Archive.from_dict(json.loads(state.read_text())["archive"])
    assert 3 <= len(done) < 9, "the kill must land mid-search"
    trained_before = len(evaluations(log))
    resumed = run_search(MultiObjectiveEvolution(seed=0, checkpoint_path=state, **EVOLUTION), tmp_path)
    retrained = evaluations(log)[trained_before:]
    assert not {key(r.sample) for r in done.records} & {key(s) for s in retrained}
    assert len(retrained) == 9 - len(done)
    uninterrupted, _ = seed0_run
    assert summary(resumed.archive) == summary(uninterrupted.archive)
    assert [r.id for r in resumed.frontier()] == [r.id for r in uninterrupted.frontier()]


def _ended(state: Path) -> int:
    try:
        return len(json.loads(state.read_text())["archive"]["records"])
    except (OSError, ValueError, KeyError):
        return 0


def test_arguments_are_validated():
    for kwargs, name in [({"population_size": 0}, "`population_size`"), ({"generations": 0}, "`generations`"),
                         ({"crossover_probability": 1.5}, "`crossover_probability`"),
                         ({"mutation_labels": 0}, "`mutation_labels`"), ({"max_params": -1}, "`max_params`"),
                         ({"objectives": ("accuracy", "latency")}, "`objectives`"), ({"seed": -1}, "`seed`"),
                         ({"max_trials": 0}, "`max_trials`"),
                         ({"reference": {"accuracy": 0.0}}, "missing")]:
        with pytest.raises(ValueError, match=name):
            MultiObjectiveEvolution(**kwargs)


@pytest.mark.slow
@pytest.mark.xdist_group("nni-ts-engine")  # NNI managers and trial processes: one at a time
def test_training_service_engine_with_two_concurrent_trials_gets_every_result(seed0_run, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    strategy = MultiObjectiveEvolution(seed=0, population_size=2, generations=2, max_params=MAX_PARAMS)
    run_search(strategy, tmp_path, engine="ts", concurrency=2, port=port)
    records = strategy.archive.records
    assert [(r.id, r.status, r.generation) for r in records] == [(0, "ok", 0), (1, "ok", 0), (2, "ok", 1), (3, "ok", 1)]
    assert all(set(r.objectives) == {"accuracy", "params", "flops"} and r.seconds > 0 for r in records)
    assert len({key(r.sample) for r in records}) == 4
    # the first generation is the same seeded draw as on the sequential engine, and each result
    # reached the trial that produced it: identical objectives
    sequential, _ = seed0_run
    assert summary(strategy.archive)[:2] == summary(sequential.archive)[:2]
    assert [r.id for r in strategy.frontier()] == bf_front_ids(records, ("accuracy", "params"))
