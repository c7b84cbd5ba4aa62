"""CIFAR ResNet backbone: exact counts (analytic == built == hand), structure, validation."""
import pytest
import torch
from torch import nn

from nas_sepconv import build_resnet, count_resnet
from nas_sepconv.models.resnet import ShortcutA, ShortcutB, stage_widths
from nas_sepconv.ops import Cost, conv_aliases, count_built
from nas_sepconv.ops.sym_padding import EvenDepthwiseConv2d, plan_pad_directions


def built_cost(input_size=(32, 32), in_channels=3, **kwargs):
    with torch.device("meta"):
        model = build_resnet(**kwargs, in_channels=in_channels)
    return count_built(model, input_size, in_channels)


def hand_plain_cost(depth, w=16, classes=10, size=32):
    """Plain ResNet by hand: stem, 2n convs per stage (first of stages 2-3 halves the map), BNs, fc."""
    n = (depth - 2) // 6
    s1, s2, s3 = size, size // 2, size // 4
    conv = [3 * w * 9, 2 * n * w * w * 9, w * 2 * w * 9 + (2 * n - 1) * 4 * w * w * 9,
            2 * w * 4 * w * 9 + (2 * n - 1) * 16 * w * w * 9]
    maps = [s1 * s1, s1 * s1, s2 * s2, s3 * s3]
    bn = 2 * w + 2 * n * 2 * (w + 2 * w + 4 * w)
    fc = 4 * w * classes
    return Cost(sum(conv) + bn + fc + classes, sum(c * m for c, m in zip(conv, maps)) + fc)


@pytest.mark.parametrize("depth,params", [(20, 269_722), (32, 464_154), (56, 853_018), (110, 1_727_962)])
def test_plain_resnet_params_are_the_published_ones(depth, params):
    cost = count_resnet(depth)
    assert cost.params == params
    assert cost == hand_plain_cost(depth)


@pytest.mark.parametrize("depth", [20, 110])
def test_plain_resnet_built_equals_analytic(depth):
    assert built_cost(depth=depth) == count_resnet(depth)


@pytest.mark.parametrize("depth,gflops", [(20, 0.04055), (32, 0.06886), (56, 0.12548), (110, 0.25289)])
def test_plain_resnet_flops_match_osep_table_d6(depth, gflops):
    # The paper prints 4-5 significant digits (56 is truncated, 110 rounded).
    assert abs(count_resnet(depth).flops / 1e9 - gflops) < 1e-5


@pytest.mark.parametrize("depth,mult,params,gflops", [(20, 2.72, 0.250, None), (32, 2.75, 0.429, 0.06565),
                                                     (56, 2.75, 0.786, 0.11890), (110, 2.75, 1.590, 0.23870)])
def test_d_resnet_matches_table_d6_up_to_a_bn_after_each_depthwise_conv(depth, mult, params, gflops):
    # Table D.6 d-ResNet rows: FLOPs agree; #params agree once one affine BN per dw conv is added.
    n, w = (depth - 2) // 6, 44
    dw_channels = 2 * n * w + (w + (2 * n - 1) * 2 * w) + (2 * w + (2 * n - 1) * 4 * w)
    cost = count_resnet(depth, conv="dsep", multiplier=mult)
    assert round((cost.params + 2 * dw_channels) / 1e6, 3) == params
    assert round(cost.params / 1e6, 3) < params
    if gflops is not None:  # d-ResNet20's printed 0.0400 matches no width (see the reference report)
        assert cost.flops / 1e9 == pytest.approx(gflops, rel=3e-4)


ALL = list(conv_aliases())


@pytest.mark.parametrize("conv", ALL)
@pytest.mark.parametrize("multiplier,size", [(1.0, (32, 32)), (0.5, (15, 9)), (1.375, (8, 8))])
def test_analytic_equals_built_for_every_op(conv, multiplier, size):
    kwargs = dict(depth=8, conv=conv, multiplier=multiplier, num_classes=7)
    assert built_cost(size, in_channels=2, **kwargs) == count_resnet(**kwargs, in_channels=2, input_size=size)


@pytest.mark.parametrize("conv,op_params", [("blk", {"s": 2, "t": 2}), ("xsep", {"placement": "P", "affine": False}),
                                            ("group_conv_3x3", {"groups": 4})])
