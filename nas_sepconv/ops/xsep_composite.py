"""XSepConv where a full KxK convolution is replaced (XSepConv paper, Section 4).

``XSepConv`` (``xsep_KxK``) replaces a *depth-wise* KxK conv: 4c + 2kc params and no
channel mixing. In its MobileNetV3 host a point-wise projection follows it. A host whose op
replaces a full KxK conv (every ResNet block conv, a DARTS edge beside ``sep_conv_KxK``)
needs that channel mixing too, exactly as dsep is a depth-wise conv plus a point-wise conv:

- ``xsep_pw_KxK`` (``XSepPointwiseConv``): XSepConv (stride), then a bias-free 1x1 conv
  C_in -> C_out, raw like ``dsep_conv_KxK`` (the host's BN follows).
  Params 4C_in + 2kC_in + 6C_in (XSepConv's three affine BNs) + C_in C_out.
- ``x_sep_conv_KxK`` (``XSepDartsConv``): DARTS's SepConv with XSepConv in place of each
  depth-wise conv, as ``o_sep_conv_KxK`` does for osep:
  ReLU, XSepConv (stride), pw 1x1 C_in -> C_in, BN, ReLU, XSepConv, pw 1x1 C_in -> C_out, BN.

XSepConv's placement of the 2x2 conv (``placement``) applies to every XSepConv inside.
"""
from __future__ import annotations

from torch import nn

from nas_sepconv.ops.baselines import Size, conv2d, out_size
from nas_sepconv.ops.cost import Cost, bn_cost, conv_cost
from nas_sepconv.ops.registry import register_op
from nas_sepconv.ops.xsep import PLACEMENTS, XSepConv

XSEP_SPACE = {"placement": PLACEMENTS}


def _xsep_pw_cost(c_in: int, c_out: int, stride: int, input_size: Size, kernel_size: int, placement: str,
                  affine: bool) -> Cost:
    xsep = XSepConv.cost(c_in, c_in, stride, input_size=input_size, kernel_size=kernel_size, placement=placement,
                         affine=affine)
    return xsep + conv_cost(c_in, c_out, (1, 1), out_size(input_size, stride))


class XSepPointwiseConv(nn.Sequential):
    """XSepConv KxK (stride, C_in channels), then point-wise 1x1 C_in -> C_out (no BN, no bias)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, placement: str = "standard",
                 affine: bool = True) -> None:
        super().__init__(XSepConv(c_in, c_in, stride, kernel_size=kernel_size, placement=placement, affine=affine),
                         conv2d(c_in, c_out, 1))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int,
             placement: str = "standard", affine: bool = True) -> Cost:
        return _xsep_pw_cost(c_in, c_out, stride, input_size, kernel_size, placement, affine)


class XSepDartsConv(nn.Sequential):
    """ReLU, XSepConv (stride), pw C_in, BN, ReLU, XSepConv, pw C_out, BN: SepConv with XSepConv as the dw."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, placement: str = "standard",
                 affine: bool = True) -> None:
        xsep = dict(kernel_size=kernel_size, placement=placement, affine=affine)
        super().__init__(nn.ReLU(inplace=False), XSepPointwiseConv(c_in, c_in, stride, **xsep),
                         nn.BatchNorm2d(c_in, affine=affine), nn.ReLU(inplace=False),
                         XSepPointwiseConv(c_in, c_out, 1, **xsep), nn.BatchNorm2d(c_out, affine=affine))

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int,
             placement: str = "standard", affine: bool = True) -> Cost:
        first = _xsep_pw_cost(c_in, c_in, stride, input_size, kernel_size, placement, affine)
        second = _xsep_pw_cost(c_in, c_out, 1, out_size(input_size, stride), kernel_size, placement, affine)
        return first + bn_cost(c_in, affine) + second + bn_cost(c_out, affine)


# xsep_pw is raw at its end (like dsep), so a cell wraps it ReLU-op-BN; it is the ResNet backbone's "xsep".
for _k in (3, 5, 7):
    register_op(f"xsep_pw_{_k}x{_k}", XSepPointwiseConv, family="xsep", space=XSEP_SPACE, candidate=False,
                alias="xsep" if _k == 3 else None, kernel_size=_k)
# x_sep_conv carries its ReLU and BNs like sep_conv_KxK; it is the DARTS space's xsep candidate.
for _k in (3, 5):
    register_op(f"x_sep_conv_{_k}x{_k}", XSepDartsConv, family="xsep", space=XSEP_SPACE, has_bn=True,
                kernel_size=_k)
