"""MobileNet backbones: reference parameter counts, analytic cost == built model, stems, the
papers' configurations, symmetric padding in forward order, bad input."""
import pytest
import torch

from nas_sepconv.models.mobilenet import build_mobilenet, count_mobilenet
from nas_sepconv.models.mobilenet_plan import BlockChoice, block_choices
from nas_sepconv.models.mobilenet_presets import blknet, o_mobilenet, xsepconv_v3_small_blocks
from nas_sepconv.models.mobilenet_table import block_strides, make_divisible, stages, table
from nas_sepconv.ops import count_built
from nas_sepconv.ops.sym_padding import EvenDepthwiseConv2d

# ImageNet head, 1000 classes, width 1.0. V1: the standard MobileNet (Howard et al. 2017);
# V2 and V3: torchvision's documented num_params of mobilenet_v2 / mobilenet_v3_large / _small.
REFERENCE = {"v1": 4_231_976, "v2": 3_504_872, "v3-large": 5_483_032, "v3-small": 2_542_856}


def built_on_meta(version, **kwargs):
    with torch.device("meta"):
        return build_mobilenet(version, **kwargs)


@pytest.mark.parametrize("version", sorted(REFERENCE))
def test_reference_parameter_counts_and_flops_equal_the_hook_count(version):
    cost = count_mobilenet(version)
    assert cost.params == REFERENCE[version]
    assert count_built(built_on_meta(version), (224, 224), 3) == cost


def test_make_divisible_is_the_torchvision_rounding():
    assert [make_divisible(v) for v in (32 * 0.35, 16 * 0.5, 24 * 0.75, 100, 4)] == [16, 8, 24, 104, 8]
    assert make_divisible(30) == 32 and make_divisible(27.9) == 32  # never below 90%


def test_stems_reduce_the_early_strides():
    assert block_strides("v2", "imagenet") == (2, tuple(r.stride for r in table("v2").rows))
    stem, strides = block_strides("v2", "cifar")
    assert stem == 1 and strides.count(2) == 3 and strides[1] == 1
    stem, strides = block_strides("v3-small", "digits")
    assert stem == 1 and strides.count(2) == 2 and strides[:2] == (1, 1)


@pytest.mark.parametrize("version,stem,size", [("v1", "cifar", 32), ("v2", "digits", 8), ("v3-small", "digits", 8),
                                               ("v3-large", "cifar", 32)])
def test_small_stems_run_and_count_exactly(version, stem, size):
    kwargs = dict(width=0.5, stem=stem, num_classes=10, in_channels=1 if stem == "digits" else 3)
    model = build_mobilenet(version, **kwargs)
    assert model(torch.randn(2, kwargs["in_channels"], size, size)).shape == (2, 10)
    assert count_built(model, (size, size), kwargs["in_channels"]) == count_mobilenet(version, **kwargs)


@pytest.mark.parametrize("version,kwargs", [
    ("v1", dict(ops="osep", width=0.5)), ("v1", dict(ops="xsep", kernels=5)),
    ("v2", dict(blknet(1, 2), width=0.5)), ("v2", dict(ops="dsep", expansions=4)),
    ("v3-small", dict(ops="osep", op_params={"osep": {"N": 3, "gamma": 4.0}})),
    ("v3-small", dict(ops=["blk"] * 5 + ["so_sep"] * 3 + ["conv"] * 3, kernels=3, expansions=3.0)),
    ("v3-large", dict(ops="xsep", kernels=7, op_params={"xsep": {"placement": "P"}}, width=0.35)),
])
def test_every_op_role_counts_exactly(version, kwargs):
    cost = count_mobilenet(version, stem="cifar", num_classes=10, **kwargs)
    model = build_mobilenet(version, stem="cifar", num_classes=10, **kwargs)
    assert count_built(model, (32, 32), 3) == cost
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_pair_ops_replace_depthwise_and_pointwise():
    # V1 dsep op: the same convs as dw + pw, minus the BN between them (2C per block).
    dw, dsep = count_mobilenet("v1"), count_mobilenet("v1", ops="dsep")
    assert dw.flops == dsep.flops
    widths = [32, 64, 128, 128, 256, 256] + [512] * 6 + [1024]   # the input width of each block
    assert dw.params - dsep.params == sum(2 * make_divisible(c) for c in widths)
    # BlkNet-s1t1 (Table 10: 3.44M) has fewer params than MobileNetV2 but more MAdds.
    v2, s1t1 = count_mobilenet("v2"), count_mobilenet("v2", **blknet(1, 1))
    assert s1t1.params < v2.params and s1t1.flops > v2.flops
    assert round(s1t1.params / 1e6, 2) == 3.44


def test_xsepconv_v3_small_is_one_configuration_with_a_planned_padding():
    blocks = xsepconv_v3_small_blocks()
    assert [b.op for b in blocks] == ["dw"] * 4 + ["xsep"] * 4 + ["dw"] + ["xsep"] * 2
    assert [b.kernel for b in blocks] == [3, 3, 3, 5, 5, 5, 5, 5, 5, 3, 3]
    model = build_mobilenet("v3-small", blocks=blocks)
    twos = [m for m in model.modules() if isinstance(m, EvenDepthwiseConv2d)]
    # Six 2x2 convs (N % 4 == 2, as the paper notes), padded in the forward-order cycle.
    assert [m.pad_direction for m in twos] == ["right_bottom", "left_top", "left_bottom", "right_top"] * 1 + [
        "right_bottom", "left_top"]
    cost, original = count_mobilenet("v3-small", blocks=blocks), count_mobilenet("v3-small")
    assert cost.params < original.params and cost.flops < original.flops
    assert count_built(model, (224, 224), 3) == cost
    down = xsepconv_v3_small_blocks(downsampling=True)
    assert down[3] == BlockChoice("xsep", 7, None, (("placement", "standard"),))


def test_o_mobilenet_is_v1_with_osep_pairs():
    assert block_choices("v1", **o_mobilenet()) == tuple(BlockChoice("osep", 3) for _ in range(13))


def test_stages_group_blocks_of_one_width():
    assert stages("v2") == ((0,), (1, 2), (3, 4, 5), (6, 7, 8, 9), (10, 11, 12), (13, 14, 15), (16,))
    assert stages("v3-small") == ((0,), (1, 2), (3, 4, 5), (6, 7), (8, 9, 10))


@pytest.mark.parametrize("kwargs,message", [
    (dict(ops="sep"), "`op` must be one of dw, xsep"),
    (dict(ops="blk", kernels=7), "`kernel` of op 'blk' must be one of [3, 5]"),
    (dict(ops=["dw"] * 3), "`ops` must be one value or a list of 17"),
    (dict(width=0), "`width`"),
    (dict(stem="tiny"), "`stem`"),
    (dict(ops="blk", op_params={"blk": {"t": 5}}), "`t` must be a divisor"),
    (dict(op_params={"sep": {}}), "`op_params` keys must be op names"),
])
def test_bad_input_names_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=None) as err:
        count_mobilenet("v2", **kwargs)
    assert message in str(err.value)


def test_bad_version_and_v1_expansion():
    with pytest.raises(ValueError, match="`version` must be one of"):
        count_mobilenet("v4")
    with pytest.raises(ValueError, match="`expansions` do not apply to MobileNetV1"):
        count_mobilenet("v1", expansions=2)
