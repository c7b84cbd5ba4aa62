"""BlkSConv: block-wise separable convolution (BlkSConv paper, Section III).

Each filter F_j (C_in x k x k) is cut into C_in/t blocks of depth t; every block is a
linear combination of the filter's own s basis block vectors (t x k x k), Eq. 2:
``Q_j^(b) = sum_i P_j^(b)(i) B_{j,i}``. Block convention, as in the paper (Section III-A,
``Q_j^(k)(x, y, z) = F_j(x, y, z + (k-1)t)``): block b holds the **contiguous** channels
``b*t .. b*t + t - 1``, i.e. ``F[j, b*t + z] = sum_i P[j, i, b] B[j, i, z]``. Realised as in
Fig. 2 / Eqs. 3-4:

* the input is split into t **interleaved** slices, Eq. 3's ``I~_z(x, y, k) = I(x, y, z + (k-1)t)``:
  slice z holds channels ``z, z + t, z + 2t, ...``;
* one 1x1 conv (C_in/t -> C_out*s), shared by all slices, holds the **coefficients**
  ``P_j^(b)(i)`` (output channel j*s + i, input b); Eq. 3.
* a grouped kxk conv (t*C_out*s -> C_out*s, groups=C_out*s, carrying the stride) holds the
  **basis** ``B_{j,i}`` (group j*s + i sees the t slice outputs in order z); Eq. 4.
* the s outputs of each filter are summed.

The authors' PCA search (github.com/YanJenHuang/BlkSConv, ``scripts/HSA_playground.ipynb``:
each filter reshaped to ``(C_in/t, t*k*k)``) cuts the same contiguous blocks, so
``from_dense`` and ``nas_sepconv.compress.hsa`` do too. Their module
(``scripts/blksconv.py``, ``x.view(B, t, C/t, H, W)``) instead takes contiguous slices and hence
interleaved blocks; trained from scratch that differs from this one only by a fixed
permutation of the input channels, but a PCA initialisation is only the best fit in the
convention the PCA used.

Params = s*(C_in/t*C_out + k^2*t*C_out). FLOPs (this package's convention: conv
multiply-accumulates, the sum over s counts zero), with (H, W) in and (H', W') out:
``s*C_out*(C_in*H*W + t*k^2*H'*W')``. Per filter at stride 1 this is the paper's
``sXY(M + t*l^2)``; the paper's CC adds ``sXY`` for the sum (see ``paper_madds_ratio``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import (
    check_choice,
    check_input_size,
    check_odd_kernel,
    check_positive_float,
    check_positive_int,
)
from nas_sepconv.ops.cost import Cost, conv_cost, conv_out
from nas_sepconv.ops.registry import register_op

Size = tuple[int, int]


@dataclass(frozen=True)
class BlkPlan:
    """A validated BlkSConv configuration and the shapes of its two convolutions."""

    c_in: int
    c_out: int
    stride: int
    kernel_size: int
    s: int
    t: int

    @property
    def slice_channels(self) -> int:
        """Channels per slice, i.e. number of blocks per filter (C_in / t)."""
        return self.c_in // self.t

    @property
    def branches(self) -> int:
        """Output channels of the shared pointwise conv and of the grouped conv (C_out * s)."""
        return self.c_out * self.s

    def cost(self, input_size: Size) -> Cost:
        """Exact cost: the shared 1x1 conv runs t times at the input size, then the grouped conv."""
        k, pad = self.kernel_size, self.kernel_size // 2
        out_hw = (conv_out(input_size[0], k, self.stride, pad), conv_out(input_size[1], k, self.stride, pad))
        pointwise = conv_cost(self.slice_channels, self.branches, (1, 1), input_size)
        grouped = conv_cost(self.t * self.branches, self.branches, (k, k), out_hw, groups=self.branches)
        return Cost(pointwise.params, pointwise.flops * self.t) + grouped


def blk_plan(c_in: int, c_out: int, stride: int, kernel_size: int, s: int, t: int) -> BlkPlan:
    """Validate a BlkSConv configuration; ``t`` must divide ``c_in``."""
    c_in, c_out = check_positive_int("c_in", c_in), check_positive_int("c_out", c_out)
    stride = check_choice("stride", stride, (1, 2))
    k = check_odd_kernel("kernel_size", kernel_size)
    s, t = check_positive_int("s", s), check_positive_int("t", t)
    if c_in % t:
        raise UserError(f"`t` must be a divisor of c_in={c_in}, got {t!r}.")
    return BlkPlan(c_in, c_out, stride, k, s, t)


class BlkSConv(nn.Module):
    """Block-wise separable convolution with s basis block vectors of depth t per filter."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, s: int = 1, t: int = 1) -> None:
        super().__init__()
        self.plan = p = blk_plan(c_in, c_out, stride, kernel_size, s, t)
        self.t, self.s, self.c_out = p.t, p.s, p.c_out  # plain ints for forward (TorchScript)
        self.pointwise = nn.Conv2d(p.slice_channels, p.branches, 1, bias=False)
        self.grouped = nn.Conv2d(p.t * p.branches, p.branches, p.kernel_size, p.stride,
                                 p.kernel_size // 2, groups=p.branches, bias=False)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: int | Size, kernel_size: int,
             s: int = 1, t: int = 1) -> Cost:
        """Exact #params and FLOPs without building (see the module docstring for the formula)."""
        plan = blk_plan(c_in, c_out, stride, kernel_size, s, t)
        return plan.cost(check_input_size("input_size", input_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Shared 1x1 conv on each interleaved slice (channels z, z+t, ...; Eq. 3); stack so that
        # group j*s+i receives its t slice outputs in order z (Eq. 4). (Plain ints and one loop: TorchScript.)
        slices: List[torch.Tensor] = []
        for z in range(self.t):
            slices.append(self.pointwise(x[:, z::self.t]))
        j = torch.stack(slices, dim=2)
        y = self.grouped(j.flatten(1, 2))
        return y.unflatten(1, (self.c_out, self.s)).sum(dim=2)

    def dense_kernel(self) -> torch.Tensor:
        """The equivalent dense kernel (C_out, C_in, k, k): F[j, b*t + z] = sum_i P[j,i,b] B[j,i,z] (Eq. 2)."""
        p, k = self.plan, self.plan.kernel_size
        coeff = self.pointwise.weight.reshape(p.c_out, p.s, p.slice_channels)
        basis = self.grouped.weight.reshape(p.c_out, p.s, p.t, k, k)
        return torch.einsum("jib,jizuv->jbzuv", coeff, basis).reshape(p.c_out, p.c_in, k, k)

    @classmethod
    def from_dense(cls, conv: nn.Conv2d, s: int, t: int) -> "BlkSConv":
        """Initialise from a dense conv by per-filter PCA of its blocks (paper III-C).

        For each filter the C_in/t contiguous blocks (flattened, t*k*k each: the filter reshaped
        to (C_in/t, t*k*k), as the paper's Eq. 2 and the authors' search cut them) form the rows
        of a matrix A_j; its truncated SVD ``A_j ~ U_s S_s V_s^T`` gives the s principal block vectors
        (rows of V_s: the basis, grouped conv) and the coefficients (U_s S_s: pointwise conv).
        The PCA is uncentred because the operator has no mean-block term; this is the best
        rank-s fit (Eckart-Young), exact at s >= min(C_in/t, t*k*k). Extra components are zero.
        """
        k, stride = _check_dense(conv)
        op = cls(conv.in_channels, conv.out_channels, stride, kernel_size=k, s=s, t=t)
        p = op.plan
        weight = conv.weight.detach().to(torch.float64)
        blocks = weight.reshape(p.c_out, p.slice_channels, p.t * k * k)
        u, sv, vh = torch.linalg.svd(blocks, full_matrices=False)
        r = min(p.s, sv.shape[1])
        coeff = torch.zeros(p.c_out, p.s, p.slice_channels, dtype=torch.float64)
        basis = torch.zeros(p.c_out, p.s, p.t * k * k, dtype=torch.float64)
        coeff[:, :r] = (u[:, :, :r] * sv[:, None, :r]).transpose(1, 2)
        basis[:, :r] = vh[:, :r]
        with torch.no_grad():
            op.pointwise.weight.copy_(coeff.reshape(op.pointwise.weight.shape))
            op.grouped.weight.copy_(basis.reshape(op.grouped.weight.shape))
        return op.to(conv.weight.device, conv.weight.dtype)


def _check_dense(conv: nn.Conv2d) -> tuple[int, int]:
    """Return (kernel, stride) of a dense conv that a BlkSConv can replace exactly in shape."""
    if not isinstance(conv, nn.Conv2d):
        raise UserError(f"`conv` must be an nn.Conv2d, got {type(conv).__name__}.")
    kh, kw = conv.kernel_size
    k = check_odd_kernel("conv.kernel_size", kh)
    if kw != kh:
        raise UserError(f"`conv.kernel_size` must be square, got {conv.kernel_size!r}.")
    if conv.groups != 1 or conv.bias is not None or conv.dilation != (1, 1):
        raise UserError("`conv` must have groups=1, no bias and dilation 1, got "
                        f"groups={conv.groups}, bias={conv.bias is not None}, dilation={conv.dilation}.")
    if conv.padding != (k // 2, k // 2) or conv.padding_mode != "zeros":
        raise UserError(f"`conv.padding` must be zero 'same' padding ({k // 2}, {k // 2}), "
                        f"got {conv.padding!r} ({conv.padding_mode}).")
    if conv.stride[0] != conv.stride[1]:
        raise UserError(f"`conv.stride` must be equal on both axes, got {conv.stride!r}.")
    return k, check_choice("conv.stride", conv.stride[0], (1, 2))


def paper_params_ratio(m: int, kernel_size: int, s: float, t: float) -> float:
    """Paper Sec. III-A: BlkSConv/standard params per filter, s*(t*l^2 + M/t) / (M*l^2).

    ``t`` may be the continuous optimum sqrt(M)/l used in the paper's text.
    """
    m, ell = check_positive_int("m", m), check_positive_int("kernel_size", kernel_size)
    s, t = check_positive_float("s", s), check_positive_float("t", t)
    return s * (t * ell * ell + m / t) / (m * ell * ell)


def paper_madds_ratio(m: int, kernel_size: int, s: int, t: int) -> float:
    """Paper Sec. III-B: BlkSConv/standard MAdds, s*XY*(M + t*l^2 + 1) / (XY*M*l^2).

    The ``+1`` counts the sum over s, which this package's FLOPs convention does not; the
    paper's printed 0.595 (M=512, l=3, s=5, t=4) is the rounded ratio without it
    (0.5946), while this formula gives 0.5957.
    """
    m, ell = check_positive_int("m", m), check_positive_int("kernel_size", kernel_size)
    s, t = check_positive_int("s", s), check_positive_int("t", t)
    return s * (m + t * ell * ell + 1) / (m * ell * ell)


BLK_SPACE = {"s": (1, 2, 4), "t": (1, 2, 4)}
register_op("blk_3x3", BlkSConv, family="blk", space=BLK_SPACE, alias="blk", kernel_size=3)
register_op("blk_5x5", BlkSConv, family="blk", space=BLK_SPACE, kernel_size=5)
