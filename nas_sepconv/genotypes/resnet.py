"""The architecture a ResNet-space sample stands for, as a frozen value with JSON round trips.

``search_spaces.ResNetSpace`` chooses the block operator (for the whole network or per
stage) and the channel multiplier of a CIFAR ResNet-(6n+2); this value records those
choices so a run directory can store, report and rebuild them like a cell genotype::

    {"kind": "resnet", "depth": 20, "conv": "osep", "multiplier": 0.5}
    {"kind": "resnet", "depth": 20, "conv": ["conv", "osep", "blk"], "multiplier": 1.0,
     "op_params": {"s": 2, "t": 2}}
    {"kind": "resnet", "depth": 20, "conv": "osep", "multiplier": 3.625, "shortcut": "B"}

``"shortcut"`` ("A" or "B", ``nas_sepconv.models.resnet``) is written only when it is "B"; a
file without it (every file from before the key existed) reads as option A.

``"kind"`` tells it apart from a cell ``Genotype`` (``nas_sepconv.genotypes.architecture``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.genotypes.cell import JsonValue
from nas_sepconv.models.resnet import ResNet, build_resnet, count_resnet
from nas_sepconv.ops import Cost

KIND = "resnet"
_KEYS = {"kind", "depth", "conv", "multiplier", "op_params", "shortcut"}


@dataclass(frozen=True)
class ResNetGenotype(JsonValue):
    """CIFAR ResNet-``depth`` whose block convs are ``conv`` (one name, or one per stage),
    widths scaled by ``multiplier``; ``op_params`` go to every block op; ``shortcut`` "A" or
    "B". Validated at once."""

    depth: int
    conv: tuple[str, ...]
    multiplier: float
    op_params: tuple[tuple[str, Any], ...] = ()
    shortcut: str = "A"

    def __post_init__(self) -> None:
        conv = (self.conv,) if isinstance(self.conv, str) else tuple(self.conv)
        params = self.op_params.items() if isinstance(self.op_params, Mapping) else self.op_params
        object.__setattr__(self, "conv", conv)
        object.__setattr__(self, "op_params", tuple(sorted(params)))
        self.count(input_size=8)  # validates depth, ops, multiplier, shortcut and the op parameters

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.op_params)

    def resnet_kwargs(self) -> dict[str, Any]:
        """``build_resnet`` / ``count_resnet`` keyword arguments (``depth`` included)."""
        return {"depth": self.depth, "conv": self.conv[0] if len(self.conv) == 1 else list(self.conv),
                "multiplier": self.multiplier, "op_params": self.param_dict or None, "shortcut": self.shortcut}

    def build(self, *, num_classes: int = 10, in_channels: int = 3, normalize: Any = None) -> ResNet:
        """The network, a plain ``nn.Module`` (``build_resnet``; ``normalize`` as in ``build_model``)."""
        return build_resnet(**self.resnet_kwargs(), num_classes=num_classes, in_channels=in_channels,
                            normalize=normalize)

    def count(self, *, num_classes: int = 10, in_channels: int = 3, input_size: Any = 32) -> Cost:
        """Exact #params and FLOPs of ``build`` without building (``count_resnet``)."""
        return count_resnet(**self.resnet_kwargs(), num_classes=num_classes, in_channels=in_channels,
                            input_size=input_size)

    def describe(self) -> str:
        """One line, e.g. ``ResNet-20 osep x0.5`` or ``ResNet-20 conv/osep/blk x1 shortcut=B``."""
        params = "".join(f" {k}={v}" for k, v in self.op_params)
        shortcut = " shortcut=B" if self.shortcut == "B" else ""
        return f"ResNet-{self.depth} {'/'.join(self.conv)} x{self.multiplier:g}{params}{shortcut}"

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": KIND, "depth": self.depth,
                "conv": self.conv[0] if len(self.conv) == 1 else list(self.conv), "multiplier": self.multiplier}
        if self.op_params:
            data["op_params"] = self.param_dict
        return {**data, "shortcut": self.shortcut} if self.shortcut != "A" else data

    @classmethod
    def from_dict(cls, data: Any) -> ResNetGenotype:
        """Inverse of ``to_dict``; unknown or missing keys are refused."""
        if not isinstance(data, Mapping) or data.get("kind") != KIND:
            raise UserError(f"`genotype` must be a JSON object with \"kind\": \"{KIND}\", got {data!r}.")
        unknown, missing = sorted(set(data) - _KEYS), sorted({"depth", "conv", "multiplier"} - set(data))
        if unknown or missing:
            raise UserError(f"`genotype` keys must be {', '.join(sorted(_KEYS))} (op_params, shortcut optional); "
                            f"got unknown {unknown} and missing {missing}.")
        conv, op_params = data["conv"], data.get("op_params", {})
        if not isinstance(conv, (str, list)):
            raise UserError(f"`conv` must be an op name or a list of 3 op names, got {conv!r}.")
        if not isinstance(op_params, Mapping):
            raise UserError(f"`op_params` must be a JSON object, got {op_params!r}.")
        return cls(data["depth"], conv, data["multiplier"], tuple(op_params.items()), data.get("shortcut", "A"))
