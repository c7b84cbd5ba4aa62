"""The DARTS-style cell space: labels, freezing, exact counting, NNI strategies on digits."""
import importlib.util
import random

import pytest
import torch
from nni.nas import strategy
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment

from nas_sepconv.evaluation.trial import evaluate_sample
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.models.network import build_model
from nas_sepconv.ops import OPS, count_built, op_set
from search_spaces import SepConvDartsSpace

#: NNI's ENAS needs tianshou, kept out of the test extra (its protobuf pin clashes with onnx's).
NEEDS_TIANSHOU = pytest.mark.skipif(importlib.util.find_spec("tianshou") is None,
                                    reason='NNI\'s ENAS needs tianshou: pip install -e ".[enas]"')

NEW_OPS, DEFAULT_OPS = op_set("new"), op_set("all")

TINY = dict(width=4, num_cells=3, stem="digits")
FEW_OPS = ["max_pool_3x3", "skip_connect", "sep_conv_3x3", "osep_3x3", "blk_3x3", "xsep_3x3"]


def _random_sample(space, seed):
    rng = random.Random(seed)
    return {label: rng.choice(list(m.values)) for label, m in space.simplify().items()}


def test_default_ops_cover_darts_and_new_families():
    assert {"osep_3x3", "osep_5x5", "so_sep_3x3", "blk_3x3", "blk_5x5", "x_sep_conv_3x3",
            "x_sep_conv_5x5"} <= set(NEW_OPS)
    assert not {"xsep_3x3", "xsep_5x5", "xsep_7x7"} & set(NEW_OPS)  # the bare op mixes no channels
    assert all(name in OPS for name in DEFAULT_OPS)


def test_labels_are_nni_darts_keys_plus_internals():
    labels = set(SepConvDartsSpace(width=[8, 16], num_cells=[3, 6], stem="digits").simplify())
    for cell in ("normal", "reduce"):
        for node in range(2, 6):
            for j in (0, 1):
                assert {f"{cell}/op_{node}_{j}", f"{cell}/input_{node}_{j}",
                        f"{cell}/op_{node}_{j}/osep_3x3/N", f"{cell}/op_{node}_{j}/osep_3x3/gamma",
                        f"{cell}/op_{node}_{j}/blk_3x3/s", f"{cell}/op_{node}_{j}/blk_3x3/t",
                        f"{cell}/op_{node}_{j}/x_sep_conv_3x3/placement"} <= labels
    assert {"width", "depth"} <= labels
    assert not any(label.startswith("normal/op_2_0/sep_conv_3x3/") for label in labels)


@pytest.mark.parametrize("seed", range(6))
def test_frozen_model_is_build_model_and_count_is_exact(seed):
    space = SepConvDartsSpace(width=[4, 8], num_cells=[3, 4], stem="digits")
    sample = _random_sample(space, seed)
    frozen = space.freeze(sample)
    genotype = space.genotype(sample)
    assert genotype == Genotype.from_sample(sample).__class__(**{**genotype.__dict__})
    reference = build_model(genotype, stem="digits")
    assert [p.shape for p in frozen.parameters()] == [p.shape for p in reference.parameters()]
    assert space.cost(sample) == count_built(frozen.network, (8, 8), 1)
    assert frozen(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_internals_reach_the_built_ops():
    space = SepConvDartsSpace(op_candidates=["osep_3x3"], **TINY)
    sample = _random_sample(space, 0)
    for j in (0, 1):
        sample[f"normal/op_2_{j}/osep_3x3/N"] = 3
    edge = space.genotype(sample).normal[0]
    assert edge.op == "osep_3x3" and dict(edge.params)["N"] == 3


def test_registered_in_nni_nasnet_ops():
    from nni.nas.hub.pytorch.nasnet import NDS
    from nni.nas.hub.pytorch.nasnet import OPS as NNI_OPS

    assert set(NEW_OPS) <= set(NNI_OPS)
    space = NDS(op_candidates=["osep_3x3", "blk_3x3", "xsep_3x3", "skip_connect"], width=4, num_cells=3,
                dataset="cifar")
    assert space(torch.randn(2, 3, 16, 16)).shape == (2, 10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(op_candidates=["sep_conv_3x3", "nope"]), r"`name` must be one of .*'nope'"),
    (dict(op_candidates="sep_conv_3x3"), r"`op_candidates` must be a non-empty list"),
    (dict(width=6, op_candidates=["blk_3x3"]), r"`width` 6 does not admit blk_3x3 t=4"),
    (dict(stem="mnist"), r"`stem` must be one of"),
    (dict(num_cells=[3, 0]), r"`depth` must be an integer >= 1, got 0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SepConvDartsSpace(**{**TINY, **kwargs})


@pytest.mark.parametrize("make", [
    lambda: strategy.DARTS(), lambda: strategy.GumbelDARTS(), lambda: strategy.RandomOneShot(),
    pytest.param(lambda: strategy.ENAS(reward_metric_name="val_acc"), marks=NEEDS_TIANSHOU),
], ids=["DARTS", "GumbelDARTS", "RandomOneShot", "ENAS"])
def test_nni_one_shot_strategies_run(make, nni_config, digits_classification):
    space = SepConvDartsSpace(op_candidates=FEW_OPS, search_internals=False, **TINY)
    experiment = NasExperiment(space, digits_classification, make(), nni_config(model_format="raw"))
    experiment.run()
    sample = experiment.export_top_models(formatter="dict")[0]
    genotype = space.genotype(sample)
    assert {e.op for e in genotype.normal + genotype.reduce} <= set(FEW_OPS)
    assert build_model(genotype, stem="digits")(torch.randn(1, 1, 8, 8)).shape == (1, 10)


@pytest.mark.parametrize("make", [lambda: strategy.Random(dedup=True),
                                  lambda: strategy.RegularizedEvolution(population_size=3, sample_size=2)],
                         ids=["Random", "RegularizedEvolution"])
def test_nni_multi_trial_strategies_run(make, nni_config):
    space = SepConvDartsSpace(op_candidates=FEW_OPS, **TINY)
    evaluator = FunctionalEvaluator(evaluate_sample, dataset="digits", epochs=1, train_limit=120, num_threads=1,
                                    batch_size=32)
    config = nni_config(max_trial_number=4)
    experiment = NasExperiment(space, evaluator, make(), config)
    experiment.run()
    models = list(experiment.strategy.list_models(sort=True))
    assert len(models) >= 2
    for model in models:
        assert 0.0 <= model.metric <= 1.0
        assert space.cost(model.sample).params == sum(p.numel() for p in space.freeze(model.sample).parameters())
