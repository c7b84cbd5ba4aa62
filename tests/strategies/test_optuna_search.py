"""OptunaSearch in real NNI runs: the tabular space (table lookups) and the tiny cell space (real
training, conditional op internals); resume rebuilds the study from the archive."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from search_helpers import MAX_PARAMS, evaluations, run_search, tiny_space  # noqa: E402
from test_model_based import ROWS, keys_of, run  # noqa: E402

from strategies import OptunaSearch  # noqa: E402
from strategies.optuna_search import import_optuna  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from tabular_space import choice_key  # noqa: E402


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_samplers_search_the_tabular_space_through_nni(tmp_path, sampler):
    strategy = run(OptunaSearch(sampler=sampler, max_trials=30, seed=0, max_params=8000), tmp_path)
    records = strategy.archive.records
    assert len(records) == 30 and len(set(keys_of(strategy))) == 30
    assert all(r.status == "ok" and r.objectives["params"] <= 8000 for r in records)
    assert all(r.objectives["accuracy"] == ROWS[choice_key(r.sample)].accuracy for r in records)
    study = strategy._study
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    # the study holds every trial with the values the archive has (duplicates told their known result)
    told = {json.dumps(t.params, sort_keys=True): t.values for t in complete}
    for r in records:
        assert told[json.dumps(strategy._params(r.sample), sort_keys=True)] == [r.objectives["accuracy"],
                                                                                 r.objectives["params"]]


def test_resume_rebuilds_the_study_from_the_archive(tmp_path):
    state = tmp_path / "state.json"
    first = run(OptunaSearch(sampler="tpe", max_trials=12, seed=1, checkpoint_path=state), tmp_path,
                log=str(tmp_path / "log"))
    second = OptunaSearch(sampler="tpe", max_trials=20, seed=1, checkpoint_path=state)
    run(second, tmp_path, log=str(tmp_path / "log"))
    evaluated = (tmp_path / "log").read_text().split()
    assert len(evaluated) == len(set(evaluated)) == 20 and evaluated[:12] == keys_of(first)
    restored = [t for t in second._study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(restored) >= 20
    assert keys_of(second)[:12] == keys_of(first)


def test_failed_trials_are_told_as_failed(tmp_path):
    strategy = run(OptunaSearch(sampler="tpe", max_trials=25, seed=2), tmp_path, fail_reduce="max_pool_3x3")
    failed = [r for r in strategy.archive.records if r.status == "failed"]
    assert failed
    states = [t.state for t in strategy._study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) >= len(failed)


def test_conditional_internals_are_asked_only_for_chosen_ops(tmp_path):
    strategy = run_search(OptunaSearch(sampler="tpe", max_trials=4, seed=3, max_params=MAX_PARAMS), tmp_path)
    space = tiny_space()
    assert all(r.status == "ok" and space.check_contains(r.sample) is None for r in strategy.archive.records)
    internals = 0
    for trial in strategy._study.trials:   # rejected asks (over max_params) included
        for label in trial.params:
            parts = label.split("/")
            if len(parts) == 4:   # cell/op_i_j/OP/param: asked only when the edge chose OP
                internals += 1
                assert trial.params["/".join(parts[:2])] == parts[2]
    assert internals > 0
    assert [space.genotype(s).to_json() for s in evaluations(tmp_path / "evaluations.log")] == \
        [space.genotype(r.sample).to_json() for r in strategy.archive.records]


def test_a_bad_sampler_names_the_argument():
    with pytest.raises(ValueError, match="`sampler`"):
        OptunaSearch(sampler="cmaes-ish")
    with pytest.raises(ValueError, match="`sampler`"):
        OptunaSearch(sampler=object())
    assert import_optuna() is optuna
