"""The operator registry: every op is looked up by name and built the same way.

As in DARTS's ``OPS`` dict, each entry builds an ``nn.Module`` from the same leading
arguments ``(c_in, c_out, stride)`` plus keyword-only op parameters, and reports its exact
cost from the same arguments without building anything. ``space`` lists the op's
internal hyper-parameters that a search space may choose per edge.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

from torch import nn

from nas_sepconv.core.validation import check_choice, check_input_size, check_positive_int
from nas_sepconv.ops.cost import Cost


@dataclass(frozen=True)
class OpSpec:
    """One registry entry: an op class with some keywords fixed (e.g. the kernel size).

    The class must accept ``(c_in, c_out, stride, **kwargs)`` and have a classmethod
    ``cost(c_in, c_out, stride, *, input_size, **kwargs) -> Cost``.
    """

    name: str
    cls: type
    fixed: Mapping[str, Any] = field(default_factory=dict)
    space: Mapping[str, tuple] = field(default_factory=dict)
    family: str = "baseline"

    @property
    def keywords(self) -> frozenset[str]:
        """Names of the op class's keyword-only parameters."""
        return _keyword_names(self.cls)

    def _kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        accepted = _keyword_names(self.cls)
        for key in kwargs:
            if key in self.fixed:
                raise ValueError(f"`{key}` is fixed to {self.fixed[key]!r} by op {self.name!r} and cannot be set.")
            if key not in accepted:
                raise ValueError(f"`{key}` is not a parameter of op {self.name!r}; allowed: "
                                 + ", ".join(sorted(accepted - set(self.fixed))) + ".")
        return {**self.fixed, **kwargs}

    def build(self, c_in: int, c_out: int, stride: int = 1, **kwargs: Any) -> nn.Module:
        """Build the op as a module."""
        _check_leading(c_in, c_out, stride)
        return self.cls(c_in, c_out, stride, **self._kwargs(kwargs))

    def cost(self, c_in: int, c_out: int, stride: int = 1, *, input_size: Any = 32, **kwargs: Any) -> Cost:
        """Exact #params and FLOPs for an input of ``input_size`` (H, W), without building."""
        _check_leading(c_in, c_out, stride)
        hw = check_input_size("input_size", input_size)
        return self.cls.cost(c_in, c_out, stride, input_size=hw, **self._kwargs(kwargs))


@functools.cache
def _keyword_names(cls: type) -> frozenset[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _check_leading(c_in: Any, c_out: Any, stride: Any) -> None:
    check_positive_int("c_in", c_in)
    check_positive_int("c_out", c_out)
    check_choice("stride", stride, (1, 2))


OPS: dict[str, OpSpec] = {}


def register_op(name: str, cls: type, *, family: str = "baseline",
                space: Mapping[str, tuple] | None = None, **fixed: Any) -> OpSpec:
    """Add ``cls`` (with ``fixed`` keywords) to the registry under ``name``."""
    if name in OPS:
        raise ValueError(f"`name` {name!r} is already registered.")
    spec = OpSpec(name, cls, dict(fixed), dict(space or {}), family)
    OPS[name] = spec
    return spec


def get_op(name: str) -> OpSpec:
    """Look up a registry entry, with an error listing the known names."""
    if name not in OPS:
        raise ValueError(f"`name` must be one of {', '.join(sorted(OPS))}, got {name!r}.")
    return OPS[name]


def create_op(name: str, c_in: int, c_out: int, stride: int = 1, **kwargs: Any) -> nn.Module:
    """Build op ``name``: the one factory models use instead of ``if`` ladders."""
    return get_op(name).build(c_in, c_out, stride, **kwargs)


def op_cost(name: str, c_in: int, c_out: int, stride: int = 1, *, input_size: Any = 32, **kwargs: Any) -> Cost:
    """Exact cost of op ``name`` without building it."""
    return get_op(name).cost(c_in, c_out, stride, input_size=input_size, **kwargs)
