"""The operator registry: every op is looked up by name and built the same way.

As in DARTS's ``OPS`` dict, each entry builds an ``nn.Module`` from the same leading
arguments ``(c_in, c_out, stride)`` plus keyword-only op parameters, and reports its exact
cost from the same arguments without building anything. ``space`` lists the op's
internal hyper-parameters that a search space may choose per edge.

The registry is the one list that others query: search spaces, the CLI's op sets and the
ResNet backbone's short names all ask it (:func:`list_ops`, :func:`op_set`,
:func:`conv_aliases`), so adding an op is one ``register_op`` line in the op's own file.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import MAX_CHANNELS, check_at_most, check_choice, check_input_size, check_positive_int
from nas_sepconv.ops.cost import Cost


@dataclass(frozen=True)
class OpSpec:
    """One registry entry: an op class with some keywords fixed (e.g. the kernel size).

    The class must accept ``(c_in, c_out, stride, **kwargs)`` and have a classmethod
    ``cost(c_in, c_out, stride, *, input_size, **kwargs) -> Cost``.

    ``family`` groups ops for reports and op sets (``darts``, ``baseline`` or a new family such
    as ``osep``); ``has_bn`` says the op carries its own activation and BN (it then takes
    ``affine``), so a cell uses it as it is instead of wrapping it ReLU-op-BN; ``alias`` is the
    op's short name as a backbone conv (``"osep"`` for ``osep_3x3``); ``candidate`` puts it in
    the default candidate sets of the search spaces.
    """

    name: str
    cls: type
    fixed: Mapping[str, Any] = field(default_factory=dict)
    space: Mapping[str, tuple] = field(default_factory=dict)
    family: str = "baseline"
    has_bn: bool = False
    alias: str | None = None
    candidate: bool = True

    @property
    def keywords(self) -> frozenset[str]:
        """Names of the op class's keyword-only parameters."""
        return _keyword_names(self.cls)

    @property
    def tunables(self) -> frozenset[str]:
        """The parameters a genotype may set on this op: its keywords less the fixed ones and
        ``affine`` (the host network's). Any valid value is allowed; ``space`` only lists the
        default search choices."""
        return (self.keywords - set(self.fixed) - {"affine"}) | set(self.space)

    def _kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        accepted = _keyword_names(self.cls)
        for key in kwargs:
            if key in self.fixed:
                raise UserError(f"`{key}` is fixed to {self.fixed[key]!r} by op {self.name!r} and cannot be set.")
            if key not in accepted:
                raise UserError(f"`{key}` is not a parameter of op {self.name!r}; allowed: "
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


#: Families of the ops the new ones are compared against; every other family is "new".
REFERENCE_FAMILIES = ("darts", "baseline")
#: Named op sets of the search spaces and the CLI's ``--ops``.
OP_SETS = ("darts", "new", "all")


def register_op(name: str, cls: type, *, family: str = "baseline", space: Mapping[str, tuple] | None = None,
                has_bn: bool = False, alias: str | None = None, candidate: bool = True, **fixed: Any) -> OpSpec:
    """Add ``cls`` (with ``fixed`` keywords) to the registry under ``name`` (see :class:`OpSpec`)."""
    if name in OPS:
        raise UserError(f"`name` {name!r} is already registered.")
    if has_bn and "affine" not in _keyword_names(cls):
        raise UserError(f"`has_bn` needs an `affine` keyword on {cls.__name__}, which op {name!r} lacks.")
    if alias is not None and alias in conv_aliases():
        raise UserError(f"`alias` {alias!r} already names op {conv_aliases()[alias]!r}.")
    spec = OpSpec(name, cls, dict(fixed), dict(space or {}), family, has_bn, alias, candidate)
    OPS[name] = spec
    return spec


def list_ops(family: str | Sequence[str] | None = None, *, candidates_only: bool = False) -> tuple[str, ...]:
    """Registered op names, in registration order, of ``family`` (one name or several; all if None)."""
    families = None if family is None else ({family} if isinstance(family, str) else set(family))
    return tuple(name for name, spec in OPS.items()
                 if (families is None or spec.family in families) and (spec.candidate or not candidates_only))


def new_families() -> tuple[str, ...]:
    """Every registered family that is not a reference family (``osep``, ``blk``, ``xsep``, ...)."""
    return tuple(dict.fromkeys(s.family for s in OPS.values() if s.family not in REFERENCE_FAMILIES))


def op_set(name: str) -> tuple[str, ...]:
    """The candidate ops of op set ``name``: ``darts``, ``new`` (every new family) or ``all`` (both)."""
    check_choice("ops", name, OP_SETS)
    darts = list_ops("darts", candidates_only=True)
    new = list_ops(new_families(), candidates_only=True)
    return {"darts": darts, "new": new, "all": darts + new}[name]


Internals = Mapping[str, Mapping[str, Sequence[Any]]]


def check_internals(internals: Any, name: str = "internals") -> dict[str, dict[str, tuple]]:
    """Validate a user's candidate sets of op internals, e.g. ``{"osep": {"gamma": [1, 4]}}``.

    Keys are op families or registry op names; each names parameters that at least one of its
    ops takes (``OpSpec.tunables``), with a non-empty list of distinct JSON scalars. Whether a
    value suits a layer's channels is checked where the op is placed (the search space).
    """
    if internals is None:
        return {}
    if not isinstance(internals, Mapping):
        raise UserError(f"`{name}` must map op families or op names to {{parameter: [values]}}, got {internals!r}.")
    checked: dict[str, dict[str, tuple]] = {}
    families = {spec.family for spec in OPS.values()}
    for key, params in internals.items():
        ops = [s for s in OPS.values() if s.name == key] or [s for s in OPS.values() if s.family == key]
        if not isinstance(key, str) or not ops:
            raise UserError(f"`{name}` keys must be op families ({', '.join(sorted(families))}) or op names, "
                            f"got {key!r}.")
        if not isinstance(params, Mapping) or not params:
            raise UserError(f"`{name}.{key}` must map parameters to lists of values, got {params!r}.")
        tunable = set().union(*(s.tunables for s in ops))
        checked[key] = {}
        for param, values in params.items():
            if param not in tunable:
                raise UserError(f"`{name}.{key}` parameters must be among {', '.join(sorted(tunable)) or 'none'}, "
                                f"got {param!r}.")
            scalars = isinstance(values, Sequence) and not isinstance(values, str) and all(
                isinstance(v, (str, int, float)) for v in values)
            if not scalars or not values or len(set(values)) != len(values):
                raise UserError(f"`{name}.{key}.{param}` must be a non-empty list of distinct numbers or "
                                f"strings, got {values!r}.")
            checked[key][param] = tuple(values)
    return checked


def internal_choices(name: str, internals: Internals | None = None) -> dict[str, tuple]:
    """The search choices of op ``name``'s internals: the registry's ``space``, with the candidate
    lists that ``internals`` gives for its family, then for the op itself, replacing or adding
    parameters (only those the op takes)."""
    spec = get_op(name)
    choices = dict(spec.space)
    for key in (spec.family, spec.name):
        for param, values in (internals or {}).get(key, {}).items():
            if param in spec.tunables:
                choices[param] = tuple(values)
    return choices


def conv_aliases() -> dict[str, str]:
    """Backbone short names -> registry names (``{"osep": "osep_3x3", ...}``), registration order."""
    return {spec.alias: name for name, spec in OPS.items() if spec.alias is not None}


def get_op(name: str) -> OpSpec:
    """Look up a registry entry, with an error listing the known names."""
    if name not in OPS:
        raise UserError(f"`name` must be one of {', '.join(sorted(OPS))}, got {name!r}.")
    return OPS[name]


def create_op(name: str, c_in: int, c_out: int, stride: int = 1, **kwargs: Any) -> nn.Module:
    """Build op ``name``: the one factory models use instead of ``if`` ladders."""
    return get_op(name).build(c_in, c_out, stride, **kwargs)


def op_cost(name: str, c_in: int, c_out: int, stride: int = 1, *, input_size: Any = 32, **kwargs: Any) -> Cost:
    """Exact cost of op ``name`` without building it (channels at most ``MAX_CHANNELS``)."""
    for arg, value in (("c_in", c_in), ("c_out", c_out)):
        if isinstance(value, int) and not isinstance(value, bool):
            check_at_most(arg, value, MAX_CHANNELS, "the size limit")
    return get_op(name).cost(c_in, c_out, stride, input_size=input_size, **kwargs)
