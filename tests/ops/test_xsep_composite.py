"""XSepConv where a full KxK conv is replaced: xsep_pw_KxK (XSepConv + pw) and x_sep_conv_KxK
(DARTS SepConv with XSepConv as each dw); costs against hand counts and built modules."""
import pytest
import torch
from torch import nn

from nas_sepconv.ops import OPS, Cost, count_built, create_op, op_cost
from nas_sepconv.ops.xsep import PLACEMENTS, XSepConv
from nas_sepconv.ops.xsep_composite import XSepDartsConv, XSepPointwiseConv

XSEP8 = 4 * 8 + 2 * 3 * 8 + 3 * 2 * 8  # 2x2 dw + 1x3 dw + 3x1 dw + three affine BNs, c = 8


@pytest.mark.parametrize("name,c_in,c_out,stride,params,flops", [
    # XSepConv at 8 channels, then a dense 1x1 8 -> 16; 8x8 input
    ("xsep_pw_3x3", 8, 16, 1, XSEP8 + 8 * 16, (4 + 2 * 3) * 64 * 8 + 8 * 16 * 64),
    # stride 2 (Fig. 1(b)): 2x2 at 8x8, 1x3 to 8x4, 3x1 to 4x4, pw at 4x4
    ("xsep_pw_3x3", 8, 16, 2, XSEP8 + 8 * 16, 4 * 64 * 8 + 3 * 32 * 8 + 3 * 16 * 8 + 8 * 16 * 16),
    # two (XSepConv, pw 8 -> 8) pairs, each followed by an affine BN
    ("x_sep_conv_3x3", 8, 8, 1, 2 * (XSEP8 + 64) + 2 * 16, 2 * ((4 + 2 * 3) * 64 * 8 + 64 * 64)),
    ("x_sep_conv_5x5", 8, 8, 1, 2 * (4 * 8 + 2 * 5 * 8 + 48 + 64) + 32, 2 * ((4 + 2 * 5) * 64 * 8 + 64 * 64)),
])
def test_cost_against_hand_counts(name, c_in, c_out, stride, params, flops):
    assert op_cost(name, c_in, c_out, stride, input_size=8) == Cost(params, flops)


@pytest.mark.parametrize("name", ["xsep_pw_3x3", "xsep_pw_5x5", "xsep_pw_7x7", "x_sep_conv_3x3", "x_sep_conv_5x5"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("stride,c_out,affine", [(1, 8, True), (2, 16, True), (1, 12, False)])
def test_cost_equals_built_module(name, placement, stride, c_out, affine):
    op = create_op(name, 8, c_out, stride, placement=placement, affine=affine)
    assert op_cost(name, 8, c_out, stride, input_size=(9, 10), placement=placement, affine=affine) \
        == count_built(op, (9, 10), 8)


def test_composites_are_built_from_the_bare_op():
    pw = create_op("xsep_pw_3x3", 8, 16, 2)
    assert isinstance(pw, XSepPointwiseConv) and isinstance(pw[0], XSepConv) and pw[0].projection is None
    assert isinstance(pw[1], nn.Conv2d) and pw[1].kernel_size == (1, 1) and pw[1].groups == 1 and pw[1].bias is None
    darts = create_op("x_sep_conv_3x3", 8, 8, 1)
    assert isinstance(darts, XSepDartsConv)
    assert [type(m).__name__ for m in darts] == ["ReLU", "XSepPointwiseConv", "BatchNorm2d", "ReLU",
                                                 "XSepPointwiseConv", "BatchNorm2d"]


def _mixes_channels(op: nn.Module, c: int) -> bool:
    """Does output channel 0 depend on input channel 1? (gradient of a sum, eval mode)."""
    op.eval()
    x = torch.randn(2, c, 6, 6, requires_grad=True)
    op(x)[:, 0].sum().backward()
    return bool(x.grad[:, 1].abs().sum() > 0)


def test_bare_op_has_no_channel_mixing_and_the_composites_do():
    torch.manual_seed(0)
    assert not _mixes_channels(create_op("xsep_3x3", 8, 8, 1), 8)
    assert _mixes_channels(create_op("xsep_pw_3x3", 8, 8, 1), 8)
    assert _mixes_channels(create_op("x_sep_conv_3x3", 8, 8, 1), 8)


def test_registered_with_the_xsep_family_and_its_placement_space():
    for name in ("xsep_pw_3x3", "xsep_pw_5x5", "xsep_pw_7x7", "x_sep_conv_3x3", "x_sep_conv_5x5"):
        assert OPS[name].family == "xsep" and OPS[name].space == {"placement": PLACEMENTS}


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="`placement`"):
        create_op("xsep_pw_3x3", 8, 8, 1, placement="X")
    with pytest.raises(ValueError, match="`placement`"):
        op_cost("x_sep_conv_3x3", 8, 8, 1, placement="X")
