"""build_model and count: reference counts of DARTS, analytic == built over random genotypes."""
import random

import pytest
import torch

from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.genotypes.sampling import random_genotype
from nas_sepconv.models.network import build_model, count
from nas_sepconv.ops import count_built


def _params_without_aux(model):
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("auxiliary_head"))


def test_darts_v2_cifar_reference_count():
    model = build_model(DARTS_V2, channels=36, layers=20, auxiliary=True)
    assert _params_without_aux(model) == 3_349_342
    assert count(DARTS_V2, channels=36, layers=20).params == 3_349_342


def test_darts_v2_imagenet_reference_count():
    assert count(DARTS_V2, channels=48, layers=14, stem="imagenet", num_classes=1000).params == 4_718_752
    with torch.device("meta"):
        model = build_model(DARTS_V2, channels=48, layers=14, stem="imagenet", num_classes=1000)
    assert _params_without_aux(model) == 4_718_752


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("stem, size", [("digits", 8), ("cifar", 12), ("imagenet", 40)])
def test_count_equals_built_model(seed, stem, size):
    genotype = random_genotype(random.Random(seed))
    kwargs = dict(channels=8, layers=4 + seed % 3, stem=stem)
    with torch.device("meta"):
        model = build_model(genotype, **kwargs)
    in_ch = 1 if stem == "digits" else 3
    assert count(genotype, input_size=size, **kwargs) == count_built(model, (size, size), in_ch)


def test_forward_backward_with_auxiliary_and_drop_path():
    model = build_model(random_genotype(random.Random(1)), channels=8, layers=3, stem="digits",
                        auxiliary=True, drop_path=0.2)
    logits, aux = model(torch.randn(4, 1, 8, 8))
    (logits.sum() + aux.sum()).backward()
    assert logits.shape == aux.shape == (4, 10)
    model.eval()
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(channels=None, layers=8), r"`channels` and `layers` must be given"),
    (dict(channels=8, layers=2), r"`layers` must be an integer >= 3, got 2"),
    (dict(channels=8, layers=8, stem="mnist"), r"`stem` must be one of 'cifar', 'imagenet', 'digits', got 'mnist'"),
    (dict(channels=8, layers=8, num_classes=0), r"`num_classes` must be an integer >= 1, got 0"),
    (dict(channels=8, layers=8, drop_path=1.5), r"`drop_path` must be in \[0, 1\), got 1.5"),
])
def test_bad_macro_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(DARTS_V2, **kwargs)
