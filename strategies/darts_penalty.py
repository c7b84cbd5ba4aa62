"""DARTS with an expected-#params penalty on the architecture loss.

NNI's DARTS (first order, Liu et al. 2019, Eq. 3-4) turns every edge ``(i, j)`` of the
``normal``/``reduce`` cells into a softmax mixture over the candidate ops plus a "none"
slot, with logits ``alpha`` shared by all cells of one label. The architecture step here
minimises, instead of the validation loss ``L_val`` alone::

    L_arch = L_val + penalty * E(alpha) / P_ref
    E(alpha) = sum_cells sum_(i, j) sum_o softmax(alpha_{label, i, j})_o * P(o, C_cell, s_{cell, j})

``P(o, C, s)`` is the exact #params of op ``o`` on an edge with ``C`` channels and stride
``s`` (``nas_sepconv.models.cell.cell_op_cost``; 2 on the input edges of a reduction cell, else 1);
the "none" slot costs 0. Every cell counts its edges at its own width, so a label shared by
cells of widths C and 2C gets the constant vector ``P(., C, s) + P(., 2C, s)``. ``P_ref``
is the same sum with every edge at its most expensive op (the supernet's maximum), so the
term lies in [0, 1] and ``penalty`` is comparable across spaces. The stem, preprocessors
and classifier do not depend on ``alpha`` and are left out. Its gradient,
``dE/dalpha_o = softmax_o (P_o - E_edge)``, pushes mass from ops dearer than the edge's
current expectation to cheaper ones, so a larger ``penalty`` derives a smaller network.
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Any, Mapping, Sequence

import torch
from nni.nas.oneshot.pytorch.profiler import ExpectationProfilerPenalty
from nni.nas.oneshot.pytorch.supermodule.differentiable import DifferentiableMixedCell
from nni.nas.strategy import DARTS
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_float
from nas_sepconv.models.cell import cell_op_cost
from nas_sepconv.models.network import DEFAULT_INPUT, AllNodes, cell_layout, plan_macro

_EDGE = re.compile(r"(?P<cell>.+)/(?P<node>\d+)_(?P<input>\d+)")


def check_penalty(name: str, value: Any) -> float:
    """Return ``value`` as float if it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) < math.inf:
        raise UserError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    return float(value)


