"""ModelBasedEHVI in real NNI runs on the tabular sub-space (trials looked up in the 216 table),
its encoding of conditional labels, and its choice rule against an independent computation."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nni
import numpy as np
import pytest
from search_helpers import run_functional, tiny_space

from nas_sepconv.frontier.pareto import hypervolume
from strategies import ModelBasedEHVI
from strategies.ehvi import hvi, staircase
from strategies.evolution_ops import UniformSampler, random_sample
from strategies.surrogate import GaussianProcess, SampleEncoder

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from tabular_space import TabularSubspace, choice_key, cost_of  # noqa: E402
from tabular_table import TABLE_PATH, load_table  # noqa: E402

ROWS = load_table(str(TABLE_PATH))


def table_trial(model, fail_reduce: str = "", log: str = "") -> dict:
    """Reports the table's numbers; a NaN accuracy when the reduction slot is ``fail_reduce``."""
    key = choice_key(model.choice)
    if log:
        with open(log, "a") as fh:
            fh.write(key + "\n")
    row = ROWS[key]
    accuracy = float("nan") if model.choice["reduce"] == fail_reduce else row.accuracy
    metric = {"default": accuracy, "params": row.params, "flops": row.flops}
    nni.report_final_result(metric)
    return metric


def run(strategy, tmp_path, **kw):
    return run_functional(strategy, TabularSubspace(), table_trial, tmp_path, **kw)


def keys_of(strategy):
    return [choice_key(r.sample) for r in strategy.archive.records]


def test_search_finds_distinct_feasible_architectures_and_beats_its_random_start(tmp_path):
    limit = 6000
    strategy = run(ModelBasedEHVI(max_trials=30, seed=3, max_params=limit), tmp_path)
    records = strategy.archive.records
    assert len(records) == 30 and len(set(keys_of(strategy))) == 30
    assert all(r.status == "ok" and r.objectives["params"] <= limit for r in records)
    assert all(cost_of(r.sample).params == r.objectives["params"] == ROWS[choice_key(r.sample)].params
               for r in records)
    # the model-based part (after 8 uniform draws) finds a better frontier than 30 uniform draws do
    feasible = [r for r in ROWS.values() if r.params <= limit]
    rng = np.random.RandomState(0)
    random_hv = []
    for _ in range(20):
        picked = [feasible[i] for i in rng.choice(len(feasible), 30, replace=False)]
        pts = np.array([[r.accuracy, r.params] for r in picked])
        random_hv.append(hypervolume(pts, ("max", "min"), strategy.archive.reference.values))
    assert strategy.hypervolume() > np.median(random_hv)


def test_resume_from_checkpoint_proposes_what_an_uninterrupted_run_does(tmp_path):
    whole = run(ModelBasedEHVI(max_trials=16, seed=5, initial_samples=4), tmp_path / "a")
    state = tmp_path / "b" / "state.json"
    first = run(ModelBasedEHVI(max_trials=10, seed=5, initial_samples=4, checkpoint_path=state), tmp_path / "b",
                log=str(tmp_path / "b.log"))
    assert keys_of(first) == keys_of(whole)[:10]
    second = run(ModelBasedEHVI(max_trials=16, seed=5, initial_samples=4, checkpoint_path=state), tmp_path / "b",
                 log=str(tmp_path / "b.log"))
    assert keys_of(second) == keys_of(whole)
    evaluated = (tmp_path / "b.log").read_text().split()
    assert evaluated == keys_of(whole) and len(set(evaluated)) == 16   # nothing trained twice
    saved = json.loads(state.read_text())
    assert len(saved["archive"]["records"]) == 16


