"""NNI 3.0 search space over the CIFAR ResNet backbone: which 3x3 operator, how wide.

Two kinds of categorical choice, as in the osep paper's Section 4 comparisons (o-, d-,
dw-, s-, so-ResNet at a channel multiplier, Table D.6):
- the block operator: one choice for the whole network (label ``resnet/conv``), or with
  ``per_stage=True`` one per stage (``resnet/conv_stage1`` .. ``resnet/conv_stage3``).
  Every block conv is a ``LayerChoice`` over the candidates, all sharing the label, so
  NNI's one-shot strategies (DARTS, GumbelDARTS, ENAS, RandomOneShot) train it as a
  supernet, and multi-trial strategies sample it like any categorical;
- the channel multiplier (``resnet/multiplier``), from a given list. It changes every
  tensor shape, which no one-shot strategy can share weights over, so it is a plain
  ``nni.choice``, added only when there are two or more multipliers: give one multiplier
  for one-shot search.

A frozen sample is exactly ``build_resnet(depth, conv=..., multiplier=...)`` (under the
attribute ``network``). ``genotype(sample)`` is its ``ResNetGenotype`` (what a run directory
stores), ``resnet_kwargs(sample)`` the ``build_resnet`` arguments, and ``cost(sample)`` its
exact #params and FLOPs (``count_resnet``) on ``input_size`` images, without building.
"""
from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

import nni
import torch
from nni.mutable import ensure_frozen
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from nni.nas.space import model_context
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_candidates, check_input_size
from nas_sepconv.genotypes.resnet import ResNetGenotype
from nas_sepconv.models.resnet import STAGES, BlockSpec, ResNet, count_resnet, plan_resnet, resolve_conv, stage_widths
from nas_sepconv.ops import Cost, conv_aliases, create_op
from nas_sepconv.ops.sym_padding import apply_symmetric_padding


def registered_convs() -> tuple[str, ...]:
    """The registry's backbone short names (the default choices), e.g. ``conv``, ``osep``."""
    return tuple(conv_aliases())


class ResNetSpace(ModelSpace, label_prefix="resnet"):
    """CIFAR ResNet-``depth`` space: operator choice(s) and channel-multiplier choice.

    ``convs`` are short names (``conv``, ``dsep``, ``osep``, ...) or registry names; by
    default every short name whose op is registered. ``op_params`` go to every block op.
    ``input_size`` (the image side, 32 for CIFAR, 8 for digits) only enters the FLOPs of ``cost``.
    ``shortcut`` "A" (default) or "B" is fixed for the whole space (``build_resnet``).
    """

    def __init__(self, depth: int = 20, *, convs: Sequence[str] | None = None,
                 multipliers: Sequence[float] = (1.0,), per_stage: bool = False, num_classes: int = 10,
                 in_channels: int = 3, op_params: Mapping[str, Any] | None = None, input_size: int = 32,
                 shortcut: str = "A") -> None:
        super().__init__()
        self.input_size = check_input_size("input_size", input_size)
        candidates = check_candidates("convs", registered_convs() if convs is None else convs, resolve_conv)
        widths = check_candidates("multipliers", multipliers, stage_widths)
        if not isinstance(per_stage, bool):
            raise UserError(f"`per_stage` must be True or False, got {per_stage!r}.")
        self.labels = [f"conv_stage{i + 1}" for i in range(STAGES)] if per_stage else ["conv"]
        self.candidates, self.multipliers = candidates, widths
        multiplier = widths[0]
        if len(widths) > 1:
            multiplier = ensure_frozen(self.add_mutable(nni.choice("multiplier", widths)))
        self.plan = plan = plan_resnet(depth, candidates[0], multiplier, num_classes, in_channels, op_params,
                                       shortcut=shortcut)

        def make_op(block: BlockSpec, c_in: int, c_out: int, stride: int) -> nn.Module:
            ops = {c: create_op(resolve_conv(c), c_in, c_out, stride, **plan.op_params) for c in candidates}
            return LayerChoice(ops, label=self.labels[block.stage if per_stage else 0])

        self.network = ResNet(plan, make_op)
        apply_symmetric_padding(self.network)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def resnet_kwargs(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """``build_resnet``/``count_resnet`` keyword arguments of ``sample``, ``depth`` included."""
        conv = [sample[f"resnet/{label}"] for label in self.labels]
        many = len(self.multipliers) > 1
        return {"depth": self.plan.depth, "conv": conv if len(conv) > 1 else conv[0],
                "multiplier": sample["resnet/multiplier"] if many else self.multipliers[0],
                "num_classes": self.plan.num_classes, "in_channels": self.plan.in_channels,
                "op_params": dict(self.plan.op_params) or None, "shortcut": self.plan.shortcut}

    def genotype(self, sample: Mapping[str, Any]) -> ResNetGenotype:
        """The architecture of ``sample``: depth, block op(s), multiplier, op parameters."""
        kwargs = self.resnet_kwargs(sample)
        return ResNetGenotype(kwargs["depth"], kwargs["conv"], kwargs["multiplier"], tuple(self.plan.op_params.items()),
                              kwargs["shortcut"])

    def cost(self, sample: Mapping[str, Any], input_size: Any = None) -> Cost:
        """Exact #params and FLOPs of the frozen ``sample`` (``input_size`` defaults to the space's)."""
        size = self.input_size if input_size is None else input_size
        return count_resnet(**self.resnet_kwargs(sample), input_size=size)

    def max_cost(self) -> Cost:
        """Largest #params and largest FLOPs over the whole space (by enumeration, each maximised alone)."""
        costs = [self.cost({**{f"resnet/{label}": c for label, c in zip(self.labels, convs)}, "resnet/multiplier": m})
                 for convs in itertools.product(self.candidates, repeat=len(self.labels)) for m in self.multipliers]
        return Cost(max(c.params for c in costs), max(c.flops for c in costs))

    def freeze(self, sample: dict[str, Any]) -> nn.Module:
        """The fixed model of ``sample``: the space rebuilt in a frozen context."""
        with model_context(sample):
            return self.__class__(*self.trace_args, **self.trace_kwargs)
