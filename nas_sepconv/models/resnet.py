"""CIFAR ResNet-(6n+2) whose 3x3 convolutions are any registered operator.

The backbone of the osep paper's Section 4 (He et al. 2016, CIFAR variant): a 3x3 stem
conv + BN + ReLU, three stages of n BasicBlocks at widths 16/32/64 (times a channel
multiplier), global average pooling and a linear classifier. A BasicBlock is
``op3x3 -> BN -> ReLU -> op3x3 -> BN``, plus the shortcut, then ReLU. The osep
paper's prefixes (dw-, d-, s-, o-, so-ResNet) replace the block convolutions by another
operator and scale the widths by a channel multiplier (Table D.6).

Shortcuts (He et al. 2016, Section 4.1 / 3.3): ``"A"`` (default) is parameter-free, stride
subsampling and zero-padded new channels; ``"B"`` is a 1x1 conv (carrying the stride) + BN
projection where the shape changes (the first block of stages 2 and 3), identity elsewhere.
The osep paper's plain and d-ResNet rows of Table D.6 fit option A; its o-ResNet rows and
every row of Table E.7 fit option B (``results/reference/resnet_counts.md``).

Configurations (``config``): ``"cifar"`` as above; ``"imagenet40"`` is the osep paper's
Appendix E network: channel sizes 4x (base width 64, the multiplier on top of it), features
on scales [16, 8, 4] for the 32x32 crops of the 40x40 images (a stride-2 stem), and 1000
classes by default.

Choices, fixed here for every operator alike:
- The stem stays a plain 3x3 conv: the paper only names the block convolutions as
  replaced, and a separable stem on 3 input channels saves almost nothing.
- Widths: the stem width is ``w = floor(16 * multiplier + 0.5)`` (round half up, at least
  1) and the stages use ``w, 2w, 4w``, so the doubling of the base network is exact,
  option A pads exactly as in ResNet and a depth-wise op (C_out a multiple of C_in) works.
- The block's two BNs stay for every operator, including XSepConv, which carries its own
  BN + ReLU: the block is then identical whatever the operator, and the BN costs 2C. An
  xsep block holds 8 BNs in series (3 per XSepConv, 1 after each op); XSepConv's own init
  (``ops/xsep_init.py``) is what lets that train. A block conv is a full 3x3 conv, so the
  short name ``xsep`` is XSepConv + pointwise (``xsep_pw_3x3``, as dsep = dw + pw).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import (
    MAX_RESNET_DEPTH,
    check_at_most,
    check_choice,
    check_input_size,
    check_positive_float,
    check_positive_int,
)
from nas_sepconv.models.preprocessing import input_norm
from nas_sepconv.ops import OPS, Cost, conv_aliases, create_op, op_cost
from nas_sepconv.ops.cost import bn_cost, conv_cost
from nas_sepconv.ops.sym_padding import apply_symmetric_padding

Size = tuple[int, int]

BASE_WIDTH = 16
STAGES = 3
SHORTCUTS = ("A", "B")


@dataclass(frozen=True)
class Backbone:
    """A named configuration: stage-1 width at multiplier 1, stem stride, default #classes."""

    base_width: int
    stem_stride: int
    num_classes: int


CONFIGS: dict[str, Backbone] = {"cifar": Backbone(BASE_WIDTH, 1, 10), "imagenet40": Backbone(4 * BASE_WIDTH, 2, 1000)}


def resolve_conv(conv: Any) -> str:
    """Registry name for ``conv``: a backbone short name (the registry's ``alias``) or any op name."""
    aliases = conv_aliases()
    name = aliases.get(conv, conv) if isinstance(conv, str) else conv
    if not isinstance(name, str) or name not in OPS:
        known = sorted(set(aliases) | set(OPS))
        raise UserError(f"`conv` must be one of {', '.join(known)}, got {conv!r}.")
    return name


def stage_widths(multiplier: float, base_width: int = BASE_WIDTH) -> tuple[int, int, int]:
    """Stage widths ``(w, 2w, 4w)`` with ``w = floor(base_width * multiplier + 0.5)``, at least 1."""
    m = check_positive_float("multiplier", multiplier)
    w = max(1, math.floor(base_width * m + 0.5))
    return w, 2 * w, 4 * w


@dataclass(frozen=True)
class BlockSpec:
    """One BasicBlock: op name, channels, stride, its input size and its stage (0-based)."""

    op: str
    c_in: int
    c_out: int
    stride: int
    in_size: Size
    stage: int

    @property
    def out_size(self) -> Size:
        return _strided(self.in_size, self.stride)

    @property
    def reshapes(self) -> bool:
        """True where the shortcut cannot be the identity (stride 2 or new channels)."""
        return self.stride != 1 or self.c_in != self.c_out


