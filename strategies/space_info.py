"""What a strategy needs to know about the user's model space beyond NNI's mutables.

NNI hands a strategy an ``ExecutableModelSpace`` (a ``SimplifiedModelSpace`` holding only a
trace of the user's space, or a ``RawFormatModelSpace`` holding the space itself). Our
spaces (``SepConvDartsSpace``) also answer ``cost(sample)`` (exact #params and FLOPs without
building) and ``genotype(sample)`` (the architecture, with unused op internals dropped);
this module recovers them so constraints are checked and duplicates caught before a trial
is spent. Other spaces get the sorted sample JSON as the key and need an explicit cost function.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Mapping

from nas_sepconv.core.errors import UserError

from .archive import sample_key

_logger = logging.getLogger(__name__)

CostFn = Callable[[Mapping[str, Any]], Any]
KeyFn = Callable[[Mapping[str, Any]], str]


def original_space(model_space: Any) -> Any | None:
    """The user's model space object behind an NNI executable space, or ``None``.

    A raw-format space keeps it as ``model_space``; a simplified one keeps a trace, which is
    re-instantiated once here (cheap for cell spaces: the supernet is built lazily by NNI).
    """
    if hasattr(model_space, "cost") or hasattr(model_space, "genotype"):
        return model_space
    inner = getattr(model_space, "model_space", None)
    if inner is not None:
        return inner
    traced = getattr(model_space, "model", None)
    symbol = getattr(traced, "trace_symbol", None)
    if symbol is None or not (hasattr(symbol, "cost") or hasattr(symbol, "genotype")):
        return None
    return symbol(*traced.trace_args, **traced.trace_kwargs)


def resolve_cost_fn(model_space: Any, cost_fn: CostFn | None) -> CostFn | None:
    """``cost_fn`` if given, else the space's own ``cost`` method, else ``None``."""
    if cost_fn is not None:
        if not callable(cost_fn):
            raise UserError(f"`cost_fn` must be a callable sample -> cost, got {cost_fn!r}.")
        return cost_fn
    space = original_space(model_space)
    return getattr(space, "cost", None) if space is not None else None


def resolve_key_fn(model_space: Any, key_fn: KeyFn | None) -> KeyFn:
    """``key_fn`` if given, else the space's genotype JSON, else the sorted sample JSON.

    Two samples that differ only in labels the architecture ignores (e.g. internals of an
    op no edge picked) have the same genotype, hence the same key: they are duplicates.
    """
    if key_fn is not None:
        if not callable(key_fn):
            raise UserError(f"`key_fn` must be a callable sample -> str, got {key_fn!r}.")
        return key_fn
    space = original_space(model_space)
    genotype = getattr(space, "genotype", None) if space is not None else None
    if genotype is None:
        return sample_key
    return lambda sample: genotype(sample).to_json(indent=None)


def cost_values(cost: Any) -> dict[str, float]:
    """{'params', 'flops'} of whatever a cost function returns (a ``Cost``, a mapping or a number of params)."""
    if isinstance(cost, Mapping):
        values = {k: float(cost[k]) for k in ("params", "flops") if k in cost}
    elif hasattr(cost, "params"):
        values = {"params": float(cost.params)}
        if getattr(cost, "flops", None) is not None:
            values["flops"] = float(cost.flops)
    else:
        values = {"params": float(cost)}
    if not values or not all(math.isfinite(v) for v in values.values()):
        raise UserError(f"a cost function must return finite params (and flops), got {cost!r}.")
    return values
