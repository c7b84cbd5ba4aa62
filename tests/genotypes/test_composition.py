"""Op-family composition (nas_sepconv.genotypes.composition), counted by hand from the genotypes."""
import pytest

from nas_sepconv import ResNetGenotype
from nas_sepconv.genotypes.architecture import architecture_labels, architecture_ops
from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.composition import MIXED, composition, families
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.ops import OPS, register_op
from nas_sepconv.ops.darts import SepConv


def test_cell_shares_count_the_edges_of_both_cells():
    osep = replace_ops(DARTS_V2, {"sep_conv_3x3": ("osep_3x3", {"N": 3, "gamma": 1.0})})
    edges = [e.op for cell in (DARTS_V2.normal, DARTS_V2.reduce) for e in cell]
    n_sep = edges.count("sep_conv_3x3")  # 5 of DARTS_V2's 16 edges
    found = composition(osep)
    assert found.total == 16 and found.counts["osep"] == n_sep and found.counts["darts"] == 16 - n_sep
    assert found.shares["osep"] == n_sep / 16 and sum(found.shares.values()) == pytest.approx(1.0)
    assert found.internals == ("osep_3x3[N=3,gamma=1.0]",) and found.dominant == "darts"
    assert composition(DARTS_V2).internals == () and composition(DARTS_V2).shares["darts"] == 1.0


def test_resnet_shares_count_blocks_per_stage():
    arch = ResNetGenotype(20, ("conv", "osep", "blk"), 0.5)
    assert len(architecture_ops(arch)) == 9  # (20 - 2) / 6 = 3 blocks in each of 3 stages
    found = composition(arch)
    assert found.counts == {"darts": 0, "baseline": 3, "osep": 3, "blk": 3, "xsep": 0}
    assert found.dominant == MIXED
    assert composition(ResNetGenotype(8, "xsep", 1.0)).shares["xsep"] == 1.0
    assert architecture_labels(arch) == {"conv_stage1": "conv", "conv_stage2": "osep", "conv_stage3": "blk",
                                         "multiplier": 0.5, "shortcut": "A"}


def test_a_newly_registered_family_is_counted():
    register_op("toy_sep_3x3", SepConv, family="toyfam", kernel_size=3)
    try:
        arch = replace_ops(DARTS_V2, {"sep_conv_3x3": "toy_sep_3x3"})
        assert "toyfam" in families() and composition(arch).counts["toyfam"] == 5
    finally:
        del OPS["toy_sep_3x3"]