def _strided(hw: Size, stride: int) -> Size:
    return (hw[0] - 1) // stride + 1, (hw[1] - 1) // stride + 1


@dataclass(frozen=True)
class ResNetPlan:
    """A validated ResNet configuration: shared by ``build_resnet`` and ``count_resnet``."""

    depth: int
    ops: tuple[str, str, str]
    widths: tuple[int, int, int]
    num_classes: int
    in_channels: int
    op_params: Mapping[str, Any]
    shortcut: str = "A"
    stem_stride: int = 1

    @property
    def blocks_per_stage(self) -> int:
        return (self.depth - 2) // 6

    def blocks(self, input_size: Size) -> Iterator[BlockSpec]:
        """Every block in forward order; the first block of stages 2 and 3 has stride 2."""
        c_in, hw = self.widths[0], _strided(input_size, self.stem_stride)
        for stage, (op, width) in enumerate(zip(self.ops, self.widths)):
            for i in range(self.blocks_per_stage):
                spec = BlockSpec(op, c_in, width, 2 if stage and not i else 1, hw, stage)
                yield spec
                c_in, hw = width, spec.out_size

    def cost(self, input_size: Size) -> Cost:
        """Exact params and conv/linear multiply-adds, from the op registry's analytic costs."""
        w0, feat = self.widths[0], self.widths[-1]
        total = conv_cost(self.in_channels, w0, (3, 3), _strided(input_size, self.stem_stride)) + bn_cost(w0)
        for b in self.blocks(input_size):
            total += op_cost(b.op, b.c_in, b.c_out, b.stride, input_size=b.in_size, **self.op_params)
            total += op_cost(b.op, b.c_out, b.c_out, 1, input_size=b.out_size, **self.op_params)
            total += bn_cost(b.c_out) * 2
            if self.shortcut == "B" and b.reshapes:
                total += conv_cost(b.c_in, b.c_out, (1, 1), b.out_size) + bn_cost(b.c_out)
        return total + Cost(feat * self.num_classes + self.num_classes, feat * self.num_classes)


def plan_resnet(depth: int, conv: str | Sequence[str], multiplier: float, num_classes: int | None,
                in_channels: int, op_params: Mapping[str, Any] | None, *, shortcut: str = "A",
                config: str = "cifar") -> ResNetPlan:
    """Validate the arguments; ``conv`` is one name for all stages or one name per stage;
    ``num_classes`` None takes the configuration's."""
    d = check_at_most("depth", check_positive_int("depth", depth, minimum=8), MAX_RESNET_DEPTH, "the size limit")
    if (d - 2) % 6:
        raise UserError(f"`depth` must be 6n+2 with n >= 1 (20, 32, 56, 110, ...), got {depth!r}.")
    names = [conv] * STAGES if isinstance(conv, str) else conv
    if not isinstance(names, (list, tuple)) or len(names) != STAGES:
        raise UserError(f"`conv` must be an op name or a list of {STAGES} op names (one per stage), got {conv!r}.")
    if op_params is not None and not isinstance(op_params, Mapping):
        raise UserError(f"`op_params` must be a mapping of op keyword arguments or None, got {op_params!r}.")
    backbone = CONFIGS[check_choice("config", config, tuple(CONFIGS))]
    classes = backbone.num_classes if num_classes is None else check_positive_int("num_classes", num_classes)
    return ResNetPlan(d, tuple(resolve_conv(c) for c in names), stage_widths(multiplier, backbone.base_width),
                      classes, check_positive_int("in_channels", in_channels), dict(op_params or {}),
                      check_choice("shortcut", shortcut, SHORTCUTS), backbone.stem_stride)


class ShortcutA(nn.Module):
    """Option A shortcut of He et al.: stride subsampling, new channels zero-padded on both sides."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride, self.pad = stride, ((c_out - c_in) // 2, c_out - c_in - (c_out - c_in) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, *self.pad)) if any(self.pad) else x


class ShortcutB(nn.Sequential):
    """Option B projection shortcut of He et al.: 1x1 conv (stride) + BN, used where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


def make_shortcut(kind: str, spec: BlockSpec) -> nn.Module:
    """The block's shortcut: option A everywhere, or option B where the block reshapes."""
    if kind == "B" and spec.reshapes:
        return ShortcutB(spec.c_in, spec.c_out, spec.stride)
    return ShortcutA(spec.c_in, spec.c_out, spec.stride)