def test_op_params_reach_every_block_op(conv, op_params):
    kwargs = dict(depth=14, conv=conv, multiplier=0.75, op_params=op_params)
    plain = count_resnet(depth=14, conv=conv, multiplier=0.75)
    assert built_cost(**kwargs) == count_resnet(**kwargs) != plain


@pytest.mark.parametrize("conv", ["osep", "so_sep"])
def test_osep_resnet_analytic_equals_built(conv):
    kwargs = dict(depth=20, conv=conv, multiplier=3.625)
    assert built_cost(**kwargs) == count_resnet(**kwargs)


def test_per_stage_ops_and_registry_names():
    convs = ["dsep", "conv_5x5", "dw"]
    assert built_cost(depth=8, conv=convs) == count_resnet(8, conv=convs)
    assert count_resnet(8, conv=["conv_3x3"] * 3) == count_resnet(8, conv="conv")


def test_dsep_resnet_is_cheaper_by_the_dsep_formula():
    # Every block conv C_in*C_out*9 becomes C_in*9 + C_in*C_out (osep paper Table 1).
    plain, dsep = count_resnet(8), count_resnet(8, conv="dsep")
    w = 16
    pairs = [(w, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)]
    saved = sum(a * b * 9 - (a * 9 + a * b) for a, b in pairs)
    assert plain.params - dsep.params == saved


@pytest.mark.parametrize("multiplier,widths", [(1.0, (16, 32, 64)), (2.72, (44, 88, 176)),
                                               (1.03125, (17, 34, 68)), (0.01, (1, 2, 4))])
def test_stage_widths_round_half_up_and_double(multiplier, widths):
    assert stage_widths(multiplier) == widths


def test_forward_runs_and_shortcut_has_no_parameters():
    torch.manual_seed(0)
    model = build_resnet(8, num_classes=5, in_channels=1)
    assert model(torch.randn(2, 1, 9, 9)).shape == (2, 5)
    shortcuts = [m for m in model.modules() if isinstance(m, ShortcutA)]
    assert len(shortcuts) == 3 and all(not list(m.parameters()) for m in shortcuts)
    assert not any(isinstance(m, nn.Conv2d) and m.bias is not None for m in model.modules())


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 4, 5, 5)
    y = ShortcutA(4, 9, 2)(x)
    assert y.shape == (2, 9, 3, 3)
    assert torch.equal(y[:, 2:6], x[:, :, ::2, ::2])
    assert not y[:, :2].any() and not y[:, 6:].any()
    assert torch.equal(ShortcutA(4, 4, 1)(x), x)


def test_stem_stays_a_plain_conv():
    model = build_resnet(8, conv="dsep")
    assert isinstance(model.stem[0], nn.Conv2d) and model.stem[0].weight.shape == (16, 3, 3, 3)


def test_xsep_even_convs_get_the_network_wide_padding_plan():
    model = build_resnet(8, conv="xsep")
    even = [m for m in model.modules() if isinstance(m, EvenDepthwiseConv2d)]
    assert len(even) == 6
    assert [m.pad_direction for m in even] == list(plan_pad_directions(6))


