"""Edges of a genotype cell and their validation against the op registry.

An edge is (op, input node, op parameters). Parameters are any of the op's tunable keywords
(``OpSpec.tunables``) with any value the op accepts, not only the registry's default search
choices (``space``); they are stored as sorted pairs so edges stay hashable. Checks
name the edge by its place, e.g. ``normal[3].input``, so a bad genotype file is easy to fix.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.ops.registry import OPS


def _freeze(value: Any) -> Any:
    """Lists (as JSON gives them) become tuples, so parameter values stay hashable."""
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


def _freeze_params(params: Any) -> tuple[tuple[str, Any], ...]:
    items = params.items() if isinstance(params, Mapping) else params
    try:
        pairs = [(key, _freeze(value)) for key, value in items]
    except (TypeError, ValueError):
        raise UserError(f"`params` must be a mapping of parameter names to values, got {params!r}.") from None
    keys = [key for key, _ in pairs]
    if not all(isinstance(key, str) for key in keys) or len(set(keys)) != len(keys):
        raise UserError(f"`params` must have distinct string keys, got {params!r}.")
    return tuple(sorted(pairs))


@dataclass(frozen=True)
class Edge:
    """One edge of a cell: op ``op`` applied to node ``input``, with op parameters.

    ``params`` accepts a mapping and is stored as sorted ``(name, value)`` pairs so the
    edge stays hashable. The op and the indices are checked by the enclosing ``Genotype``.
    """

    op: str
    input: int
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze_params(self.params))

    @property
    def param_dict(self) -> dict[str, Any]:
        """The op parameters as a dict, ready for ``create_op(op, ..., **param_dict)``."""
        return dict(self.params)


def _as_edge(path: str, item: Any) -> Edge:
    if isinstance(item, Edge):
        return item
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        return Edge(*item)
    raise UserError(f"`{path}` must be an Edge or an (op, input[, params]) tuple, got {item!r}.")


def _plain(value: Any) -> bool:
    """Whether ``value`` is what a genotype file can hold: a number, a string or a tuple of them."""
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, (str, int, float))


def _index(value: Any) -> int | None:
    """``value`` as a node index (any integer type but bool), else None."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return int(value) if is_int else None


def _check_edge(path: str, edge: Edge, node: int) -> Edge:
    if not isinstance(edge.op, str) or edge.op not in OPS:
        raise UserError(f"`{path}.op` must be a registered op ({', '.join(sorted(OPS))}), got {edge.op!r}.")
    source = _index(edge.input)
    if source is None or not 0 <= source < node:
        raise UserError(f"`{path}.input` must be in 0..{node - 1}, got {edge.input!r}.")
    tunables, space = OPS[edge.op].tunables, OPS[edge.op].space
    params = {}
    for key, value in edge.params:
        if key not in tunables:
            allowed = ", ".join(sorted(tunables)) or "none"
            raise UserError(f"`{path}.params` must only name parameters in the space of op {edge.op!r} "
                            f"({allowed}), got {key!r}.")
        if not _plain(value):
            raise UserError(f"`{path}.params.{key}` must be a number, a string or a list of them, got {value!r}.")
        # Any value the op accepts is valid (the op checks it where it is built or counted); the
        # registry's `space` lists only the default search choices. A value among them is stored
        # as the space's own object (2.0 -> 2), so equal edges serialise alike.
        choices = tuple(space.get(key, ()))
        params[key] = choices[choices.index(value)] if value in choices else value
    return Edge(edge.op, source, params)


def check_cell(cell: str, edges: Any, concat: Any) -> tuple[tuple[Edge, ...], tuple[int, ...]]:
    """Validated edges and concat of one cell: node k+2 reads edges 2k, 2k+1 from 0..k+1."""
    if not isinstance(edges, (tuple, list)) or not edges or len(edges) % 2:
        raise UserError(f"`{cell}` must list two edges per node (an even, non-zero count), got {edges!r}.")
    checked = tuple(_check_edge(f"{cell}[{i}]", _as_edge(f"{cell}[{i}]", e), i // 2 + 2)
                    for i, e in enumerate(edges))
    last = len(edges) // 2 + 1
    try:
        nodes = tuple(map(_index, concat))
    except TypeError:
        nodes = ()
    if (not nodes or len(set(nodes)) != len(nodes)
            or not all(n is not None and 2 <= n <= last for n in nodes)):
        raise UserError(f"`{cell}_concat` must list distinct nodes in 2..{last}, got {concat!r}.")
    return checked, nodes
