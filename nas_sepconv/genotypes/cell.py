"""Genotypes: a found cell architecture as a frozen, hashable, validated value.

DARTS convention: a cell has two inputs (nodes 0 and 1, the outputs of the two previous
cells) and N intermediate nodes 2..N+1. Each node sums two edges from earlier nodes, and
edges are listed node by node: edges 2k and 2k+1 feed node k+2, which may read 0..k+1. N is
the number of edges / 2 and may differ between the normal and the reduction cell. The cell
output concatenates the nodes in ``concat``. ``channels`` and ``layers`` are the macro
settings (initial width C, number of cells); ``None`` means "use the builder's default".
An edge may carry op parameters: values for the op's searchable ``space`` (registry).

JSON (``to_dict``/``to_json``, one genotype)::

    {"normal": [{"op": "sep_conv_3x3", "input": 0}, {"op": "osep_3x3", "input": 1,
     "params": {"N": 3}}, ...], "normal_concat": [2, 3, 4, 5], "reduce": [...],
     "reduce_concat": [2, 3, 4, 5], "channels": 36, "layers": 20}

NNI sample (``to_sample``/``from_sample``), the labels of NNI's DARTS cell space
(``nni.nas.hub.pytorch.nasnet``, cells labelled ``normal``/``reduce``, ``Cell`` labels
``op_{node}_{j}`` and ``input_{node}_{j}`` with j in 0, 1)::

    'normal/op_2_0': 'sep_conv_3x3'   op of edge j of node 2
    'normal/input_2_0': [0]           its input node, a one-element list as NNI samples it
    'normal/op_2_0/osep_3x3/N': 3     our extension: parameter N of op osep_3x3 on that edge
    'normal/concat': [2, 3]           our extension, only when not all nodes are concatenated
    'width': 36, 'depth': 20          NNI's macro labels, only when channels / layers are set

Parameter labels name the op because an NNI sample holds the parameters of every candidate
op of an edge, whichever is chosen, and two candidates may share a parameter name with
different choices. ``from_sample`` keeps the chosen op's parameters only; it also reads the
short form ``normal/op_2_0/N`` (the op-qualified key wins). Files: ``genotype_files``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_text
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.genotypes.darts_text import format_darts, parse_darts
from nas_sepconv.genotypes.edge import Edge, check_cell
from nas_sepconv.ops.registry import OPS

CELLS = ("normal", "reduce")
_SAMPLE_KEY = re.compile(r"(op|input)_(\d+)_([01])(?:/(?:([^/]+)/)?([^/]+))?")


class JsonValue:
    """JSON text and files for a value with ``to_dict`` and a validating ``from_dict``."""

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of ``to_dict``."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Any:
        """Parse JSON text written by ``to_json``."""
        return cls.from_dict(json_loads(text))

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON atomically (temporary file + ``os.replace``)."""
        atomic_write_text(path, self.to_json() + "\n")


