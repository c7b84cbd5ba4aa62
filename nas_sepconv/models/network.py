"""Plain ``nn.Module`` networks from genotypes: DARTS's NetworkCIFAR / NetworkImageNet.

``build_model`` needs NNI neither to build nor to run the model. ``count`` gives the
exact #params (auxiliary head excluded, as DARTS counts) and FLOPs of the same network
from the genotype alone; tests check the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple, Tuple, Union

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import (
    MAX_CELLS,
    MAX_CHANNELS,
    MAX_PARAMS,
    check_at_most,
    check_choice,
    check_input_size,
    check_positive_float,
    check_positive_int,
)
from nas_sepconv.models.cell import Cell, cell_op_cost, cell_preprocessors_cost
from nas_sepconv.models.preprocessing import input_norm
from nas_sepconv.ops import Cost
from nas_sepconv.ops.baselines import out_size
from nas_sepconv.ops.cost import bn_cost, conv_cost
from nas_sepconv.ops.sym_padding import apply_symmetric_padding

STEMS = ("cifar", "imagenet", "digits")
DEFAULT_INPUT = {"cifar": 32, "imagenet": 224, "digits": 8}
DEFAULT_IN_CHANNELS = {"cifar": 3, "imagenet": 3, "digits": 1}
STEM_MULTIPLIER = 3


@dataclass(frozen=True)
class MacroPlan:
    """Validated macro settings of a network: what both building and counting need."""

    num_classes: int
    channels: int
    layers: int
    stem: str
    in_channels: int

    def reductions(self) -> tuple[int, int]:
        """Indices of the reduction cells: 1/3 and 2/3 of the depth (DARTS)."""
        return self.layers // 3, 2 * self.layers // 3


def plan_macro(genotype: Any, *, num_classes: int, channels: int | None, layers: int | None,
               stem: str, in_channels: int | None) -> MacroPlan:
    """Fill ``channels``/``layers`` from the genotype's macro settings and validate all."""
    check_choice("stem", stem, STEMS)
    channels = channels if channels is not None else genotype.channels
    layers = layers if layers is not None else genotype.layers
    if channels is None or layers is None:
        raise UserError("`channels` and `layers` must be given when the genotype does not set them, "
                        f"got channels={channels!r}, layers={layers!r}.")
    check_at_most("channels", check_positive_int("channels", channels), MAX_CHANNELS, "the size limit")
    check_at_most("layers", check_positive_int("layers", layers, minimum=3), MAX_CELLS, "the size limit")
    return MacroPlan(check_positive_int("num_classes", num_classes), channels, layers, stem,
                     check_positive_int("in_channels", in_channels if in_channels is not None
                                        else DEFAULT_IN_CHANNELS[stem]))


def _edges(genotype: Any, kind: str) -> tuple[list[tuple[str, dict, int]], list[int]]:
    edges = getattr(genotype, kind)
    return [(e.op, dict(e.params), e.input) for e in edges], list(getattr(genotype, f"{kind}_concat"))


class CellSpec(NamedTuple):
    """One cell of the network's layout: its kind, input and own channels, and reductions."""

    kind: str
    c_prev_prev: int
    c_prev: int
    channels: int
    reduction: bool
    reduction_prev: bool


class AllNodes:
    """Stands in for a genotype in ``cell_layout`` when every cell concatenates all its nodes
    (the un-frozen NNI space and the supernets)."""

    def __init__(self, num_nodes: int) -> None:
        self.normal_concat = self.reduce_concat = tuple(range(2, 2 + num_nodes))


