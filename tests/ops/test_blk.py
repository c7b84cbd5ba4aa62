"""BlkSConv: exactness against a dense conv, exact cost, the paper's ratios, PCA init."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.ops import OPS, count_built, create_op, op_cost
from nas_sepconv.ops.blk import BlkSConv, paper_madds_ratio, paper_params_ratio
from nas_sepconv.ops.cost import conv_cost

CONFIGS = [  # c_in, c_out, kernel, s, t
    (3, 5, 3, 1, 1), (3, 4, 3, 2, 3), (58, 16, 3, 2, 2), (58, 7, 5, 3, 29),
    (116, 8, 5, 1, 4), (116, 12, 3, 4, 2), (16, 16, 3, 5, 4),
]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _dense(c_in: int, c_out: int, k: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False)


def _error(op: BlkSConv, weight: torch.Tensor) -> float:
    return (op.dense_kernel() - weight).norm().item() / weight.norm().item()


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("c_in,c_out,k,s,t", CONFIGS)
def test_equals_dense_conv_with_rebuilt_kernel(c_in, c_out, k, s, t, stride) -> None:
    op = BlkSConv(c_in, c_out, stride, kernel_size=k, s=s, t=t)
    x = torch.randn(2, c_in, 7, 6)
    with torch.no_grad():
        y = op(x)
        ref = F.conv2d(x, op.dense_kernel(), stride=stride, padding=k // 2)
    assert y.shape == (2, c_out, (7 - 1) // stride + 1, (6 - 1) // stride + 1)
    assert (y - ref).abs().max().item() <= 1e-5


def test_dense_kernel_follows_the_papers_block_convention() -> None:
    # Hand-built: filter 0 has one basis block (t=2, 1x1) [1, 10]; coefficients [1, 2, 3].
    op = BlkSConv(6, 1, 1, kernel_size=1, s=1, t=2)
    with torch.no_grad():
        op.pointwise.weight.copy_(torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1))
        op.grouped.weight.copy_(torch.tensor([1.0, 10.0]).view(1, 2, 1, 1))
    # Paper Sec. III-A: block b is the contiguous channels b*t .. b*t+t-1, so channel
    # c = b*t + z carries coefficient b times basis entry z.
    assert op.dense_kernel().flatten().tolist() == [1.0, 10.0, 2.0, 20.0, 3.0, 30.0]


def paper_block_kernel(c_out: int, c_in: int, k: int, s: int, t: int) -> torch.Tensor:
    """A kernel exactly block-separable as the paper's Eq. 2 writes it, built entry by entry:
    Q_j^(b)(x, y, z) = F_j(x, y, z + (b-1)t) = sum_{i<s} P_j^(b)(i) B_{j,i}(x, y, z)."""
    coeff, basis = torch.randn(c_out, c_in // t, s, dtype=torch.float64), torch.randn(c_out, s, t, k, k,
                                                                                      dtype=torch.float64)
    weight = torch.zeros(c_out, c_in, k, k, dtype=torch.float64)
    for j in range(c_out):
        for b in range(c_in // t):
            for z in range(t):
                weight[j, b * t + z] = sum(coeff[j, b, i] * basis[j, i, z] for i in range(s))
    return weight


@pytest.mark.parametrize("c_in,c_out,k,s,t", [(64, 16, 3, 2, 4), (12, 5, 3, 1, 3), (32, 4, 5, 3, 2)])
def test_from_dense_recovers_a_kernel_block_separable_in_the_papers_convention(c_in, c_out, k, s, t) -> None:
    weight = paper_block_kernel(c_out, c_in, k, s, t)
    dense = _dense(c_in, c_out, k, 1).double()
    with torch.no_grad():
        dense.weight.copy_(weight)
    op = BlkSConv.from_dense(dense, s=s, t=t)
    assert ((op.dense_kernel() - weight).norm() / weight.norm()).item() <= 1e-5
    x = torch.randn(2, c_in, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        assert (op(x) - dense(x)).abs().max().item() <= 1e-5 * dense(x).abs().max().item()


def test_forward_is_eq_3_and_4_on_interleaved_slices() -> None:
    # Eq. 3: J^(z) = pointwise(I~_z) with I~_z(k) = I(z + (k-1)t); Eq. 4: grouped conv of J.
    op = BlkSConv(12, 5, 2, kernel_size=3, s=2, t=3)
    x = torch.randn(2, 12, 8, 8)
    slices = [x[:, [z + b * 3 for b in range(4)]] for z in range(3)]
    j = torch.stack([F.conv2d(sl, op.pointwise.weight) for sl in slices], dim=2).flatten(1, 2)
    y = F.conv2d(j, op.grouped.weight, stride=2, padding=1, groups=10).unflatten(1, (5, 2)).sum(2)
    with torch.no_grad():
        assert torch.allclose(op(x), y, atol=1e-5)


def test_s1t1_is_pointwise_then_depthwise() -> None:
    op = BlkSConv(6, 4, 2, kernel_size=3)
    assert op.pointwise.weight.shape == (4, 6, 1, 1)
    assert op.grouped.weight.shape == (4, 1, 3, 3) and op.grouped.groups == 4
    assert op.pointwise.stride == (1, 1) and op.grouped.stride == (2, 2)
    assert op.pointwise.bias is None and op.grouped.bias is None
    x = torch.randn(1, 6, 9, 9)
    ref = F.conv2d(F.conv2d(x, op.pointwise.weight), op.grouped.weight, stride=2, padding=1, groups=4)
    assert torch.allclose(op(x), ref, atol=1e-6)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("c_in,c_out,k,s,t", CONFIGS)
def test_cost_matches_count_built_and_hand_formula(c_in, c_out, k, s, t, stride) -> None:
    size = (9, 6)
    cost = BlkSConv.cost(c_in, c_out, stride, input_size=size, kernel_size=k, s=s, t=t)
    op = BlkSConv(c_in, c_out, stride, kernel_size=k, s=s, t=t)
    assert cost == count_built(op, size, c_in)
    assert cost.params == s * (c_in // t * c_out + k * k * t * c_out)
    out = ((9 - 1) // stride + 1) * ((6 - 1) // stride + 1)
    assert cost.flops == s * c_out * (c_in * 54 + t * k * k * out)


def test_registered_ops() -> None:
    for name, k in (("blk_3x3", 3), ("blk_5x5", 5)):
        spec = OPS[name]
        assert spec.family == "blk" and spec.space == {"s": (1, 2, 4), "t": (1, 2, 4)}
        op = create_op(name, 8, 12, 2, s=2, t=4)
        assert isinstance(op, BlkSConv) and op.grouped.kernel_size == (k, k)
        assert op_cost(name, 8, 12, 2, input_size=(10, 10), s=2, t=4) == count_built(op, (10, 10), 8)
    with pytest.raises(ValueError, match="`kernel_size`"):
        create_op("blk_3x3", 8, 8, 1, kernel_size=5)


# Last stage of ResNet-34: l = 3, M = 512 channels in and out (paper Sec. III-A, III-B).
M, L = 512, 3


def _ratio(s: int, t: int) -> tuple[float, float]:
    blk = BlkSConv.cost(M, M, 1, input_size=7, kernel_size=L, s=s, t=t)
    dense = conv_cost(M, M, (L, L), (7, 7))
    return blk.params / dense.params, blk.flops / dense.flops


def test_paper_params_ratios() -> None:
    # s=1, t = sqrt(M)/l = 7.54 (continuous optimum): 2*l*sqrt(M) / (M*l^2) = 0.02946.
    t_opt = math.sqrt(M) / L
    assert paper_params_ratio(M, L, 1, t_opt) == pytest.approx(2 * L * math.sqrt(M) / (M * L * L))
    assert round(paper_params_ratio(M, L, 1, t_opt), 4) == 0.0295
    # The nearest valid block depth t=8 gives the same printed value (136/4608 = 0.02951).
    assert round(_ratio(1, 8)[0], 4) == 0.0295
    assert round(_ratio(1, 4)[0], 4) == 0.0356
    assert round(_ratio(5, 4)[0], 3) == 0.178
    assert _ratio(1, 4)[0] == pytest.approx(paper_params_ratio(M, L, 1, 4))


def test_paper_madds_ratio() -> None:
    # Conv multiply-adds (our FLOPs) give 5*(512+36)/4608 = 0.5946, printed as 0.595.
    flops_ratio = _ratio(5, 4)[1]
    assert flops_ratio == pytest.approx(5 * (M + 4 * L * L) / (M * L * L))
    assert round(flops_ratio, 3) == 0.595
    # The paper's CC with the +sXY summation term: 5*549/4608 = 0.5957 (would print 0.596).
    assert paper_madds_ratio(M, L, 5, 4) == pytest.approx(2745 / 4608)
    assert round(paper_madds_ratio(M, L, 5, 4), 3) == 0.596


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("c_in,c_out,k,s,t", [(16, 6, 3, 2, 4), (58, 5, 3, 3, 2), (3, 4, 5, 1, 3)])
def test_from_dense_recovers_representable_kernel(c_in, c_out, k, s, t, stride) -> None:
    source = BlkSConv(c_in, c_out, stride, kernel_size=k, s=s, t=t)
    dense = _dense(c_in, c_out, k, stride)
    with torch.no_grad():
        dense.weight.copy_(source.dense_kernel())
    op = BlkSConv.from_dense(dense, s=s, t=t)
    assert op.plan == source.plan
    assert (op.dense_kernel() - dense.weight).abs().max().item() <= 1e-4
    x = torch.randn(1, c_in, 8, 8)
    with torch.no_grad():
        assert (op(x) - dense(x)).abs().max().item() <= 1e-4


def test_from_dense_error_falls_with_s_and_vanishes_at_full_rank() -> None:
    dense = _dense(32, 6, 3, 1)  # t=2: 16 blocks of 18 entries per filter, full rank 16
    errors = [_error(BlkSConv.from_dense(dense, s=s, t=2), dense.weight) for s in (1, 2, 4, 8, 12, 16)]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[0] > 0.5 and errors[-1] < 1e-5
    # More components than the rank are zero-filled and stay exact.
    assert _error(BlkSConv.from_dense(dense, s=20, t=2), dense.weight) < 1e-5


def test_from_dense_is_the_best_rank_s_fit() -> None:
    # Any BlkSConv with the same (s, t) is a rank-s fit per filter, so PCA must not be beaten.
    dense = _dense(12, 4, 3, 1)
    pca = _error(BlkSConv.from_dense(dense, s=2, t=3), dense.weight)
    for _ in range(5):
        assert pca <= _error(BlkSConv(12, 4, 1, kernel_size=3, s=2, t=3), dense.weight)


@pytest.mark.parametrize("kwargs,arg", [
    (dict(s=1, t=5), "`t`"), (dict(s=0), "`s`"), (dict(t=0), "`t`"), (dict(s=1.5), "`s`"),
    (dict(t=True), "`t`"), (dict(kernel_size=4), "`kernel_size`"), (dict(kernel_size=0), "`kernel_size`"),
])
def test_bad_op_params(kwargs, arg) -> None:
    kwargs = {"kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=arg):
        BlkSConv(12, 8, 1, **kwargs)
    with pytest.raises(ValueError, match=arg):
        BlkSConv.cost(12, 8, 1, input_size=8, **kwargs)


def test_bad_leading_args_and_messages() -> None:
    with pytest.raises(ValueError, match="`stride`"):
        BlkSConv(8, 8, 3, kernel_size=3)
    with pytest.raises(ValueError, match="`c_in`"):
        BlkSConv(0, 8, 1, kernel_size=3)
    with pytest.raises(ValueError, match=r"`t` must be a divisor of c_in=12, got 5\."):
        BlkSConv(12, 8, 1, kernel_size=3, t=5)


@pytest.mark.parametrize("conv,arg", [
    (nn.Linear(4, 4), "`conv`"),
    (nn.Conv2d(8, 4, 3, padding=1), "`conv`"),  # bias
    (nn.Conv2d(8, 4, 3, padding=1, groups=2, bias=False), "`conv`"),
    (nn.Conv2d(8, 4, 3, padding=2, dilation=2, bias=False), "`conv`"),
    (nn.Conv2d(8, 4, 3, padding=0, bias=False), "`conv.padding`"),
    (nn.Conv2d(8, 4, 4, padding=2, bias=False), "`conv.kernel_size`"),
    (nn.Conv2d(8, 4, (3, 5), padding=(1, 2), bias=False), "`conv.kernel_size`"),
    (nn.Conv2d(8, 4, 3, stride=3, padding=1, bias=False), "`conv.stride`"),
])
def test_from_dense_rejects_unsupported_convs(conv, arg) -> None:
    with pytest.raises(ValueError, match=arg):
        BlkSConv.from_dense(conv, s=1, t=2)


def test_from_dense_rejects_bad_s_t() -> None:
    conv = _dense(8, 4, 3, 1)
    with pytest.raises(ValueError, match="`t`"):
        BlkSConv.from_dense(conv, s=1, t=3)
    with pytest.raises(ValueError, match="`s`"):
        BlkSConv.from_dense(conv, s=0, t=2)
