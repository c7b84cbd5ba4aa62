"""DARTS-style cell search space (an NNI ``ModelSpace``) with searchable op internals.

Labels follow NNI's DARTS space (``nni.nas.hub.pytorch.nasnet``): ``normal/op_2_0`` picks
the op of edge 0 of node 2, ``normal/input_2_0`` its input; all cells of a type share them.
An op with a registry ``space`` adds one categorical per internal on every edge, labelled
``{cell}/op_{node}_{j}/{op}/{param}`` (e.g. ``normal/op_2_0/osep_3x3/N``). ``width`` and
``depth`` are optional macro choices, as in NNI's NDS.

Un-frozen, the space is a supernet of NNI ``Cell``s that NNI's one-shot strategies mutate.
Frozen (``freeze(sample)``, or an NNI trial re-creating it under ``model_context``), it
holds exactly ``nas_sepconv.build_model(genotype)``, the network users import later.
"""
from __future__ import annotations

import dataclasses
import itertools
from functools import partial
from typing import Any, Callable, Sequence

import nni
import torch
from nni.mutable import ensure_frozen
from nni.mutable.utils import label_scope
from nni.nas.nn.pytorch import Cell, ModelSpace
from nni.nas.space import current_model, model_context
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.genotypes.edge import Edge
from nas_sepconv.models.cell import cell_op, cell_op_cost, cell_preprocessors
from nas_sepconv.models.network import (
    DEFAULT_IN_CHANNELS,
    DEFAULT_INPUT,
    STEMS,
    AllNodes,
    build_model,
    build_stem,
    cell_layout,
    count,
    edge_cost,
    frame_cost,
    plan_macro,
)
from nas_sepconv.ops import OP_SETS, Cost, get_op, op_cost, op_set
from nas_sepconv.ops.cost import ZERO
from nas_sepconv.ops.registry import Internals, check_internals, internal_choices
from nas_sepconv.ops.sym_padding import apply_symmetric_padding


class _Preprocessor(nn.Module):
    """Aligns the two cell inputs to ``channels`` (FactorizedReduce after a reduction)."""

    def __init__(self, c_pp: int, c_p: int, channels: int, reduction_prev: bool) -> None:
        super().__init__()
        self.pre0, self.pre1 = cell_preprocessors(c_pp, c_p, channels, reduction_prev)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.pre0(inputs[0]), self.pre1(inputs[1])]


class _Postprocessor(nn.Module):
    def forward(self, this_cell: torch.Tensor, previous: list[torch.Tensor]) -> list[torch.Tensor]:
        return [previous[-1], this_cell]


def _macro(label: str, value: int | Sequence[int], space: ModelSpace) -> int:
    """A fixed int, or an NNI choice (frozen from the current sample or its default)."""
    if isinstance(value, int):
        return check_positive_int(label, value)
    values = [check_positive_int(label, v) for v in value]
    return ensure_frozen(space.add_mutable(nni.choice(label, values)))


