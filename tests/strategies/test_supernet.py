"""The single-path supernet: exact weight inheritance, candidate layout, BN recalibration."""
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from nas_sepconv.evaluation.train import recalibrate_bn
from nas_sepconv.ops import OPS, count_built
from search_spaces import SepConvDartsSpace
from strategies.evolution_ops import random_sample
from strategies.supernet import RandomPaths, Supernet, internal_configs

SEARCHED = tuple(name for name in ("osep_3x3", "blk_3x3", "xsep_3x3") if name in OPS)
TEST_OPS = ("sep_conv_3x3", "skip_connect", "max_pool_3x3") + SEARCHED


@pytest.fixture(scope="module")
def space():
    return SepConvDartsSpace(op_candidates=TEST_OPS, width=4, num_cells=3, stem="digits")


@pytest.fixture(scope="module")
def supernet(space):
    """A supernet whose weights and BN statistics moved away from their initial values."""
    torch.manual_seed(0)
    net = Supernet.from_space(space)
    rng, mutables = np.random.RandomState(0), space.simplify()
    model = RandomPaths(net, lambda: space.genotype(random_sample(mutables, rng)))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(4):
        loss = model(torch.randn(16, 1, 8, 8)).logsumexp(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net


def samples(space, count, seed=1):
    rng, mutables = np.random.RandomState(seed), space.simplify()
    return [random_sample(mutables, rng) for _ in range(count)]


def test_subnet_with_inherited_weights_computes_exactly_the_supernet_path(space, supernet):
    x = torch.randn(6, 1, 8, 8)
    for sample in samples(space, 6):
        genotype = space.genotype(sample)
        subnet = supernet.extract(genotype)
        for training in (False, True):
            supernet.train(training)
            subnet.train(training)
            with torch.no_grad():
                assert torch.equal(supernet(x, genotype), subnet(x))
        supernet.eval()
        assert sum(p.numel() for p in subnet.parameters()) == space.cost(sample).params
        assert count_built(subnet, (8, 8), 1).flops == space.cost(sample).flops


def test_extracted_weights_are_copies_of_the_path_candidates(space, supernet):
    genotype = space.genotype(samples(space, 1, seed=5)[0])
    subnet = supernet.extract(genotype)
    index, _ = supernet.paths(genotype)[0][3]
    candidate = supernet.cells[0].edges[3][index]
    for (name, ours), (_, theirs) in zip(candidate.state_dict().items(), subnet.cells[0].ops[3].state_dict().items()):
        assert torch.equal(ours, theirs) and ours.data_ptr() != theirs.data_ptr(), name
    assert type(candidate) is type(subnet.cells[0].ops[3])


def test_every_internal_configuration_has_its_own_candidate(space, supernet):
    per_op = {op: len(internal_configs(op, True)) for op in TEST_OPS}
    assert per_op["sep_conv_3x3"] == 1 and per_op.get("blk_3x3") == 9 and per_op.get("xsep_3x3") == 4
    configs = sum(per_op.values())
    # three cells: normal (stride 1), reduce, reduce; a reduction edge of node >= 3 needs both strides
    normal, reduce = 8 * configs, 2 * configs + 6 * 2 * configs
    assert supernet.num_candidates() == normal + 2 * reduce


def test_two_internals_of_one_op_run_different_weights(space, supernet):
    genotype = space.genotype(samples(space, 1, seed=7)[0])
    edge = dataclasses.replace(genotype.normal[0], op="blk_3x3", params=(("s", 1), ("t", 1)))
    other = dataclasses.replace(edge, params=(("s", 2), ("t", 2)))
    first = dataclasses.replace(genotype, normal=(edge,) + genotype.normal[1:])
    second = dataclasses.replace(genotype, normal=(other,) + genotype.normal[1:])
    assert supernet.paths(first)[0][0] != supernet.paths(second)[0][0]
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(supernet(x, first), supernet(x, second))


def test_recalibration_replaces_bn_statistics_by_the_batch_average(space, supernet):
    subnet = supernet.extract(space.genotype(samples(space, 1, seed=3)[0])).eval()
    stem_conv, stem_bn = subnet.stem0
    inherited = stem_bn.running_mean.clone()
    assert not torch.allclose(inherited, torch.zeros_like(inherited))
    batches = [torch.randn(10, 1, 8, 8) + 0.5 * i for i in range(3)]
    assert recalibrate_bn(subnet, batches) == 3
    with torch.no_grad():
        features = [stem_conv(b) for b in batches]
    mean = torch.cat(features).mean(dim=(0, 2, 3))
    var = torch.stack([f.transpose(0, 1).flatten(1).var(dim=1) for f in features]).mean(0)
    assert torch.allclose(stem_bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(stem_bn.running_var, var, atol=1e-4)
    assert not torch.allclose(stem_bn.running_mean, inherited)
    assert not subnet.training and stem_bn.momentum == 0.1      # mode and momentum restored
    norms = [m for m in subnet.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(int(m.num_batches_tracked) == 3 for m in norms)


def test_paths_outside_the_supernet_and_searched_macros_are_refused(space, supernet):
    genotype = space.genotype(samples(space, 1)[0])
    foreign = dataclasses.replace(genotype, normal=(dataclasses.replace(genotype.normal[0], op="conv_3x3", params=()),)
                                  + genotype.normal[1:])
    with pytest.raises(ValueError, match="not in the supernet"):
        supernet.paths(foreign)
    with pytest.raises(ValueError, match="concatenates nodes"):
        supernet.paths(dataclasses.replace(genotype, normal_concat=(2, 3)))
    with pytest.raises(ValueError, match="fixed `width`"):
        Supernet.from_space(SepConvDartsSpace(op_candidates=("skip_connect",), width=[4, 8], num_cells=3,
                                              stem="digits"))
    with pytest.raises(ValueError, match="`op_candidates`"):
        Supernet(op_candidates=(), channels=4, layers=3)
