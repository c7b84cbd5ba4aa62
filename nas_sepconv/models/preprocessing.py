"""The input preprocessing a trained network expects, and a module that applies it.

Training normalises every image as ``(x / max_value - mean[c]) / std[c]`` with the training
part's per-channel statistics (``nas_sepconv.evaluation.data``). A network fed images any
other way scores near chance (digits: 0.098 for raw 0..16 pixels), so ``train`` records this
``Preprocessing`` in ``metrics.json`` and ``preprocessing.json`` next to ``weights.pt``, and
``build_model(..., normalize=...)`` builds it into the network: the result takes raw images.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int


@dataclass(frozen=True)
class Preprocessing:
    """Per-channel ``mean``/``std`` of images scaled to [0, 1] by ``max_value`` (16 for digits,
    255 for 8-bit images); ``input_size`` (H, W) and ``channels`` of the images trained on.
    ``input_max`` is the largest pixel value the built-in normalisation expects (default
    ``max_value``: raw pixels as the data set stores them; 1.0 for images already in [0, 1])."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    max_value: float
    input_size: tuple[int, int]
    channels: int
    input_max: float | None = None

    def __post_init__(self) -> None:
        check_positive_int("channels", self.channels)
        for name in ("mean", "std"):
            values = tuple(getattr(self, name)) if isinstance(getattr(self, name), (list, tuple)) else None
            if values is None or len(values) != self.channels or not all(_finite(v) for v in values):
                raise UserError(f"`{name}` must be {self.channels} finite numbers (one per channel), "
                                 f"got {getattr(self, name)!r}.")
            object.__setattr__(self, name, tuple(float(v) for v in values))
        if min(self.std) <= 0:
            raise UserError(f"`std` must be > 0 for every channel, got {self.std!r}.")
        for name in ("max_value", "input_max"):
            value = getattr(self, name)
            if value is not None and not (_finite(value) and value > 0):
                raise UserError(f"`{name}` must be a finite number > 0, got {value!r}.")
        size = tuple(self.input_size) if isinstance(self.input_size, (list, tuple)) else ()
        if len(size) != 2:
            raise UserError(f"`input_size` must be (height, width), got {self.input_size!r}.")
        object.__setattr__(self, "input_size", tuple(check_positive_int("input_size", s) for s in size))

    def for_inputs_up_to(self, input_max: float) -> Preprocessing:
        """The same normalisation for images whose pixels run 0..``input_max`` (e.g. 1.0)."""
        return replace(self, input_max=input_max)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {**data, "mean": list(self.mean), "std": list(self.std), "input_size": list(self.input_size)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        if not isinstance(data, Mapping):
            raise UserError(f"`preprocessing` must be a mapping, got {data!r}.")
        keys = {"mean", "std", "max_value", "input_size", "channels", "input_max"}
        unknown = sorted(set(data) - keys)
        if unknown:
            raise UserError(f"`preprocessing` keys must be among {', '.join(sorted(keys))}, got {unknown}.")
        return cls(**data)


def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def as_preprocessing(value: Any) -> Preprocessing:
    """A ``Preprocessing`` from itself or its dict (``preprocessing.json``, ``metrics.json``)."""
    return value if isinstance(value, Preprocessing) else Preprocessing.from_dict(value)


class Normalize(nn.Module):
    """``(x / input_max - mean[c]) / std[c]`` (as ``x * scale - shift``), applied by the network first.

    The constants are non-persistent buffers, so a network's ``state_dict`` (``weights.pt``) is
    the same with or without it and loads either way.
    """

    def __init__(self, preprocessing: Preprocessing | Mapping[str, Any]) -> None:
        super().__init__()
        pre = as_preprocessing(preprocessing)
        self.preprocessing = pre
        top = pre.max_value if pre.input_max is None else pre.input_max
        shape = (1, pre.channels, 1, 1)
        self.register_buffer("scale", torch.tensor([1.0 / (top * s) for s in pre.std]).view(shape), persistent=False)
        self.register_buffer("shift", torch.tensor([m / s for m, s in zip(pre.mean, pre.std)]).view(shape),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale - self.shift

    def extra_repr(self) -> str:
        pre = self.preprocessing
        return f"mean={pre.mean}, std={pre.std}, input_max={pre.max_value if pre.input_max is None else pre.input_max}"


def input_norm(normalize: Preprocessing | Mapping[str, Any] | None) -> nn.Module:
    """The network's first module: ``Normalize`` or, without preprocessing, an identity."""
    return nn.Identity() if normalize is None else Normalize(normalize)


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` with every tensor on the CPU: weights trained on a GPU load anywhere."""
    return {key: value.detach().cpu() for key, value in model.state_dict().items()}
