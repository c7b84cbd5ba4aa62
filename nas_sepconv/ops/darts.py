"""The DARTS operation set (Liu et al., 2019), as in its reference code and NNI's nasnet.

Unlike the raw convolutions in ``baselines``, these ops carry their own ReLU and BN
(``affine`` switches the BN's learnable scale and shift), so a cell uses them as they are:
SepConv = two stacked (ReLU, dw KxK, pw 1x1, BN); DilConv = ReLU, dilated dw, pw, BN;
skip_connect at stride 2 = FactorizedReduce; pools carry no parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_odd_kernel
from nas_sepconv.ops.baselines import Size, conv2d, out_size
from nas_sepconv.ops.cost import ZERO, Cost, bn_cost, conv_cost
from nas_sepconv.ops.registry import register_op


def _same_channels(c_in: int, c_out: int, what: str) -> None:
    if c_in != c_out:
        raise UserError(f"`c_out` must equal c_in={c_in} for {what}, got {c_out!r}.")


class ReLUConvBN(nn.Sequential):
    """ReLU, KxK conv, BN: DARTS's cell pre-processing (K=1) and conv op."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int = 1, affine: bool = True) -> None:
        k = check_odd_kernel("kernel_size", kernel_size)
        super().__init__(nn.ReLU(inplace=False), conv2d(c_in, c_out, k, stride), nn.BatchNorm2d(c_out, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int = 1,
             affine: bool = True) -> Cost:
        k = check_odd_kernel("kernel_size", kernel_size)
        return conv_cost(c_in, c_out, (k, k), out_size(input_size, stride)) + bn_cost(c_out, affine)


class DilConv(nn.Sequential):
    """ReLU, dilated depth-wise KxK (stride), point-wise 1x1, BN."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, dilation: int = 2,
                 affine: bool = True) -> None:
        k = check_odd_kernel("kernel_size", kernel_size)
        super().__init__(nn.ReLU(inplace=False), conv2d(c_in, c_in, k, stride, groups=c_in, dilation=dilation),
                         conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int, dilation: int = 2,
             affine: bool = True) -> Cost:
        k = check_odd_kernel("kernel_size", kernel_size)
        hw = out_size(input_size, stride)
        return (conv_cost(c_in, c_in, (k, k), hw, groups=c_in) + conv_cost(c_in, c_out, (1, 1), hw)
                + bn_cost(c_out, affine))


class SepConv(nn.Sequential):
    """DARTS SepConv: DilConv(dilation 1, stride) to C_in, then DilConv(dilation 1) to C_out."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, affine: bool = True) -> None:
        super().__init__(DilConv(c_in, c_in, stride, kernel_size=kernel_size, dilation=1, affine=affine),
                         DilConv(c_in, c_out, 1, kernel_size=kernel_size, dilation=1, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int,
             affine: bool = True) -> Cost:
        first = DilConv.cost(c_in, c_in, stride, input_size=input_size, kernel_size=kernel_size, dilation=1,
                             affine=affine)
        return first + DilConv.cost(c_in, c_out, 1, input_size=out_size(input_size, stride),
                                    kernel_size=kernel_size, dilation=1, affine=affine)


class ConvKx1x1K(nn.Sequential):
    """DARTS's conv_7x1_1x7 and NASNet's 1x3-then-3x1 conv: ReLU, 1xK conv (stride on W), Kx1 conv
    (stride on H), BN (Zoph et al. 2018, Sec. 3, list of operations)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int = 7, affine: bool = True) -> None:
        k = check_odd_kernel("kernel_size", kernel_size)
        super().__init__(nn.ReLU(inplace=False), conv2d(c_in, c_in, (1, k), (1, stride)),
                         conv2d(c_in, c_out, (k, 1), (stride, 1)), nn.BatchNorm2d(c_out, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int = 7,
             affine: bool = True) -> Cost:
        k = check_odd_kernel("kernel_size", kernel_size)
        h, w = out_size(input_size, stride)
        return (conv_cost(c_in, c_in, (1, k), (input_size[0], w)) + conv_cost(c_in, c_out, (k, 1), (h, w))
                + bn_cost(c_out, affine))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated, then BN.

    The second path sees the input shifted by one pixel; odd sizes are zero-padded at the
    bottom/right first so both paths give ``(H - 1) // 2 + 1`` (DARTS assumes even sizes).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 2, *, affine: bool = True) -> None:
        super().__init__()
        _check_even(c_out)
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int = 2, *, input_size: Size, affine: bool = True) -> Cost:
        _check_even(c_out)
        return conv_cost(c_in, c_out, (1, 1), out_size(input_size, 2)) + bn_cost(c_out, affine)


def _check_even(c_out: int) -> None:
    if c_out % 2:
        raise UserError(f"`c_out` must be even for a factorized reduction, got {c_out!r}.")


class Skip(nn.Module):
    """skip_connect: identity at stride 1 (C_in == C_out), FactorizedReduce at stride 2."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, affine: bool = True) -> None:
        super().__init__()
        if stride == 1:
            _same_channels(c_in, c_out, "skip_connect at stride 1")
        self.op = nn.Identity() if stride == 1 else FactorizedReduce(c_in, c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, affine: bool = True) -> Cost:
        if stride == 1:
            _same_channels(c_in, c_out, "skip_connect at stride 1")
            return ZERO
        return FactorizedReduce.cost(c_in, c_out, input_size=input_size, affine=affine)


class Pool(nn.Module):
    """KxK max or average pool, "same" padding (average excludes padding, as DARTS); no parameters."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, mode: str, kernel_size: int = 3,
                 affine: bool = True) -> None:
        super().__init__()
        _same_channels(c_in, c_out, f"{mode}_pool")
        k = check_odd_kernel("kernel_size", kernel_size)
        self.pool = (nn.MaxPool2d(k, stride, k // 2) if mode == "max"
                     else nn.AvgPool2d(k, stride, k // 2, count_include_pad=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, mode: str, kernel_size: int = 3,
             affine: bool = True) -> Cost:
        _same_channels(c_in, c_out, f"{mode}_pool")
        check_odd_kernel("kernel_size", kernel_size)
        return ZERO


class Zero(nn.Module):
    """The 'none' op: zeros of shape (N, C_out, H/stride, W/stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, affine: bool = True) -> None:
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = out_size((x.shape[2], x.shape[3]), self.stride)
        return x.new_zeros(x.shape[0], self.c_out, h, w)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, affine: bool = True) -> Cost:
        return ZERO


# Registration order is the order of DARTS's candidate list; `none` and the 7x1-1x7 conv are
# registered (genotypes use them) but are not default search candidates.
register_op("none", Zero, family="darts", has_bn=True, candidate=False)
register_op("max_pool_3x3", Pool, family="darts", has_bn=True, mode="max", kernel_size=3)
register_op("avg_pool_3x3", Pool, family="darts", has_bn=True, mode="avg", kernel_size=3)
register_op("skip_connect", Skip, family="darts", has_bn=True)
for _k in (3, 5):
    register_op(f"sep_conv_{_k}x{_k}", SepConv, family="darts", has_bn=True, kernel_size=_k)
for _k in (3, 5):
    register_op(f"dil_conv_{_k}x{_k}", DilConv, family="darts", has_bn=True, kernel_size=_k)
register_op("conv_7x1_1x7", ConvKx1x1K, family="darts", has_bn=True, candidate=False, kernel_size=7)
# The rest of NASNet's operation list (Zoph et al. 2018, Sec. 3; DARTS's OPS has sep_conv_7x7 for the
# NASNet and AmoebaNet cells), for published genotypes, not search candidates; its 1x1 and 3x3 convs
# are the baselines conv_1x1 and conv_3x3.
register_op("sep_conv_7x7", SepConv, family="darts", has_bn=True, candidate=False, kernel_size=7)
register_op("conv_3x1_1x3", ConvKx1x1K, family="darts", has_bn=True, candidate=False, kernel_size=3)
for _k in (5, 7):
    register_op(f"max_pool_{_k}x{_k}", Pool, family="darts", has_bn=True, candidate=False, mode="max", kernel_size=_k)
