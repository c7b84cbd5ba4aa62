"""Read and write genotypes as the text of the DARTS reference code.

DARTS writes a genotype as ``Genotype(normal=[('sep_conv_3x3', 0), ...],
normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=range(2, 6))``. The text is
parsed with ``ast.parse`` and a walk over literal nodes only: nothing is evaluated, so a
pasted snippet cannot run code. Besides a bare call, one assignment ``NAME = Genotype(...)``
is accepted, as written in the DARTS and PC-DARTS ``genotypes.py`` files.

A whole third-party ``genotypes.py`` is read the same way (``genotype_names`` and
``parse_darts(text, name)``): its top-level ``NAME = Genotype(...)`` and ``ALIAS = NAME``
assignments are collected and everything else (imports, ``namedtuple``, op lists, functions)
is skipped unread. Edge spellings of the published files are accepted: ``(op, input)``;
``(op, input, weight)`` with a float weight (GDAS's NAS-Projects); one ``((op, input), (op,
input))`` pair per node (AutoDL-Projects, with ``connectN=None, connects=None``); and
FairDARTS's ``(op, node, input)`` triples when every node has exactly two inputs, in node
order. A FairDARTS cell whose nodes have one or three inputs is refused: a cell here sums
exactly two edges per node.
"""
from __future__ import annotations

import ast
from typing import Any, Sequence

from nas_sepconv.core.errors import UserError

FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


#: A DARTS genotype text is a few hundred characters nested 4 deep; bounds for what is parsed.
MAX_TEXT, MAX_DEPTH = 1_000_000, 50


def max_nesting(text: str) -> int:
    """The deepest nesting of brackets and of runs of unary operators in ``text`` (without parsing)."""
    depth = deepest = run = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        run = run + 1 if char in "-+~" else (run if char.isspace() else 0)
        deepest = max(deepest, depth, run)
    return deepest


IGNORED_NONE = ("connectN", "connects")  # AutoDL-Projects' extra fields, None in its published cells


def parse_darts(text: str, name: str | None = None) -> dict[str, list]:
    """Fields of a DARTS genotype text: edge lists of ``(op, input)`` and concat lists.

    ``name`` picks one genotype of a ``genotypes.py`` module (see the module docstring);
    without it the text must hold exactly one ``Genotype(...)``.
    """
    tree = _parse(text)
    if name is None:
        call = _genotype_call(tree)
    else:
        calls = _module_calls(tree)
        if name not in calls:
            raise UserError(f"`NAME` must be one of {', '.join(calls) or '(no Genotype(...) assignments)'}, "
                             f"got {name!r}.")
        call = calls[name]
    args = _call_arguments(call)
    return {field: (_edges(field, node) if field in ("normal", "reduce") else _concat(field, node))
            for field, node in args.items()}


def genotype_names(text: str) -> list[str]:
    """Names of the top-level ``NAME = Genotype(...)`` (and ``ALIAS = NAME``) assignments, in order."""
    return list(_module_calls(_parse(text)))


def _parse(text: str) -> ast.Module:
    if not isinstance(text, str):
        raise UserError(f"`text` must be a string of DARTS genotype text, got {text!r}.")
    if len(text) > MAX_TEXT:
        raise UserError(f"`text` must be DARTS genotype text of at most {MAX_TEXT} characters, got {len(text)}.")
    depth = max_nesting(text)
    if depth > MAX_DEPTH:
        raise UserError(f"`text` must be DARTS genotype text nested at most {MAX_DEPTH} deep, got {depth}.")
    try:
        return ast.parse(text.strip())
    except (RecursionError, MemoryError):
        raise UserError("`text` must be DARTS genotype text, got text too deeply nested to parse.") from None
    except SyntaxError as err:
        raise UserError(f"`text` must be DARTS genotype text, got a syntax error ({err.msg}, "
                         f"line {err.lineno}) in {text.strip()[:80]!r}.") from None


def _is_genotype_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Genotype"


def _module_calls(tree: ast.Module) -> dict[str, ast.Call]:
    """``{NAME: Genotype(...) call}`` of the top-level assignments; ``ALIAS = NAME`` follows NAME."""
    calls: dict[str, ast.Call] = {}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        target, value = stmt.targets[0].id, stmt.value
        if _is_genotype_call(value):
            calls[target] = value
        elif isinstance(value, ast.Name) and value.id in calls:
            calls[target] = calls[value.id]
    return calls


def format_darts(normal: Sequence[tuple[str, int]], normal_concat: Sequence[int],
                 reduce: Sequence[tuple[str, int]], reduce_concat: Sequence[int]) -> str:
    """The one-line DARTS text for the given edge pairs and concat lists."""
    def edges(pairs: Sequence[tuple[str, int]]) -> str:
        return "[" + ", ".join(f"({op!r}, {index})" for op, index in pairs) + "]"
    return (f"Genotype(normal={edges(normal)}, normal_concat={list(normal_concat)}, "
            f"reduce={edges(reduce)}, reduce_concat={list(reduce_concat)})")


