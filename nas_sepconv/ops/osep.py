"""Optimized separable convolution, osep (osep paper, Section 3, Theorem 1, Algorithm 1).

A chain of N uneven grouped convs C_1=C_in -> C_2 ... C_N -> C_{N+1}=C_out with a channel
shuffle between consecutive convs (Fig. 1b); group counts from ``osep_solver``. Choices
the paper leaves open, made here:

- internal widths C_2..C_N (Algorithm 1's policy): "normal" min(C_in, C_out), "linear"
  (C_in + C_out) // 2, "bottleneck" max(C_in, C_out) // 4 (at least 1), "inverted"
  4 min(C_in, C_out), or an explicit positive int;
- ``placement`` is the 0-based index of the conv carrying the KxK kernel (Eqs. 25-26).
  None follows Algorithm 1, whose floor(N/2) is 1-based (spatial: K^W on floor(N/2 + 1)),
  i.e. index max(N // 2 - 1, 0). "first", "middle" (= last // 2) and "last" are valid for
  every N, so a search space can pick them while N varies; for N in (2, 3) Algorithm 1's
  default is "first". With ``spatial=True`` (the so- variant) conv ``placement`` has Kx1
  and the next one 1xK, so placement <= N - 2 and N >= 2;
- stride: per axis on the conv carrying that axis's kernel (on the first conv if K = 1):
  the earliest place where the chain still equals a dense strided KxK conv, since a
  spatial kernel after the subsampling would see a dilated grid;
- ``N="auto"`` evaluates floor and ceil (>= 1, >= 2 if spatial) of Eq. 28,
  log(gamma C K^2) with C = sqrt(C_in C_out), and keeps the one with fewer params;
- ``dilation`` (default 1) dilates the conv(s) carrying the kernel (both of so-'s Kx1 and
  1xK), so the chain equals a dense dilated KxK conv, as a dilated depth-wise conv makes
  DARTS's ``DilConv`` a dilated dsep. Params and FLOPs do not change ("same" padding).
  ``dil_osep_KxK`` (dilation 2) is that op, ``o_dil_conv_KxK`` (``osep_darts``) its DARTS edge.
"""
from __future__ import annotations

import copy
import functools
import math
import numbers
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Union

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
from nas_sepconv.ops.cost import Cost
from nas_sepconv.ops.grouped import ChannelShuffle, PointwiseGroupConv, UnevenGroupConv, shuffle_order
from nas_sepconv.ops.osep_solver import grouped_params, solve_groups
from nas_sepconv.ops.registry import register_op

Size = tuple[int, int]
Policy = Union[str, int]
POLICIES = ("normal", "linear", "bottleneck", "inverted")
PLACEMENTS = ("first", "middle", "last")
OSEP_SPACE = {"N": (2, 3, "auto"), "gamma": (0.25, 1.0, 4.0), "placement": PLACEMENTS}


@dataclass(frozen=True)
class Stage:
    """One grouped conv of the chain ("same" padding, kernel and stride per axis)."""

    c_in: int
    c_out: int
    groups: int
    kernel: Size
    stride: Size
    dilation: Size = (1, 1)

    @property
    def params(self) -> int:
        return grouped_params(self.c_in, self.c_out, self.groups, self.kernel)

    def out_size(self, hw: Size) -> Size:
        return (hw[0] - 1) // self.stride[0] + 1, (hw[1] - 1) // self.stride[1] + 1


@dataclass(frozen=True)
class OSepPlan:
    """Every conv of an osep op, in order; shuffles sit between convs with groups > 1."""

    stages: tuple[Stage, ...]
    gamma: float
    placement: int

    @property
    def channels(self) -> tuple[int, ...]:
        return (self.stages[0].c_in,) + tuple(s.c_out for s in self.stages)

    @property
    def groups(self) -> tuple[int, ...]:
        return tuple(s.groups for s in self.stages)

    @property
    def params(self) -> int:
        return sum(s.params for s in self.stages)

    def cost(self, input_size: Size) -> Cost:
        """Exact params and multiply-adds; each conv runs at its own output size."""
        total, hw = Cost(0, 0), input_size
        for stage in self.stages:
            hw = stage.out_size(hw)
            total += Cost(stage.params, stage.params * hw[0] * hw[1])
        return total


