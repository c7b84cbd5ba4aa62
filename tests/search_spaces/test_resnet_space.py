"""NNI ResNet space: labels, random samples freeze to build_resnet, counts match count_resnet,
NNI's one-shot and multi-trial strategies run on it."""
import importlib.util

import numpy as np
import pytest
import torch
from nni.nas import strategy
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment
from nni.nas.nn.pytorch import LayerChoice
from nni.nas.space import SimplifiedModelSpace, model_context

from nas_sepconv import build_resnet, count_resnet
from nas_sepconv.evaluation.trial import evaluate_sample
from nas_sepconv.ops import OPS, count_built
from search_spaces.resnet import ResNetSpace, registered_convs

#: NNI's ENAS needs tianshou, kept out of the test extra (its protobuf pin clashes with onnx's).
NEEDS_TIANSHOU = pytest.mark.skipif(importlib.util.find_spec("tianshou") is None,
                                    reason='NNI\'s ENAS needs tianshou: pip install -e ".[enas]"')

MULTIPLIERS = (0.25, 0.5, 0.75)


def params(model):
    return sum(p.numel() for p in model.parameters())


def shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_choices_and_labels():
    space = ResNetSpace(8, convs=["conv", "dsep"], multipliers=MULTIPLIERS)
    mutables = space.simplify()
    assert set(mutables) == {"resnet/conv", "resnet/multiplier"}
    assert list(mutables["resnet/conv"].values) == ["conv", "dsep"]
    assert list(mutables["resnet/multiplier"].values) == list(MULTIPLIERS)
    staged = ResNetSpace(8, convs=["conv", "dsep"], multipliers=MULTIPLIERS, per_stage=True).simplify()
    assert set(staged) == {"resnet/conv_stage1", "resnet/conv_stage2", "resnet/conv_stage3", "resnet/multiplier"}
    # One multiplier is no choice: the space is then one-shot-able (only LayerChoices left).
    assert set(ResNetSpace(8, convs=["conv", "dsep"], multipliers=[0.5]).simplify()) == {"resnet/conv"}


def test_every_block_conv_is_a_layer_choice_with_the_shared_label():
    space = ResNetSpace(20, convs=["conv", "osep"], per_stage=True)
    choices = [m for m in space.modules() if isinstance(m, LayerChoice)]
    assert len(choices) == 2 * 9
    assert [c.label for c in choices] == [f"resnet/conv_stage{1 + i // 6}" for i in range(18)]
    assert all(list(c.names) == ["conv", "osep"] for c in choices)


def test_default_convs_are_the_registered_short_names():
    assert {"conv", "dw", "dsep", "spatial", "blk", "xsep"} <= set(registered_convs())
    assert ("osep" in registered_convs()) == ("osep_3x3" in OPS)
    assert list(ResNetSpace(8).simplify()["resnet/conv"].values) == list(registered_convs())


@pytest.mark.parametrize("per_stage", [False, True])
def test_random_samples_freeze_run_and_match_count_resnet(per_stage):
    space = ResNetSpace(8, multipliers=MULTIPLIERS, per_stage=per_stage, num_classes=4)
    rng = np.random.RandomState(0)
    for _ in range(4):
        sample = {}
        model = space.random(memo=sample, random_state=rng)
        conv = ([sample[f"resnet/conv_stage{i}"] for i in (1, 2, 3)] if per_stage else sample["resnet/conv"])
        kwargs = space.resnet_kwargs(sample)
        assert kwargs == dict(depth=8, conv=conv, multiplier=sample["resnet/multiplier"], num_classes=4,
                              in_channels=3, op_params=None, shortcut="A")
        assert params(model) == count_resnet(**kwargs).params
        assert shapes(model.network) == shapes(build_resnet(**kwargs))
        assert model(torch.randn(2, 3, 8, 8)).shape == (2, 4)


def test_freeze_and_model_context_give_the_chosen_network():
    space = ResNetSpace(20, convs=["conv", "dsep"], multipliers=(1.0, 2.0))
    sample = {"resnet/conv": "dsep", "resnet/multiplier": 2.0}
    frozen = space.freeze(sample)
    assert params(frozen) == count_resnet(20, conv="dsep", multiplier=2.0).params
    with model_context(sample):
        again = ResNetSpace(20, convs=["conv", "dsep"], multipliers=(1.0, 2.0))
    assert shapes(again) == shapes(frozen)


def test_simplified_model_format_round_trip():
    # NNI's "simplified" engine format rebuilds the space from its init arguments.
    space = ResNetSpace(8, convs=["conv", "dw"], multipliers=MULTIPLIERS, op_params=None)
    sample = {"resnet/conv": "dw", "resnet/multiplier": 0.5}
    model = SimplifiedModelSpace.from_model(space).freeze(sample).executable_model()
    assert params(model) == count_resnet(8, conv="dw", multiplier=0.5).params


def test_osep_sample_matches_count():
    space = ResNetSpace(20, convs=["osep", "conv"], multipliers=(3.625,))
    model = space.freeze({"resnet/conv": "osep", "resnet/multiplier": 3.625})
    assert params(model) == count_resnet(20, conv="osep", multiplier=3.625).params


