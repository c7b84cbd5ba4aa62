"""Depth-wise decomposition of a trained model's convs, post-training (He et al., Sec. 3.2-3.7).

Every dense conv (see ``nas_sepconv.compress.dense``) is replaced by a depth-wise k x k conv
(carrying the stride) and a point-wise 1x1 conv (``DepthSeparableConv``), or, for the
channel-decomposition baseline, by a k x k conv to c' channels and a 1x1 conv back (c' from
``channel_rank``: the same speed-up). The factors come from sampled activations: a few
patches at random output positions of each of a few hundred images (the paper: 10 per image,
300 images), i.e. the columns of ``X`` and ``Y = W X`` in Eq. 1.

``multi_layer=True`` decomposes layer by layer in forward order, each layer fitted on the
input ``X'`` that the already-decomposed network feeds it (Sec. 3.6): ``"gsvd"`` then still
reconstructs the original output ``Y = W X`` (Eq. 10); ``"svd"`` and ``"channel"`` are
symmetric and approximate ``W X'``. ``multi_layer=False`` fits every layer on the original
input. Each layer reports two relative errors ``||Y - Y_hat|| / ||Y||`` on the samples: in
the fully decomposed network (``rel_error``) and alone, fed the original input
(``rel_error_layer``). ``fine_tune`` then trains the result (Sec. 3.7).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Iterable

import torch
from torch import nn

from nas_sepconv.compress.dense import DenseConv, find_dense_convs, replace_module
from nas_sepconv.compress.svd import (
    ChannelFactors,
    DepthwiseFactors,
    channel_decomposition,
    channel_rank,
    depthwise_gsvd,
    depthwise_svd,
    layer_output,
    relative_error,
)
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.data import LoadedData
from nas_sepconv.evaluation.train import TrainConfig, TrainResult, train_model
from nas_sepconv.ops.baselines import DepthSeparableConv, conv2d

METHODS = ("gsvd", "svd", "channel")
Factors = DepthwiseFactors | ChannelFactors


@dataclass(frozen=True)
class LayerError:
    """One decomposed layer: shape, method, inner rank (1 per channel, or c'), cost and errors."""

    layer: str
    c_in: int
    c_out: int
    kernel: int
    stride: int
    method: str
    rank: int
    params_before: int
    params_after: int
    speedup: float
    rel_error: float
    rel_error_layer: float

    def row(self) -> dict:
        return asdict(self)


class _Stop(Exception):
    """Raised by a hook once the last wanted layer has its patches: the rest of the pass is not needed."""


def _patches_at(x: torch.Tensor, conv: DenseConv, u: torch.Tensor) -> torch.Tensor:
    """Input patches (c, k*k, B*P) of the conv's outputs at positions ``floor(u * H'W')`` of each image."""
    k, s, pad = conv.kernel_size, conv.stride, conv.kernel_size // 2
    h_out, w_out = (x.shape[2] - 1) // s + 1, (x.shape[3] - 1) // s + 1
    pos = (u * (h_out * w_out)).long().clamp_max(h_out * w_out - 1)  # (B, P)
    offsets = torch.arange(k, device=x.device)
    rows = ((pos // w_out) * s)[..., None, None] + offsets[:, None]  # (B, P, k, 1)
    cols = ((pos % w_out) * s)[..., None, None] + offsets  # (B, P, 1, k)
    batch = torch.arange(x.shape[0], device=x.device)[:, None, None, None]
    patches = nn.functional.pad(x, (pad, pad, pad, pad))[batch, :, rows, cols]  # (B, P, k, k, c)
    return patches.permute(4, 2, 3, 0, 1).reshape(x.shape[1], k * k, -1)


def collect_patches(model: nn.Module, images: torch.Tensor, convs: list[DenseConv],
                    positions: dict[str, torch.Tensor], batch_size: int = 100) -> dict[str, torch.Tensor]:
    """Sampled input patches (c, k*k, N) of each conv in ``convs`` (forward order), in eval mode.

    ``positions[name]`` (num_images, P) holds numbers in [0, 1) that pick the P output positions
    of each image, so two models sampled with the same positions see the same patches.
    """
    found: dict[str, list[torch.Tensor]] = {c.name: [] for c in convs}
    state = {"start": 0}

    def hook(conv: DenseConv, last: bool):
        def record(_module, args):
            x = args[0]
            u = positions[conv.name][state["start"]:state["start"] + len(x)].to(x.device)
            found[conv.name].append(_patches_at(x.detach(), conv, u).float().cpu())
            if last:
                raise _Stop
        return record

    handles = [model.get_submodule(c.name).register_forward_pre_hook(hook(c, i == len(convs) - 1))
               for i, c in enumerate(convs)]
    was_training, device = model.training, next(model.parameters()).device
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                state["start"] = start
                try:
                    model(images[start:start + batch_size].to(device))
                except _Stop:
                    pass
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {name: torch.cat(parts, dim=2) for name, parts in found.items()}


def factorize(method: str, weight: torch.Tensor, fit: torch.Tensor, original: torch.Tensor) -> Factors:
    """Factors of ``weight`` (n, c, k*k) from patches ``fit`` (X') and ``original`` (X), see the module doc."""
    if method == "gsvd":
        return depthwise_gsvd(weight, fit, reference=original)[0]
    if method == "svd":
        return depthwise_svd(weight, fit)
    n, c, k2 = weight.shape
    return channel_decomposition(weight, fit, channel_rank(c, n, round(k2 ** 0.5)))


def build_replacement(factors: Factors, conv: nn.Conv2d) -> nn.Sequential:
    """The two-conv module holding ``factors``, with ``conv``'s stride, dtype and device."""
    n, c, k, _ = conv.weight.shape
    if isinstance(factors, DepthwiseFactors):
        module = DepthSeparableConv(c, n, conv.stride[0], kernel_size=k)
        first, second = factors.depthwise.reshape(c, 1, k, k), factors.pointwise.reshape(n, c, 1, 1)
    else:
        rank = factors.first.shape[0]
        module = nn.Sequential(conv2d(c, rank, k, conv.stride[0]), conv2d(rank, n, 1))
        first, second = factors.first.reshape(rank, c, k, k), factors.second.reshape(n, rank, 1, 1)
    with torch.no_grad():
        module[0].weight.copy_(first)
        module[1].weight.copy_(second)
    return module.to(conv.weight.device, conv.weight.dtype)


def _report(conv: DenseConv, method: str, factors: Factors, weight: torch.Tensor,
            original: torch.Tensor, seen: torch.Tensor) -> LayerError:
    rank = factors.first.shape[0] if isinstance(factors, ChannelFactors) else 1
    before = conv.c_out * conv.c_in * conv.kernel_size ** 2
    after = sum(t.numel() for t in vars(factors).values())
    target = layer_output(weight, original)
    return LayerError(conv.name, conv.c_in, conv.c_out, conv.kernel_size, conv.stride, method, rank, before,
                      after, before / after, relative_error(target, factors.output(seen)),
                      relative_error(target, factors.output(original)))


def _weight(conv: nn.Module) -> torch.Tensor:
    """A conv's weight as float64 (n, c, k*k) on the CPU."""
    return conv.weight.detach().double().cpu().flatten(2)


def _decompose_layers(model: nn.Module, images: torch.Tensor, convs: list[DenseConv], original: dict[str, torch.Tensor],
                      positions: dict[str, torch.Tensor], method: str, multi_layer: bool,
                      batch_size: int) -> tuple[nn.Module, dict[str, Factors]]:
    """Replace the convs of a copy of ``model`` one by one in forward order (Sec. 3.6 when ``multi_layer``)."""
    decomposed, factors = copy.deepcopy(model), {}
    for i, conv in enumerate(convs):
        fit = original[conv.name]
        if multi_layer and i > 0:  # the input as changed by the layers already decomposed
            fit = collect_patches(decomposed, images, [conv], positions, batch_size)[conv.name].double()
        module = decomposed.get_submodule(conv.name)
        factors[conv.name] = factorize(method, _weight(module), fit, original[conv.name])
        replace_module(decomposed, conv.name, build_replacement(factors[conv.name], module))
    return decomposed, factors


def decompose_model(model: nn.Module, images: torch.Tensor, *, method: str = "gsvd", multi_layer: bool = True,
                    patches_per_image: int = 10, layers: Iterable[str] | None = None, seed: int = 0,
                    batch_size: int = 100) -> tuple[nn.Module, list[LayerError]]:
    """A decomposed copy of ``model`` and one ``LayerError`` per replaced conv (forward order).

    ``images`` (B, C, H, W) are the sampled images (the paper: 300); ``layers`` keeps the
    convs whose names are, or lie under, the given module names.
    """
    check_choice("method", method, METHODS)
    if not isinstance(multi_layer, bool):
        raise UserError(f"`multi_layer` must be True or False, got {multi_layer!r}.")
    ppi = check_positive_int("patches_per_image", patches_per_image)
    batch_size = check_positive_int("batch_size", batch_size)
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or len(images) == 0:
        shape = getattr(images, "shape", images)
        raise UserError(f"`images` must be a non-empty (B, C, H, W) tensor, got {shape!r}.")
    convs = find_dense_convs(model, tuple(images.shape[1:]), layers)
    if not convs:
        raise UserError("`model` must contain a dense conv (groups 1, no bias, odd k >= 3, same padding) "
                        f"to decompose, got none in {type(model).__name__}.")
    gen = torch.Generator().manual_seed(check_positive_int("seed", seed, minimum=0))
    positions = {c.name: torch.rand(len(images), ppi, generator=gen) for c in convs}
    original = {k: v.double() for k, v in collect_patches(model, images, convs, positions, batch_size).items()}
    decomposed, factors = _decompose_layers(model, images, convs, original, positions, method, multi_layer,
                                            batch_size)
    seen = collect_patches(decomposed, images, convs, positions, batch_size)
    return decomposed, [_report(c, method, factors[c.name], _weight(model.get_submodule(c.name)),
                                original[c.name], seen[c.name].double()) for c in convs]


def fine_tune(model: nn.Module, data: LoadedData, *, epochs: int = 10, lr: float = 1e-4,
              **config: object) -> TrainResult:
    """Sec. 3.7: fine-tune the decomposed model (the paper: 10 epochs at learning rate 1e-4).

    Extra keyword arguments go to ``TrainConfig`` (e.g. ``seed``, ``batch_size``).
    """
    return train_model(model, data, TrainConfig(epochs=epochs, lr=lr, **config))