def internal_width(c_in: int, c_out: int, policy: Policy) -> int:
    """C_2 = ... = C_N from Algorithm 1's policy (Section 3.3)."""
    if isinstance(policy, str):
        policy = check_choice("policy", policy, POLICIES)
        return {"normal": min(c_in, c_out), "linear": (c_in + c_out) // 2,
                "bottleneck": max(1, max(c_in, c_out) // 4), "inverted": 4 * min(c_in, c_out)}[policy]
    if isinstance(policy, bool) or not isinstance(policy, int) or policy < 1:
        raise UserError(f"`policy` must be one of {', '.join(map(repr, POLICIES))} or a positive int width, "
                        f"got {policy!r}.")
    return policy


def resolve_placement(placement: Any, n: int, spatial: bool) -> int:
    """0-based index of the conv carrying K (spatial: Kx1, the next one 1xK)."""
    last = n - 2 if spatial else n - 1
    if placement is None:
        return max(n // 2 - 1, 0)
    if isinstance(placement, str):
        check_choice("placement", placement, PLACEMENTS)
        return {"first": 0, "middle": last // 2, "last": last}[placement]
    if isinstance(placement, bool) or not isinstance(placement, int) or not 0 <= placement <= last:
        raise UserError(f"`placement` must be None, one of {', '.join(map(repr, PLACEMENTS))} or an int in "
                        f"[0, {last}] for N={n}{' with spatial=True' if spatial else ''}, got {placement!r}.")
    return placement


@functools.lru_cache(maxsize=8192)
def _cached_groups(channels: tuple[int, ...], kernels: tuple[Size, ...], gamma: float) -> tuple[int, ...]:
    return solve_groups(channels, kernels, gamma)


def _chain(c_in: int, c_out: int, stride: int, k: int, n: int, gamma: float, width: int,
           placement: Any, spatial: bool, dilation: int = 1) -> OSepPlan:
    """Kernels (Eqs. 25-26), strides and solved groups for a fixed N."""
    p = resolve_placement(placement, n, spatial)
    h_at, w_at = (p, p + 1) if spatial else (p, p)
    kernels = [(1, 1)] * n
    kernels[h_at], kernels[w_at] = (k, 1 if spatial else k), (1 if spatial else k, k)
    if k == 1:
        h_at = w_at = 0
    channels = (c_in,) + (width,) * (n - 1) + (c_out,)
    groups = _cached_groups(channels, tuple(kernels), gamma)
    stages = tuple(Stage(channels[i], channels[i + 1], groups[i], kernels[i],
                         (stride if i == h_at else 1, stride if i == w_at else 1),
                         (dilation if kernels[i][0] > 1 else 1, dilation if kernels[i][1] > 1 else 1))
                   for i in range(n))
    return OSepPlan(stages, gamma, p)


def osep_plan(c_in: int, c_out: int, stride: int, *, kernel_size: int, N: Any = 2, gamma: float = 1.0,
              policy: Policy = "normal", placement: Any = None, spatial: bool = False,
              dilation: int = 1) -> OSepPlan:
    """Validate an osep configuration and solve it (Algorithm 1); shared by module and cost."""
    c_in, c_out = check_positive_int("c_in", c_in), check_positive_int("c_out", c_out)
    stride = check_choice("stride", stride, (1, 2))
    k = check_odd_kernel("kernel_size", kernel_size)
    gamma = check_positive_float("gamma", gamma)
    dilation = check_positive_int("dilation", dilation)
    if not isinstance(spatial, bool):
        raise UserError(f"`spatial` must be True or False, got {spatial!r}.")
    width = internal_width(c_in, c_out, policy)
    low = 2 if spatial else 1
    if isinstance(N, str) and N == "auto":
        x = math.log(gamma * math.sqrt(c_in * c_out) * k * k)  # Eq. 28
        options = sorted({max(low, math.floor(x)), max(low, math.ceil(x))})
    elif isinstance(N, bool) or not isinstance(N, numbers.Integral) or N < low:
        raise UserError(f"`N` must be an integer >= {low}{' (spatial=True)' if spatial else ''} or 'auto', got {N!r}.")
    else:
        limit = max(low, math.ceil(math.log2(c_in * c_out * k * k)))
        if N > limit:  # a chain of N grouped stages factors c_in*c_out*k^2; beyond log2 of it, nothing is left
            raise UserError(f"`N` must be at most {limit} for c_in={c_in}, c_out={c_out}, kernel {k} "
                            f"(log2(c_in*c_out*k^2)), got {N!r}.")
        options = [int(N)]
    plans = [_chain(c_in, c_out, stride, k, n, gamma, width, placement, spatial, dilation) for n in options]
    return min(plans, key=lambda plan: (plan.params, len(plan.stages)))


def osep_body(plan: OSepPlan) -> nn.Sequential:
    """The chain as small modules: uneven grouped convs with shuffles between them.

    A shuffle is left out where it changes nothing structurally: after a single-group conv
    (the round robin is the identity) or before one (it reads every channel anyway). A
    grouped 1x1 conv takes the shuffle before it as its input permutation
    (``PointwiseGroupConv``, which can fold it into a dense weight). Layer names are the
    positions in the chain of convs and shuffles, so state_dict keys do not depend on that.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    position = 0
    for prev, stage in zip((None,) + plan.stages, plan.stages):
        order = None
        if prev is not None and prev.groups > 1 and stage.groups > 1:
            if stage.kernel == (1, 1):
                order = shuffle_order(prev.c_out, prev.groups)
            else:
                layers[str(position)] = ChannelShuffle(prev.c_out, prev.groups)
            position += 1
        if stage.kernel == (1, 1) and stage.groups > 1:
            layers[str(position)] = PointwiseGroupConv(stage.c_in, stage.c_out, stage.groups, stage.stride, order)
        else:
            layers[str(position)] = UnevenGroupConv(stage.c_in, stage.c_out, stage.groups, stage.kernel,
                                                    stage.stride, stage.dilation)
        position += 1
    return nn.Sequential(layers)


class OSepConv(nn.Module):
    """Optimized separable convolution: N grouped convs (solved groups) with channel shuffles."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int, N: Any = 2,
                 gamma: float = 1.0, policy: Policy = "normal", placement: Any = None,
                 spatial: bool = False, dilation: int = 1) -> None:
        super().__init__()
        self.plan = osep_plan(c_in, c_out, stride, kernel_size=kernel_size, N=N, gamma=gamma,
                              policy=policy, placement=placement, spatial=spatial, dilation=dilation)
        self.body = osep_body(self.plan)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size: Any, kernel_size: int, N: Any = 2,
             gamma: float = 1.0, policy: Policy = "normal", placement: Any = None, spatial: bool = False,
             dilation: int = 1) -> Cost:
        """Exact params and FLOPs from the configuration alone (the same plan as ``__init__``)."""
        plan = osep_plan(c_in, c_out, stride, kernel_size=kernel_size, N=N, gamma=gamma,
                         policy=policy, placement=placement, spatial=spatial, dilation=dilation)
        return plan.cost(check_input_size("input_size", input_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Every conv of the body runs channels-last (see ``grouped``); the output is channels-last.
        return self.body(x)


@dataclass(frozen=True)
class VolumetricRF:
    """``mask[o, c, h, w]``: input channel c at pixel (h, w) reaches output channel o at the
    output's centre pixel, which lies over input pixel ``centre`` (Section 3.2, Fig. 1a)."""

    mask: torch.Tensor
    centre: Size

    def channels(self, o: int) -> frozenset[int]:
        """Channel RF of output channel o."""
        return frozenset(torch.nonzero(self.mask[o].flatten(1).any(1)).flatten().tolist())

    def extent(self, o: int) -> tuple[int, int, int, int]:
        """Spatial RF of output channel o: (top, bottom, left, right) offsets from ``centre``."""
        hits = torch.nonzero(self.mask[o].any(0))
        (top, left), (bottom, right) = hits.min(0).values.tolist(), hits.max(0).values.tolist()
        return top - self.centre[0], bottom - self.centre[0], left - self.centre[1], right - self.centre[1]

    def is_full(self, kernel_size: int) -> bool:
        """True when every output channel sees exactly every input channel x the KxK window."""
        r, (h, w) = kernel_size // 2, self.centre
        window = torch.zeros_like(self.mask[0, 0])
        window[max(h - r, 0):h + r + 1, max(w - r, 0):w + r + 1] = True
        return bool((self.mask == window).all())


def volumetric_rf(module: nn.Module, c_in: int, input_size: Any) -> VolumetricRF:
    """Measure which input (channel, pixel) pairs reach each output channel at the centre pixel.

    Gradients of the centre outputs w.r.t. the input, on a float64 copy whose parameters are
    replaced by random positive values and fed an all-ones input: every path then adds a
    positive term, so nothing cancels and the mask is structural (ReLU passes too).
    One backward pass: batch element o only keeps output channel o. Assumes "same" padding.
    """
    c_in = check_positive_int("c_in", c_in)
    h, w = check_input_size("input_size", input_size)
    probe = copy.deepcopy(module).double().eval()
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.rand_like(p) + 0.5)
    with torch.no_grad():
        c_out, ho, wo = probe(torch.ones(1, c_in, h, w, dtype=torch.float64)).shape[1:]
    x = torch.ones(c_out, c_in, h, w, dtype=torch.float64, requires_grad=True)
    centre = ho // 2, wo // 2
    probe(x)[torch.arange(c_out), torch.arange(c_out), centre[0], centre[1]].sum().backward()
    stride = round(h / ho), round(w / wo)
    return VolumetricRF(x.grad != 0, (centre[0] * stride[0], centre[1] * stride[1]))


# 7x7 and the 5x5 spatial variant are registered but not default search candidates.
for _k in (3, 5, 7):
    register_op(f"osep_{_k}x{_k}", OSepConv, family="osep", space=OSEP_SPACE, alias="osep" if _k == 3 else None,
                candidate=_k < 7, kernel_size=_k)
for _k in (3, 5):
    register_op(f"so_sep_{_k}x{_k}", OSepConv, family="osep", space=OSEP_SPACE, alias="so_sep" if _k == 3 else None,
                candidate=_k == 3, kernel_size=_k, spatial=True)
    register_op(f"dil_osep_{_k}x{_k}", OSepConv, family="osep", space=OSEP_SPACE, candidate=False, kernel_size=_k,
                dilation=2)
