"""Exact analytic cost of operators: #params and FLOPs (multiply-adds).

FLOPs convention (used everywhere in this package): the number of multiply-accumulate
operations of convolution and linear layers, as in the osep paper's Table 1
(a KxK conv costs C_out * C_in/g * K^2 * H_out * W_out). Normalisation, activation,
pooling, shuffles and additions count zero. ``count_built`` measures the same quantity
on a built module with forward hooks, independently of the analytic formulas.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nas_sepconv.ops.grouped import PointwiseGroupConv


@dataclass(frozen=True)
class Cost:
    """#params and FLOPs (multiply-adds) of an operator for one input size."""

    params: int
    flops: int

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.params + other.params, self.flops + other.flops)

    def __mul__(self, k: int) -> "Cost":
        return Cost(self.params * k, self.flops * k)

    __rmul__ = __mul__


ZERO = Cost(0, 0)


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution or pool along one axis (PyTorch's floor rule)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_cost(c_in: int, c_out: int, kernel: tuple[int, int], out_hw: tuple[int, int], *,
              groups: int = 1, bias: bool = False) -> Cost:
    """Cost of one ``nn.Conv2d`` whose output is ``out_hw``; groups must divide the channels."""
    kh, kw = kernel
    weights = c_out * (c_in // groups) * kh * kw
    return Cost(weights + (c_out if bias else 0), weights * out_hw[0] * out_hw[1])


def bn_cost(channels: int, affine: bool = True) -> Cost:
    """BatchNorm2d: 2*C learnable parameters when affine, no multiply-adds counted."""
    return Cost(2 * channels if affine else 0, 0)


def count_built(module: nn.Module, input_size: tuple[int, int], in_channels: int) -> Cost:
    """Count params and conv/linear multiply-adds of a built module by running it once.

    This is the independent check of every analytic formula: params come from
    ``parameters()``, FLOPs from the real output shapes seen by forward hooks. A module
    built on the ``meta`` device is counted without allocating memory.
    ``PointwiseGroupConv`` keeps its grouped weights in ``nn.Conv2d`` modules it never calls
    (it may run them as one dense conv); it is hooked itself and counts, like a conv, each
    of those weights once per output pixel, not the zeros of a dense product.
    """
    flops = 0

    def hook(mod: nn.Module, _inp, out) -> None:
        nonlocal flops
        # The input batch is 1, so a larger output batch is work folded into the batch.
        if isinstance(mod, nn.Conv2d):
            flops += mod.weight.numel() * out.shape[0] * out.shape[2] * out.shape[3]
        elif isinstance(mod, PointwiseGroupConv):
            weights = sum(conv.weight.numel() for conv in mod.convs)
            flops += weights * out.shape[0] * out.shape[2] * out.shape[3]
        elif isinstance(mod, nn.Linear):
            flops += mod.weight.numel() * (out.numel() // out.shape[-1])

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear, PointwiseGroupConv))]
    was_training = module.training
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, in_channels, *input_size, device=device))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return Cost(sum(p.numel() for p in module.parameters()), flops)
