"""One-sided padding of even kernels and the improved symmetric padding planner (XSepConv §3.2)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.ops.sym_padding import (
    GROUPED,
    PAD_DIRECTIONS,
    EvenDepthwiseConv2d,
    apply_symmetric_padding,
    pad_amounts,
    plan_pad_directions,
)
from nas_sepconv.ops.xsep import XSepConv

RB, LT, LB, RT = PAD_DIRECTIONS


def _crop_of_full(x, weight, direction):
    """Reference: 2x2 depth-wise conv with 1 zero on every side gives (H+1)x(W+1); each
    one-sided padding is one HxW crop of it (extra zero right/bottom = drop first row/col)."""
    h, w = x.shape[2:]
    full = F.conv2d(x, weight, padding=1, groups=x.shape[1])
    rows = slice(1, None) if direction.endswith("bottom") else slice(0, h)
    cols = slice(1, None) if direction.startswith("right") else slice(0, w)
    return full[:, :, rows, cols]


def _ones_layer(channels, direction, kernel_size=2):
    layer = EvenDepthwiseConv2d(channels, kernel_size=kernel_size, pad_direction=direction)
    nn.init.ones_(layer.conv.weight)
    return layer


def _centroid(y):
    """Centroid (row, col) of |y| summed over batch and channels."""
    mass = y.detach().abs().sum(dim=(0, 1))
    rows = torch.arange(mass.shape[0], dtype=mass.dtype)
    cols = torch.arange(mass.shape[1], dtype=mass.dtype)
    total = mass.sum()
    return float((mass.sum(1) * rows).sum() / total), float((mass.sum(0) * cols).sum() / total)


def _impulse(channels=1, size=17):
    x = torch.zeros(1, channels, size, size, dtype=torch.float64)
    x[:, :, size // 2, size // 2] = 1.0
    return x


def test_pad_amounts_put_the_extra_zero_on_the_named_sides():
    assert pad_amounts(RB, 2) == (0, 1, 0, 1)
    assert pad_amounts(LT, 2) == (1, 0, 1, 0)
    assert pad_amounts(LB, 2) == (1, 0, 0, 1)
    assert pad_amounts(RT, 2) == (0, 1, 1, 0)
    assert pad_amounts(LB, 4) == (2, 1, 1, 2)


@pytest.mark.parametrize("direction", PAD_DIRECTIONS)
def test_one_sided_conv_matches_crop_of_fully_padded_conv(direction):
    torch.manual_seed(0)
    layer = EvenDepthwiseConv2d(3, pad_direction=direction).double()
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(layer(x), _crop_of_full(x, layer.conv.weight, direction))


def test_grouped_mode_pads_four_channel_groups_four_ways():
    torch.manual_seed(1)
    layer = EvenDepthwiseConv2d(8, pad_direction=GROUPED).double()
    x = torch.randn(1, 8, 5, 5, dtype=torch.float64)
    expected = torch.cat([_crop_of_full(x[:, 2 * g:2 * g + 2], layer.conv.weight[2 * g:2 * g + 2], d)
                          for g, d in enumerate(PAD_DIRECTIONS)], dim=1)
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize("mode", PAD_DIRECTIONS + (GROUPED,))
@pytest.mark.parametrize("kernel_size,stride,hw,out", [(2, 1, (5, 6), (5, 6)), (4, 1, (5, 6), (5, 6)),
                                                        (2, 2, (5, 6), (3, 3)), (4, 2, (7, 8), (4, 4))])
def test_output_size_is_same_padding(mode, kernel_size, stride, hw, out):
    layer = EvenDepthwiseConv2d(5, kernel_size=kernel_size, stride=stride, pad_direction=mode)
    assert layer(torch.randn(1, 5, *hw)).shape[2:] == out


def test_planner_cycle_and_rules_for_n_mod_4():
    assert plan_pad_directions(0) == ()
    assert plan_pad_directions(1) == (GROUPED,)
    assert plan_pad_directions(4) == (RB, LT, LB, RT)
    assert plan_pad_directions(5) == (RB, LT, LB, RT, GROUPED)
    assert plan_pad_directions(6) == (RB, LT, LB, RT, RB, LT)  # last two opposite
    assert plan_pad_directions(7) == (RB, LT, LB, RT, RB, LT, LB)
    assert plan_pad_directions(8) == (RB, LT, LB, RT) * 2


def test_four_planned_layers_cancel_the_shift_and_four_equal_ones_do_not():
    x = _impulse()
    planned = nn.Sequential(*(_ones_layer(1, RB) for _ in range(4))).double()
    apply_symmetric_padding(planned)
    same = nn.Sequential(*(_ones_layer(1, RB) for _ in range(4))).double()
    assert _centroid(planned(x)) == pytest.approx((8.0, 8.0), abs=1e-12)
    assert _centroid(same(x)) == pytest.approx((6.0, 6.0), abs=1e-12)  # half a pixel left-top per layer


@pytest.mark.parametrize("n,expected_shift", [(1, (0, 0)), (2, (0, 0)), (3, (-0.5, 0.5)), (5, (0, 0)),
                                              (6, (0, 0)), (7, (-0.5, 0.5)), (8, (0, 0))])
def test_planned_networks_stay_within_one_pixel(n, expected_shift):
    x = _impulse(channels=4)
    net = nn.Sequential(*(_ones_layer(4, RB) for _ in range(n))).double()
    apply_symmetric_padding(net)
    row, col = _centroid(net(x))
    assert (row - 8, col - 8) == pytest.approx(expected_shift, abs=1e-12)


def test_apply_walks_nested_ops_in_module_order_and_skips_ops_without_2x2():
    net = nn.Sequential(XSepConv(4, 4, 1, kernel_size=3), XSepConv(4, 4, 1, kernel_size=3, placement="none"),
                        nn.Sequential(XSepConv(4, 4, 2, kernel_size=5, placement="B"),
                                      XSepConv(4, 4, 1, kernel_size=3, placement="P")),
                        XSepConv(4, 4, 1, kernel_size=7))
    plan = apply_symmetric_padding(net)
    assert list(plan) == ["0.chain.0.0", "2.0.chain.2.0", "2.1.branch.0", "3.chain.0.0"]
    assert list(plan.values()) == [RB, LT, LB, RT]
    assert net[2][0].chain[2][0].pad_direction == LT
    assert net[2][1].branch[0].pad_direction == LB


@pytest.mark.parametrize("call,name", [
    (lambda: EvenDepthwiseConv2d(4, kernel_size=3), "kernel_size"),
    (lambda: EvenDepthwiseConv2d(4, pad_direction="up"), "pad_direction"),
    (lambda: EvenDepthwiseConv2d(0), "channels"),
    (lambda: EvenDepthwiseConv2d(4, stride=3), "stride"),
    (lambda: setattr(EvenDepthwiseConv2d(4), "pad_direction", "center"), "pad_direction"),
    (lambda: plan_pad_directions(-1), "n_layers"),
    (lambda: apply_symmetric_padding(["not a module"]), "network"),
    (lambda: apply_symmetric_padding(nn.Conv2d(1, 1, 2).weight), "network"),
    (lambda: pad_amounts("down", 2), "direction"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=f"`{name}"):
        call()