def cell_layout(plan: MacroPlan, genotype: Any) -> Iterator[CellSpec]:
    """The cells of a DARTS network, in order: reductions at 1/3 and 2/3 of the depth double the
    channels; a cell's output has ``len(concat) * channels`` channels. One layout for the
    network, the NNI space and the supernets; ``genotype`` needs only the concat lists."""
    c = plan.channels
    c_pp = c_p = STEM_MULTIPLIER * c if plan.stem != "imagenet" else c
    reduction_prev = plan.stem == "imagenet"
    for i in range(plan.layers):
        reduction = i in plan.reductions()
        c = 2 * c if reduction else c
        kind = "reduce" if reduction else "normal"
        yield CellSpec(kind, c_pp, c_p, c, reduction, reduction_prev)
        reduction_prev = reduction
        c_pp, c_p = c_p, len(getattr(genotype, f"{kind}_concat")) * c


def build_stem(plan: MacroPlan) -> tuple[nn.Module, nn.Module | None]:
    """The stem: conv3x3 to 3C + BN (CIFAR/digits), or DARTS's two-part ImageNet stem."""
    c = plan.channels
    if plan.stem != "imagenet":
        c_stem = STEM_MULTIPLIER * c
        return nn.Sequential(nn.Conv2d(plan.in_channels, c_stem, 3, padding=1, bias=False),
                             nn.BatchNorm2d(c_stem)), None
    stem0 = nn.Sequential(nn.Conv2d(plan.in_channels, c // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(c // 2),
                          nn.ReLU(inplace=True), nn.Conv2d(c // 2, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c))
    stem1 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c))
    return stem0, stem1


def _stem_cost(plan: MacroPlan, hw: tuple[int, int]) -> tuple[Cost, tuple[int, int], tuple[int, int]]:
    """Cost of the stem and the sizes of (s0, s1) entering the first cell."""
    c = plan.channels
    if plan.stem != "imagenet":
        c_stem = STEM_MULTIPLIER * c
        return conv_cost(plan.in_channels, c_stem, (3, 3), hw) + bn_cost(c_stem), hw, hw
    h1 = out_size(hw, 2)
    h2 = out_size(h1, 2)
    h3 = out_size(h2, 2)
    cost = (conv_cost(plan.in_channels, c // 2, (3, 3), h1) + bn_cost(c // 2) + conv_cost(c // 2, c, (3, 3), h2)
            + bn_cost(c) + conv_cost(c, c, (3, 3), h3) + bn_cost(c))
    return cost, h2, h3


class AuxiliaryHead(nn.Module):
    """DARTS's auxiliary classifier on the 2/3-depth features (pools adaptively to 2x2)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(2), nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128), nn.ReLU(inplace=True), nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class Network(nn.Module):
    """DARTS evaluation network: stem, cells (reductions at 1/3 and 2/3), pool, classifier.

    ``forward`` returns logits, or ``(logits, aux_logits)`` in training with an auxiliary head.
    Set ``drop_path_prob`` (an attribute, as DARTS schedules it) to use drop path.
    """

    def __init__(self, genotype: Any, plan: MacroPlan, *, auxiliary: bool = False, drop_path: float = 0.0,
                 normalize: Any = None) -> None:
        super().__init__()
        self.drop_path_prob = drop_path
        self.input_norm = input_norm(normalize)
        self.stem0, self.stem1 = build_stem(plan)
        self.cells = nn.ModuleList()
        c_aux = None
        for i, (kind, c_pp, c_p, c, red, red_prev) in enumerate(cell_layout(plan, genotype)):
            edges, concat = _edges(genotype, kind)
            self.cells.append(Cell(edges, concat, c_pp, c_p, c, red, red_prev))
            if i == plan.reductions()[1]:
                c_aux = len(concat) * c
        self.aux_index = plan.reductions()[1]
        self.auxiliary_head = AuxiliaryHead(c_aux, plan.num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(len(concat) * c, plan.num_classes)

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        s0 = self.stem0(self.input_norm(x))
        s1 = s0 if self.stem1 is None else self.stem1(s0)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


def build_model(genotype: Any, *, num_classes: int = 10, channels: int | None = None, layers: int | None = None,
                auxiliary: bool = False, drop_path: float = 0.0, stem: str = "cifar",
                in_channels: int | None = None, normalize: Any = None) -> Network:
    """A ready ``nn.Module`` for ``genotype`` (NetworkCIFAR for stem 'cifar'/'digits',
    NetworkImageNet for 'imagenet'); ``channels``/``layers`` default to the genotype's.
    ``normalize`` (a ``Preprocessing`` or the dict ``train`` saves in ``preprocessing.json``)
    builds the input normalisation in, so the model takes raw images; weights load either way.
    Even-sized depth-wise convs (XSepConv's 2x2) get the network-wide symmetric padding
    plan of the XSepConv paper (Section 3.2), in forward order."""
    if drop_path:
        check_positive_float("drop_path", drop_path)
        if drop_path >= 1:
            raise UserError(f"`drop_path` must be in [0, 1), got {drop_path!r}.")
    plan = plan_macro(genotype, num_classes=num_classes, channels=channels, layers=layers, stem=stem,
                      in_channels=in_channels)
    params = count(genotype, num_classes=num_classes, channels=plan.channels, layers=plan.layers, stem=stem,
                   in_channels=plan.in_channels).params
    check_at_most("#params", params, MAX_PARAMS, f"the size limit: {4 * MAX_PARAMS / 1e9:g} GB of float32 "
                  "weights; lower `channels` or `layers`")
    model = Network(genotype, plan, auxiliary=auxiliary, drop_path=drop_path, normalize=normalize)
    apply_symmetric_padding(model)
    return model


def count(genotype: Any, *, num_classes: int = 10, channels: int | None = None, layers: int | None = None,
          stem: str = "cifar", in_channels: int | None = None, input_size: Any = None) -> Cost:
    """Exact #params (auxiliary head excluded) and FLOPs of ``build_model(genotype, ...)``
    for inputs of ``input_size`` (default: 32 cifar, 224 imagenet, 8 digits), without building."""
    plan = plan_macro(genotype, num_classes=num_classes, channels=channels, layers=layers, stem=stem,
                      in_channels=in_channels)
    hw = check_input_size("input_size", input_size if input_size is not None else DEFAULT_INPUT[stem])
    total, cells = frame_cost(plan, genotype, hw)
    for kind, c, reduction, size in cells:
        for name, params, index in _edges(genotype, kind)[0]:
            total = total + edge_cost(name, params, index, c, reduction, size)
    return total


def frame_cost(plan: MacroPlan, genotype: Any, hw: tuple[int, int]) -> tuple[Cost, list[tuple[str, int, bool,
                                                                                              tuple[int, int]]]]:
    """The cost of a network but its cell edges (stem, cell preprocessors, classifier), and each
    cell's ``(kind, channels, reduction, size of s1)``: ``count`` is this plus :func:`edge_cost`
    of every edge of every cell. ``genotype`` needs only the concat lists (``AllNodes`` will do)."""
    total, _, size = _stem_cost(plan, hw)
    cells = []
    c_last = 0
    for kind, c_pp, c_p, c, red, red_prev in cell_layout(plan, genotype):
        total = total + cell_preprocessors_cost(c_pp, c_p, c, red_prev, size)
        cells.append((kind, c, red, size))
        size = out_size(size, 2) if red else size
        c_last = len(getattr(genotype, f"{kind}_concat")) * c
    return total + Cost(c_last * plan.num_classes + plan.num_classes, c_last * plan.num_classes), cells


def edge_cost(name: str, params: Any, index: int, channels: int, reduction: bool, size: tuple[int, int]) -> Cost:
    """Exact cost of one cell edge (op ``name`` with ``params`` reading node ``index``) in a cell of
    ``channels`` whose s1 is ``size``: edges from the inputs of a reduction cell have stride 2."""
    if index < 2:
        return cell_op_cost(name, channels, 2 if reduction else 1, size, params)
    return cell_op_cost(name, channels, 1, out_size(size, 2) if reduction else size, params)
