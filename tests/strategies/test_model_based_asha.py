"""ModelBasedASHA in real NNI runs on the tabular sub-space (the made-up multi-fidelity table of
test_mo_asha): uniform draws before a rung has ``initial_samples`` 'ok' trials, then each new
architecture is what a fresh proposer fitted on that rung's trials chooses; no duplicates (also with
jobs planned while others run on the pool engine); resume equals an uninterrupted run."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperimentConfig
from test_mo_asha import ROWS, mf_trial, run, trials_of

from nas_sepconv.core.errors import UserError
from strategies import ModelBasedASHA, MultiObjectiveASHA
from strategies.archive import Archive
from strategies.ehvi_proposer import EHVIProposer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from tabular_space import TabularSubspace, choice_key  # noqa: E402

SETTINGS = dict(max_epochs=8, min_epochs=1, eta=3, initial_samples=4, candidates=64)


class Checked(ModelBasedASHA):
    """Replays every new-architecture draw: before it, the rung rule by hand and a fresh proposer
    (no caches) on a copy of the random state; after it, the proposal compared with that."""

    def _initialize(self, model_space, engine):
        self.draws = []   # (trial id, rung used or None, proposed, expected)
        return super()._initialize(model_space, engine)

    def _new_sample(self):
        records = list(self.archive.records)
        by_rung = [[r for r in records if r.status == "ok" and r.epochs == b] for b in self.rungs]
        rung = next((k for k in reversed(range(len(self.rungs))) if len(by_rung[k]) >= self.initial_samples), None)
        expected = None
        if rung is not None:
            rng = np.random.RandomState()
            rng.set_state(self._rng.get_state())
            fresh = EHVIProposer(self.model_space.simplify(), cost_name="params", key_fn=self._key_fn, cost=self._cost,
                                 limits=self.limits, check=self.model_space.check_contains, rng=rng,
                                 candidates=self.candidates, surrogate=self.surrogate, seed=self.seed)
            ok = by_rung[rung]
            front = [r.sample for r in Archive(self.objectives, self.archive.reference, ok).frontier()]
            [expected] = fresh.propose(ok, records, 1, front=front, taken=set(self._taken),
                                       reference=self.archive.reference)
        sample = super()._new_sample()
        self.draws.append((self._next_id, rung, sample, expected))
        return sample


def test_uniform_until_a_rung_has_initial_samples_then_the_proposers_ehvi_choice(tmp_path):
    strategy = run(Checked(max_trials=40, seed=3, **SETTINGS), tmp_path / "a")
    uniform = run(MultiObjectiveASHA(max_trials=40, seed=3, max_epochs=8, min_epochs=1, eta=3), tmp_path / "b")
    warm = [i for i, (_, rung, _, _) in enumerate(strategy.draws) if rung is not None]
    assert warm and all(rung is None for _, rung, _, _ in strategy.draws[:warm[0]])
    first = strategy.draws[warm[0]][0]            # the trial id of the first model-based architecture
    assert trials_of(strategy)[:first] == trials_of(uniform)[:first]   # MO-ASHA's uniform draws until then
    assert trials_of(strategy)[first] != trials_of(uniform)[first]
    assert {rung for _, rung, _, _ in strategy.draws} >= {None, 0, 1}   # rung 1 (3 epochs) drives later ones
    for _, rung, sample, expected in strategy.draws:
        if rung is not None:
            assert sample == expected
    bottom = [choice_key(r.sample) for r in strategy.archive.records if strategy.budget_of(r) == 1]
    assert len(bottom) == len(set(bottom))


def test_a_nearly_exhausted_space_never_gets_a_duplicate_and_ends_at_the_top(tmp_path):
    # 33 of the 216 architectures under this limit: the pool runs dry, the fallback finds the last ones
    strategy = run(ModelBasedASHA(max_trials=200, seed=1, max_params=3000, **SETTINGS), tmp_path)
    trials = trials_of(strategy)
    assert len(trials) == len(set(trials)) < 200
    assert all(r.objectives["params"] <= 3000 for r in strategy.archive.records)
    bottom = [k for k, b in trials if b == 1]
    assert sorted(bottom) == sorted(k for k, row in ROWS.items() if row.params <= 3000)   # each once, all of them
    assert strategy.top_budget_records()


def test_jobs_planned_while_others_run_on_the_pool_engine_never_repeat_them(tmp_path):
    from nas_sepconv.runs.pool_engine import PoolExecutionEngine, PoolExperiment
    strategy = ModelBasedASHA(max_trials=30, seed=2, **SETTINGS)
    config = NasExperimentConfig("sequential", "simplified")
    config.experiment_working_directory = str(tmp_path / "nni")
    pool = PoolExecutionEngine(2, 1)
    try:
        experiment = PoolExperiment(TabularSubspace(), FunctionalEvaluator(mf_trial), strategy, config, engine=pool)
        experiment.run()
        experiment.stop()
    finally:
        pool.shutdown()
    trials = trials_of(strategy)
    assert len(trials) == 30 and len(trials) == len(set(trials))
    assert all(r.status == "ok" for r in strategy.archive.records)
    assert strategy.model_rung() is not None


def test_bad_arguments_name_the_argument():
    for kwargs, name in [({"initial_samples": 1}, "initial_samples"), ({"candidates": 0}, "candidates"),
                         ({"surrogate": "svm"}, "surrogate"), ({"eta": 1}, "eta"),
                         ({"objectives": ("accuracy", "params", "flops")}, "objectives")]:
        with pytest.raises(UserError, match=name):
            ModelBasedASHA(max_epochs=8, **kwargs)
