"""One-shot multi-objective search: a real tiny run on digits through NNI's sequential engine."""
import logging

import pytest
import torch
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from nas_sepconv.evaluation.train import recalibrate_bn
from nas_sepconv.evaluation.trial import evaluate_sample
from search_spaces import SepConvDartsSpace
from strategies.oneshot_moo import OneShotMultiObjective
from strategies.supernet import Supernet

OPS = ("sep_conv_3x3", "skip_connect", "blk_3x3", "xsep_3x3")
TRIAL = dict(dataset="digits", epochs=1, train_limit=600, batch_size=32, lr=0.05, num_threads=1)
SEARCH = dict(supernet_epochs=2, population_size=6, generations=2, recalibration_batches=2, retrain_top_k=2, seed=0,
              reference={"accuracy": 0.0, "params": 20000})


def tiny_space():
    return SepConvDartsSpace(op_candidates=OPS, width=4, num_cells=3, stem="digits")


def run(strategy, work_dir):
    config = NasExperimentConfig("sequential", "simplified", "local")
    config.experiment_working_directory = str(work_dir / "nni")
    NasExperiment(tiny_space(), FunctionalEvaluator(evaluate_sample, **TRIAL), strategy, config).run(port=None)
    return strategy


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    work = tmp_path_factory.mktemp("oneshot")
    return run(OneShotMultiObjective(checkpoint_path=work / "state.json", **SEARCH), work), work


def dominates(a, b):
    """Accuracy up, #params down: at least as good in both and better in one."""
    (acc_a, params_a), (acc_b, params_b) = ((r.objectives["accuracy"], r.objectives["params"]) for r in (a, b))
    return acc_a >= acc_b and params_a <= params_b and (acc_a > acc_b or params_a < params_b)


def blk_and_xsep_choices(records):
    space = tiny_space()
    found = set()
    for record in records:
        genotype = space.genotype(record.sample)
        found |= {(e.op, e.params) for e in genotype.normal + genotype.reduce if e.params}
    return found


def test_one_shot_points_have_exact_analytic_costs_and_inherited_weight_scores(searched):
    strategy, _ = searched
    space = tiny_space()
    oneshot = strategy.records("oneshot")
    assert len(oneshot) == SEARCH["population_size"] * SEARCH["generations"]
    assert len({r.key for r in oneshot}) == len(oneshot)  # no duplicate architecture scored twice
    for record in oneshot:
        cost = space.cost(record.sample)
        assert record.status == "ok" and record.epochs == 0 and record.extra["supernet_epochs"] == 2
        assert record.objectives["params"] == cost.params and record.objectives["flops"] == cost.flops
        assert 0.0 <= record.objectives["accuracy"] <= 1.0
    assert len(strategy.supernet_history) == SEARCH["supernet_epochs"]


def test_score_is_the_recalibrated_subnet_accuracy_on_the_validation_half(searched):
    strategy, _ = searched
    space, data = tiny_space(), strategy._data
    before = {k: v.clone() for k, v in strategy.supernet.state_dict().items()}
    assert len(strategy._recalibration) == SEARCH["recalibration_batches"]
    for record in strategy.records("oneshot")[:3]:
        subnet = strategy.supernet.extract(space.genotype(record.sample)).eval()
        recalibrate_bn(subnet, strategy._recalibration)    # keeps eval mode
        with torch.no_grad():
            correct = (subnet(data.test_images).argmax(1) == data.test_labels).sum().item()
        assert record.objectives["accuracy"] == correct / len(data.test_labels)
        assert strategy._score(record.sample)["default"] == record.objectives["accuracy"]
    assert all(torch.equal(before[k], v) for k, v in strategy.supernet.state_dict().items())
    assert len(data.train_labels) == len(data.test_labels) == TRIAL["train_limit"] // 2


