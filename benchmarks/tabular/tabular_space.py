"""The tabular benchmark's sub-space: 216 DARTS-style cells on digits, small enough to train all.

A sample of :class:`TabularSubspace` picks one *variant* (an op with fixed internals) for
each of three *slots*; every edge of a slot gets that op. The cell topology is pinned
(:data:`INPUTS`; node: inputs of its two edges): normal cell 2: (0, 1), 3: (0, 1), 4: (1, 0),
5: (0, 2); reduction cell 2: (0, 1), 3: (1, 2), 4: (0, 2), 5: (2, 3); all four nodes are
concatenated. The network is 3 cells (normal, reduction, reduction) of initial width 4 with
the digits stem and 10 classes. So the 6**3 = 216 samples are 216 distinct architectures:

- slot ``normal_a``: the 4 edges of nodes 2 and 3 of the normal cell;
- slot ``normal_b``: the 4 edges of nodes 4 and 5 of the normal cell;
- slot ``reduce``: all 8 edges of the reduction cell (shared by both reduction cells);
- variants: ``skip_connect``, ``max_pool_3x3``, ``sep_conv_3x3`` (DARTS), ``osep_3x3``
  (N 'auto', gamma 1, placement 'first'), ``xsep_3x3`` (placement 'standard') and
  ``blk_3x3`` (BlkSConv with s = t = 2): one op of each new family, with fixed internals.

Each sample maps to a complete sample of ``SepConvDartsSpace(op_candidates=OP_CANDIDATES,
width=4, num_cells=3, stem='digits')`` (:func:`full_sample`; internals of ops an edge does
not use take their first choice, which changes nothing). ``cost``/``genotype`` let our
strategies check costs and duplicates as on the full space.
"""
from __future__ import annotations

import itertools
import json
from typing import Any, Mapping

import nni
from nni.mutable import ensure_frozen
from nni.nas.nn.pytorch import ModelSpace
from nni.nas.space import model_context

from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.models.network import count
from nas_sepconv.ops import Cost, get_op

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "skip_connect": ("skip_connect", {}),
    "max_pool_3x3": ("max_pool_3x3", {}),
    "sep_conv_3x3": ("sep_conv_3x3", {}),
    "osep_3x3": ("osep_3x3", {"N": "auto", "gamma": 1.0, "placement": "first"}),
    "xsep_3x3": ("xsep_3x3", {"placement": "standard"}),
    "blk_3x3": ("blk_3x3", {"s": 2, "t": 2}),
}
OP_CANDIDATES = ("skip_connect", "max_pool_3x3", "sep_conv_3x3", "osep_3x3", "xsep_3x3", "blk_3x3")
# Pinned inputs of edges (node, j) in genotype order: nodes 2..5, two edges each.
INPUTS = {"normal": (0, 1, 0, 1, 1, 0, 0, 2), "reduce": (0, 1, 1, 2, 0, 2, 2, 3)}
SLOTS: dict[str, tuple[str, tuple[int, ...]]] = {   # slot -> (cell, indices of its edges)
    "normal_a": ("normal", (0, 1, 2, 3)),
    "normal_b": ("normal", (4, 5, 6, 7)),
    "reduce": ("reduce", tuple(range(8))),
}
MACRO = dict(width=4, num_cells=3, stem="digits", num_classes=10, in_channels=1)


def check_choice_sample(sample: Mapping[str, Any]) -> dict[str, str]:
    """The slot -> variant part of ``sample`` (extra keys ignored); a ValueError names a bad slot."""
    choice = {}
    for slot in SLOTS:
        value = sample.get(slot)
        if value not in VARIANTS:
            raise ValueError(f"`{slot}` must be one of {', '.join(VARIANTS)}, got {value!r}.")
        choice[slot] = value
    return choice


def choice_key(sample: Mapping[str, Any]) -> str:
    """Canonical key of a sub-space sample: sorted-key JSON of its slot choices."""
    return json.dumps(check_choice_sample(sample), sort_keys=True, separators=(",", ":"))


def enumerate_choices() -> list[dict[str, str]]:
    """Every sample of the sub-space, in a fixed order (slot order, variant order)."""
    return [dict(zip(SLOTS, values)) for values in itertools.product(VARIANTS, repeat=len(SLOTS))]


def genotype_of(sample: Mapping[str, Any]) -> Genotype:
    """The architecture of a sub-space sample, with the macro settings (width 4, 3 cells)."""
    choice = check_choice_sample(sample)
    edges: dict[str, list] = {cell: [None] * 8 for cell in INPUTS}
    for slot, (cell, indices) in SLOTS.items():
        op, params = VARIANTS[choice[slot]]
        for i in indices:
            edges[cell][i] = (op, INPUTS[cell][i], dict(params))
    concat = range(2, 6)
    return Genotype(edges["normal"], concat, edges["reduce"], concat, channels=MACRO["width"],
                    layers=MACRO["num_cells"])


def edge_sample(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The ``SepConvDartsSpace`` labels that the architecture of a sub-space sample uses
    (ops, inputs and internals of the chosen ops): what the table stores."""
    return {k: v for k, v in genotype_of(sample).to_sample().items() if k not in ("width", "depth")}


def full_sample(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The complete ``SepConvDartsSpace`` sample (see the module docstring) of a sub-space sample."""
    full = edge_sample(sample)
    for cell in INPUTS:
        for i in range(8):
            edge = f"{cell}/op_{i // 2 + 2}_{i % 2}"
            for op in OP_CANDIDATES:
                for param, values in get_op(op).space.items():
                    full.setdefault(f"{edge}/{op}/{param}", values[0])
    return full


def cost_of(sample: Mapping[str, Any]) -> Cost:
    """Exact #params and FLOPs (digits, 8x8 input) of a sub-space sample, without building it."""
    return count(genotype_of(sample), num_classes=MACRO["num_classes"], stem=MACRO["stem"],
                 in_channels=MACRO["in_channels"])


class TabularSubspace(ModelSpace):
    """The sub-space as an NNI ``ModelSpace``: one categorical per slot over :data:`VARIANTS`.

    Frozen (a trial), it only holds ``choice`` (slot -> variant): the table evaluator looks
    the result up instead of training. ``cost``/``genotype`` serve our strategies.
    """

    def __init__(self) -> None:
        super().__init__()
        self.choice = {slot: ensure_frozen(self.add_mutable(nni.choice(slot, list(VARIANTS)))) for slot in SLOTS}

    def freeze(self, sample: Mapping[str, Any]) -> "TabularSubspace":
        """The frozen model of ``sample`` (NNI's raw-format engines call this)."""
        with model_context(dict(sample)):
            return self.__class__()

    def cost(self, sample: Mapping[str, Any]) -> Cost:
        return cost_of(sample)

    def genotype(self, sample: Mapping[str, Any]) -> Genotype:
        return genotype_of(sample)