@pytest.mark.parametrize("kwargs,needle", [
    (dict(depth=21), "`depth`"), (dict(depth=2), "`depth`"), (dict(depth=20.0), "`depth`"),
    (dict(depth=8, conv="nope"), "`conv`"), (dict(depth=8, conv=["conv", "dsep"]), "`conv`"),
    (dict(depth=8, multiplier=0), "`multiplier`"), (dict(depth=8, multiplier=float("nan")), "`multiplier`"),
    (dict(depth=8, num_classes=0), "`num_classes`"), (dict(depth=8, in_channels=True), "`in_channels`"),
    (dict(depth=8, op_params=[1]), "`op_params`"), (dict(depth=8, op_params={"bogus": 1}), "`bogus`"),
    (dict(depth=8, shortcut="C"), "`shortcut`"), (dict(depth=8, shortcut=["A"]), "`shortcut`"),
    (dict(depth=8, config="imagenet"), "`config`"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, needle):
    for fn in (build_resnet, count_resnet):
        with pytest.raises(ValueError, match=needle):
            fn(**kwargs)


def test_bad_input_size_is_refused():
    with pytest.raises(ValueError, match="`input_size"):
        count_resnet(8, input_size=0)


# -- option B shortcuts and the ImageNet40 configuration (osep paper, Tables D.6 and E.7) ----------

def hand_projection_cost(w, size):
    """He et al.'s option B at the two stage transitions: 1x1 conv w->2w at size/2, 2w->4w at size/4, + BN."""
    convs = [(w * 2 * w, (size // 2) ** 2), (2 * w * 4 * w, (size // 4) ** 2)]
    return Cost(sum(c for c, _ in convs) + 2 * (2 * w + 4 * w), sum(c * m for c, m in convs))


@pytest.mark.parametrize("depth", [20, 56])
def test_option_b_adds_exactly_two_projections_by_hand(depth):
    assert count_resnet(depth, shortcut="B") == hand_plain_cost(depth) + hand_projection_cost(16, 32)


@pytest.mark.parametrize("conv", ALL)
@pytest.mark.parametrize("config,size", [("cifar", (15, 9)), ("imagenet40", (32, 32))])
def test_option_b_analytic_equals_built_for_every_op(conv, config, size):
    kwargs = dict(depth=8, conv=conv, multiplier=0.25, shortcut="B", config=config)
    assert built_cost(size, **kwargs) == count_resnet(**kwargs, input_size=size)


def test_option_b_projects_only_where_the_shape_changes():
    torch.manual_seed(0)
    model = build_resnet(14, shortcut="B", num_classes=5, in_channels=1)
    assert model(torch.randn(2, 1, 9, 9)).shape == (2, 5)
    kinds = [type(block.shortcut) for block in model.blocks]
    assert kinds == [ShortcutA] * 2 + [ShortcutB, ShortcutA] * 2
    conv = model.blocks[2].shortcut[0]
    assert conv.weight.shape == (32, 16, 1, 1) and conv.stride == (2, 2)


# Table D.6 o-ResNet rows: (depth, multiplier, M params, GFLOPs).
D6_OSEP = [(20, 3.625, 0.221, 0.04070), (32, 3.75, 0.367, 0.06726), (56, 3.875, 0.682, 0.12574),
           (110, 3.875, 1.337, 0.24763)]


@pytest.mark.parametrize("depth,mult,params,gflops", D6_OSEP)
def test_o_resnet_with_option_b_is_within_2_percent_of_table_d6(depth, mult, params, gflops):
    cost = count_resnet(depth, conv="osep", multiplier=mult, shortcut="B")
    assert cost.params / 1e6 == pytest.approx(params, rel=0.02)
    assert cost.flops / 1e9 == pytest.approx(gflops, rel=0.02)
    option_a = count_resnet(depth, conv="osep", multiplier=mult)  # misses by a near-constant ~4M MACs
    assert cost == option_a + hand_projection_cost(stage_widths(mult)[0], 32)


@pytest.mark.parametrize("depth,params,gflops", [(20, 4.58, 0.162), (32, 7.68, 0.275), (56, 13.88, 0.502),
                                                 (110, 27.83, 1.012)])
def test_imagenet40_plain_resnet_matches_table_e7_to_the_printed_digits(depth, params, gflops):
    cost = count_resnet(depth, shortcut="B", config="imagenet40")
    assert round(cost.params / 1e6, 2) == params and round(cost.flops / 1e9, 3) == gflops
    w = 64  # by hand: 4x widths, 1000 classes, stem stride 2 (scales 16, 8, 4 for 32x32 crops)
    stem_stride_1 = hand_plain_cost(depth, w=w, classes=1000, size=16) + hand_projection_cost(w, 16)
    assert cost == stem_stride_1


@pytest.mark.parametrize("depth,mult,params,gflops", [(20, 5.375, 5.13, 0.160), (32, 5.75, 7.78, 0.278),
                                                      (56, 6.0, 12.55, 0.497), (110, 6.25, 23.79, 1.027)])
def test_imagenet40_o_resnet_is_within_2_percent_of_table_e7(depth, mult, params, gflops):
    cost = count_resnet(depth, conv="osep", multiplier=mult, shortcut="B", config="imagenet40")
    assert cost.params / 1e6 == pytest.approx(params, rel=0.02)
    assert cost.flops / 1e9 == pytest.approx(gflops, rel=0.02)


def test_imagenet40_network_runs_on_32x32_crops_with_1000_classes():
    model = build_resnet(8, config="imagenet40", multiplier=0.125)
    assert model.stem[0].stride == (2, 2) and model.stem[0].out_channels == 8
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 1000)