@pytest.mark.parametrize("kwargs,needle", [
    (dict(convs=[]), "`convs`"), (dict(convs="conv"), "`convs`"), (dict(convs=["conv", "conv"]), "`convs`"),
    (dict(convs=["nope"]), "`conv`"), (dict(multipliers=[0.5, -1]), "`multiplier`"),
    (dict(multipliers=()), "`multipliers`"), (dict(per_stage=1), "`per_stage`"), (dict(depth=9), "`depth`"),
    (dict(shortcut="C"), "`shortcut`"),
])
def test_bad_arguments_raise_value_error(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        ResNetSpace(**{"depth": 8, **kwargs})


@pytest.mark.parametrize("make", [lambda: strategy.Random(dedup=True),
                                  lambda: strategy.RegularizedEvolution(population_size=2, sample_size=1)],
                         ids=["Random", "RegularizedEvolution"])
def test_nni_multi_trial_strategies_run(make, nni_config):
    """Multi-trial strategies also search the multiplier (it rebuilds the whole network)."""
    space = ResNetSpace(8, convs=["conv", "dsep", "osep", "blk", "xsep"], multipliers=[0.25, 0.5], in_channels=1)
    evaluator = FunctionalEvaluator(evaluate_sample, dataset="digits", epochs=1, train_limit=120, batch_size=32,
                                    num_threads=1)
    experiment = NasExperiment(space, evaluator, make(), nni_config(max_trial_number=3))
    experiment.run()
    models = list(experiment.strategy.list_models(sort=True))
    assert len(models) >= 2 and all(0.0 <= m.metric <= 1.0 for m in models)
    for model in models:
        assert params(space.freeze(model.sample)) == count_resnet(**space.resnet_kwargs(model.sample)).params


@pytest.mark.parametrize("make,per_stage", [
    (lambda: strategy.DARTS(), False), (lambda: strategy.GumbelDARTS(), True),
    (lambda: strategy.RandomOneShot(), False),
    pytest.param(lambda: strategy.ENAS(reward_metric_name="val_acc"), True, marks=NEEDS_TIANSHOU),
], ids=["DARTS", "GumbelDARTS", "RandomOneShot", "ENAS"])
def test_nni_one_shot_strategies_run(make, per_stage, nni_config, digits_classification):
    """One multiplier: the shared-label LayerChoices are all that is left to search."""
    convs = ["conv", "dsep", "osep", "blk", "xsep"]
    space = ResNetSpace(8, convs=convs, multipliers=[0.5], per_stage=per_stage, in_channels=1)
    experiment = NasExperiment(space, digits_classification, make(), nni_config(model_format="raw"))
    experiment.run()
    sample = experiment.export_top_models(formatter="dict")[0]
    assert set(sample) == set(space.simplify()) and set(sample.values()) <= set(convs)
    kwargs = space.resnet_kwargs(sample)
    model = space.freeze(sample)
    assert params(model) == count_resnet(**kwargs).params
    assert shapes(model.network) == shapes(build_resnet(**kwargs))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("per_stage", [False, True])
def test_genotype_and_cost_of_samples_are_exact(per_stage):
    space = ResNetSpace(8, convs=["conv", "dsep", "osep", "xsep"], multipliers=MULTIPLIERS, per_stage=per_stage,
                        in_channels=1, input_size=8)
    rng = np.random.RandomState(1)
    for _ in range(4):
        sample = {}
        model = space.random(memo=sample, random_state=rng)
        genotype = space.genotype(sample)
        assert genotype.resnet_kwargs() == {k: v for k, v in space.resnet_kwargs(sample).items()
                                            if k not in ("num_classes", "in_channels")}
        assert space.cost(sample) == count_built(model, (8, 8), 1)
        assert space.cost(sample, input_size=16).params == space.cost(sample).params


def test_max_cost_is_the_largest_over_the_whole_space():
    space = ResNetSpace(8, convs=["dw", "conv", "dsep"], multipliers=(0.5, 0.25), per_stage=True, input_size=8)
    largest = count_resnet(8, conv="conv", multiplier=0.5, input_size=8)   # conv is the largest op everywhere
    assert space.max_cost() == largest
    rng = np.random.RandomState(2)
    for _ in range(6):
        sample = {}
        space.random(memo=sample, random_state=rng)
        assert space.cost(sample).params <= largest.params and space.cost(sample).flops <= largest.flops


def test_option_b_space_freezes_counts_and_records_its_shortcut():
    space = ResNetSpace(8, convs=["osep", "dsep"], multipliers=MULTIPLIERS, in_channels=1, input_size=8, shortcut="B")
    rng = np.random.RandomState(3)
    for _ in range(3):
        sample = {}
        model = space.random(memo=sample, random_state=rng)
        genotype = space.genotype(sample)
        assert genotype.shortcut == "B" and genotype.to_dict()["shortcut"] == "B"
        assert space.cost(sample) == count_built(model, (8, 8), 1) == genotype.count(in_channels=1, input_size=8)
        assert shapes(space.freeze(sample).network) == shapes(genotype.build(in_channels=1))
        option_a = count_resnet(**{**space.resnet_kwargs(sample), "shortcut": "A"}, input_size=8)
        assert space.cost(sample).params > option_a.params
