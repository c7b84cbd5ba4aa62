"""A DARTS cell built from a genotype's edges, with any registered op on each edge.

Ops registered with ``has_bn`` carry their own activation and BN (the DARTS set, xsep) and are
used as they are; raw convolutions (osep, blk, baselines) are wrapped ReLU-op-BN, the
DARTS ``ReLUConvBN`` pattern, so every edge is normalised the same way.
"""
from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from nas_sepconv.ops import Cost, get_op
from nas_sepconv.ops.baselines import out_size
from nas_sepconv.ops.cost import bn_cost
from nas_sepconv.ops.darts import FactorizedReduce, ReLUConvBN

Size = tuple[int, int]


def self_normalised(name: str) -> bool:
    """True for ops that carry their own BN (the registry's ``has_bn``)."""
    return get_op(name).has_bn


def cell_op(name: str, channels: int, stride: int, affine: bool = True, **params: Any) -> nn.Module:
    """Op ``name`` as used on a cell edge: ``channels`` in and out, normalised."""
    spec = get_op(name)
    if self_normalised(name):
        return spec.build(channels, channels, stride, affine=affine, **params)
    return nn.Sequential(nn.ReLU(inplace=False), spec.build(channels, channels, stride, **params),
                         nn.BatchNorm2d(channels, affine=affine))


def cell_op_cost(name: str, channels: int, stride: int, input_size: Size, params: Mapping[str, Any]) -> Cost:
    """Exact cost of ``cell_op`` (affine BN) without building it (memoised: searches
    count the same edge configurations over and over)."""
    return _cell_op_cost(name, channels, stride, tuple(input_size), tuple(sorted(params.items())))


@functools.lru_cache(maxsize=65536)
def _cell_op_cost(name: str, channels: int, stride: int, input_size: Size, params: tuple) -> Cost:
    params = dict(params)
    spec = get_op(name)
    if self_normalised(name):
        return spec.cost(channels, channels, stride, input_size=input_size, **params)
    return spec.cost(channels, channels, stride, input_size=input_size, **params) + bn_cost(channels)


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob`` and rescale the rest (DARTS)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


def cell_preprocessors(c_prev_prev: int, c_prev: int, channels: int,
                       reduction_prev: bool) -> tuple[nn.Module, nn.Module]:
    """The two input adapters of a DARTS cell, to ``channels`` each: s0 goes through
    FactorizedReduce after a reduction cell (it has twice s1's resolution), else ReLU-1x1-BN;
    s1 through ReLU-1x1-BN. The network, the NNI space and the supernet all use these."""
    pre0 = FactorizedReduce(c_prev_prev, channels) if reduction_prev else ReLUConvBN(c_prev_prev, channels, 1)
    return pre0, ReLUConvBN(c_prev, channels, 1)


def cell_preprocessors_cost(c_prev_prev: int, c_prev: int, channels: int, reduction_prev: bool,
                            input_size: Size) -> Cost:
    """Exact cost of ``cell_preprocessors`` for an s1 of ``input_size``."""
    if reduction_prev:
        pre0 = FactorizedReduce.cost(c_prev_prev, channels, input_size=_double(input_size))
    else:
        pre0 = ReLUConvBN.cost(c_prev_prev, channels, 1, input_size=input_size)
    return pre0 + ReLUConvBN.cost(c_prev, channels, 1, input_size=input_size)


class Cell(nn.Module):
    """Nodes ``2..`` each sum two edges from earlier nodes; the output concatenates ``concat``.

    ``edges`` is a sequence of ``(op_name, params, input_index)``; edges ``2k`` and ``2k+1``
    feed node ``k + 2``. In a reduction cell the edges from the inputs (0, 1) have stride 2.
    """

    def __init__(self, edges: Sequence[tuple[str, Mapping[str, Any], int]], concat: Sequence[int],
                 c_prev_prev: int, c_prev: int, channels: int, reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0, self.preprocess1 = cell_preprocessors(c_prev_prev, c_prev, channels, reduction_prev)
        self.inputs = [index for _, _, index in edges]
        self.ops = nn.ModuleList(cell_op(name, channels, 2 if reduction and index < 2 else 1, True, **params)
                                 for name, params, index in edges)
        self.concat = list(concat)
        self.identity = [_is_identity(op) for op in self.ops]  # no drop path on identity edges

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        first = states[0]  # edge 2k's output, waiting for edge 2k+1 (one loop: TorchScript compiles it)
        for i, op in enumerate(self.ops):
            h = op(states[self.inputs[i]])
            if self.training and drop_prob > 0 and not self.identity[i]:
                h = drop_path(h, drop_prob)
            if i % 2 == 0:
                first = h
            else:
                states.append(first + h)
        return torch.cat([states[i] for i in self.concat], dim=1)


def _is_identity(op: nn.Module) -> bool:
    return isinstance(getattr(op, "op", None), nn.Identity)


def cell_cost(edges: Sequence[tuple[str, Mapping[str, Any], int]], c_prev_prev: int, c_prev: int,
              channels: int, reduction: bool, reduction_prev: bool, input_size: Size) -> Cost:
    """Exact cost of ``Cell`` for inputs of ``input_size`` (the size of s1), without building."""
    total = cell_preprocessors_cost(c_prev_prev, c_prev, channels, reduction_prev, input_size)
    node_size = out_size(input_size, 2) if reduction else input_size
    for name, params, index in edges:
        stride = 2 if reduction and index < 2 else 1
        total = total + cell_op_cost(name, channels, stride, input_size if index < 2 else node_size, params)
    return total


def _double(size: Size) -> Size:
    # s0 of a cell after a reduction has twice the resolution of s1.
    return 2 * size[0], 2 * size[1]