#: Builds one block op: ``make_op(block, c_in, c_out, stride)``.
OpFactory = Callable[[BlockSpec, int, int, int], nn.Module]


class BasicBlock(nn.Module):
    """``op -> BN -> ReLU -> op -> BN``, plus the shortcut (option A or B), then ReLU."""

    def __init__(self, spec: BlockSpec, make_op: OpFactory, shortcut: str = "A") -> None:
        super().__init__()
        self.conv1 = make_op(spec, spec.c_in, spec.c_out, spec.stride)
        self.bn1 = nn.BatchNorm2d(spec.c_out)
        self.conv2 = make_op(spec, spec.c_out, spec.c_out, 1)
        self.bn2 = nn.BatchNorm2d(spec.c_out)
        self.shortcut = make_shortcut(shortcut, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR ResNet built from a ``ResNetPlan`` (see the module docstring).

    Every plain ``nn.Conv2d`` gets He et al.'s Kaiming-normal (fan-out) init; BN, linear and
    conv subclasses with an init of their own (XSepConv's non-negative depth-wise kernels)
    keep theirs. ``reset_parameters`` re-draws the same way (a search trial calls it).
    ``make_op`` replaces the registry lookup of the block ops (the NNI space puts a
    ``LayerChoice`` there); by default ``create_op(block.op, ..., **plan.op_params)``.
    """

    def __init__(self, plan: ResNetPlan, make_op: OpFactory | None = None, normalize: Any = None) -> None:
        super().__init__()
        self.plan = plan
        self.input_norm = input_norm(normalize)
        if make_op is None:
            def make_op(block: BlockSpec, c_in: int, c_out: int, stride: int) -> nn.Module:
                return create_op(block.op, c_in, c_out, stride, **plan.op_params)
        w0 = plan.widths[0]
        self.stem = nn.Sequential(nn.Conv2d(plan.in_channels, w0, 3, plan.stem_stride, 1, bias=False),
                                  nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        # Block shapes do not depend on the input size; any size gives the same modules.
        self.blocks = nn.Sequential(*(BasicBlock(b, make_op, plan.shortcut) for b in plan.blocks((1, 1))))
        self.classifier = nn.Linear(plan.widths[-1], plan.num_classes)
        self._init_convs()

    def _init_convs(self) -> None:
        for m in self.modules():
            if type(m) is nn.Conv2d:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def reset_parameters(self) -> None:
        """Re-draw every weight as at construction (each layer's own init, then the Kaiming convs)."""
        for m in self.modules():
            if m is not self and callable(getattr(m, "reset_parameters", None)):
                m.reset_parameters()
        self._init_convs()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.input_norm(x)))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build_resnet(depth: int, *, conv: str | Sequence[str] = "conv", multiplier: float = 1.0,
                 num_classes: int | None = None, in_channels: int = 3,
                 op_params: Mapping[str, Any] | None = None, shortcut: str = "A", config: str = "cifar",
                 normalize: Any = None) -> ResNet:
    """CIFAR ResNet-``depth`` whose block 3x3 convs are op ``conv`` (or one op per stage);
    ``normalize`` builds the input normalisation in, as in ``build_model``.

    ``op_params`` are keyword arguments passed to every block op (e.g. ``{"s": 2, "t": 2}``
    for blk). ``shortcut`` "A" or "B" and ``config`` "cifar" or "imagenet40" as in the module
    docstring; ``num_classes`` defaults to the configuration's (10 or 1000). Even-sized
    depth-wise convs (XSepConv's 2x2) get the network-wide symmetric padding plan of the
    XSepConv paper (Section 3.2).
    """
    model = ResNet(plan_resnet(depth, conv, multiplier, num_classes, in_channels, op_params,
                               shortcut=shortcut, config=config), normalize=normalize)
    apply_symmetric_padding(model)
    return model


def count_resnet(depth: int, *, conv: str | Sequence[str] = "conv", multiplier: float = 1.0,
                 num_classes: int | None = None, in_channels: int = 3, input_size: int | Size = 32,
                 op_params: Mapping[str, Any] | None = None, shortcut: str = "A", config: str = "cifar") -> Cost:
    """Exact params and FLOPs of ``build_resnet(...)`` on an ``input_size`` image, without building it
    (ImageNet40 feeds 32x32 crops, so ``input_size`` 32 serves both configurations)."""
    plan = plan_resnet(depth, conv, multiplier, num_classes, in_channels, op_params, shortcut=shortcut,
                       config=config)
    return plan.cost(check_input_size("input_size", input_size))
