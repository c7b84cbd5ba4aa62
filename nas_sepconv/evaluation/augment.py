"""Batched training augmentation with plain torch ops: pad-crop, horizontal flip, cutout.

torchvision is not installable here, so the three standard CIFAR augmentations of DARTS
training are written directly on NCHW batches. Every random draw comes from an explicit
``torch.Generator``, so a seed fixes the result. Augmentation belongs to training only:
evaluation loaders are built without it (see ``nas_sepconv.evaluation.data.make_loader``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int


def _check_batch(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise UserError(f"`x` must be an NCHW tensor (4 dims), got {shape!r}.")


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror every image of the batch left-right (deterministic; flipping twice is identity)."""
    _check_batch(x)
    return x.flip(-1)


def random_hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image independently with probability ``p``."""
    _check_batch(x)
    if not 0.0 <= p <= 1.0:
        raise UserError(f"`p` must be a probability in [0, 1], got {p!r}.")
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator,
                fill: float = 0.0) -> torch.Tensor:
    """Pad each side by ``padding`` with ``fill`` and cut a random HxW window per image.

    With ``padding == 0`` the only window is the image itself. On normalised data a fill
    of 0 is the data set's mean colour.
    """
    _check_batch(x)
    padding = check_positive_int("padding", padding, minimum=0)
    if padding == 0:
        return x.clone()
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4, value=fill)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    window = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    # NCHW strides even for one channel, where .contiguous() keeps the permuted (channels-last) strides:
    # a network fed those trains channels-last, and torch 2.13's CPU backward then corrupted memory
    # (a ResNet-8 with shortcut B at width 0.25 on digits crashed its trial process).
    return window.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)


def cutout_mask(shape: tuple[int, int, int, int], size: int, centres: torch.Tensor) -> torch.Tensor:
    """Boolean (N, 1, H, W) mask, True inside the ``size`` square around each (y, x) centre.

    The square spans ``[c - size//2, c - size//2 + size)`` on each axis, clipped at the
    borders, so a centre near an edge hides fewer than ``size * size`` pixels.
    """
    n, _, h, w = shape
    top = centres[:, 0] - size // 2
    left = centres[:, 1] - size // 2
    ys = torch.arange(h, device=centres.device)[None, :]
    xs = torch.arange(w, device=centres.device)[None, :]
    in_rows = (ys >= top[:, None]) & (ys < top[:, None] + size)  # (N, H)
    in_cols = (xs >= left[:, None]) & (xs < left[:, None] + size)  # (N, W)
    return (in_rows[:, :, None] & in_cols[:, None, :]).view(n, 1, h, w)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square (all channels) at a uniform random centre per image.

    Centres range over the whole image, as in DeVries & Taylor's cutout used by DARTS.
    """
    _check_batch(x)
    size = check_positive_int("size", size)
    n, _, h, w = x.shape
    ys = torch.randint(0, h, (n,), generator=generator)
    xs = torch.randint(0, w, (n,), generator=generator)
    mask = cutout_mask(tuple(x.shape), size, torch.stack([ys, xs], 1).to(x.device))
    return x.masked_fill(mask, 0.0)


@dataclass(frozen=True)
class Augmentation:
    """A training-time pipeline: pad-crop, then random flip, then cutout (each optional).

    ``padding=0``, ``flip=False`` and ``cutout=0`` switch a step off.
    """

    padding: int = 0
    flip: bool = False
    cutout: int = 0

    def __post_init__(self) -> None:
        check_positive_int("padding", self.padding, minimum=0)
        check_positive_int("cutout", self.cutout, minimum=0)
        if not isinstance(self.flip, bool):
            raise UserError(f"`flip` must be True or False, got {self.flip!r}.")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment one NCHW batch, drawing all randomness from ``generator``."""
        _check_batch(x)
        if self.padding:
            x = random_crop(x, self.padding, generator)
        if self.flip:
            x = random_hflip(x, generator)
        if self.cutout:
            x = cutout(x, self.cutout, generator)
        return x