def _source(node: ast.AST) -> str:
    return ast.unparse(node)


def _genotype_call(tree: ast.Module) -> ast.Call:
    if len(tree.body) != 1:
        raise UserError(f"`text` must hold exactly one Genotype(...) expression, got {len(tree.body)} statements.")
    stmt = tree.body[0]
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        node = stmt.value
    elif isinstance(stmt, ast.Expr):
        node = stmt.value
    else:
        raise UserError(f"`text` must be Genotype(...) or NAME = Genotype(...), got {_source(stmt)[:80]!r}.")
    if not _is_genotype_call(node):
        raise UserError(f"`text` must be a call Genotype(...), got {_source(node)[:80]!r}.")
    return node


def _call_arguments(call: ast.Call) -> dict[str, ast.expr]:
    if len(call.args) > len(FIELDS):
        raise UserError(f"`Genotype` takes at most {len(FIELDS)} positional fields, got {len(call.args)}.")
    args = dict(zip(FIELDS, call.args))
    for kw in call.keywords:
        if kw.arg in IGNORED_NONE and isinstance(kw.value, ast.Constant) and kw.value.value is None:
            continue
        if kw.arg not in FIELDS:
            raise UserError(f"`Genotype` fields must be {', '.join(FIELDS)}, got {kw.arg!r}.")
        if kw.arg in args:
            raise UserError(f"`{kw.arg}` must be given once, got it twice.")
        args[kw.arg] = kw.value
    missing = [name for name in FIELDS if name not in args]
    if missing:
        raise UserError(f"`Genotype` must give every field; missing: {', '.join(missing)}.")
    return {name: args[name] for name in FIELDS}


def _int_constant(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _edges(name: str, node: ast.expr) -> list[tuple[str, int]]:
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise UserError(f"`{name}` must be a list of (op, input) pairs, got {_source(node)[:80]!r}.")
    items = [(f"{name}[{i}]", item) for i, item in enumerate(node.elts)]
    if items and all(_is_node_pair(item) for _, item in items):  # AutoDL: one ((op, in), (op, in)) per node
        items = [(f"{path}[{j}]", edge) for path, item in items for j, edge in enumerate(item.elts)]
    edges = [_edge(path, item) for path, item in items]
    if any(target is not None for _, _, target in edges):
        return _fair_darts(name, edges)
    return [(op, index) for op, index, _ in edges]


def _is_node_pair(item: ast.expr) -> bool:
    return (isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2
            and all(isinstance(e, (ast.Tuple, ast.List)) for e in item.elts))


def _edge(path: str, item: ast.expr) -> tuple[str, int, int | None]:
    """(op, input, FairDARTS target node or None) of ``(op, input)``, ``(op, input, float weight)``
    or FairDARTS's ``(op, node, input)``."""
    elts = item.elts if isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) in (2, 3) else None
    op = elts[0] if elts else None
    index = _int_constant(elts[1]) if elts else None
    if not (isinstance(op, ast.Constant) and isinstance(op.value, str)) or index is None:
        raise UserError(f"`{path}` must be an (op, input) pair of a string and an int, got {_source(item)[:80]!r}.")
    if len(elts) == 2:
        return op.value, index, None
    third = elts[2]
    if isinstance(third, ast.Constant) and type(third.value) is float:
        return op.value, index, None  # GDAS: the edge's architecture weight
    source = _int_constant(third)
    if source is None:
        raise UserError(f"`{path}` must be (op, input), (op, input, weight) or FairDARTS's (op, node, input), "
                         f"got {_source(item)[:80]!r}.")
    return op.value, source, index


def _fair_darts(name: str, edges: list[tuple[str, int, int | None]]) -> list[tuple[str, int]]:
    """FairDARTS ``(op, node, input)`` edges as DARTS pairs, if every node 2, 3, ... has exactly two."""
    targets = [target for _, _, target in edges]
    expected = [2 + i // 2 for i in range(len(edges))]
    if None in targets or targets != expected:
        raise UserError(f"`{name}` is a FairDARTS-style cell, (op, node, input) edges whose nodes "
                         f"{sorted(set(t for t in targets if t is not None))} have {_fan_in(targets)} inputs; "
                         f"only cells whose every node sums exactly two edges, listed node by node, are "
                         f"supported.")
    return [(op, source) for op, source, _ in edges]


def _fan_in(targets: list[int | None]) -> str:
    counts = {t: targets.count(t) for t in targets if t is not None}
    return ", ".join(f"{counts[t]}" for t in sorted(counts))


def _concat(name: str, node: ast.expr) -> list[int]:
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_int_constant(item) for item in node.elts]
        if None not in values:
            return values  # type: ignore[return-value]
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
          and not node.keywords and 1 <= len(node.args) <= 3):
        bounds: list[Any] = [_int_constant(arg) for arg in node.args]
        if None not in bounds and bounds[2:] != [0]:
            return list(range(*bounds))
    raise UserError(f"`{name}` must be a list of ints or range(start, stop), got {_source(node)[:80]!r}.")
