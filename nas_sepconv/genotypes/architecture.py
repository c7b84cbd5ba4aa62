"""An architecture a run can hold: a cell ``Genotype``, a ``ResNetGenotype`` or a ``MobileNetGenotype``.

Run directories, reports and the command line store and show either kind the same way;
this module tells them apart (a ResNet genotype's JSON has ``"kind": "resnet"``) and gives
the one-line text a report lists and the model a trial trains.
"""
from __future__ import annotations

from typing import Any, Mapping, Union

from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.genotypes.cell import CELLS, Genotype, json_loads
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.genotypes.resnet import ResNetGenotype
from nas_sepconv.models.network import build_model, count
from nas_sepconv.ops import Cost

Architecture = Union[Genotype, ResNetGenotype, MobileNetGenotype]
Backbone = Union[ResNetGenotype, MobileNetGenotype]
#: Backbone genotypes by their JSON ``"kind"``.
BACKBONES = {"resnet": ResNetGenotype, "mobilenet": MobileNetGenotype}
ARCHITECTURES = (Genotype, *BACKBONES.values())


def is_architecture(value: Any) -> bool:
    return isinstance(value, ARCHITECTURES)


def architecture_from_dict(data: Any) -> Architecture:
    """The genotype of a JSON object: ``ResNetGenotype`` when ``"kind": "resnet"``, else a cell one."""
    if isinstance(data, Mapping) and data.get("kind") in BACKBONES:
        return BACKBONES[data["kind"]].from_dict(data)
    return Genotype.from_dict(data)


def architecture_from_json(text: str) -> Architecture:
    return architecture_from_dict(json_loads(text))


def architecture_text(arch: Architecture) -> str:
    """One line for reports: ``ResNet-20 osep x0.5``, or both cells as ``op[params]<-input``
    per edge followed by the concat nodes."""
    if is_backbone(arch):
        return arch.describe()
    cells = []
    for cell in CELLS:
        edges = []
        for edge in getattr(arch, cell):
            params = ",".join(f"{k}={v}" for k, v in edge.params)
            edges.append(f"{edge.op}{f'[{params}]' if params else ''}<-{edge.input}")
        concat = ",".join(str(n) for n in getattr(arch, f"{cell}_concat"))
        cells.append(f"{cell}: {' '.join(edges)} | concat {concat}")
    return "; ".join(cells)


def is_backbone(value: Any) -> bool:
    """True for a ResNet or MobileNet genotype (a whole network, no cell macro settings)."""
    return isinstance(value, tuple(BACKBONES.values()))


def _check_backbone_network(arch: Backbone, network: Mapping[str, Any]) -> None:
    unused = sorted(name for name, value in network.items() if value)
    if unused:
        kind = "ResNet" if isinstance(arch, ResNetGenotype) else "MobileNet"
        raise UserError(f"cell network settings {unused} do not apply to a {kind} genotype ({arch.describe()}).")


def _stem_kwargs(arch: Backbone, stem: str) -> dict[str, Any]:
    """A MobileNet takes the data's stem (its early strides); a CIFAR ResNet has one stem for all data."""
    return {"stem": stem} if isinstance(arch, MobileNetGenotype) else {}


def build_architecture(arch: Architecture, *, num_classes: int, in_channels: int, stem: str,
                       normalize: Any = None, **network: Any) -> nn.Module:
    """The model of ``arch``: ``build_model`` for a cell genotype (``network``: channels,
    layers, auxiliary, drop_path), the genotype's own ``build`` for a ResNet or MobileNet one
    (which has none of those: setting one is an error, leaving it None or 0 is not; a
    MobileNet takes ``stem``)."""
    if is_backbone(arch):
        _check_backbone_network(arch, network)
        return arch.build(num_classes=num_classes, in_channels=in_channels, normalize=normalize,
                          **_stem_kwargs(arch, stem))

    return build_model(arch, num_classes=num_classes, stem=stem, in_channels=in_channels, normalize=normalize,
                       **network)


