"""``SepConvDartsSpace.cost`` summed per edge equals the genotype's ``count`` on many random samples."""
import numpy as np
import pytest

from nas_sepconv.models.network import count
from search_spaces import SepConvDartsSpace
from strategies.evolution_ops import UniformSampler, random_sample

SPACES = [dict(width=8, num_cells=5, stem="digits"),                        # the README's space
          dict(width=[4, 8], num_cells=[3, 5], stem="cifar", internals={"osep": {"gamma": [1, 4]}}),
          dict(op_candidates="darts", search_internals=False, width=4, num_cells=4, stem="imagenet")]


def slow(space, sample):
    return count(space.genotype(sample), num_classes=space.num_classes, stem=space.stem_kind,
                 in_channels=space.in_channels)


@pytest.mark.parametrize("kwargs", SPACES)
def test_edge_sum_equals_count_of_the_genotype(kwargs):
    space = SepConvDartsSpace(**kwargs)
    simplified = space.simplify()
    assert space._labels() == set(simplified)
    rng, draw = np.random.RandomState(0), UniformSampler(simplified)
    samples = [random_sample(simplified, rng) for _ in range(100)] + [draw(rng) for _ in range(100)]
    assert all(space._edge_sum(s) is not None for s in samples)     # the fast path is taken
    assert [space.cost(s) for s in samples] == [slow(space, s) for s in samples]


def test_other_samples_and_input_sizes_take_the_genotype():
    space = SepConvDartsSpace(width=8, num_cells=5, stem="digits")
    sample = random_sample(space.simplify(), np.random.RandomState(1))
    partial = {k: v for k, v in sample.items() if "/osep" not in k}    # a genotype-only sample (no unused labels)
    assert space._edge_sum(partial) is None and space.cost(partial) == slow(space, partial)
    assert space.cost(sample, input_size=16) == count(space.genotype(sample), stem="digits", in_channels=1,
                                                      input_size=16)