def test_different_internals_of_one_op_are_trained_and_scored(searched):
    strategy, _ = searched
    scored = blk_and_xsep_choices(strategy.records("oneshot"))
    assert len({params for op, params in scored if op == "blk_3x3"}) >= 3
    assert len({params for op, params in scored if op == "xsep_3x3"}) >= 2
    with torch.random.fork_rng():
        torch.manual_seed(SEARCH["seed"])
        initial = Supernet.from_space(tiny_space())
    trained = {}
    for cell, fresh in zip(strategy.supernet.cells, initial.cells):
        for e, edge in enumerate(cell.edges):
            for (op, params, _), i in cell.index[e].items():
                pairs = zip(edge[i].parameters(), fresh.edges[e][i].parameters())
                if any(not torch.equal(p, q) for p, q in pairs):
                    trained.setdefault(op, set()).add(params)
    assert len(trained["blk_3x3"]) == 9 and len(trained["xsep_3x3"]) == 4


def test_frontier_is_the_non_dominated_subset_of_each_fidelity(searched):
    strategy, _ = searched
    for fidelity in ("oneshot", "full"):
        records = strategy.records(fidelity)
        brute = [r.id for r in records if not any(dominates(o, r) for o in records)]
        assert [r.id for r in strategy.frontier(fidelity=fidelity)] == brute and brute
    assert strategy.hypervolume() > 0


def test_top_k_of_the_frontier_is_retrained_at_full_fidelity(searched):
    strategy, _ = searched
    space = tiny_space()
    full = strategy.records("full")
    front_keys = {r.key for r in strategy.frontier()}
    assert len(full) == min(SEARCH["retrain_top_k"], len(front_keys))
    for record in full:
        assert record.status == "ok" and record.epochs == TRIAL["epochs"] and record.seed == 0
        assert record.key in front_keys and "fidelity" not in record.extra
        assert record.objectives["params"] == space.cost(record.sample).params
        assert record.generation == SEARCH["generations"]


def test_a_sub_network_whose_scoring_raises_is_recorded_failed_and_kept_off_the_frontier(searched, monkeypatch):
    strategy, _ = searched
    record = strategy.frontier()[0]

    def broken(sample):
        raise RuntimeError("planned scoring failure")

    monkeypatch.setattr(strategy, "checkpoint_path", None)  # keep the saved state for the resume test
    monkeypatch.setattr(strategy, "generation", 0)
    monkeypatch.setattr(strategy, "_score", broken)
    front = [r.id for r in strategy.frontier()]
    strategy._submit({"id": 10_000, "sample": record.sample, "key": "broken", "cost": dict(record.objectives)})
    try:
        failed = strategy.archive[10_000]
        assert failed.status == "failed" and "planned scoring failure" in failed.reason
        assert [r.id for r in strategy.frontier()] == front
    finally:
        strategy.archive.discard(10_000)


def test_resume_loads_the_supernet_and_trains_nothing_again(searched, caplog):
    strategy, work = searched
    with caplog.at_level(logging.INFO, logger="strategies"):
        resumed = run(OneShotMultiObjective(checkpoint_path=work / "state.json", **SEARCH), work)
    messages = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("strategies"))
    assert "Supernet weights loaded" in messages and "Training the supernet" not in messages
    assert "[Trial" not in messages  # nothing scored or trained again
    assert [r.to_dict() for r in resumed.archive.records] == [r.to_dict() for r in strategy.archive.records]
    ours, theirs = strategy.supernet.state_dict(), resumed.supernet.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="`supernet_epochs`"):
        OneShotMultiObjective(supernet_epochs=0)
    with pytest.raises(ValueError, match="`supernet_config`"):
        OneShotMultiObjective(supernet_config={"epochz": 3})
    with pytest.raises(ValueError, match="`retrain_top_k`"):
        OneShotMultiObjective(retrain_top_k=-1)
    with pytest.raises(ValueError, match="`generations`"):
        OneShotMultiObjective(generations=None)
    with pytest.raises(ValueError, match="`fidelity`"):
        OneShotMultiObjective().records("medium")
