"""The architecture a MobileNet-space sample stands for, as a frozen value with JSON round trips.

``search_spaces.MobileNetSpace`` chooses, per stage or per block of a MobileNet table, the op,
kernel size, expansion ratio and op parameters, plus the width multiplier; this value records
those choices (one entry per block) so a run directory can store, report and rebuild them::

    {"kind": "mobilenet", "version": "v3-small", "width": 0.5,
     "blocks": [{"op": "dw", "kernel": 3}, ..., {"op": "xsep", "kernel": 5, "params": {"placement": "B"}}]}

The stem (imagenet, cifar, digits) belongs to the data, not to the architecture: ``build`` and
``count`` take it, as the cell genotypes' network builder does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.genotypes.cell import JsonValue
from nas_sepconv.models.mobilenet import MobileNet, build_mobilenet, count_mobilenet
from nas_sepconv.models.mobilenet_plan import BlockChoice, plan_mobilenet
from nas_sepconv.ops import Cost

KIND = "mobilenet"
_KEYS = {"kind", "version", "width", "blocks"}
_BLOCK_KEYS = {"op", "kernel", "expansion", "params"}


@dataclass(frozen=True)
class MobileNetGenotype(JsonValue):
    """MobileNet ``version`` at width multiplier ``width`` with one ``BlockChoice`` per block.
    Validated at once (ops, kernels, expansions and op parameters)."""

    version: str
    width: float
    blocks: tuple[BlockChoice, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        plan_mobilenet(self.version, width=self.width, stem="digits", num_classes=10, in_channels=1,
                       blocks=self.blocks)

    def kwargs(self) -> dict[str, Any]:
        return {"width": self.width, "blocks": self.blocks}

    def build(self, *, num_classes: int = 10, in_channels: int = 3, stem: str = "cifar",
              normalize: Any = None) -> MobileNet:
        """The network, a plain ``nn.Module`` (``build_mobilenet``; ``normalize`` as in ``build_model``)."""
        return build_mobilenet(self.version, **self.kwargs(), num_classes=num_classes, in_channels=in_channels,
                               stem=stem, normalize=normalize)

    def count(self, *, num_classes: int = 10, in_channels: int = 3, stem: str = "cifar",
              input_size: Any = None) -> Cost:
        """Exact #params and FLOPs of ``build`` without building (``count_mobilenet``)."""
        return count_mobilenet(self.version, **self.kwargs(), num_classes=num_classes, in_channels=in_channels,
                               stem=stem, input_size=input_size)

    def describe(self) -> str:
        """One line, e.g. ``MobileNet-v3-small x0.5 dw3 dw3 dw3 dw5 xsep5[placement=B] ...``."""
        parts = []
        for b in self.blocks:
            extra = ",".join(f"{k}={v}" for k, v in b.params)
            parts.append(f"{b.op}{b.kernel}{'' if b.expansion is None else f'e{b.expansion:g}'}"
                         f"{f'[{extra}]' if extra else ''}")
        return f"MobileNet-{self.version} x{self.width:g} " + " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "version": self.version, "width": self.width,
                "blocks": [b.to_dict() for b in self.blocks]}

    @classmethod
    def from_dict(cls, data: Any) -> MobileNetGenotype:
        """Inverse of ``to_dict``; unknown or missing keys are refused."""
        if not isinstance(data, Mapping) or data.get("kind") != KIND:
            raise UserError(f"`genotype` must be a JSON object with \"kind\": \"{KIND}\", got {data!r}.")
        unknown, missing = sorted(set(data) - _KEYS), sorted(_KEYS - set(data))
        if unknown or missing:
            raise UserError(f"`genotype` keys must be {', '.join(sorted(_KEYS))}; "
                             f"got unknown {unknown} and missing {missing}.")
        if not isinstance(data["blocks"], list):
            raise UserError(f"`blocks` must be a list of block objects, got {data['blocks']!r}.")
        return cls(data["version"], data["width"], tuple(_block(b) for b in data["blocks"]))


def _block(data: Any) -> BlockChoice:
    if not isinstance(data, Mapping) or not {"op", "kernel"} <= set(data) or set(data) - _BLOCK_KEYS:
        raise UserError(f"`blocks` entries must be objects with op, kernel (expansion, params optional), "
                         f"got {data!r}.")
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise UserError(f"`params` must be a JSON object, got {params!r}.")
    return BlockChoice(data["op"], data["kernel"], data.get("expansion"), tuple(params.items()))