class ExpectedParamsPenalty(ExpectationProfilerPenalty):
    """``loss + weight * E(alpha) / reference`` from live arch logits and constant cost vectors.

    ``alphas`` and ``costs`` map the same edge labels to a logit vector and to the #params
    of each of its slots. NNI's ``DartsLightningModule`` calls the penalty on the
    architecture loss only; the probabilities it passes are detached, so they are ignored
    and the softmax is taken here, keeping the gradient to ``alpha``.
    """

    def __init__(self, alphas: Mapping[str, torch.Tensor], costs: Mapping[str, Sequence[float]], *,
                 weight: float, reference: float | None = None) -> None:
        if set(alphas) != set(costs) or not alphas:
            raise UserError(f"`alphas` and `costs` must name the same non-empty edge labels, "
                            f"got {sorted(alphas)} and {sorted(costs)}.")
        vectors = {label: torch.tensor([float(c) for c in costs[label]], dtype=torch.float64) for label in alphas}
        for label, vector in vectors.items():
            if vector.shape != alphas[label].shape or bool((vector < 0).any()):
                raise UserError(f"`costs[{label!r}]` must hold {len(alphas[label])} numbers >= 0, "
                                f"got {list(costs[label])!r}.")
        if reference is None:
            reference = float(sum(v.max() for v in vectors.values())) or 1.0  # 1.0: no op has params
        super().__init__(None, check_positive_float("reference", reference), check_penalty("weight", weight))
        self.alphas = dict(alphas)  # a plain dict: the logits stay owned (and optimised) by the supernet
        self.costs = vectors

    def expected_params(self) -> torch.Tensor:
        """``E(alpha)``: expected #params of the mixed edges under the current softmax weights."""
        return torch.stack([(torch.softmax(alpha, -1) * self.costs[label].to(alpha.device, alpha.dtype)).sum()
                            for label, alpha in self.alphas.items()]).sum()

    def forward(self, loss: torch.Tensor, sample: Any = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        expected = self.expected_params()
        normalised = expected / self.baseline
        details = {"expected_params": expected.detach(), "normalised": normalised.detach(),
                   "loss_original": loss.detach()}
        return loss + self.scale * normalised, details


def edge_costs(space: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, list[float]]]:
    """Arch logits and #params vectors of every mixed cell edge of a DARTS-mutated space.

    ``space`` is a ``SepConvDartsSpace`` after NNI's DARTS ``mutate_model``; its cells are
    matched in order with the macro plan (width, reductions) that built them.
    """
    plan = plan_macro(None, num_classes=space.num_classes, channels=space.macro["width"],
                      layers=space.macro["depth"], stem=space.stem_kind, in_channels=space.in_channels)
    layout = list(cell_layout(plan, AllNodes(space.num_nodes)))
    cells = [m for m in space.modules() if isinstance(m, DifferentiableMixedCell)]
    if [cell.label for cell in cells] != [kind for kind, *_ in layout]:
        raise UserError(f"`space` must be a DARTS-mutated cell space with cells {[k for k, *_ in layout]}, "
                        f"found {[cell.label for cell in cells]}.")
    size = (DEFAULT_INPUT[space.stem_kind],) * 2  # #params do not depend on the input size
    alphas: dict[str, torch.Tensor] = {}
    costs: dict[str, list[float]] = {}
    for cell, (_, _, _, channels, reduction, _) in zip(cells, layout):
        for label, alpha in cell._arch_alpha.items():
            stride = 2 if reduction and int(_EDGE.fullmatch(label)["input"]) < 2 else 1
            vector = [cell_op_cost(op, channels, stride, size, {}).params for op in cell.op_names]
            vector += [0] * (len(alpha) - len(vector))  # the "none" slot
            if label in alphas and alphas[label] is not alpha:
                raise UserError(f"cells labelled {cell.label!r} must share the logits of edge {label!r}.")
            alphas[label] = alpha
            costs[label] = [a + b for a, b in zip(costs.get(label, [0] * len(vector)), vector)]
    return alphas, costs


class ParamsPenaltyDARTS(DARTS):
    """NNI's DARTS strategy whose architecture loss carries the expected-#params term.

    ``penalty`` is the weight lambda of ``E(alpha) / P_ref`` (module docstring); 0 is plain
    DARTS. Other keyword arguments go to NNI's ``DARTS`` (``arc_learning_rate``,
    ``warmup_epochs``, ...), except its profiler ``penalty``, which this replaces. The space
    must be a ``SepConvDartsSpace`` with fixed ``width``/``num_cells`` and
    ``search_internals=False`` (DARTS relaxes op and input choices, not op internals). Use it
    like ``DARTS``: ``NasExperiment(space, lightning_evaluator, ParamsPenaltyDARTS(penalty=0.5))``;
    ``export_top_models`` gives the derived architecture.
    """

    def __init__(self, *, penalty: float = 0.0, **kwargs: Any) -> None:
        self.penalty_weight = check_penalty("penalty", penalty)
        super().__init__(**kwargs)
        self.params_penalty: ExpectedParamsPenalty | None = None

    def mutate_model(self, model: Any) -> Any:
        _check_space(model)
        model = super().mutate_model(model)
        alphas, costs = edge_costs(model)
        self.params_penalty = ExpectedParamsPenalty(alphas, costs, weight=self.penalty_weight)
        self.penalty = self.params_penalty  # DARTS hands ``self.penalty`` to its Lightning module
        return model

    def extra_repr(self) -> str:
        return f"penalty={self.penalty_weight}"


def _check_space(space: Any) -> None:
    for attr in ("macro", "stem_kind", "num_nodes", "search_internals"):
        if not hasattr(space, attr):
            raise UserError(f"`model_space` must be a SepConvDartsSpace, got {type(space).__name__}.")
    for key, value in space.macro.items():
        if not isinstance(value, int):
            raise UserError(f"`{'width' if key == 'width' else 'num_cells'}` must be a fixed int for "
                            f"ParamsPenaltyDARTS, got {value!r}.")
    if space.search_internals:
        raise UserError("`search_internals` must be False for ParamsPenaltyDARTS (DARTS relaxes op and input "
                        "choices only), got True.")
