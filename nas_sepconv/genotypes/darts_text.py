"""Read and write genotypes as the text of the DARTS reference code.

DARTS writes a genotype as ``Genotype(normal=[('sep_conv_3x3', 0), ...],
normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=range(2, 6))``. The text is
parsed with ``ast.parse`` and a walk over literal nodes only: nothing is evaluated, so a
pasted snippet cannot run code. Besides a bare call, one assignment ``NAME = Genotype(...)``
is accepted, as written in the DARTS and PC-DARTS ``genotypes.py`` files.
"""
from __future__ import annotations

import ast
from typing import Any, Sequence

from nas_sepconv.core.errors import UserError

FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


def parse_darts(text: str) -> dict[str, list]:
    """Fields of a DARTS genotype text: edge lists of ``(op, input)`` and concat lists."""
    if not isinstance(text, str):
        raise UserError(f"`text` must be a string of DARTS genotype text, got {text!r}.")
    try:
        tree = ast.parse(text.strip())
    except SyntaxError as err:
        raise UserError(f"`text` must be DARTS genotype text, got a syntax error ({err.msg}, "
                        f"line {err.lineno}) in {text.strip()[:80]!r}.") from None
    args = _call_arguments(_genotype_call(tree))
    return {name: (_edges(name, node) if name in ("normal", "reduce") else _concat(name, node))
            for name, node in args.items()}


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
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Genotype"):
        raise UserError(f"`text` must be a call Genotype(...), got {_source(node)[:80]!r}.")
    return node


def _call_arguments(call: ast.Call) -> dict[str, ast.expr]:
    if len(call.args) > len(FIELDS):
        raise UserError(f"`Genotype` takes at most {len(FIELDS)} positional fields, got {len(call.args)}.")
    args = dict(zip(FIELDS, call.args))
    for kw in call.keywords:
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
    pairs = []
    for i, item in enumerate(node.elts):
        ok = isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2
        op = item.elts[0] if ok else None
        index = _int_constant(item.elts[1]) if ok else None
        if not (isinstance(op, ast.Constant) and isinstance(op.value, str)) or index is None:
            raise UserError(f"`{name}[{i}]` must be an (op, input) pair of a string and an int, "
                            f"got {_source(item)!r}.")
        pairs.append((op.value, index))
    return pairs


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
