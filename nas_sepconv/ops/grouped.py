"""Uneven grouped convolution and the round-robin channel shuffle (osep paper, Fig. 1b).

When g does not divide the channels, groups get sizes differing by at most one, the larger
ones first on both the input and the output side (``osep_solver.group_sizes``); no tensor
is padded. Consecutive groups with equal (in, out) sizes form one regular grouped
``nn.Conv2d``; with larger-first on both sides there are at most three such ranges.
Params = sum over groups of cin_g * cout_g * kh * kw (``osep_solver.grouped_params``).

The shuffle generalises ShuffleNet's reshape-transpose: position p of the next conv's input
takes channel ``p div g`` of group ``p mod g`` of the previous conv. Larger groups first
keeps that channel inside its group, and any g consecutive positions meet all g groups:
for two convs, Eq. 21 then keeps the volumetric receptive field (every block of the second
conv has >= C_2 // g_2 >= g_1 positions). For longer chains ``osep_solver.position_reach``
models the realised reach and the solver only returns groupings that keep it.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

from .osep_solver import group_sizes

Size = tuple[int, int]


class UnevenGroupConv(nn.Module):
    """Grouped conv (no bias, "same" padding) whose groups may differ by one channel."""

    def __init__(self, c_in: int, c_out: int, groups: int, kernel: Size, stride: Size) -> None:
        super().__init__()
        pairs = zip(group_sizes(c_in, groups), group_sizes(c_out, groups))
        runs = [(ci, co, len(list(run))) for (ci, co), run in itertools.groupby(pairs)]
        self.splits = [n * ci for ci, _, n in runs]
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.convs = nn.ModuleList(
            nn.Conv2d(n * ci, n * co, kernel, stride, padding, groups=n, bias=False) for ci, co, n in runs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.convs) == 1:
            return self.convs[0](x)
        return torch.cat([conv(part) for conv, part in zip(self.convs, x.split(self.splits, dim=1))], dim=1)


def shuffle_order(channels: int, groups: int) -> list[int]:
    """Source channel of each position: channel ``p div g`` of group ``p mod g`` (larger first)."""
    starts = list(itertools.accumulate([0] + group_sizes(channels, groups)))
    return [starts[p % groups] + p // groups for p in range(channels)]


def select_channels(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x.index_select(1, index)`` that keeps a channels-last input channels-last.

    ``index_select`` on dim 1 returns NCHW, which would send the next conv back to PyTorch's
    slow NCHW grouped kernels; gathering on the last dim of the NHWC view avoids that.
    """
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).index_select(3, index).permute(0, 3, 1, 2)
    return x.index_select(1, index)


class ChannelShuffle(nn.Module):
    """Round-robin channel shuffle for (possibly uneven) groups of the previous conv."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.register_buffer("index", torch.tensor(shuffle_order(channels, groups)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return select_channels(x, self.index)

    def extra_repr(self) -> str:
        return f"channels={self.index.numel()}, groups={self.groups}"
