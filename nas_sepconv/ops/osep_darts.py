"""o-DARTS's edge ops: DARTS's SepConv and DilConv with each depth separable pair replaced by osep.

The osep paper (Section 4, Tables 3 and 5) builds o-DARTS by "replacing the dsep convolutions
in DARTS (V2) with the proposed osep convolutions". DARTS has two: SepConv's two (dw KxK,
pw 1x1) pairs and DilConv's (dilated dw KxK, pw 1x1) pair. Each pair becomes one osep KxK
conv, keeping the ReLU and BN around it:

- ``o_sep_conv_KxK`` (``OSepDartsConv``): ReLU, osep (stride), BN, ReLU, osep, BN;
- ``o_dil_conv_KxK`` (``OSepDilConv``): ReLU, osep dilated 2 (stride), BN, the dilation on the
  conv that carries the kernel (``osep``), as DilConv's is on its depth-wise conv.

osep's internals (N, gamma, placement) apply to every osep of the op.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from nas_sepconv.ops.baselines import Size, out_size
from nas_sepconv.ops.cost import Cost, bn_cost
from nas_sepconv.ops.osep import OSEP_SPACE, OSepConv
from nas_sepconv.ops.registry import register_op


class OSepDartsConv(nn.Sequential):
    """ReLU, osep KxK (stride), BN(C_in), ReLU, osep KxK, BN(C_out)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, affine: bool = True, N: Any = 2,
                 gamma: float = 1.0, placement: Any = None) -> None:
        osep = dict(N=N, gamma=gamma, placement=placement)
        super().__init__(nn.ReLU(inplace=False), OSepConv(c_in, c_in, stride, kernel_size=kernel_size, **osep),
                         nn.BatchNorm2d(c_in, affine=affine), nn.ReLU(inplace=False),
                         OSepConv(c_in, c_out, 1, kernel_size=kernel_size, **osep),
                         nn.BatchNorm2d(c_out, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int, affine: bool = True,
             N: Any = 2, gamma: float = 1.0, placement: Any = None) -> Cost:
        osep = dict(N=N, gamma=gamma, placement=placement)
        first = OSepConv.cost(c_in, c_in, stride, input_size=input_size, kernel_size=kernel_size, **osep)
        second = OSepConv.cost(c_in, c_out, 1, input_size=out_size(input_size, stride), kernel_size=kernel_size,
                               **osep)
        return first + bn_cost(c_in, affine) + second + bn_cost(c_out, affine)


class OSepDilConv(nn.Sequential):
    """ReLU, dilated osep KxK (stride), BN(C_out): DARTS's DilConv with its dsep pair replaced."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, dilation: int = 2,
                 affine: bool = True, N: Any = 2, gamma: float = 1.0, placement: Any = None) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         OSepConv(c_in, c_out, stride, kernel_size=kernel_size, dilation=dilation, N=N, gamma=gamma,
                                  placement=placement),
                         nn.BatchNorm2d(c_out, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int, dilation: int = 2,
             affine: bool = True, N: Any = 2, gamma: float = 1.0, placement: Any = None) -> Cost:
        return OSepConv.cost(c_in, c_out, stride, input_size=input_size, kernel_size=kernel_size, dilation=dilation,
                             N=N, gamma=gamma, placement=placement) + bn_cost(c_out, affine)


for _k in (3, 5):
    register_op(f"o_sep_conv_{_k}x{_k}", OSepDartsConv, family="osep", space=OSEP_SPACE, has_bn=True,
                candidate=False, kernel_size=_k)
    register_op(f"o_dil_conv_{_k}x{_k}", OSepDilConv, family="osep", space=OSEP_SPACE, has_bn=True,
                candidate=False, kernel_size=_k)
