"""Even-sized depth-wise convolution with one-sided padding, and XSepConv's improved
symmetric padding planner (XSepConv paper, Section 3.2 and Fig. 2(b)).

An even k x k kernel has no centre: keeping the spatial size needs k - 1 zeros per axis,
one more on one side than on the other. Padding the extra zero on the right and bottom
shifts activations half a pixel towards the left-top (the "shift problem" of the paper's
reference [36]). Instead of cancelling the shift inside one layer ([36] pads four channel
groups four ways), XSepConv cancels it along the network: the i-th even-sized layer
(0-based, forward order) pads its extra zero towards ``PAD_DIRECTIONS[i % 4]``, the cycle
right-bottom, left-top, left-bottom, right-top, so every 4 consecutive layers add up to no
shift. When N % 4 != 0 the paper's rules keep the final offset below one pixel: the cycle
already makes the last two layers opposite when N % 4 == 2, and when N % 4 == 1 the last
layer uses [36]'s grouped symmetric padding (``GROUPED``).
"""
from __future__ import annotations

from typing import Iterable, List

import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.ops.xsep_init import NonNegativeInitConv2d

PAD_DIRECTIONS = ("right_bottom", "left_top", "left_bottom", "right_top")
GROUPED = "grouped"
PAD_MODES = PAD_DIRECTIONS + (GROUPED,)


def pad_amounts(direction: str, kernel_size: int) -> tuple[int, int, int, int]:
    """``F.pad`` amounts (left, right, top, bottom) putting the extra zero towards ``direction``."""
    check_choice("direction", direction, PAD_DIRECTIONS)
    small, big = kernel_size // 2 - 1, kernel_size // 2
    horizontal = (small, big) if direction.startswith("right") else (big, small)
    vertical = (small, big) if direction.endswith("bottom") else (big, small)
    return horizontal + vertical


class EvenDepthwiseConv2d(nn.Module):
    """Depth-wise k x k convolution, k even, padded on one side (or [36]'s grouped way).

    Output size is ``(H - 1) // stride + 1`` on each axis. ``pad_direction`` is one of
    ``PAD_MODES``; ``apply_symmetric_padding`` sets it network-wide. With ``"grouped"`` the
    channels are split into 4 contiguous groups padded towards the 4 directions in turn.
    The kernel starts non-negative (``xsep_init``), as XSepConv needs.
    """

    __jit_unused_properties__ = ["pad_direction"]

    def __init__(self, channels: int, *, kernel_size: int = 2, stride: int = 1,
                 pad_direction: str = "right_bottom") -> None:
        super().__init__()
        channels = check_positive_int("channels", channels)
        k = check_positive_int("kernel_size", kernel_size, minimum=2)
        if k % 2:
            raise UserError(f"`kernel_size` must be an even integer >= 2, got {kernel_size!r}.")
        stride = check_choice("stride", stride, (1, 2))
        self.kernel_size = k
        self.pad_direction = pad_direction
        self.conv = NonNegativeInitConv2d(channels, channels, k, stride, 0, groups=channels, bias=False)

    @property
    def pad_direction(self) -> str:
        return self._pad_direction

    @pad_direction.setter
    def pad_direction(self, value: str) -> None:
        self._pad_direction = check_choice("pad_direction", value, PAD_MODES)
        directions = PAD_DIRECTIONS if self._pad_direction == GROUPED else (self._pad_direction,)
        self._pads: List[List[int]] = [list(pad_amounts(d, self.kernel_size)) for d in directions]

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if len(self._pads) == 1:
            return F.pad(x, self._pads[0])
        groups = torch.tensor_split(x, len(self._pads), dim=1)
        return torch.cat([F.pad(g, pad) for g, pad in zip(groups, self._pads)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self._pad(x))

    def extra_repr(self) -> str:
        return f"pad_direction={self._pad_direction!r}"


def plan_pad_directions(n_layers: int) -> tuple[str, ...]:
    """Padding mode of each of ``n_layers`` even-sized layers, in forward order (Section 3.2).

    p(i) = D[i % 4] with D = (right-bottom, left-top, left-bottom, right-top); if N % 4 == 1
    the last layer uses [36]'s grouped symmetric padding instead.
    """
    n = check_positive_int("n_layers", n_layers, minimum=0)
    modes = [PAD_DIRECTIONS[i % len(PAD_DIRECTIONS)] for i in range(n)]
    if n % len(PAD_DIRECTIONS) == 1:
        modes[-1] = GROUPED
    return tuple(modes)


def even_layers(network: nn.Module | Iterable[nn.Module],
                example_input: torch.Tensor | None = None) -> list[tuple[str, EvenDepthwiseConv2d]]:
    """Every ``EvenDepthwiseConv2d`` of ``network`` in forward order, with its qualified name.

    ``network`` is a module or a sequence of modules run one after the other (e.g. one path
    of a supernet; names are then prefixed by the position). Without ``example_input`` the
    order is module-registration order: every builder of this package registers modules in
    the order its forward runs them (sequential stages, a cell's edges node by node; the
    tests check it against a traced forward pass). With ``example_input`` the order is the
    order of first calls in one eval-mode forward pass of ``network`` (a module), for hosts
    that register modules out of order; layers the pass does not reach follow in
    registration order.
    """
    if isinstance(network, nn.Module):
        parts = [("", network)]
    else:
        modules = list(network) if isinstance(network, Iterable) and not isinstance(network, (str, bytes)) else None
        if modules is None or not all(isinstance(m, nn.Module) for m in modules):
            raise UserError(f"`network` must be a torch.nn.Module or a list of them, got {type(network).__name__}.")
        parts = [(f"{i}.", m) for i, m in enumerate(modules)]
    layers = [(prefix + name, m) for prefix, part in parts for name, m in part.named_modules()
              if isinstance(m, EvenDepthwiseConv2d)]
    if example_input is None or not layers:
        return layers
    if len(parts) != 1:
        raise UserError("`example_input` needs `network` to be one module, got a list of modules.")
    return _traced_order(parts[0][1], layers, example_input)


def _traced_order(network: nn.Module, layers: list[tuple[str, EvenDepthwiseConv2d]],
                  example_input: torch.Tensor) -> list[tuple[str, EvenDepthwiseConv2d]]:
    seen: dict[int, int] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, _inp: seen.setdefault(id(mod), len(seen)))
             for _, m in layers]
    was_training = network.training
    try:
        network.eval()
        with torch.no_grad():
            network(example_input)
    finally:
        network.train(was_training)
        for h in hooks:
            h.remove()
    rank = {id(m): (seen.get(id(m), len(seen) + i)) for i, (_, m) in enumerate(layers)}
    return sorted(layers, key=lambda item: rank[id(item[1])])


def apply_symmetric_padding(network: nn.Module | Iterable[nn.Module],
                            example_input: torch.Tensor | None = None) -> dict[str, str]:
    """Set ``pad_direction`` of every even-sized depth-wise conv of ``network`` by the planner.

    The one mechanism every network of the package uses (ResNets, cell networks built from
    genotypes or frozen from an NNI space, supernet paths): the layers are taken in forward
    order (``even_layers``) and the i-th gets ``plan_pad_directions(N)[i]``. Returns
    ``{qualified module name: padding mode}`` in that order.
    """
    layers = even_layers(network, example_input)
    modes = plan_pad_directions(len(layers))
    for (_, layer), mode in zip(layers, modes):
        layer.pad_direction = mode
    return {name: mode for (name, _), mode in zip(layers, modes)}
