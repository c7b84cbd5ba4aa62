"""XSepConv (XSepConv paper §3.1, Figs. 1 and 6): cost, structure, receptive field, registry."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.ops import OPS, Cost, count_built, create_op, op_cost
from nas_sepconv.ops.sym_padding import EvenDepthwiseConv2d
from nas_sepconv.ops.xsep import PLACEMENTS, XSepConv

C, K, H, W = 8, 5, 9, 10
H2, W2 = 5, 5  # (9 - 1) // 2 + 1, (10 - 1) // 2 + 1
BN3, BN2 = 3 * 2 * C, 2 * 2 * C


@pytest.mark.parametrize("placement,stride,params,flops", [
    # stride 1, paper §3.1: 4c + 2kc params, 4hwc + 2khwc FLOPs, whatever the placement
    ("standard", 1, 4 * C + 2 * K * C + BN3, 4 * H * W * C + 2 * K * H * W * C),
    ("B", 1, 160, 10080),
    ("P", 1, 160, 10080),
    ("none", 1, 2 * K * C + BN2, 2 * K * H * W * C),
    # stride 2, Fig. 1(b): 2x2 at full size, 1xk stride (1,2), kx1 stride (2,1)
    ("standard", 2, 160, 4 * H * W * C + K * H * W2 * C + K * H2 * W2 * C),
    ("B", 2, 160, K * H * W2 * C + K * H2 * W2 * C + 4 * H2 * W2 * C),
    ("P", 2, 160, 3600),
    ("none", 2, 112, 2800),
])
def test_cost_against_hand_counts(placement, stride, params, flops):
    assert op_cost("xsep_5x5", C, C, stride, input_size=(H, W), placement=placement) == Cost(params, flops)


def test_hand_numbers_match_the_formulas():
    assert 4 * C + 2 * K * C + BN3 == 160 and 4 * H * W * C + 2 * K * H * W * C == 10080
    assert 4 * H * W * C + K * H * W2 * C + K * H2 * W2 * C == 5680


def test_paper_ratios():
    no_bn = XSepConv.cost(C, C, 1, input_size=(H, W), kernel_size=5, affine=False)
    dw = Cost(C * 25, C * 25 * H * W)
    assert no_bn.params / dw.params == pytest.approx(1 - 0.44)  # "save 44%" for k = 5
    assert no_bn.flops / dw.flops == pytest.approx(1 - 0.44)
    down = XSepConv.cost(C, C, 2, input_size=(8, 8), kernel_size=7, affine=False)  # h, w even
    assert down.flops == 4 * 64 * C + 7 * 64 * C // 2 + 7 * 64 * C // 4


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("stride", (1, 2))
@pytest.mark.parametrize("k,c_in,c_out,affine,hw", [(3, 4, 4, True, (7, 7)), (7, 6, 6, False, (8, 11)),
                                                    (5, 4, 10, True, (9, 6)), (3, 6, 3, False, (5, 5))])
def test_cost_equals_count_built(placement, stride, k, c_in, c_out, affine, hw):
    kw = dict(placement=placement, affine=affine)
    op = create_op(f"xsep_{k}x{k}", c_in, c_out, stride, **kw)
    assert op_cost(f"xsep_{k}x{k}", c_in, c_out, stride, input_size=hw, **kw) == count_built(op, hw, c_in)
    assert op(torch.randn(2, c_in, *hw)).shape == (2, c_out, (hw[0] - 1) // stride + 1, (hw[1] - 1) // stride + 1)


def test_projection_only_when_channels_change():
    assert not any(m.kernel_size == (1, 1) for m in XSepConv(6, 6, 1, kernel_size=3).modules()
                   if isinstance(m, nn.Conv2d))
    grow = op_cost("xsep_3x3", 6, 9, 1, input_size=4)
    same = op_cost("xsep_3x3", 6, 6, 1, input_size=4)
    assert grow == Cost(same.params + 6 * 9 + 2 * 9, same.flops + 6 * 9 * 16)


def test_downsampling_strides_sit_on_the_separated_convs():
    op = XSepConv(4, 4, 2, kernel_size=7)
    convs = [m for m in op.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((2, 2), (1, 1)), ((1, 7), (1, 2)), ((7, 1), (2, 1))]
    parallel = XSepConv(4, 4, 2, kernel_size=7, placement="P")
    assert parallel.branch[0].conv.stride == (2, 2)


def _positive_eval(op):
    for m in op.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, 0.1, 1.0)
    return op.double().eval()


def _dependence_window(op, c, size=21):
    """Input pixels (of channel 0) that the centre output of channel 0 depends on."""
    x = torch.rand(1, c, size, size, dtype=torch.float64, requires_grad=True)
    op(x + 0.1)[0, 0, size // 2, size // 2].backward()
    return (x.grad[0, 0] != 0).nonzero()


@pytest.mark.parametrize("k", (3, 5, 7))
@pytest.mark.parametrize("placement,extra", [("standard", 1), ("B", 1), ("P", 0), ("none", 0)])
def test_receptive_field(k, placement, extra):
    op = _positive_eval(XSepConv(3, 3, 1, kernel_size=k, placement=placement))
    hits = _dependence_window(op, 3)
    side = k + extra  # paper §3.1: k + 1 with the 2x2 conv in the chain
    assert len(hits) == side * side
    assert (hits.max(0).values - hits.min(0).values + 1).tolist() == [side, side]
    assert hits.min(0).values.tolist() == [10 - k // 2] * 2  # right-bottom padding extends down-right


def _unit(x, conv, bn, pad=None, stride=1):
    """Reference conv -> BN -> ReLU written with functional ops."""
    if pad is not None:
        x = F.pad(x, pad)
        y = F.conv2d(x, conv.weight, stride=stride, groups=x.shape[1])
    else:
        y = F.conv2d(x, conv.weight, stride=conv.stride, padding=conv.padding, groups=x.shape[1])
    return F.relu(F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias))


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("stride", (1, 2))
def test_forward_matches_functional_reference(placement, stride):
    torch.manual_seed(3)
    op = XSepConv(4, 4, stride, kernel_size=5, placement=placement).double()
    for m in op.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 2.0), nn.init.uniform_(m.bias, -0.5, 0.5)
    op.eval()
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    units = list(op.chain) + ([op.branch] if op.branch is not None else [])
    two = [u for u in units if isinstance(u[0], EvenDepthwiseConv2d)]
    sep = [u for u in units if isinstance(u[0], nn.Conv2d)]
    def two_ref(t):
        return _unit(t, two[0][0].conv, two[0][1], (0, 1, 0, 1), stride if placement == "P" else 1)

    def sep_ref(t):
        return _unit(_unit(t, sep[0][0], sep[0][1]), sep[1][0], sep[1][1])

    ref = {"standard": lambda t: sep_ref(two_ref(t)), "B": lambda t: two_ref(sep_ref(t)),
           "P": lambda t: sep_ref(t) + two_ref(t), "none": sep_ref}[placement]
    torch.testing.assert_close(op(x), ref(x))


def test_registered_ops():
    for k in (3, 5, 7):
        spec = OPS[f"xsep_{k}x{k}"]
        assert spec.family == "xsep" and spec.fixed == {"kernel_size": k}
        assert spec.space == {"placement": ("standard", "B", "P", "none")}
    with pytest.raises(ValueError, match="`kernel_size` is fixed"):
        create_op("xsep_3x3", 4, 4, 1, kernel_size=5)


@pytest.mark.parametrize("kwargs,name", [
    (dict(kernel_size=4), "kernel_size"), (dict(kernel_size=1), "kernel_size"),
    (dict(kernel_size=3.0), "kernel_size"), (dict(kernel_size=3, placement="A"), "placement"),
    (dict(kernel_size=3, affine="yes"), "affine"), (dict(kernel_size=3, stride=3), "stride"),
    (dict(kernel_size=3, c_in=0), "c_in"), (dict(kernel_size=3, c_out=-2), "c_out"),
])
def test_bad_input_is_rejected_by_init_and_cost(kwargs, name):
    args = {"c_in": 4, "c_out": 4, "stride": 1, **kwargs}
    lead = (args.pop("c_in"), args.pop("c_out"), args.pop("stride"))
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        XSepConv(*lead, **args)
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        XSepConv.cost(*lead, input_size=(8, 8), **args)
