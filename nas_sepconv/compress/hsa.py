"""BlkSConv hyper-parameter search (HSA) by PCA of a trained model's kernels (BlkSConv paper, Sec. III-C).

For every dense conv of a trained model and every block depth ``t`` in {1, 2, 4, ..., 2^beta}
that divides C_in, each filter's C_in/t blocks (t x k x k) are analysed by PCA; ``V(t, q)``
is the share of the kernel explained by the first ``q`` principal components. With the
BlkSConv's exact MAdds ``CC(t, q)`` and size ``MS(t, q)`` (``BlkSConv.cost`` at s = q), the
feasible set is Eq. 5::

    H = {(t, q) : alpha_v <= V(t, q),  CC(t, q) <= alpha_c * CC_dense,  MS(t, q) <= alpha_s * MS_dense}

and the layer takes the largest (Eq. 6, ``select="max"``) or smallest (Eq. 7, ``"min"``)
``MS`` in H; an empty H leaves the layer dense. Selected layers become
``BlkSConv.from_dense(conv, s=q, t=t)``, whose blocks are initialised from the same PCA.

Choices the paper leaves open, made to match the conversion exactly:
- Blocks are the paper's contiguous ones (``Q_j^(k)(x, y, z) = F_j(x, y, z + (k-1)t)``, Sec.
  III-A), cut as the authors' search cuts them (github.com/YanJenHuang/BlkSConv,
  ``scripts/HSA_playground.ipynb``: each filter reshaped to ``(C_in/t, t*k*k)``) and as
  ``BlkSConv.from_dense`` does (``nas_sepconv.ops.blk``).
- The PCA is uncentred and per filter (the operator has no mean block; the authors'
  notebook uses sklearn's centred PCA for ``V``, which would not be the energy the
  conversion keeps). The layer's
  ``V(t, q)`` pools the filters: kept energy over total energy, i.e.
  ``1 - ||W - W_hat||^2 / ||W||^2`` for the converted kernel ``W_hat``; it is exactly 1 at
  full rank.
- ``q`` runs up to ``min(q_max, C_in/t, t*k^2)``: a filter's blocks have no more components.
- ``CC_dense``/``MS_dense`` are the dense conv's exact FLOPs/params, and FLOPs follow this
  package's convention (conv multiply-accumulates, the paper's extra ``sXY`` sum is free).
- Ties in size are broken by larger V, then fewer FLOPs, then smaller t.
"""
from __future__ import annotations

import copy
import csv
import io
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from nas_sepconv.compress.dense import DenseConv, find_dense_convs, replace_module
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_text
from nas_sepconv.core.validation import check_choice, check_positive_float, check_positive_int
from nas_sepconv.ops.blk import BlkSConv
from nas_sepconv.ops.cost import Cost, conv_cost, conv_out

SELECTIONS = ("max", "min")


@dataclass(frozen=True, kw_only=True)
class HSAConfig:
    """Search constants: alpha_v in [0, 1], alpha_c and alpha_s > 0, beta >= 0, q_max (gamma) >= 1."""

    alpha_v: float = 0.5
    alpha_c: float = 0.5
    alpha_s: float = 0.5
    beta: int = 2
    q_max: int = 8
    select: str = "max"

    def __post_init__(self) -> None:
        v = self.alpha_v
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= float(v) <= 1.0:
            raise UserError(f"`alpha_v` must be a number in [0, 1], got {v!r}.")
        check_positive_float("alpha_c", self.alpha_c)
        check_positive_float("alpha_s", self.alpha_s)
        check_positive_int("beta", self.beta, minimum=0)
        check_positive_int("q_max", self.q_max)
        check_choice("select", self.select, SELECTIONS)


@dataclass(frozen=True)
class Candidate:
    """One (t, q) of a layer: explained variance, exact BlkSConv cost, membership of H (Eq. 5)."""

    t: int
    q: int
    variance: float
    params: int
    flops: int
    feasible: bool


@dataclass(frozen=True)
class LayerResult:
    """A layer's dense cost, every candidate, and the selected one (None: stays dense)."""

    conv: DenseConv
    dense: Cost
    candidates: tuple[Candidate, ...]
    choice: Candidate | None

    def row(self) -> dict:
        """The layer's line of the per-layer table."""
        c, d, ch = self.conv, self.dense, self.choice
        params, flops = (ch.params, ch.flops) if ch else (d.params, d.flops)
        return {"layer": c.name, "c_in": c.c_in, "c_out": c.c_out, "kernel": c.kernel_size, "stride": c.stride,
                "input_h": c.input_size[0], "input_w": c.input_size[1], "dense_params": d.params,
                "dense_flops": d.flops, "feasible": sum(x.feasible for x in self.candidates),
                "converted": ch is not None, "t": ch.t if ch else "", "q": ch.q if ch else "",
                "variance": round(ch.variance, 6) if ch else "", "params": params, "flops": flops,
                "params_ratio": round(params / d.params, 6), "flops_ratio": round(flops / d.flops, 6)}


def block_depths(c_in: int, beta: int) -> list[int]:
    """The block depths searched: 1, 2, ..., 2^beta, keeping those that divide ``c_in``."""
    return [2 ** e for e in range(beta + 1) if c_in % 2 ** e == 0]


