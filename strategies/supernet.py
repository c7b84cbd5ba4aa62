"""Weight-sharing supernet over a whole ``SepConvDartsSpace``, run one path at a time.

Single-path one-shot NAS (SPOS, Guo et al. 2020): every choice of an edge owns its weights,
one candidate module per (edge, op, internal configuration, stride), so op internals (blk
``s``/``t``, xsep ``placement``, ...) are sampled like ops; NNI's one-shot strategies cannot
do that (they mix ops, not internals). As in DARTS supernets each cell has its own weights,
while the cells of one type share the architecture (a ``Genotype`` is the path). A reduction
cell needs a stride-2 candidate for edges reading a cell input and a stride-1 one for edges
reading an intermediate node, as ``nas_sepconv.models.cell.Cell`` builds them.

The module layout mirrors ``nas_sepconv.models.network.Network``, so :meth:`Supernet.extract` builds
the path's network with ``build_model`` and loads the path's weights by name: the subnet
computes exactly what the supernet computes on that path (weight inheritance is exact).
All candidates are built up front (deterministic initialisation and a fixed state dict).
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Sequence

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.models.cell import cell_op, cell_preprocessors
from nas_sepconv.models.network import AllNodes, Network, build_model, build_stem, cell_layout, plan_macro
from nas_sepconv.ops import get_op
from nas_sepconv.ops.registry import Internals, check_internals, internal_choices
from nas_sepconv.ops.sym_padding import EvenDepthwiseConv2d, apply_symmetric_padding

_logger = logging.getLogger(__name__)

Choice = tuple[str, tuple[tuple[str, Any], ...], int]  # (op, sorted internal params, stride)


def internal_configs(op: str, search_internals: bool, internals: Internals | None = None
                     ) -> list[tuple[tuple[str, Any], ...]]:
    """Every internal configuration of ``op`` as sorted (name, value) pairs, as ``Edge.params``
    stores them: the product of its search choices (``internal_choices``), or only the defaults (``()``)."""
    space = internal_choices(op, internals) if search_internals else {}
    names = sorted(space)
    return [tuple(zip(names, values)) for values in itertools.product(*(space[n] for n in names))]


def edge_strides(reduction: bool, node: int) -> tuple[int, ...]:
    """Strides an edge of ``node`` may need: 2 for cell inputs of a reduction cell, else 1."""
    if not reduction:
        return (1,)
    return (2,) if node == 2 else (2, 1)


class SupernetCell(nn.Module):
    """A cell holding every candidate of every edge; ``forward`` runs the given edges only."""

    def __init__(self, ops: Sequence[str], num_nodes: int, search_internals: bool, c_prev_prev: int,
                 c_prev: int, channels: int, reduction: bool, reduction_prev: bool,
                 internals: Internals | None = None) -> None:
        super().__init__()
        self.reduction, self.num_nodes = reduction, num_nodes
        self.preprocess0, self.preprocess1 = cell_preprocessors(c_prev_prev, c_prev, channels, reduction_prev)
        self.edges = nn.ModuleList()
        self.index: list[dict[Choice, int]] = []
        for e in range(2 * num_nodes):
            choices = [(op, params, stride) for op in ops for params in internal_configs(op, search_internals, internals)
                       for stride in edge_strides(reduction, e // 2 + 2)]
            self.index.append({choice: i for i, choice in enumerate(choices)})
            self.edges.append(nn.ModuleList(cell_op(op, channels, stride, True, **dict(params))
                                            for op, params, stride in choices))

    def path(self, edges: Sequence[Any]) -> list[tuple[int, int]]:
        """(candidate index, input node) of each genotype edge of this cell."""
        if len(edges) != 2 * self.num_nodes:
            raise UserError(f"a path must give {2 * self.num_nodes} edges per cell, got {len(edges)}.")
        picked = []
        for e, edge in enumerate(edges):
            stride = 2 if self.reduction and edge.input < 2 else 1
            choice = (edge.op, edge.params, stride)
            if choice not in self.index[e]:
                raise UserError(f"edge {e} choice {edge.op!r} {dict(edge.params)} is not in the supernet; "
                                f"its ops are {sorted({c[0] for c in self.index[e]})}.")
            picked.append((self.index[e][choice], edge.input))
        return picked

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, path: Sequence[tuple[int, int]]) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(0, len(path), 2):
            states.append(sum(self.edges[e][i](states[src]) for e, (i, src) in enumerate(path[k:k + 2], k)))
        return torch.cat(states[2:], dim=1)


class Supernet(nn.Module):
    """Stem, supernet cells (reductions at 1/3 and 2/3 of the depth), pooling, classifier.

    Keyword-only, as ``SepConvDartsSpace`` takes them but fixed: ``op_candidates``,
    ``channels`` (C), ``layers`` (cells), ``num_nodes``, ``stem``, ``num_classes``,
    ``in_channels``, ``search_internals``, ``internals`` (candidate sets, as the space takes them).
    ``forward(x, genotype)`` runs one path; the
    genotype's cells must concatenate all their nodes (the space's "all" merge). Before
    each path runs, its even-sized convs get the symmetric padding plan along that path,
    the same directions ``extract`` gives the extracted network.
    """

    def __init__(self, *, op_candidates: Sequence[str], channels: int, layers: int, num_nodes: int = 4,
                 stem: str = "cifar", num_classes: int = 10, in_channels: int | None = None,
                 search_internals: bool = True, internals: Internals | None = None) -> None:
        super().__init__()
        if isinstance(op_candidates, str) or not op_candidates:
            raise UserError(f"`op_candidates` must be a non-empty list of op names, got {op_candidates!r}.")
        self.op_candidates = tuple(get_op(op).name for op in op_candidates)
        self.num_nodes = check_positive_int("num_nodes", num_nodes)
        self.plan = plan_macro(None, num_classes=num_classes, channels=channels, layers=layers, stem=stem,
                               in_channels=in_channels)
        self.search_internals = bool(search_internals)
        self.internals = check_internals(internals)
        self.stem0, self.stem1 = build_stem(self.plan)
        rows = list(cell_layout(self.plan, AllNodes(self.num_nodes)))
        self.cells = nn.ModuleList(
            SupernetCell(self.op_candidates, self.num_nodes, self.search_internals, c_pp, c_p, c, red, red_prev,
                         self.internals)
            for _, c_pp, c_p, c, red, red_prev in rows)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(self.num_nodes * rows[-1][3], self.plan.num_classes)
        self.has_even_convs = any(isinstance(m, EvenDepthwiseConv2d) for m in self.modules())
        _logger.debug("Supernet: %d candidates, %d parameters.", self.num_candidates(),
                      sum(p.numel() for p in self.parameters()))

    @classmethod
    def from_space(cls, space: Any) -> "Supernet":
        """The supernet of a ``SepConvDartsSpace`` whose ``width`` and ``num_cells`` are fixed ints."""
        macro = {name: space.macro[name] for name in ("width", "depth")}
        searched = [name for name, value in macro.items() if not isinstance(value, int)]
        if searched:
            raise UserError(f"the supernet needs a fixed `width` and `num_cells`; the space searches "
                            f"{searched} ({macro}).")
        return cls(op_candidates=space.op_candidates, channels=macro["width"], layers=macro["depth"],
                   num_nodes=space.num_nodes, stem=space.stem_kind, num_classes=space.num_classes,
                   in_channels=space.in_channels, search_internals=space.search_internals,
                   internals=space.internals)

    def num_candidates(self) -> int:
        """Candidate modules over all cells and edges."""
        return sum(len(edge) for cell in self.cells for edge in cell.edges)

    def paths(self, genotype: Genotype) -> list[list[tuple[int, int]]]:
        """Per cell, the (candidate index, input) of each edge of ``genotype``."""
        nodes = tuple(range(2, 2 + self.num_nodes))
        if genotype.normal_concat != nodes or genotype.reduce_concat != nodes:
            raise UserError(f"the supernet concatenates nodes {list(nodes)}, got normal "
                            f"{list(genotype.normal_concat)} and reduce {list(genotype.reduce_concat)}.")
        return [cell.path(genotype.reduce if cell.reduction else genotype.normal) for cell in self.cells]

    def path_modules(self, genotype: Genotype) -> list[nn.Module]:
        """The modules ``genotype``'s path runs, in forward order (as ``extract`` registers them)."""
        modules = [self.stem0] + ([self.stem1] if self.stem1 is not None else [])
        for cell, path in zip(self.cells, self.paths(genotype)):
            modules += [cell.preprocess0, cell.preprocess1] + [cell.edges[e][i] for e, (i, _) in enumerate(path)]
        return modules

    def forward(self, x: torch.Tensor, genotype: Genotype) -> torch.Tensor:
        if self.has_even_convs:  # the path's 2x2 convs cycle their padding along the path (XSepConv 3.2)
            apply_symmetric_padding(self.path_modules(genotype))
        s0 = self.stem0(x)
        s1 = s0 if self.stem1 is None else self.stem1(s0)
        for cell, path in zip(self.cells, self.paths(genotype)):
            s0, s1 = s1, cell(s0, s1, path)
        return self.classifier(self.global_pooling(s1).flatten(1))

    def path_state_dict(self, genotype: Genotype) -> dict[str, torch.Tensor]:
        """The weights of ``genotype``'s path under ``Network``'s names (``cells.i.ops.e.*``)."""
        parts = [("stem0", self.stem0), ("stem1", self.stem1), ("classifier", self.classifier)]
        for c, (cell, path) in enumerate(zip(self.cells, self.paths(genotype))):
            parts += [(f"cells.{c}.preprocess0", cell.preprocess0), (f"cells.{c}.preprocess1", cell.preprocess1)]
            parts += [(f"cells.{c}.ops.{e}", cell.edges[e][i]) for e, (i, _) in enumerate(path)]
        state: dict[str, torch.Tensor] = {}
        for name, module in parts:
            if module is not None:
                state.update(module.state_dict(prefix=f"{name}."))
        return state

    def extract(self, genotype: Genotype) -> Network:
        """``build_model(genotype)`` holding a copy of the path's weights and BN statistics
        (loaded strictly: a name missing on either side is an error, never a silent skip)."""
        with torch.random.fork_rng():  # building initialises weights; keep the caller's RNG stream
            model = build_model(genotype, num_classes=self.plan.num_classes, channels=self.plan.channels,
                                layers=self.plan.layers, stem=self.plan.stem, in_channels=self.plan.in_channels)
        model.load_state_dict(self.path_state_dict(genotype))
        return model.to(next(self.parameters()).device)


class RandomPaths(nn.Module):
    """The supernet as a plain model whose every forward runs a fresh path ``draw()``.

    Uniform single-path sampling per batch (SPOS): training it with
    ``nas_sepconv.evaluation.train.train_model`` trains each candidate on the batches of its paths.
    """

    def __init__(self, supernet: Supernet, draw: Callable[[], Genotype]) -> None:
        super().__init__()
        self.supernet, self.draw = supernet, draw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, self.draw())