def test_failed_trials_are_recorded_never_modelled_and_never_retried(tmp_path):
    strategy = run(ModelBasedEHVI(max_trials=40, seed=1, initial_samples=6, batch_size=3), tmp_path,
                   fail_reduce="skip_connect")
    records = strategy.archive.records
    failed = [r for r in records if r.status == "failed"]
    assert failed and all(r.sample["reduce"] == "skip_connect" and "non-finite" in r.reason for r in failed)
    assert len(set(keys_of(strategy))) == 40
    assert all(r.sample["reduce"] != "skip_connect" for r in strategy.frontier())
    # batches of 3 (the Kriging believer picks distinct candidates); generations after the start
    by_generation = {}
    for r in records:
        by_generation.setdefault(r.generation, []).append(r)
    assert max(len(v) for v in by_generation.values()) == 3


@pytest.mark.parametrize("settings, expected", [
    (dict(seed=4, initial_samples=4, batch_size=3), [109, 171, 59, 10, 43, 151, 169, 82, 154, 214, 88, 94, 106, 45]),
    (dict(seed=9, initial_samples=4, surrogate="forest", max_params=6000),
     [184, 73, 196, 118, 61, 169, 151, 193, 187, 205, 64, 208, 28, 148]),
    (dict(seed=6, initial_samples=4, batch_size=2, denoise=True),
     [116, 198, 133, 48, 43, 22, 2, 182, 20, 154, 35, 17, 128, 110]),
])
def test_proposals_are_those_recorded_before_the_proposer_was_extracted(tmp_path, settings, expected):
    # the table's architectures (sorted keys) that ModelBasedEHVI proposed before its proposal step
    # moved to strategies.ehvi_proposer: the same seed must still give the same search
    strategy = run(ModelBasedEHVI(max_trials=14, **settings), tmp_path)
    assert [sorted(ROWS).index(k) for k in keys_of(strategy)] == expected


def test_choose_maximises_the_ehvi_recomputed_independently(tmp_path):
    strategy = run(ModelBasedEHVI(max_trials=12, seed=2, denoise=False), tmp_path)
    ok = strategy.archive.with_status("ok")
    taken = set(keys_of(strategy))
    pool = [json.loads(k) for k in ROWS if k not in taken][::3]
    costs = np.array([float(ROWS[choice_key(s)].params) for s in pool])
    strategy._taken = set(taken)
    [best] = strategy.choose(ok, pool, costs, 1)
    # independent: GP posterior by direct formulas, improvement by Monte Carlo over brute-force HVI
    gp = strategy.proposer.fit(ok)
    means, stds = gp.predict(strategy.proposer.encoder.encode(pool), np.log(costs))
    ref_acc, ref_cost = 0.0, 1.1 * max(costs.max(), max(r.objectives["params"] for r in ok))
    breaks, levels = staircase(np.array([r.objectives["params"] for r in ok]),
                               np.array([r.objectives["accuracy"] for r in ok]), ref_acc, ref_cost)
    rng = np.random.RandomState(0)
    draws = rng.standard_normal(1500)   # the same draws for every candidate
    mc = [np.mean([hvi(c, m + s * z, breaks, levels, ref_cost) for z in draws]) for c, m, s in zip(costs, means, stds)]
    assert mc[best] >= 0.97 * max(mc) and mc[best] > np.median(mc)


def test_encoder_sets_indicators_only_for_active_labels():
    space = tiny_space().simplify()
    encoder = SampleEncoder(space)
    assert encoder.parents["normal/op_2_0/blk_3x3/s"] == ("normal/op_2_0", "blk_3x3")
    assert encoder.parents["normal/op_2_0"] is None
    rng = np.random.RandomState(0)
    sample = random_sample(space, rng)
    sample["normal/op_2_0"] = "sep_conv_3x3"
    other = dict(sample)
    for label in encoder.labels:   # change every internal of the unused blk op: same features
        if label.startswith("normal/op_2_0/blk_3x3/"):
            values = space[label].values
            other[label] = values[(values.index(sample[label]) + 1) % len(values)]
    a, b = encoder.encode([sample, other])
    assert np.array_equal(a, b)
    other["normal/op_2_0"] = "blk_3x3"
    assert np.abs(encoder.encode([other])[0] - a).sum() > 0


