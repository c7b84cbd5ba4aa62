"""NNI MobileNet space: labels, random samples freeze to build_mobilenet and count exactly,
max_cost by brute force, NNI multi-trial and one-shot strategies and ours run on it."""
import itertools

import numpy as np
import pytest
import torch
from nni.nas import strategy
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment
from nni.nas.nn.pytorch import LayerChoice

from nas_sepconv.evaluation.trial import evaluate_sample
from nas_sepconv.models.mobilenet import build_mobilenet
from nas_sepconv.ops import count_built
from search_spaces.mobilenet import MobileNetSpace
from strategies import MultiObjectiveEvolution


def shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def small_space(**kwargs):
    base = dict(ops=["dw", "xsep", "blk"], kernels=[3, 5], expansions=[2.0, 3.0], widths=[0.25, 0.5],
                op_space={"xsep": {"placement": ["standard", "P"]}, "blk": {"t": [1, 2]}}, stem="digits",
                in_channels=1)
    return MobileNetSpace("v3-small", **{**base, **kwargs})


def test_labels_per_stage_and_per_block():
    labels = set(small_space().simplify())
    assert {"mobilenet/width", "mobilenet/op_s0", "mobilenet/expansion_s4", "mobilenet/xsep_placement_s2",
            "mobilenet/blk_t_s1"} <= labels and len([x for x in labels if "/op_" in x]) == 5
    per_block = MobileNetSpace("v2", ops=["dw", "blk"], per_block=True, stem="digits", in_channels=1)
    assert set(per_block.simplify()) == {f"mobilenet/op_b{i}" for i in range(17)}
    choices = [m for m in per_block.modules() if isinstance(m, LayerChoice)]
    assert len(choices) == 17 and list(choices[0].names) == ["dw3", "blk3"]


def test_random_samples_freeze_to_the_genotype_and_count_exactly():
    space = small_space()
    rng = np.random.RandomState(0)
    for _ in range(4):
        sample = {}
        model = space.random(memo=sample, random_state=rng)
        genotype = space.genotype(sample)
        built = genotype.build(num_classes=10, in_channels=1, stem="digits")
        assert shapes(model.network) == shapes(built)
        assert space.cost(sample) == count_built(model, (8, 8), 1) == genotype.count(in_channels=1, stem="digits")
        frozen = space.freeze(sample)
        assert shapes(frozen.network) == shapes(built)
        assert frozen(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_v1_space_and_width_only():
    space = MobileNetSpace("v1", ops=["dsep", "osep"], widths=[0.25, 0.5], stem="digits", in_channels=1)
    sample = {"mobilenet/width": 0.5, **{f"mobilenet/op_s{i}": "osep3" for i in range(5)}}
    expected = build_mobilenet("v1", ops="osep", width=0.5, stem="digits", num_classes=10, in_channels=1)
    assert shapes(space.freeze(sample).network) == shapes(expected)
    assert space.genotype(sample).blocks[0].op == "osep"


@pytest.mark.parametrize("kwargs", [
    dict(ops=["dw", "blk"], widths=[0.25, 0.5]),                        # op per stage x width
    dict(ops=["dw"], kernels=[3, 5], expansions=[2.0, 4.0]),             # kernel and expansion per stage
    dict(ops=["blk"], op_space={"blk": {"s": [1, 2]}}, widths=[0.25]),   # op internals per stage
])
def test_max_cost_equals_brute_force_over_the_space(kwargs):
    space = MobileNetSpace("v3-small", stem="digits", in_channels=1, **kwargs)
    labels = space.labels()
    costs = [space.cost(dict(zip(labels, values))) for values in itertools.product(*labels.values())]
    assert len(costs) > 16
    assert space.max_cost().params == max(c.params for c in costs)
    assert space.max_cost().flops == max(c.flops for c in costs)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(ops=[]), "`ops`"), (dict(ops=["sep"]), "`op`"), (dict(ops=["dw", "dw"]), "`ops`"),
    (dict(widths=[0]), "`width`"), (dict(op_space={"osep": {"N": [2, 3]}}), "`op_space` keys"),
    (dict(ops=["blk"], kernels=[7]), "fit none of `ops`"), (dict(stem="x"), "`stem`"),
    (dict(per_block="yes"), "`per_block`"),
])
def test_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        MobileNetSpace("v3-small", **kwargs)


def test_nni_multi_trial_strategy_runs(nni_config):
    space = small_space()
    evaluator = FunctionalEvaluator(evaluate_sample, dataset="digits", epochs=1, train_limit=120, batch_size=32,
                                    num_threads=1)
    experiment = NasExperiment(space, evaluator, strategy.Random(dedup=True), nni_config(max_trial_number=2))
    experiment.run()
    models = list(experiment.strategy.list_models(sort=True))
    assert len(models) == 2 and all(0.0 <= m.metric <= 1.0 for m in models)
    for model in models:
        assert count_built(space.freeze(model.sample), (8, 8), 1) == space.cost(model.sample)


def test_our_evolution_runs_with_exact_costs(nni_config):
    space = small_space(widths=[0.25])
    evaluator = FunctionalEvaluator(evaluate_sample, dataset="digits", epochs=1, train_limit=120, batch_size=32,
                                    num_threads=1)
    ours = MultiObjectiveEvolution(population_size=2, max_trials=2, seed=0)
    NasExperiment(space, evaluator, ours, nni_config(max_trial_number=2)).run()
    records = [r for r in ours.archive.records if r.status == "ok"]
    assert len(records) == 2
    for r in records:
        assert r.objectives["params"] == space.cost(r.sample).params


@pytest.mark.parametrize("make", [lambda: strategy.DARTS(), lambda: strategy.RandomOneShot()],
                         ids=["DARTS", "RandomOneShot"])
def test_nni_one_shot_strategies_search_op_and_kernel(make, nni_config, digits_classification):
    """One width, one expansion, fixed internals: only the shape-sharing LayerChoices are left."""
    space = MobileNetSpace("v3-small", ops=["dw", "xsep", "blk"], kernels=[3, 5], stem="digits", in_channels=1,
                           widths=[0.25])
    assert all("/op_" in label for label in space.simplify())
    experiment = NasExperiment(space, digits_classification, make(), nni_config(model_format="raw"))
    experiment.run()
    sample = experiment.export_top_models(formatter="dict")[0]
    assert set(sample) == set(space.simplify())
    model = space.freeze(sample)
    assert shapes(model.network) == shapes(space.genotype(sample).build(in_channels=1, stem="digits"))
    assert count_built(model, (8, 8), 1) == space.cost(sample)