@dataclass(frozen=True)
class Genotype(JsonValue):
    """A DARTS-style architecture: normal and reduction cells plus optional macro settings.

    Edges may be given as ``Edge`` objects or ``(op, input[, params])`` tuples and concat
    lists as any iterable (e.g. ``range(2, 6)``); everything is validated at construction.
    """

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]
    channels: int | None = None
    layers: int | None = None

    def __post_init__(self) -> None:
        for cell in CELLS:
            edges, concat = check_cell(cell, getattr(self, cell), getattr(self, f"{cell}_concat"))
            object.__setattr__(self, cell, edges)
            object.__setattr__(self, f"{cell}_concat", concat)
        for name in ("channels", "layers"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_positive_int(name, getattr(self, name)))

    def num_nodes(self, cell: str) -> int:
        """Number of intermediate nodes of ``cell`` ("normal" or "reduce")."""
        return len(getattr(self, check_choice("cell", cell, CELLS))) // 2

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (format in the module docstring)."""
        data: dict[str, Any] = {}
        for cell in CELLS:
            data[cell] = [{"op": e.op, "input": e.input, **({"params": e.param_dict} if e.params else {})}
                          for e in getattr(self, cell)]
            data[f"{cell}_concat"] = list(getattr(self, f"{cell}_concat"))
        data.update(channels=self.channels, layers=self.layers)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Genotype:
        """Inverse of ``to_dict``; unknown keys are refused so typos do not pass silently."""
        if not isinstance(data, Mapping):
            raise UserError(f"`genotype` must be a JSON object, got {data!r}.")
        required = {"normal", "normal_concat", "reduce", "reduce_concat"}
        unknown = sorted(set(data) - required - {"channels", "layers"})
        missing = sorted(required - set(data))
        if unknown or missing:
            raise UserError(f"`genotype` keys must be {', '.join(sorted(required))} (+ channels, layers); "
                            f"got unknown {unknown} and missing {missing}.")
        fields = {key: data[key] for key in data}
        for cell in CELLS:
            if not isinstance(data[cell], list):
                raise UserError(f"`{cell}` must be a list of edge objects, got {data[cell]!r}.")
            fields[cell] = [_edge_from_dict(f"{cell}[{i}]", e) for i, e in enumerate(data[cell])]
            if not isinstance(data[f"{cell}_concat"], list):
                raise UserError(f"`{cell}_concat` must be a list of node indices, got {data[f'{cell}_concat']!r}.")
        return cls(**fields)

    # -- DARTS text ---------------------------------------------------------------------
    def to_darts(self) -> str:
        """DARTS reference-code text; macro settings are not part of it and are dropped."""
        pairs = {}
        for cell in CELLS:
            for i, edge in enumerate(getattr(self, cell)):
                if edge.params:
                    raise UserError(f"`{cell}[{i}].params` cannot be written as DARTS text (edges are "
                                    f"(op, input) pairs), got {edge.param_dict!r}.")
            pairs[cell] = [(edge.op, edge.input) for edge in getattr(self, cell)]
        return format_darts(pairs["normal"], self.normal_concat, pairs["reduce"], self.reduce_concat)

    @classmethod
    def from_darts(cls, text: str, *, name: str | None = None, channels: int | None = None,
                   layers: int | None = None) -> Genotype:
        """Parse ``Genotype(normal=[...], normal_concat=..., ...)`` text without evaluating it;
        ``name`` picks ``NAME = Genotype(...)`` of a whole ``genotypes.py`` (``darts_text``)."""
        return cls(**parse_darts(text, name), channels=channels, layers=layers)

    # -- NNI samples ----------------------------------------------------------------------
    def to_sample(self) -> dict[str, Any]:
        """The NNI sample (key scheme in the module docstring) that freezes to this genotype."""
        sample: dict[str, Any] = {}
        if self.channels is not None:
            sample["width"] = self.channels
        if self.layers is not None:
            sample["depth"] = self.layers
        for cell in CELLS:
            for i, edge in enumerate(getattr(self, cell)):
                slot = f"{i // 2 + 2}_{i % 2}"
                sample[f"{cell}/op_{slot}"] = edge.op
                sample[f"{cell}/input_{slot}"] = [edge.input]
                sample.update({f"{cell}/op_{slot}/{edge.op}/{key}": value for key, value in edge.params})
            concat = getattr(self, f"{cell}_concat")
            if concat != tuple(range(2, self.num_nodes(cell) + 2)):
                sample[f"{cell}/concat"] = list(concat)
        return sample

    @classmethod
    def from_sample(cls, sample: Mapping[str, Any], *, merge_op: str = "all") -> Genotype:
        """Genotype of an NNI sample; keys outside the scheme's prefixes are ignored.

        Without a ``{cell}/concat`` key the output follows NNI's ``merge_op``: "all" nodes,
        or the "loose_end" nodes that no edge reads.
        """
        if not isinstance(sample, Mapping):
            raise UserError(f"`sample` must be a mapping of NNI labels to values, got {sample!r}.")
        check_choice("merge_op", merge_op, ("all", "loose_end"))
        fields: dict[str, Any] = {}
        for cell in CELLS:
            fields[cell], fields[f"{cell}_concat"] = _cell_from_sample(sample, cell, merge_op)
        return cls(**fields, channels=sample.get("width"), layers=sample.get("depth"))


def _edge_from_dict(path: str, data: Any) -> Edge:
    if not isinstance(data, Mapping) or not {"op", "input"} <= set(data) <= {"op", "input", "params"}:
        raise UserError(f"`{path}` must be an object with keys op, input and optional params, got {data!r}.")
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise UserError(f"`{path}.params` must be an object, got {params!r}.")
    return Edge(data["op"], data["input"], params)


def json_loads(text: Any) -> Any:
    """``json.loads`` whose syntax errors are ValueErrors saying where and what."""
    if not isinstance(text, str):
        raise UserError(f"`text` must be a JSON string, got {text!r}.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"`text` must be valid JSON, got {err.msg} at line {err.lineno} column {err.colno} "
                        f"in {text[:80]!r}.") from None


def _sample_input(key: str, value: Any) -> int:
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if type(value) is not int:
        raise UserError(f"`sample[{key!r}]` must be a one-element list holding a node index, got {value!r}.")
    return value


def _cell_from_sample(sample: Mapping[str, Any], cell: str,
                      merge_op: str) -> tuple[list[Edge], list[int] | Any]:
    ops: dict[tuple[int, int], Any] = {}
    inputs: dict[tuple[int, int], int] = {}
    params: dict[tuple[int, int], dict[tuple[str | None, str], Any]] = {}
    for key, value in sample.items():
        if not isinstance(key, str) or not key.startswith(cell + "/") or key == f"{cell}/concat":
            continue
        match = _SAMPLE_KEY.fullmatch(key[len(cell) + 1:])
        if match is None or (match[1] == "input" and match[5]):
            raise UserError(f"`sample` key {key!r} must follow {cell}/op_<node>_<j>[[/<op>]/<param>] or "
                            f"{cell}/input_<node>_<j> (j in 0, 1).")
        slot = (int(match[2]), int(match[3]))
        if match[5]:
            params.setdefault(slot, {})[match[4], match[5]] = value
        elif match[1] == "op":
            ops[slot] = value
        else:
            inputs[slot] = _sample_input(key, value)
    slots = [(node, j) for node in range(2, len(ops) // 2 + 2) for j in (0, 1)]
    for kind, found in (("op", ops), ("input", inputs)):
        if set(found) != set(slots) or not slots:
            raise UserError(f"`sample` must have {cell}/{kind}_<node>_<j> for nodes 2.. and j in 0, 1 "
                            f"without gaps, got {sorted(found)}.")
    edges = [Edge(ops[slot], inputs[slot], _chosen_params(ops[slot], params.get(slot, {}))) for slot in slots]
    return edges, _sample_concat(sample, cell, edges, merge_op)


def _chosen_params(op: Any, found: dict[tuple[str | None, str], Any]) -> dict[str, Any]:
    """The chosen op's parameters among every candidate's; op-qualified keys win."""
    tunables = OPS[op].tunables if isinstance(op, str) and op in OPS else frozenset()
    kept = {name: value for (owner, name), value in found.items() if owner is None and name in tunables}
    kept.update({name: value for (owner, name), value in found.items() if owner == op})
    return kept


def _sample_concat(sample: Mapping[str, Any], cell: str, edges: list[Edge], merge_op: str) -> Any:
    if f"{cell}/concat" in sample:
        return sample[f"{cell}/concat"]
    nodes = range(2, len(edges) // 2 + 2)
    if merge_op == "all":
        return list(nodes)
    used = {edge.input for edge in edges}
    return [node for node in nodes if node not in used]


def replace_ops(genotype: Genotype, mapping: Mapping[str, Any], *,
                cells: Iterable[str] = CELLS) -> Genotype:
    """Swap op names on every edge, e.g. ``{'sep_conv_3x3': 'osep_3x3'}`` (o-DARTS style).

    A value may be ``(new_op, params)`` to set the new op's parameters; a replaced edge
    drops the old op's parameters. Edges keep their inputs; concat and macro stay.
    """
    targets: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for old, new in mapping.items():
        if isinstance(new, str):
            targets[old] = (new, {})
        elif isinstance(new, (tuple, list)) and len(new) == 2 and isinstance(new[0], str) \
                and isinstance(new[1], Mapping):
            targets[old] = (new[0], new[1])
        else:
            raise UserError(f"`mapping[{old!r}]` must be an op name or an (op name, params) pair, got {new!r}.")
    def swap(edge: Edge) -> Edge:
        if edge.op not in targets:
            return edge
        new_op, params = targets[edge.op]
        return Edge(new_op, edge.input, params)

    changes = {check_choice("cells", cell, CELLS): tuple(map(swap, getattr(genotype, cell))) for cell in cells}
    return replace(genotype, **changes)


#: DARTS's dsep ops -> their osep counterparts (osep paper, Section 4: o-DARTS).
O_DARTS_SEP = {"sep_conv_3x3": "o_sep_conv_3x3", "sep_conv_5x5": "o_sep_conv_5x5"}
O_DARTS_DIL = {"dil_conv_3x3": "o_dil_conv_3x3", "dil_conv_5x5": "o_dil_conv_5x5"}


def o_darts(genotype: Genotype, *, dil_conv: bool = True, params: Mapping[str, Any] | None = None) -> Genotype:
    """o-DARTS from a DARTS genotype: "replacing the dsep convolutions ... with osep" (osep paper, Sec. 4).

    DARTS has two dsep ops: ``sep_conv_KxK`` (two dw+pw pairs) becomes ``o_sep_conv_KxK`` and,
    with ``dil_conv`` (default), ``dil_conv_KxK`` (a dilated dw+pw pair) becomes
    ``o_dil_conv_KxK`` (a dilated osep). ``dil_conv=False`` is the SepConv-only reading.
    ``params`` (osep internals such as ``{"N": 3}``) go to every replaced edge.
    """
    if not isinstance(dil_conv, bool):
        raise UserError(f"`dil_conv` must be True or False, got {dil_conv!r}.")
    if params is not None and not isinstance(params, Mapping):
        raise UserError(f"`params` must be a mapping of osep parameters or None, got {params!r}.")
    mapping = {**O_DARTS_SEP, **(O_DARTS_DIL if dil_conv else {})}
    return replace_ops(genotype, {old: (new, dict(params or {})) for old, new in mapping.items()})
