"""Finding and replacing the dense convolutions of a trained model (shared by the post-training tools).

Both post-training conversions (BlkSConv's PCA search, depth-wise decomposition) act on the
same layers: plain ``nn.Conv2d`` with groups 1, no bias, dilation 1, a square odd kernel of
at least 3 and zero "same" padding. 1x1 convs are already point-wise and are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int

Size = tuple[int, int]


@dataclass(frozen=True)
class DenseConv:
    """One convertible conv: its dotted name, shape and the spatial size of its input."""

    name: str
    c_in: int
    c_out: int
    kernel_size: int
    stride: int
    input_size: Size


def is_dense_conv(module: nn.Module) -> bool:
    """True for a conv both tools can replace without changing the layer's output shape."""
    if not isinstance(module, nn.Conv2d) or module.groups != 1 or module.bias is not None:
        return False
    kh, kw = module.kernel_size
    sh, sw = module.stride
    return (kh == kw and kh % 2 == 1 and kh >= 3 and sh == sw and sh in (1, 2)
            and module.dilation == (1, 1) and module.padding == (kh // 2, kh // 2)
            and module.padding_mode == "zeros")


def _wanted(name: str, prefixes: tuple[str, ...] | None) -> bool:
    return prefixes is None or any(name == p or name.startswith(p + ".") for p in prefixes)


def find_dense_convs(model: nn.Module, input_shape: tuple[int, int, int],
                     layers: Iterable[str] | None = None) -> list[DenseConv]:
    """Convertible convs of ``model`` in forward order, with their input sizes.

    One forward pass of a zero image of ``input_shape`` (C, H, W) records the order and the
    input sizes. ``layers`` keeps only convs whose name is one of, or lies under, the given
    names. A conv called more than once per forward pass is left out: one replacement could
    not fit every call's input.
    """
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
        raise UserError(f"`input_shape` must be a (C, H, W) triple of positive ints, got {input_shape!r}.")
    shape = tuple(check_positive_int(f"input_shape[{i}]", v) for i, v in enumerate(input_shape))
    prefixes = None if layers is None else ((layers,) if isinstance(layers, str) else tuple(layers))
    if prefixes is not None and (not prefixes or not all(isinstance(p, str) and p for p in prefixes)):
        raise UserError(f"`layers` must be a non-empty list of module names, got {layers!r}.")
    convs = {name: m for name, m in model.named_modules() if is_dense_conv(m) and _wanted(name, prefixes)}
    if prefixes is not None:
        known = {name for name, _ in model.named_modules()}
        missing = [p for p in prefixes if p not in known]
        if missing:
            raise UserError(f"`layers` must name modules of the model, got unknown {missing!r}.")
    calls: dict[str, list[Size]] = {}

    def recorder(name: str):
        return lambda _m, args: calls.setdefault(name, []).append(tuple(args[0].shape[-2:]))

    handles = [m.register_forward_pre_hook(recorder(name)) for name, m in convs.items()]
    was_training = model.training
    try:
        model.eval()
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        with torch.no_grad():
            model(torch.zeros(1, *shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return [DenseConv(name, convs[name].in_channels, convs[name].out_channels, convs[name].kernel_size[0],
                      convs[name].stride[0], sizes[0]) for name, sizes in calls.items() if len(sizes) == 1]


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` in place of the sub-module called ``name`` (dotted path)."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
