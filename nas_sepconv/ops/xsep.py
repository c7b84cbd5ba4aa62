"""XSepConv, the extremely separated convolution (XSepConv paper, Section 3.1, Figs. 1, 6).

It replaces a large k x k depth-wise conv by three depth-wise convs, each followed by
BatchNorm and a nonlinearity (Section 3.1): a 2x2 conv padded on one side (direction set
network-wide by ``sym_padding.apply_symmetric_padding``), a 1xk and a kx1 conv. At stride 1
it costs 4c + 2kc params and 4hwc + 2khwc FLOPs (plus 2c params per affine BN), with a
(k+1) x (k+1) receptive field. Downsampling (Fig. 1(b)): the 2x2 conv keeps stride 1, the
1xk conv has stride (1, 2), then the kx1 conv stride (2, 1): 4hwc + khwc/2 + khwc/4 FLOPs.

Placements of the 2x2 conv (Section 4.3, Fig. 6): "standard" before the separated convs,
"B" behind them, "P" in a parallel branch whose output is added (the paper reports P has
the same params and FLOPs as standard, so the branches are summed, not concatenated; at
stride 2 the parallel 2x2 conv carries stride 2 so both branches meet at the same size),
"none" without it. Choices the paper leaves open, made here:
- nonlinearity: the paper draws a generic sigma (its MobileNetV3 host uses ReLU or
  h-swish); ReLU, as in DARTS ops;
- channels: XSepConv stands in for a depth-wise conv, so it keeps c = c_in channels. When
  c_out != c_in a linear 1x1 projection + BN follows, like the projection that ends the
  MobileNetV3 block hosting XSepConv (Fig. 6); with c_in == c_out there is none;
- initialisation: the paper gives none; the depth-wise kernels start non-negative and the
  BN shift before each ReLU starts at 1 (``xsep_init``, with the measurements): with
  PyTorch's defaults the three depth-wise conv + BN + ReLU units in series explode the
  gradient and the op does not train.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_odd_kernel, check_positive_int
from nas_sepconv.ops.cost import ZERO, Cost, bn_cost, conv_cost
from nas_sepconv.ops.registry import register_op
from nas_sepconv.ops.sym_padding import EvenDepthwiseConv2d
from nas_sepconv.ops.xsep_init import NonNegativeInitConv2d, ShiftedBatchNorm2d

Size = tuple[int, int]
PLACEMENTS = ("standard", "B", "P", "none")


@dataclass(frozen=True)
class ConvSpec:
    """One internal conv: kernel and stride per axis (h, w); "same" output size."""

    c_in: int
    c_out: int
    kernel: Size
    stride: Size
    groups: int

    def out_size(self, hw: Size) -> Size:
        return (hw[0] - 1) // self.stride[0] + 1, (hw[1] - 1) // self.stride[1] + 1

    def cost(self, hw: Size, affine: bool) -> tuple[Cost, Size]:
        """Cost of conv + its BN for input size ``hw``, and the output size."""
        out = self.out_size(hw)
        conv = conv_cost(self.c_in, self.c_out, self.kernel, out, groups=self.groups)
        return conv + bn_cost(self.c_out, affine), out


@dataclass(frozen=True)
class XSepPlan:
    """Every conv of an XSepConv: a sequential ``chain``, an optional parallel ``branch``
    (placement P) summed with it, and an optional 1x1 ``projection`` (c_in != c_out)."""

    chain: tuple[ConvSpec, ...]
    branch: ConvSpec | None
    projection: ConvSpec | None
    affine: bool

    def cost(self, input_size: Size) -> Cost:
        total, hw = ZERO, input_size
        for spec in self.chain:
            cost, hw = spec.cost(hw, self.affine)
            total += cost
        if self.branch is not None:
            total += self.branch.cost(input_size, self.affine)[0]
        if self.projection is not None:
            total += self.projection.cost(hw, self.affine)[0]
        return total


def plan_xsep(c_in: int, c_out: int, stride: int, *, kernel_size: int, placement: str,
              affine: bool) -> XSepPlan:
    """Validate the arguments and lay out the convs of XSepConv (Section 3.1, Fig. 6)."""
    c, c_out = check_positive_int("c_in", c_in), check_positive_int("c_out", c_out)
    s = check_choice("stride", stride, (1, 2))
    k = check_odd_kernel("kernel_size", kernel_size)
    if k < 3:
        raise UserError(f"`kernel_size` must be an odd integer >= 3, got {kernel_size!r}.")
    check_choice("placement", placement, PLACEMENTS)
    if not isinstance(affine, bool):
        raise UserError(f"`affine` must be True or False, got {affine!r}.")
    row = ConvSpec(c, c, (1, k), (1, s), c)
    col = ConvSpec(c, c, (k, 1), (s, 1), c)
    two = ConvSpec(c, c, (2, 2), (s, s) if placement == "P" else (1, 1), c)
    chain = {"standard": (two, row, col), "B": (row, col, two), "P": (row, col), "none": (row, col)}[placement]
    branch = two if placement == "P" else None
    projection = ConvSpec(c, c_out, (1, 1), (1, 1), 1) if c_out != c else None
    return XSepPlan(chain, branch, projection, affine)


def _conv(spec: ConvSpec) -> nn.Module:
    if spec.kernel == (2, 2):
        return EvenDepthwiseConv2d(spec.c_in, kernel_size=2, stride=spec.stride[0])
    padding = (spec.kernel[0] // 2, spec.kernel[1] // 2)
    conv = NonNegativeInitConv2d if spec.groups == spec.c_in else nn.Conv2d
    return conv(spec.c_in, spec.c_out, spec.kernel, spec.stride, padding, groups=spec.groups, bias=False)


def _unit(spec: ConvSpec, affine: bool, activation: bool = True) -> nn.Sequential:
    if not activation:
        return nn.Sequential(_conv(spec), nn.BatchNorm2d(spec.c_out, affine=affine))
    return nn.Sequential(_conv(spec), ShiftedBatchNorm2d(spec.c_out, affine=affine), nn.ReLU(inplace=False))


class XSepConv(nn.Module):
    """XSepConv block: (2x2 DW, 1xk DW, kx1 DW) each + BN + ReLU; see the module docstring."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int,
                 placement: str = "standard", affine: bool = True) -> None:
        super().__init__()
        plan = plan_xsep(c_in, c_out, stride, kernel_size=kernel_size, placement=placement, affine=affine)
        self.placement = placement
        self.chain = nn.Sequential(*(_unit(spec, affine) for spec in plan.chain))
        self.branch = _unit(plan.branch, affine) if plan.branch is not None else None
        self.projection = _unit(plan.projection, affine, activation=False) if plan.projection is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.chain(x)
        if self.branch is not None:
            y = y + self.branch(x)
        return self.projection(y) if self.projection is not None else y

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Size, kernel_size: int,
             placement: str = "standard", affine: bool = True) -> Cost:
        """Exact params and FLOPs without building (Section 3.1 formulas, plus BN and projection)."""
        plan = plan_xsep(c_in, c_out, stride, kernel_size=kernel_size, placement=placement, affine=affine)
        return plan.cost(input_size)


# The bare op replaces a depth-wise conv: not a default candidate where a full conv is replaced (a DARTS
# edge, a ResNet block conv); those get xsep_composite's ops. Hosts that want a dw replacement name it.
for _k in (3, 5, 7):
    register_op(f"xsep_{_k}x{_k}", XSepConv, family="xsep", space={"placement": PLACEMENTS}, has_bn=True,
                candidate=False, kernel_size=_k)
