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

Speed on CPU (benchmarks/ops_speed.py, results/bench/ops_speed.md): convs run channels-last,
a shuffle is a 2-D gather with an inverse-gather backward, and a grouped 1x1 conv takes the
shuffle before it as an input permutation, which it can fold into one dense product. Every
path computes the same function of the same grouped weights (tests/ops/test_grouped.py).
"""
import itertools
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.ops.osep_solver import group_sizes

Size = tuple[int, int]


def group_runs(c_in: int, c_out: int, groups: int) -> list[tuple[int, int, int]]:
    """(in per group, out per group, #groups) of each run of equal-size groups, in order."""
    pairs = zip(group_sizes(c_in, groups), group_sizes(c_out, groups))
    return [(ci, co, len(list(run))) for (ci, co), run in itertools.groupby(pairs)]


def run_convs(c_in: int, c_out: int, groups: int, kernel: Size, stride: Size,
              dilation: Size = (1, 1)) -> nn.ModuleList:
    """One regular grouped ``nn.Conv2d`` per run (at most three): the weights of an uneven grouped conv
    ("same" padding, ``dilation * (k // 2)`` per axis)."""
    padding = (dilation[0] * (kernel[0] // 2), dilation[1] * (kernel[1] // 2))
    return nn.ModuleList(nn.Conv2d(n * ci, n * co, kernel, stride, padding, dilation, groups=n, bias=False)
                         for ci, co, n in group_runs(c_in, c_out, groups))


def block_diagonal(c_in: int, c_out: int, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every grouped weight in the dense C_out x C_in matrix, in the order of
    the runs' flattened weights: output channel by output channel, its group's inputs in order."""
    in_sizes, out_sizes = np.array(group_sizes(c_in, groups)), np.array(group_sizes(c_out, groups))
    width = np.repeat(in_sizes, out_sizes)  # inputs of each output channel
    first = np.repeat(np.cumsum(in_sizes) - in_sizes, out_sizes)  # its group's first input
    ends = np.cumsum(width)
    offsets = np.arange(ends[-1]) - np.repeat(ends - width, width)
    return np.repeat(np.arange(c_out), width), np.repeat(first, width) + offsets


def shuffle_order(channels: int, groups: int) -> list[int]:
    """Source channel of each position: channel ``p div g`` of group ``p mod g`` (larger first)."""
    starts = list(itertools.accumulate([0] + group_sizes(channels, groups)))
    return [starts[p % groups] + p // groups for p in range(channels)]


def select_channels(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x.index_select(1, index)`` that keeps a channels-last input channels-last.

    ``index_select`` on dim 1 returns NCHW, which would send the next conv back to PyTorch's
    slow NCHW grouped kernels. A channels-last input is gathered as the (N*H*W, C) matrix it
    is in memory: ``index_select`` on dim 1 of that 2-D view is ~10x faster than on the last
    dim of the 4-D NHWC view (about two plain copies).
    """
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c).index_select(1, index)
        return rows.view(n, h, w, index.numel()).permute(0, 3, 1, 2)
    return x.index_select(1, index)


class PermuteChannels(torch.autograd.Function):
    """A channel permutation, returned as consecutive parts (each gathered directly, so a
    grouped conv's runs need no split copy). The backward concatenates the parts' gradients
    and applies the inverse permutation (a second gather), not autograd's ``index_add``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, order: torch.Tensor, inverse: torch.Tensor,
                splits: list[int]) -> tuple[torch.Tensor, ...]:
        ctx.save_for_backward(inverse)
        return tuple(select_channels(x, index) for index in order.split(splits))

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (inverse,) = ctx.saved_tensors  # unused outputs get zero gradients (materialize_grads)
        grad = grads[0] if len(grads) == 1 else torch.cat(grads, dim=1)
        return select_channels(grad, inverse), None, None, None


def permute_channels(x: torch.Tensor, order: torch.Tensor, inverse: torch.Tensor,
                     splits: Optional[List[int]] = None) -> List[torch.Tensor]:
    """Position p of the result is channel ``order[p]`` of x (``inverse`` is ``order.argsort()``),
    split into parts of ``splits`` channels (default: one part)."""
    return list(PermuteChannels.apply(x, order, inverse, splits or [order.numel()]))


def exporting() -> bool:
    """True under ``torch.jit.script`` or ``torch.onnx.export``: the custom autograd Functions
    (training speed-ups) are replaced by the plain ops that compute the same values."""
    if torch.jit.is_scripting():
        return True
    return _onnx_exporting()


@torch.jit.unused
def _onnx_exporting() -> bool:
    return torch.onnx.is_in_onnx_export()


class ChannelShuffle(nn.Module):
    """Round-robin channel shuffle for (possibly uneven) groups of the previous conv."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        order = shuffle_order(channels, groups)
        self.register_buffer("index", torch.tensor(order), persistent=False)
        self.register_buffer("inverse", torch.tensor(np.argsort(order)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if exporting():
            return x.index_select(1, self.index)
        return self._gather(x)

    @torch.jit.unused
    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        return permute_channels(x, self.index, self.inverse)[0]

    def extra_repr(self) -> str:
        return f"channels={self.index.numel()}, groups={self.groups}"


class SplitChannelsLast(torch.autograd.Function):
    """``x.split(splits, 1)`` with each part copied channels-last (the copy a conv needs anyway).

    The backward writes the parts' gradients straight into one tensor in the input's layout:
    autograd's own split backward would concatenate them channels-last and, for an NCHW
    input, copy the result once more to NCHW.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, splits: list[int]) -> tuple[torch.Tensor, ...]:
        ctx.shape, ctx.splits = x.shape, splits
        ctx.layout = torch.contiguous_format if x.is_contiguous() else torch.channels_last
        return tuple(part.clone(memory_format=torch.channels_last) for part in x.split(splits, dim=1))

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> tuple[torch.Tensor, None]:
        # Unused parts get zero gradients (materialize_grads), so every part is copied.
        grad = torch.empty(ctx.shape, dtype=grads[0].dtype, device=grads[0].device, memory_format=ctx.layout)
        for part, g in zip(grad.split(ctx.splits, dim=1), grads):
            part.copy_(g)
        return grad, None


def run_parts(x: torch.Tensor, splits: List[int]) -> List[torch.Tensor]:
    """The channels-last input of each run; PyTorch's NCHW grouped conv with a few channels
    per group is several times slower on CPU (benchmarks/ops_speed.py)."""
    if len(splits) == 1:
        return [x.contiguous(memory_format=torch.channels_last)]
    return list(SplitChannelsLast.apply(x, splits))


class _Runs(nn.Module):
    """Each run's conv (``self.convs``) on its part, concatenated, in a form TorchScript compiles."""

    def _run_convs(self, parts: List[torch.Tensor]) -> torch.Tensor:
        outs: List[torch.Tensor] = []
        for i, conv in enumerate(self.convs):
            outs.append(conv(parts[i]))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


class UnevenGroupConv(_Runs):
    """Grouped conv (no bias, "same" padding, optional dilation) whose groups may differ by one channel.

    Runs channels-last; an input is split before the conversion, so each run's part is
    converted once (``SplitChannelsLast``). The output is channels-last.
    """

    def __init__(self, c_in: int, c_out: int, groups: int, kernel: Size, stride: Size,
                 dilation: Size = (1, 1)) -> None:
        super().__init__()
        self.splits = [n * ci for ci, _, n in group_runs(c_in, c_out, groups)]
        self.convs = run_convs(c_in, c_out, groups, kernel, stride, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(x.split(self.splits, dim=1)) if exporting() else self._parts(x)
        return self._run_convs(parts)

    @torch.jit.unused
    def _parts(self, x: torch.Tensor) -> List[torch.Tensor]:
        return run_parts(x, self.splits)


class PointwiseGroupConv(_Runs):
    """Uneven grouped 1x1 conv reading its input through a channel permutation (the shuffle).

    Two exact evaluations:

    - grouped: gather the permuted input straight into the runs' parts (``permute_channels``),
      run the runs' grouped convs, concatenate: g times fewer multiply-adds than a dense 1x1;
    - dense: one 1x1 conv whose weight is the grouped weights scattered into a zero
      C_out x C_in matrix, the permutation folded into its column order (differentiable,
      gradients reach only the grouped weights): g times the multiply-adds, but no gather,
      split or cat pass.

    Rule (measured on a 2-core AVX-512 machine with 32 MiB L3, benchmarks/ops_speed.py):
    grouped only while the input has fewer than ``dense_min_elements`` values (beyond, the
    extra passes leave the cache) and grouping saves at least ``min_saved_macs`` multiply-adds
    per value those passes move (C_in C_out (1 - 1/g) >= 32 (C_in + C_out): grouped for
    C = 128, g = 4 and C = 256, g = 5 at 16x16 and 8x8, dense for C = 64, g = 3).

    The parameters stay the grouped weights (``convs``, as in ``UnevenGroupConv``, so params
    and state_dict keys are unchanged). Neither path calls the ``convs`` modules;
    ``cost.count_built`` hooks this module and counts each grouped weight once per output
    pixel, not the zeros of the dense product.
    """

    dense_min_elements = 1 << 23  # 32 MiB of float32 input: the L3 size
    min_saved_macs = 32  # see the rule above

    def __init__(self, c_in: int, c_out: int, groups: int, stride: Size,
                 in_order: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        self.c_in, self.c_out = c_in, c_out
        self.grouping_pays = c_in * c_out * (groups - 1) >= self.min_saved_macs * groups * (c_in + c_out)
        self.splits = [n * ci for ci, _, n in group_runs(c_in, c_out, groups)]
        self.convs = run_convs(c_in, c_out, groups, (1, 1), stride)
        rows, cols = block_diagonal(c_in, c_out, groups)
        order = None if in_order is None else np.asarray(in_order)
        self.register_buffer("order", None if order is None else torch.tensor(order), persistent=False)
        self.register_buffer("inverse", None if order is None else torch.tensor(np.argsort(order)), persistent=False)
        self.register_buffer("flat_index", torch.tensor(rows * c_in + (cols if order is None else order[cols])),
                             persistent=False)

    def dense_weight(self) -> torch.Tensor:
        """The C_out x C_in x 1 x 1 weight on unpermuted input channels, zeros off the groups."""
        values = torch.cat([conv.weight.flatten() for conv in self.convs])
        dense = values.new_zeros(self.c_out * self.c_in).index_put((self.flat_index,), values)
        return dense.view(self.c_out, self.c_in, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if exporting():  # the plain grouped path: a gather, the runs' convs, a concatenation
            order = self.order
            if order is not None:
                x = x.index_select(1, order)
            return self._run_convs(list(x.split(self.splits, dim=1)))
        return self._fast(x)

    @torch.jit.unused
    def _fast(self, x: torch.Tensor) -> torch.Tensor:
        stride = self.convs[0].stride
        if not self.grouping_pays or x.numel() >= self.dense_min_elements:
            return F.conv2d(x.contiguous(memory_format=torch.channels_last), self.dense_weight(), stride=stride)
        if self.order is None:
            parts = run_parts(x, self.splits)
        else:
            parts = permute_channels(x.contiguous(memory_format=torch.channels_last), self.order, self.inverse,
                                     self.splits)
        outs = [F.conv2d(part, conv.weight, stride=stride, groups=conv.groups)
                for conv, part in zip(self.convs, parts)]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    def extra_repr(self) -> str:
        return f"{self.c_in}, {self.c_out}, permuted={self.order is not None}, grouping_pays={self.grouping_pays}"
