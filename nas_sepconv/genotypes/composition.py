"""Op-family composition of an architecture: which share of its edges (cell genotype) or
residual blocks (ResNet genotype) uses ops of each registry family, and which op internals.

Families come from the op registry (``OPS[name].family``: ``darts``, ``baseline``, ``osep``,
``blk``, ``xsep`` and any family registered later); the ops an architecture uses come from the
genotype-kind dispatch ``architecture_ops``, so a new genotype kind plugs in there.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from nas_sepconv.genotypes.architecture import Architecture, architecture_ops
from nas_sepconv.ops.registry import OPS, REFERENCE_FAMILIES, new_families

#: Name of the dominant family of an architecture in which no family holds a strict majority.
MIXED = "mixed"


def families() -> tuple[str, ...]:
    """Every registered family: the reference ones first, then the new ones, registry order."""
    return tuple(dict.fromkeys(REFERENCE_FAMILIES + new_families()))


def op_label(op: str, params: tuple[tuple[str, Any], ...]) -> str:
    """``op`` with its internals, e.g. ``osep_3x3[N=3,gamma=1.0]`` (the bare name without any)."""
    return op + (f"[{','.join(f'{k}={v}' for k, v in params)}]" if params else "")


@dataclass(frozen=True)
class Composition:
    """``counts`` per family (every registered family, 0 included) of the ``total`` edges or
    blocks, the ``ops`` used with their counts, and the distinct op ``internals`` used."""

    counts: dict[str, int]
    total: int
    ops: dict[str, int]
    internals: tuple[str, ...]

    @property
    def shares(self) -> dict[str, float]:
        """Fraction of edges or blocks per family (sums to 1)."""
        return {family: count / self.total for family, count in self.counts.items()}

    @property
    def dominant(self) -> str:
        """The family of more than half of the edges or blocks, else ``MIXED``."""
        family, count = max(self.counts.items(), key=lambda item: item[1])
        return family if 2 * count > self.total else MIXED


def composition(arch: Architecture) -> Composition:
    """Count the families, ops and internals of ``arch`` (see the module docstring)."""
    uses = architecture_ops(arch)
    counts = Counter(OPS[op].family for op, _ in uses)
    known = families()
    ordered = {family: counts.get(family, 0) for family in known}
    ordered.update({family: n for family, n in counts.items() if family not in known})
    internals = tuple(sorted({op_label(op, params) for op, params in uses if params}))
    return Composition(ordered, len(uses), dict(Counter(op for op, _ in uses)), internals)