class SepConvDartsSpace(ModelSpace):
    """DARTS cell space over any registered ops, DARTS's and the new separable families.

    Keyword-only arguments: ``op_candidates`` (registry names, or an op set of the registry:
    ``darts``, ``new`` or ``all``, the default), ``width`` (initial channels C,
    an int or a list to search), ``num_cells`` (depth, int or list), ``stem``
    ('cifar', 'digits' or 'imagenet'), ``num_classes``, ``in_channels`` (default from the stem),
    ``num_nodes`` (intermediate nodes per cell), ``search_internals`` (add the op-internal
    choices; off gives each op its default internals), ``internals`` (candidate sets replacing the
    registry's default choices, keyed by op family or op name: ``{"osep": {"gamma": [1, 4]}}``).
    """

    def __init__(self, *, op_candidates: str | Sequence[str] = "all", width: int | Sequence[int] = 16,
                 num_cells: int | Sequence[int] = 8, stem: str = "cifar", num_classes: int = 10,
                 in_channels: int | None = None, num_nodes: int = 4, search_internals: bool = True,
                 internals: Internals | None = None) -> None:
        super().__init__()
        self.op_candidates = _check_ops(op_candidates)
        self.internals = check_internals(internals)
        self.stem_kind = check_choice("stem", stem, STEMS)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels or DEFAULT_IN_CHANNELS[stem])
        self.num_nodes = check_positive_int("num_nodes", num_nodes)
        self.search_internals = bool(search_internals)
        self.macro = {"width": width, "depth": num_cells}
        sample = current_model()
        if sample is not None:
            self.network = build_model(self.genotype(sample), num_classes=self.num_classes, stem=stem,
                                       in_channels=self.in_channels)
            return
        channels, layers = _macro("width", width, self), _macro("depth", num_cells, self)
        _check_internals(self.op_candidates, channels, self.choices)
        self.supernet = _Supernet(self, channels, layers)
        apply_symmetric_padding(self.supernet)  # a frozen sample gets its own plan from build_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x) if hasattr(self, "network") else self.supernet(x)

    def choices(self, op: str) -> dict[str, tuple]:
        """The internal choices op ``op`` gets on an edge (none without ``search_internals``)."""
        return internal_choices(op, self.internals) if self.search_internals else {}

    def freeze(self, sample: dict[str, Any]) -> "SepConvDartsSpace":
        """The frozen model for ``sample``: wraps ``build_model`` of its genotype."""
        with model_context(sample):
            return self.__class__(**self.trace_kwargs)

    def genotype(self, sample: dict[str, Any]) -> Genotype:
        """The genotype of an exported sample, with the macro settings it fixes."""
        genotype = Genotype.from_sample(sample)
        fixed = {k: (sample.get(k) if not isinstance(v, int) else v) for k, v in self.macro.items()}
        return dataclasses.replace(genotype, channels=fixed["width"], layers=fixed["depth"])

    def max_cost(self) -> Cost:
        """Exact cost of the largest architecture in the space (every edge the op and
        internals with the most parameters, widest and deepest macro choice): an upper
        bound for a declared hypervolume reference point."""
        widths, depths = ([v] if isinstance(v, int) else list(v) for v in self.macro.values())
        edges = {kind: _largest_edge(self.op_candidates, max(widths), stride, self.choices)
                 for kind, stride in (("normal", 1), ("reduce", 2))}
        concat = range(2, 2 + self.num_nodes)
        genotype = Genotype([edges["normal"]] * 2 * self.num_nodes, concat, [edges["reduce"]] * 2 * self.num_nodes,
                            concat, channels=max(widths), layers=max(depths))
        return count(genotype, num_classes=self.num_classes, stem=self.stem_kind, in_channels=self.in_channels)

    def cost(self, sample: dict[str, Any], input_size: Any = None) -> Cost:
        """Exact #params and FLOPs of the frozen model for ``sample``, without building it.

        A sample with exactly this space's labels (what NNI and the strategies draw) is counted
        per edge: the cost of a network is that of its frame (stem, cell preprocessors and
        classifier, fixed by width and depth: every cell concatenates all its nodes) plus one term
        per edge label, a function of the edge's op, internals and input alone, each computed once
        (``network.frame_cost``/``edge_cost``, the same functions ``count`` adds up). Any other
        sample, or an ``input_size``, goes through its genotype and ``count``."""
        fast = self._edge_sum(sample) if input_size is None else None
        if fast is not None:
            return fast
        return count(self.genotype(sample), num_classes=self.num_classes, stem=self.stem_kind,
                     in_channels=self.in_channels, input_size=input_size)

    def _labels(self) -> frozenset[str]:
        """The labels of a sample of this space (ops, inputs, op internals, macro choices)."""
        if "_label_set" not in self.__dict__:
            labels = {k for k, v in self.macro.items() if not isinstance(v, int)}
            for kind, node, j in itertools.product(("normal", "reduce"), range(2, 2 + self.num_nodes), (0, 1)):
                labels |= {f"{kind}/op_{node}_{j}", f"{kind}/input_{node}_{j}"}
                labels |= {f"{kind}/op_{node}_{j}/{op}/{param}" for op in self.op_candidates for param in self.choices(op)}
            self.__dict__["_label_set"] = frozenset(labels)  # not a module attribute: no NNI tracing
        return self.__dict__["_label_set"]

    def _edge_sum(self, sample: Any) -> Cost | None:
        """``cost`` summed per edge, or ``None`` when ``sample`` is not exactly a sample of this space."""
        if not isinstance(sample, dict) or len(sample) != len(self._labels()) or not self._labels() <= sample.keys():
            return None
        fixed = {k: (v if isinstance(v, int) else sample[k]) for k, v in self.macro.items()}
        width, depth = fixed["width"], fixed["depth"]
        if type(width) is not int or type(depth) is not int:
            return None
        memo = self.__dict__.setdefault("_edge_memo", {})
        frame = memo.get((width, depth))
        if frame is None:
            plan = plan_macro(None, num_classes=self.num_classes, channels=width, layers=depth, stem=self.stem_kind,
                              in_channels=self.in_channels)
            hw = (DEFAULT_INPUT[self.stem_kind],) * 2
            frame = memo[(width, depth)] = frame_cost(plan, AllNodes(self.num_nodes), hw)
        total, cells = frame
        names = self.__dict__.setdefault("_param_names", {})
        for kind in ("normal", "reduce"):
            for node, j in itertools.product(range(2, 2 + self.num_nodes), (0, 1)):
                prefix = f"{kind}/op_{node}_{j}"
                op, index = sample[prefix], sample[f"{kind}/input_{node}_{j}"]
                index = index[0] if isinstance(index, (list, tuple)) and len(index) == 1 else index
                if not isinstance(op, str) or op not in self.op_candidates or type(index) is not int:
                    return None
                if op not in names:
                    names[op] = tuple(self.choices(op))
                params = tuple(sample[f"{prefix}/{op}/{param}"] for param in names[op])
                key = (width, depth, kind, op, index, params)
                term = memo.get(key)
                if term is None:
                    edge = Edge(op, index, dict(zip(names[op], params)))  # validates as a genotype does
                    term = ZERO
                    for cell_kind, c, reduction, size in cells:
                        if cell_kind == kind:
                            term = term + edge_cost(edge.op, edge.param_dict, edge.input, c, reduction, size)
                    memo[key] = term
                total = total + term
        return total