def explained_variance(weight: torch.Tensor, t: int, q_max: int) -> list[float]:
    """``V(t, q)`` for q = 1 .. min(q_max, C_in/t, t*k^2): pooled uncentred per-filter PCA.

    Each filter's contiguous blocks (rows of the filter reshaped to C_in/t x t*k^2, as
    ``BlkSConv.from_dense`` cuts them) have squared singular values sigma_{j,i}^2; V(t, q) is
    ``sum_j sum_{i<=q} sigma_{j,i}^2 / sum_j sum_i sigma_{j,i}^2``. A zero kernel gives 1.
    """
    n, m, k, _ = weight.shape
    t, q_max = check_positive_int("t", t), check_positive_int("q_max", q_max)
    if m % t:
        raise UserError(f"`t` must divide the {m} input channels, got {t!r}.")
    blocks = weight.detach().double().reshape(n, m // t, t * k * k)
    kept = (torch.linalg.svdvals(blocks) ** 2).sum(0).cumsum(0)
    count = min(q_max, kept.numel())
    if kept[-1] == 0:
        return [1.0] * count
    return (kept[:count] / kept[-1]).tolist()


def dense_cost(conv: DenseConv) -> Cost:
    """Exact params and FLOPs of the dense conv itself (the reference CC_{M,1}, MS_{M,1})."""
    k, pad = conv.kernel_size, conv.kernel_size // 2
    out = tuple(conv_out(s, k, conv.stride, pad) for s in conv.input_size)
    return conv_cost(conv.c_in, conv.c_out, (k, k), out)


def layer_candidates(conv: DenseConv, weight: torch.Tensor, config: HSAConfig) -> tuple[Candidate, ...]:
    """Every (t, q) of one layer with V, CC, MS and whether it lies in H (Eq. 5)."""
    dense = dense_cost(conv)
    out = []
    for t in block_depths(conv.c_in, config.beta):
        for q, v in enumerate(explained_variance(weight, t, config.q_max), start=1):
            cost = BlkSConv.cost(conv.c_in, conv.c_out, conv.stride, input_size=conv.input_size,
                                 kernel_size=conv.kernel_size, s=q, t=t)
            ok = (config.alpha_v <= v and cost.flops <= config.alpha_c * dense.flops
                  and cost.params <= config.alpha_s * dense.params)
            out.append(Candidate(t, q, v, cost.params, cost.flops, ok))
    return tuple(out)


def select(candidates: Iterable[Candidate], how: str) -> Candidate | None:
    """Eq. 6 (``"max"``) or Eq. 7 (``"min"``) over the feasible candidates; None if H is empty."""
    feasible = [c for c in candidates if c.feasible]
    if not feasible:
        return None
    if check_choice("select", how, SELECTIONS) == "max":
        return min(feasible, key=lambda c: (-c.params, -c.variance, c.flops, c.t))
    return min(feasible, key=lambda c: (c.params, -c.variance, c.flops, c.t))


def search(model: nn.Module, input_shape: tuple[int, int, int], config: HSAConfig,
           layers: Iterable[str] | None = None) -> list[LayerResult]:
    """Run HSA on every dense conv of ``model`` (or those under ``layers``), in forward order.

    ``input_shape`` (C, H, W) is the model's input; it fixes each layer's MAdds.
    """
    if not isinstance(config, HSAConfig):
        raise UserError(f"`config` must be an HSAConfig, got {type(config).__name__}.")
    results = []
    for conv in find_dense_convs(model, input_shape, layers):
        cands = layer_candidates(conv, model.get_submodule(conv.name).weight, config)
        results.append(LayerResult(conv, dense_cost(conv), cands, select(cands, config.select)))
    return results


def convert(model: nn.Module, results: Iterable[LayerResult]) -> nn.Module:
    """A copy of ``model`` whose selected convs are ``BlkSConv.from_dense(conv, s=q, t=t)``."""
    converted = copy.deepcopy(model)
    for r in results:
        if r.choice is not None:
            dense = converted.get_submodule(r.conv.name)
            replace_module(converted, r.conv.name, BlkSConv.from_dense(dense, s=r.choice.q, t=r.choice.t))
    return converted


def blk_search(model: nn.Module, input_shape: tuple[int, int, int], config: HSAConfig,
               layers: Iterable[str] | None = None) -> tuple[nn.Module, list[LayerResult]]:
    """HSA then conversion: ``(converted copy of model, per-layer results)``."""
    results = search(model, input_shape, config, layers)
    return convert(model, results), results


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["layer"])
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_layer_table(path: str | Path, results: Iterable[LayerResult]) -> Path:
    """Atomically write one CSV row per layer (choice, cost and ratios to the dense conv)."""
    return atomic_write_text(path, _csv([r.row() for r in results]))


def write_candidate_table(path: str | Path, results: Iterable[LayerResult]) -> Path:
    """Atomically write every (layer, t, q) with V(t, q), CC, MS, feasibility and the choice."""
    rows = [{"layer": r.conv.name, "t": c.t, "q": c.q, "variance": round(c.variance, 6), "params": c.params,
             "flops": c.flops, "params_ratio": round(c.params / r.dense.params, 6),
             "flops_ratio": round(c.flops / r.dense.flops, 6), "feasible": c.feasible, "selected": c == r.choice}
            for r in results for c in r.candidates]
    return atomic_write_text(path, _csv(rows))


def total_ratio(results: Iterable[LayerResult]) -> tuple[float, float]:
    """(params, FLOPs) of the searched layers after conversion over before; NaN if there are none."""
    results = list(results)
    before = sum((r.dense for r in results), Cost(0, 0))
    after = sum((Cost(r.choice.params, r.choice.flops) if r.choice else r.dense for r in results), Cost(0, 0))
    if not before.params:
        return math.nan, math.nan
    return after.params / before.params, after.flops / before.flops
