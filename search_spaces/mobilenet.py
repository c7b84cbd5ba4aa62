"""NNI 3.0 search space over a MobileNet backbone (V1, V2, V3-Small, V3-Large).

Per stage (runs of blocks of one width), or per block with ``per_block=True``, a *unit* chooses:
- its op and kernel size: one ``LayerChoice`` (label ``mobilenet/op_s{i}`` or ``op_b{i}``)
  whose candidates are named ``{op}{k}`` (``dw5``, ``xsep5``, ``osep3``, ``blk3``, ...): every
  block of the unit holds the same candidates, each an op *segment* (the op with its BN, SE
  and projection, ``models.mobilenet.op_segment``) of the same input and output shape;
- its expansion ratio (V2/V3, ``expansions``; label ``expansion_s{i}``) and the op internals
  given in ``op_space`` (e.g. ``{"blk": {"s": [1, 2], "t": [1, 2]}}``; label ``blk_t_s{i}``):
  plain ``nni.choice`` values, since they change the tensor shapes inside a block;
- plus the width multiplier (``widths``; label ``mobilenet/width``), which changes every shape.
A choice with one value is fixed, not a label.

Strategies: NNI's multi-trial strategies (Random, RegularizedEvolution, ...) and ours
(``strategies.MultiObjectiveEvolution``/``MultiObjectiveRandom``, which read ``cost`` and
``genotype``) search everything. NNI's one-shot strategies can share weights only over
LayerChoices: give one width, one expansion and one value per op internal, and the op x kernel
choice is what they search. DARTS and RandomOneShot are tested on this space; GumbelDARTS and
ENAS handle the same LayerChoices (tested on the ResNet space), not run here.

A frozen sample is exactly ``build_mobilenet(version, **genotype(sample).kwargs(), stem=...)``
(attribute ``network``); ``cost(sample)`` is its exact #params and FLOPs without building and
``max_cost()`` the largest of each over the space (per width, the maximum of each unit's cost,
since units' costs add up).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Mapping, Sequence

import nni
import torch
from nni.mutable import ensure_frozen
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from nni.nas.space import model_context
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_candidates, check_choice, check_input_size, check_positive_float
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.models.mobilenet import MobileNet, op_segment, plan_padding
from nas_sepconv.models.mobilenet_plan import BlockChoice, BlockSpec, MobileNetPlan, op_name, plan_mobilenet
from nas_sepconv.models.mobilenet_table import DEFAULT_INPUT, STEMS, check_width, stages, table
from nas_sepconv.ops import Cost, create_op


class MobileNetSpace(ModelSpace, label_prefix="mobilenet"):
    """MobileNet ``version`` space: op x kernel, expansion and op internals per unit, width.

    ``ops``: short names of ``MOBILENET_OPS`` (default: the original ``dw`` and ``xsep``);
    ``kernels``: kernel sizes to choose from (default: each unit keeps the table's kernel);
    ``expansions``: expansion ratios (V2/V3; default the table's); ``op_space``: op -> parameter
    -> values; ``op_params``: op -> fixed parameters; ``stem`` sets the early strides and
    ``input_size`` (default the stem's: 224, 32, 8) the FLOPs of ``cost``.
    """

    def __init__(self, version: str = "v3-small", *, ops: Sequence[str] = ("dw", "xsep"),
                 kernels: Sequence[int] | None = None, expansions: Sequence[float] | None = None,
                 op_space: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
                 op_params: Mapping[str, Mapping[str, Any]] | None = None, widths: Sequence[float] = (1.0,),
                 per_block: bool = False, stem: str = "cifar", num_classes: int = 10, in_channels: int = 3,
                 input_size: int | None = None) -> None:
        super().__init__()
        rows = table(version).rows
        self.version, self.stem = version, check_choice("stem", stem, STEMS)
        self.input_size = check_input_size("input_size", DEFAULT_INPUT[stem] if input_size is None else input_size)
        if not isinstance(per_block, bool):
            raise UserError(f"`per_block` must be True or False, got {per_block!r}.")
        self.ops = check_candidates("ops", ops, lambda o: op_name(o, 3))
        self.widths = check_candidates("widths", widths, check_width)
        self.expansions = None if expansions is None else check_candidates("expansions", expansions, _check_expansion)
        if self.expansions is not None and version == "v1":
            raise UserError(f"`expansions` do not apply to MobileNetV1 (no expansion layer), got {expansions!r}.")
        self.op_space = _check_op_space(op_space, self.ops)
        self.op_params = {op: dict(p) for op, p in (op_params or {}).items()}
        self.units = tuple((i,) for i in range(len(rows))) if per_block else stages(version)
        self.unit_tags = [f"b{u[0]}" if per_block else f"s{i}" for i, u in enumerate(self.units)]
        self.unit_of = {b: i for i, u in enumerate(self.units) for b in u}
        self.choices = [self._unit_candidates(u, kernels, rows) for u in self.units]
        self.num_classes, self.in_channels = num_classes, in_channels
        width = self.widths[0] if len(self.widths) == 1 else ensure_frozen(
            self.add_mutable(nni.choice("width", self.widths)))
        sample = {label: self._frozen(label, values) for label, values in self.labels().items()
                  if not label.startswith("op_") and label != "width"}
        self._default = {**sample, **{f"op_{t}": next(iter(c)) for t, c in zip(self.unit_tags, self.choices)}}
        plan = plan_mobilenet(version, width=width, stem=stem, num_classes=num_classes, in_channels=in_channels,
                              blocks=self._blocks(self._default))

        def make_segment(spec: BlockSpec) -> nn.Module:
            unit = self.unit_of[spec.index]
            candidates = {name: self._segment(spec, op, k, self._default, unit)
                          for name, (op, k) in self.choices[unit].items()}
            return LayerChoice(candidates, label=f"op_{self.unit_tags[unit]}")

        self.network = MobileNet(plan, make_segment)
        plan_padding(self.network)

    # -- construction helpers -------------------------------------------------------------
    def _unit_candidates(self, unit: tuple[int, ...], kernels: Sequence[int] | None, rows) -> dict[str, tuple]:
        ks = [rows[unit[0]].kernel] if kernels is None else check_candidates("kernels", kernels, lambda k: None)
        found = {}
        for op in self.ops:
            for k in ks:
                try:
                    op_name(op, k)
                except ValueError:
                    continue
                found[f"{op}{k}"] = (op, k)
        if not found:
            raise UserError(f"`kernels` {ks} fit none of `ops` {self.ops} in block {unit[0]}.")
        return found

    def labels(self) -> dict[str, list]:
        """Every label of the space (without the ``mobilenet/`` prefix) and its values; plain choices
        with one value are fixed and not labels."""
        labels: dict[str, list] = {}
        for tag, cands in zip(self.unit_tags, self.choices):
            labels[f"op_{tag}"] = list(cands)
            if self.expansions is not None and len(self.expansions) > 1:
                labels[f"expansion_{tag}"] = self.expansions
            for op, space in self.op_space.items():
                if any(o == op for o, _ in cands.values()):
                    labels.update({f"{op}_{p}_{tag}": list(v) for p, v in space.items() if len(v) > 1})
        if len(self.widths) > 1:
            labels["width"] = self.widths
        return labels

    def _frozen(self, label: str, values: list) -> Any:
        return ensure_frozen(self.add_mutable(nni.choice(label, values)))

    def _value(self, sample: Mapping[str, Any], label: str, default: Any) -> Any:
        return sample.get(label, sample.get(f"mobilenet/{label}", default))

    def _params(self, sample: Mapping[str, Any], op: str, unit: int) -> dict[str, Any]:
        tag = self.unit_tags[unit]
        chosen = {p: self._value(sample, f"{op}_{p}_{tag}", v[0]) for p, v in self.op_space.get(op, {}).items()}
        return {**self.op_params.get(op, {}), **chosen}

    def _blocks(self, sample: Mapping[str, Any]) -> tuple[BlockChoice, ...]:
        blocks = []
        for b in range(len(table(self.version).rows)):
            unit = self.unit_of[b]
            tag = self.unit_tags[unit]
            name = self._value(sample, f"op_{tag}", next(iter(self.choices[unit])))
            op, k = self.choices[unit][name]
            expansion = None if self.expansions is None else self._value(sample, f"expansion_{tag}",
                                                                         self.expansions[0])
            blocks.append(BlockChoice(op, k, expansion, tuple(self._params(sample, op, unit).items())))
        return tuple(blocks)

    def _segment(self, spec: BlockSpec, op: str, k: int, sample: Mapping[str, Any], unit: int) -> nn.Module:
        params = self._params(sample, op, unit)
        cand = dataclasses.replace(spec, op=op, name=op_name(op, k), kernel=k, params=params)
        c_out = cand.c_out if cand.role == "pair" else cand.expanded
        return op_segment(cand, create_op(cand.name, cand.expanded, c_out, cand.stride, **params))

    # -- the API shared with ResNetSpace ---------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def genotype(self, sample: Mapping[str, Any]) -> MobileNetGenotype:
        """The architecture of ``sample``: version, width, one ``BlockChoice`` per block."""
        width = self._value(sample, "width", self.widths[0])
        return MobileNetGenotype(self.version, width, self._blocks(sample))

    def cost(self, sample: Mapping[str, Any], input_size: Any = None) -> Cost:
        """Exact #params and FLOPs of the frozen ``sample`` (``input_size`` defaults to the space's)."""
        size = self.input_size if input_size is None else check_input_size("input_size", input_size)
        return self._plan(sample).cost(size)

    def _plan(self, sample: Mapping[str, Any]) -> MobileNetPlan:
        return plan_mobilenet(self.version, width=self._value(sample, "width", self.widths[0]), stem=self.stem,
                              num_classes=self.num_classes, in_channels=self.in_channels, blocks=self._blocks(sample))

    def max_cost(self) -> Cost:
        """Largest #params and largest FLOPs over the space (each maximised alone; exact)."""
        labels = self.labels()
        best_p = best_f = 0
        for width in self.widths:
            base = {**self._default, "width": width}
            plan = self._plan(base)
            fixed = plan.cost(self.input_size)
            specs = list(plan.specs(self.input_size))
            fixed_p = fixed.params - sum(s.cost().params for s in specs)
            fixed_f = fixed.flops - sum(s.cost().flops for s in specs)
            for unit, tag in enumerate(self.unit_tags):
                unit_labels = [lab for lab in labels if lab.endswith(f"_{tag}")]
                costs = []
                for values in itertools.product(*(labels[lab] for lab in unit_labels)):
                    trial = dataclasses.replace(plan, blocks=self._blocks({**base, **dict(zip(unit_labels, values))}))
                    unit_specs = [s for s in trial.specs(self.input_size) if s.index in self.units[unit]]
                    costs.append(sum((s.cost() for s in unit_specs), Cost(0, 0)))
                fixed_p += max(c.params for c in costs)
                fixed_f += max(c.flops for c in costs)
            best_p, best_f = max(best_p, fixed_p), max(best_f, fixed_f)
        return Cost(best_p, best_f)

    def freeze(self, sample: dict[str, Any]) -> nn.Module:
        """The fixed model of ``sample``: the space rebuilt in a frozen context."""
        with model_context(sample):
            return self.__class__(*self.trace_args, **self.trace_kwargs)


def _check_expansion(value: Any) -> None:
    check_positive_float("expansions", value)


def _check_op_space(op_space: Any, ops: list[str]) -> dict[str, dict[str, list]]:
    if op_space is None:
        return {}
    if not isinstance(op_space, Mapping) or not all(isinstance(v, Mapping) for v in op_space.values()):
        raise UserError(f"`op_space` must map op names to {{parameter: [values]}}, got {op_space!r}.")
    unknown = sorted(set(op_space) - set(ops))
    if unknown:
        raise UserError(f"`op_space` keys must be among `ops` {ops}, got {unknown}.")
    return {op: {p: check_candidates(f"op_space[{op!r}][{p!r}]", v, lambda _: None) for p, v in space.items()}
            for op, space in op_space.items()}
