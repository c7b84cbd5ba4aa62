"""Baseline convolutions of the osep paper's Table 1: conventional, group, depth-wise,
point-wise, depth separable (one dw + pw) and spatial separable (Kx1 then 1xK).

These are raw convolution operators: no bias, no normalisation, no activation.
"Same" padding throughout, so the output is ``(H - 1) // stride + 1`` on each axis.
"""
from __future__ import annotations

from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_odd_kernel, check_positive_int
from nas_sepconv.ops.cost import Cost, conv_cost, conv_out
from nas_sepconv.ops.registry import register_op

Size = tuple[int, int]


def out_size(input_size: Size, stride: int) -> Size:
    """Spatial size after a same-padded odd kernel or pool with ``stride``."""
    return conv_out(input_size[0], 1, stride, 0), conv_out(input_size[1], 1, stride, 0)


def conv2d(c_in: int, c_out: int, kernel: int | Size, stride: int | Size = 1, *,
           groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """A bias-free ``nn.Conv2d`` with same padding for odd kernels."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return nn.Conv2d(c_in, c_out, (kh, kw), stride, (dilation * (kh // 2), dilation * (kw // 2)),
                     dilation=dilation, groups=groups, bias=False)


def _check_groups(groups: int, c_in: int, c_out: int) -> int:
    g = check_positive_int("groups", groups)
    if c_in % g or c_out % g:
        raise UserError(f"`groups` must divide c_in={c_in} and c_out={c_out}, got {groups!r}.")
    return g


class Conv(nn.Sequential):
    """Conventional (optionally grouped) KxK convolution: C_out*C_in/g*K^2 params (Table 1)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, groups: int = 1) -> None:
        k, g = check_odd_kernel("kernel_size", kernel_size), _check_groups(groups, c_in, c_out)
        super().__init__(conv2d(c_in, c_out, k, stride, groups=g))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int,
             groups: int = 1) -> Cost:
        k, g = check_odd_kernel("kernel_size", kernel_size), _check_groups(groups, c_in, c_out)
        return conv_cost(c_in, c_out, (k, k), out_size(input_size, stride), groups=g)


class DepthwiseConv(nn.Sequential):
    """Depth-wise KxK convolution (groups = C_in); C_out must be a multiple of C_in."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int) -> None:
        k = check_odd_kernel("kernel_size", kernel_size)
        _check_groups(c_in, c_in, c_out)
        super().__init__(conv2d(c_in, c_out, k, stride, groups=c_in))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int) -> Cost:
        k = check_odd_kernel("kernel_size", kernel_size)
        _check_groups(c_in, c_in, c_out)
        return conv_cost(c_in, c_out, (k, k), out_size(input_size, stride), groups=c_in)


class DepthSeparableConv(nn.Sequential):
    """Depth separable convolution: depth-wise KxK (carrying the stride), then point-wise 1x1."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int) -> None:
        k = check_odd_kernel("kernel_size", kernel_size)
        super().__init__(conv2d(c_in, c_in, k, stride, groups=c_in), conv2d(c_in, c_out, 1))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int) -> Cost:
        k = check_odd_kernel("kernel_size", kernel_size)
        hw = out_size(input_size, stride)
        return conv_cost(c_in, c_in, (k, k), hw, groups=c_in) + conv_cost(c_in, c_out, (1, 1), hw)


class SpatialSeparableConv(nn.Sequential):
    """Spatial separable convolution: Kx1 (C_in -> C_out, stride on H) then 1xK (stride on W)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int) -> None:
        k = check_odd_kernel("kernel_size", kernel_size)
        super().__init__(conv2d(c_in, c_out, (k, 1), (stride, 1)), conv2d(c_out, c_out, (1, k), (1, stride)))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int) -> Cost:
        k = check_odd_kernel("kernel_size", kernel_size)
        h, w = out_size(input_size, stride)
        return conv_cost(c_in, c_out, (k, 1), (h, input_size[1])) + conv_cost(c_out, c_out, (1, k), (h, w))


class GroupConv(Conv):
    """Group KxK convolution; ``groups`` defaults to 2 and must divide both channel counts."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, groups: int = 2) -> None:
        super().__init__(c_in, c_out, stride, kernel_size=kernel_size, groups=groups)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int,
             groups: int = 2) -> Cost:
        return Conv.cost(c_in, c_out, stride, input_size=input_size, kernel_size=kernel_size, groups=groups)


for _k in (3, 5, 7):
    _3 = _k == 3  # the 3x3 variants are the ResNet backbone's short names
    register_op(f"conv_{_k}x{_k}", Conv, alias="conv" if _3 else None, kernel_size=_k)
    register_op(f"dw_conv_{_k}x{_k}", DepthwiseConv, alias="dw" if _3 else None, kernel_size=_k)
    register_op(f"dsep_conv_{_k}x{_k}", DepthSeparableConv, alias="dsep" if _3 else None, kernel_size=_k)
    register_op(f"spatial_conv_{_k}x{_k}", SpatialSeparableConv, alias="spatial" if _3 else None, kernel_size=_k)
register_op("conv_1x1", Conv, kernel_size=1)
register_op("group_conv_3x3", GroupConv, space={"groups": (2, 4, 8)}, kernel_size=3)
