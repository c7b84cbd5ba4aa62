"""MobileNetV1, V2 and V3 (Small, Large) whose blocks' spatial op is any registered operator.

The host networks of the three papers: o-MobileNet (osep paper, Table 5: osep replaces V1's
dw+pw pairs), BlkNet-sitj (BlkSConv paper, Table 10 and Fig. 3: BlkSConv replaces V2's
dw + linear projection) and XSepConv-MobileNetV3-Small (XSepConv paper, Section 4: XSepConv
replaces the stride-1 5x5 depth-wise convs). Each is one configuration
(``mobilenet_presets``). Block tables and stems: ``mobilenet_table``; block layout and exact
costs: ``mobilenet_plan``. Even-sized depth-wise convs (XSepConv's 2x2) get the network-wide
symmetric padding plan of the XSepConv paper (Section 3.2), in forward order.

Initialisation as torchvision's MobileNets: convs Kaiming-normal (fan-out), BN weight 1 and
bias 0, linear layers normal(0, 0.01) with zero bias.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from nas_sepconv.core.validation import check_input_size
from nas_sepconv.models.mobilenet_plan import BlockSpec, MobileNetPlan, plan_mobilenet
from nas_sepconv.models.mobilenet_table import DEFAULT_INPUT
from nas_sepconv.models.preprocessing import input_norm
from nas_sepconv.ops import Cost, create_op
from nas_sepconv.ops.sym_padding import apply_symmetric_padding

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": lambda: nn.ReLU(inplace=True),
                                                   "relu6": lambda: nn.ReLU6(inplace=True),
                                                   "hswish": lambda: nn.Hardswish(inplace=True)}
DROPOUT = 0.2

#: Builds the op of one block: ``make_op(block, c_in, c_out)`` (the stride is ``block.stride``).
OpFactory = Callable[[BlockSpec, int, int], nn.Module]


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int, act: str | None) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, ACTIVATIONS[act]()) if act else nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """MobileNetV3's SE: global pool, 1x1 conv (bias) + ReLU, 1x1 conv (bias) + hard sigmoid, scale."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = nn.functional.adaptive_avg_pool2d(x, 1)
        scale = nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(scale))))
        return x * scale


def op_segment(spec: BlockSpec, op: nn.Module) -> nn.Sequential:
    """The part of a block that a choice of op replaces: ``expanded -> c_out`` channels.

    Spatial op: op, [BN, act], [SE], projection 1x1 + BN (V1: + act). Pair op: [SE], op, BN
    (V1: + act). Every candidate has the same input and output shapes.
    """
    layers: list[nn.Module] = []
    out_act = [ACTIVATIONS[spec.act]()] if spec.v1 else []
    if spec.role == "pair":
        if spec.se:
            layers.append(SqueezeExcitation(spec.expanded, spec.squeeze))
        return nn.Sequential(*layers, op, nn.BatchNorm2d(spec.c_out), *out_act)
    layers.append(op)
    if not spec.has_bn:
        layers += [nn.BatchNorm2d(spec.expanded), ACTIVATIONS[spec.act]()]
    if spec.se:
        layers.append(SqueezeExcitation(spec.expanded, spec.squeeze))
    return nn.Sequential(*layers, nn.Conv2d(spec.expanded, spec.c_out, 1, bias=False),
                         nn.BatchNorm2d(spec.c_out), *out_act)


class Block(nn.Module):
    """One MobileNet block: [expand 1x1 + BN + act], the op segment, residual when shapes allow."""

    def __init__(self, spec: BlockSpec, segment: nn.Module) -> None:
        super().__init__()
        self.residual = spec.residual
        self.expand = conv_bn(spec.c_in, spec.expanded, 1, 1, spec.act) if spec.expanded != spec.c_in else None
        self.segment = segment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.segment(self.expand(x) if self.expand is not None else x)
        return x + y if self.residual else y


def default_segment(spec: BlockSpec) -> nn.Module:
    """The op segment of ``spec`` with its op from the registry."""
    c_out = spec.c_out if spec.role == "pair" else spec.expanded
    return op_segment(spec, create_op(spec.name, spec.expanded, c_out, spec.stride, **spec.params))


class MobileNet(nn.Module):
    """A MobileNet built from a ``MobileNetPlan``; ``make_segment(spec)`` builds each op segment
    (the NNI space puts a ``LayerChoice`` there), by default ``default_segment``."""

    def __init__(self, plan: MobileNetPlan, make_segment: Callable[[BlockSpec], nn.Module] | None = None,
                 normalize: Any = None) -> None:
        super().__init__()
        self.plan = plan
        self.input_norm = input_norm(normalize)
        make_segment = make_segment or default_segment
        self.stem = conv_bn(plan.in_channels, plan.stem_width, 3, plan.stem_stride, plan.table.stem_act)
        # Block shapes do not depend on the input size; any size gives the same modules.
        specs = list(plan.specs((224, 224)))
        self.blocks = nn.Sequential(*(Block(s, make_segment(s)) for s in specs))
        c_last = specs[-1].c_out
        last_conv, hidden = plan.head_widths(c_last)
        self.last_conv = None
        if last_conv is not None:
            self.last_conv = conv_bn(c_last, last_conv, 1, 1, "relu6" if plan.version == "v2" else "hswish")
            c_last = last_conv
        head: list[nn.Module] = []
        if hidden is not None:
            head += [nn.Linear(c_last, hidden), nn.Hardswish(inplace=True), nn.Dropout(DROPOUT)]
            c_last = hidden
        elif plan.version == "v2":
            head.append(nn.Dropout(DROPOUT))
        self.classifier = nn.Sequential(*head, nn.Linear(c_last, plan.num_classes))
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.input_norm(x)))
        if self.last_conv is not None:
            x = self.last_conv(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def plan_padding(model: nn.Module) -> dict[str, str]:
    """XSepConv's improved symmetric padding over the network's even-sized depth-wise convs,
    in forward order (module registration order here). One place to switch planners."""
    return apply_symmetric_padding(model)


def build_mobilenet(version: str, *, normalize: Any = None, **kwargs: Any) -> MobileNet:
    """MobileNet ``version`` ("v1", "v2", "v3-small", "v3-large"); ``kwargs`` as ``plan_mobilenet``:
    ``width``, ``stem`` ("imagenet", "cifar", "digits"), ``num_classes``, ``in_channels`` and
    ``blocks`` or the shorthand ``ops``, ``kernels``, ``expansions``, ``op_params``; ``normalize``
    builds the input normalisation in, as in ``build_model``."""
    model = MobileNet(plan_mobilenet(version, **kwargs), normalize=normalize)
    plan_padding(model)
    return model


def count_mobilenet(version: str, *, input_size: Any = None, **kwargs: Any) -> Cost:
    """Exact params and FLOPs of ``build_mobilenet(version, **kwargs)`` on an ``input_size`` image
    (default: the stem's, 224 / 32 / 8), without building it."""
    plan = plan_mobilenet(version, **kwargs)
    size = DEFAULT_INPUT[plan.stem] if input_size is None else input_size
    return plan.cost(check_input_size("input_size", size))