def test_gp_posterior_equals_the_textbook_formulas():
    rng = np.random.RandomState(0)
    x = (rng.rand(15, 6) < 0.5).astype(float)
    c = rng.randn(15)
    y = rng.rand(15)
    gp = GaussianProcess().fit(x, c, y)
    l_cat, l_cost, noise = gp.params
    cs = (c - c.mean()) / c.std()
    def k(a, ca, b, cb):
        d = np.array([[np.abs(u - v).sum() / 2 for v in b] for u in a])
        return np.exp(-d / l_cat - (ca[:, None] - cb[None, :]) ** 2 / (2 * l_cost ** 2))
    z = (y - y.mean()) / y.std()
    kinv = np.linalg.inv(k(x, cs, x, cs) + noise * np.eye(15))
    ks = k(x[:4], cs[:4], x, cs)
    mean, std = gp.predict(x[:4], c[:4])
    assert np.allclose(mean, y.mean() + y.std() * ks @ kinv @ z)
    assert np.allclose(std, y.std() * np.sqrt(1 - np.einsum("ij,jk,ik->i", ks, kinv, ks)))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`surrogate`"):
        ModelBasedEHVI(surrogate="svm")
    with pytest.raises(ValueError, match="`objectives`"):
        ModelBasedEHVI(objectives=("accuracy", "params", "flops"))
    with pytest.raises(ValueError, match="`batch_size`"):
        ModelBasedEHVI(batch_size=0)


@pytest.mark.slow
@pytest.mark.xdist_group("nni-ts-engine")  # NNI managers and trial processes: one at a time
def test_training_service_engine_with_two_concurrent_trials(tmp_path):
    import socket

    from search_helpers import MAX_PARAMS, run_search
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Two initial samples, then one model-based batch of two: the batch proposals on the ts engine.
    strategy = ModelBasedEHVI(seed=0, max_trials=4, initial_samples=2, batch_size=2, max_params=MAX_PARAMS)
    run_search(strategy, tmp_path, engine="ts", concurrency=2, port=port)
    records = strategy.archive.records
    space = tiny_space()
    assert [(r.id, r.status, r.generation) for r in records] == [(i, "ok", i // 2) for i in range(4)]
    assert all(set(r.objectives) == {"accuracy", "params", "flops"} and r.objectives["params"] <= MAX_PARAMS
               for r in records)
    assert all(r.objectives["params"] == space.cost(r.sample).params for r in records)
    assert len({space.genotype(r.sample).to_json() for r in records}) == 4


def test_incremental_gram_and_fitted_means_equal_direct_computations(tmp_path):
    strategy = run(ModelBasedEHVI(max_trials=14, seed=4, initial_samples=4, batch_size=3), tmp_path)
    records = strategy.archive.records
    proposer = strategy.proposer
    assert 13 not in proposer.row            # the last trial ended after the last proposal: not encoded yet
    gp = proposer.fit(records)               # encodes it, growing the Gram matrix by one row
    features = proposer.encoder.encode([r.sample for r in records])
    rows = [proposer.row[r.id] for r in records]
    assert np.array_equal(proposer.features[rows], features)          # each trial encoded once, in any order
    assert np.allclose(proposer.gram[np.ix_(rows, rows)], features @ features.T)
    means, _ = gp.predict(features, np.log([r.objectives["params"] for r in records]))
    assert np.allclose(gp.fitted_means(), means)


def test_uniform_sampler_draws_valid_samples_of_every_label():
    space = tiny_space()
    simplified = space.simplify()
    draw, rng = UniformSampler(simplified), np.random.RandomState(0)
    samples = [draw(rng) for _ in range(200)]
    assert all(set(s) == set(simplified) and space.check_contains(s) is None for s in samples)
    for label, mutable in simplified.items():   # every value of every label is drawn
        seen = {repr(s[label]) for s in samples}
        expected = {repr([v]) for v in mutable.values} if "input" in label else {repr(v) for v in mutable.values}
        assert seen == expected, label