def _largest_edge(names: Sequence[str], channels: int, stride: int,
                  choices: Callable[[str], dict[str, tuple]]) -> tuple[str, int, dict]:
    """``(op, input 0, params)`` of the edge with the most parameters (params do not depend on
    the stage's width ratio, so the first stage's width decides)."""
    best = None
    for name in names:
        space = choices(name)
        for values in itertools.product(*space.values()):
            params = dict(zip(space, values))
            size = cell_op_cost(name, channels, stride, (8, 8), params).params
            if best is None or size > best[0]:
                best = (size, name, params)
    return best[1], 0, best[2]


def _check_ops(names: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str) and names in OP_SETS:
        return op_set(names)
    if isinstance(names, str) or not names:
        raise UserError(f"`op_candidates` must be a non-empty list of op names, got {names!r}.")
    for name in names:
        get_op(name)
    return tuple(names)


def _check_internals(names: Sequence[str], channels: int, choices_of: Callable[[str], dict[str, tuple]]) -> None:
    """Every internal choice must be valid at the first stage's width (later stages double it)."""
    for name in names:
        for param, choices in choices_of(name).items():
            for choice in choices:
                try:
                    op_cost(name, channels, channels, 1, input_size=8, **{param: choice})
                except ValueError as err:
                    raise UserError(f"`width` {channels} does not admit {name} {param}={choice!r}: {err}") from None


class _Supernet(nn.Module):
    """The un-frozen space: stem, NNI ``Cell``s with our ops, pooling and classifier."""

    def __init__(self, space: SepConvDartsSpace, channels: int, layers: int) -> None:
        super().__init__()
        plan = plan_macro(None, num_classes=space.num_classes, channels=channels, layers=layers,
                          stem=space.stem_kind, in_channels=space.in_channels)
        self.stem0, self.stem1 = build_stem(plan)
        self.cells = nn.ModuleList()
        for kind, c_pp, c_p, c, reduction, reduction_prev in cell_layout(plan, AllNodes(space.num_nodes)):
            factories = {op: partial(_edge_op, space, op, c, reduction, kind) for op in space.op_candidates}
            self.cells.append(Cell(factories, space.num_nodes, 2, 2, "all",
                                   preprocessor=_Preprocessor(c_pp, c_p, c, reduction_prev),
                                   postprocessor=_Postprocessor(), label=kind))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(space.num_nodes * c, space.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.stem0(x)
        s1 = s0 if self.stem1 is None else self.stem1(s0)
        for cell in self.cells:
            s0, s1 = cell([s0, s1])
        return self.classifier(self.pool(s1).flatten(1))


def _edge_op(space: SepConvDartsSpace, op: str, channels: int, reduction: bool, kind: str,
             node: int, j: int, input_index: int | None) -> nn.Module:
    """NNI ``Cell`` op factory: op ``op`` on edge ``j`` of ``node``, with internal choices."""
    stride = 2 if reduction and (input_index is None or input_index < 2) else 1
    params = {}
    with label_scope(f"op_{node}_{j}"), label_scope(op):
        for param, choices in space.choices(op).items():
            params[param] = ensure_frozen(space.add_mutable(nni.choice(param, list(choices))))
    return cell_op(op, channels, stride, True, **params)