def count_architecture(arch: Architecture, *, num_classes: int, in_channels: int, stem: str, input_size: Any,
                       **network: Any) -> Cost:
    """Exact #params and FLOPs of ``build_architecture(arch, ...)`` without building it
    (``network``: channels, layers for a cell genotype; none for a ResNet or MobileNet one)."""
    if is_backbone(arch):
        _check_backbone_network(arch, network)
        return arch.count(num_classes=num_classes, in_channels=in_channels, input_size=input_size,
                          **_stem_kwargs(arch, stem))

    return count(arch, num_classes=num_classes, stem=stem, in_channels=in_channels, input_size=input_size,
                 **network)


def count_activations(arch: Architecture, *, num_classes: int, in_channels: int, stem: str, input_size: Any,
                      **network: Any) -> int:
    """Forward-activation elements per image of ``build_architecture(arch, ...)``, counted without
    building it (``nas_sepconv.models.activations`` says which tensors; ``network`` as ``count_architecture``)."""
    from nas_sepconv.models import activations
    from nas_sepconv.models.mobilenet_plan import plan_mobilenet
    from nas_sepconv.models.resnet import plan_resnet

    if isinstance(arch, ResNetGenotype):
        _check_backbone_network(arch, network)
        kwargs = arch.resnet_kwargs()
        plan = plan_resnet(kwargs.pop("depth"), kwargs.pop("conv"), kwargs.pop("multiplier"), num_classes,
                           in_channels, kwargs.pop("op_params"), **kwargs)
        return activations.resnet_activations(plan, input_size)
    if isinstance(arch, MobileNetGenotype):
        _check_backbone_network(arch, network)
        plan = plan_mobilenet(arch.version, **arch.kwargs(), num_classes=num_classes, in_channels=in_channels,
                              stem=stem)
        return activations.mobilenet_activations(plan, input_size)
    return activations.network_activations(arch, num_classes=num_classes, stem=stem, in_channels=in_channels,
                                           input_size=input_size, **network)


def architecture_ops(arch: Architecture) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """Every op the architecture uses, once per edge (cell genotype: both cells' edges) or per
    residual block (ResNet: ``(depth - 2) / 6`` blocks per stage; MobileNet: one per block), as
    (registry name, op params)."""
    if isinstance(arch, MobileNetGenotype):
        from nas_sepconv.models.mobilenet_plan import op_name

        return tuple((op_name(b.op, b.kernel), b.params) for b in arch.blocks)
    if isinstance(arch, ResNetGenotype):
        from nas_sepconv.models.resnet import resolve_conv

        blocks = (arch.depth - 2) // 6
        stages = arch.conv if len(arch.conv) > 1 else arch.conv * 3
        return tuple((resolve_conv(conv), arch.op_params) for conv in stages for _ in range(blocks))
    return tuple((edge.op, edge.params) for cell in CELLS for edge in getattr(arch, cell))


def architecture_labels(arch: Architecture) -> dict[str, Any]:
    """The search labels of ``arch`` and their values: the NNI sample of a cell genotype (op and
    input per edge, each op internal), the conv per stage, multiplier, shortcut and op params of a ResNet,
    the op x kernel, expansion and op params per block and the width of a MobileNet."""
    if isinstance(arch, MobileNetGenotype):
        labels = {}
        for i, b in enumerate(arch.blocks):
            labels[f"op_b{i}"] = f"{b.op}{b.kernel}"
            if b.expansion is not None:
                labels[f"expansion_b{i}"] = b.expansion
            labels.update({f"{b.op}_{k}_b{i}": v for k, v in b.params})
        return {**labels, "width": arch.width}
    if isinstance(arch, ResNetGenotype):
        stages = arch.conv if len(arch.conv) > 1 else arch.conv * 3
        labels: dict[str, Any] = {f"conv_stage{i + 1}": conv for i, conv in enumerate(stages)}
        return {**labels, "multiplier": arch.multiplier, "shortcut": arch.shortcut,
                **{f"op/{k}": v for k, v in arch.op_params}}
    return {key: value[0] if isinstance(value, list) and len(value) == 1 else value
            for key, value in arch.to_sample().items()}
