"""Random genotypes over any set of registered ops, internals included (tests, benchmarks)."""
from __future__ import annotations

import random
from typing import Sequence

from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.ops import OPS


def random_genotype(rng: random.Random, ops: Sequence[str] | None = None, *, num_nodes: int = 4,
                    channels: int | None = None, layers: int | None = None) -> Genotype:
    """A DARTS-style genotype: each node reads two random earlier nodes through random ops,
    each op with random values from its registry ``space``; all nodes are concatenated."""
    names = sorted(ops or OPS)
    cells = {}
    for cell in ("normal", "reduce"):
        edges = []
        for node in range(2, 2 + num_nodes):
            for _ in range(2):
                op = rng.choice(names)
                params = {key: rng.choice(values) for key, values in OPS[op].space.items()}
                edges.append((op, rng.randrange(node), params))
        cells[cell] = edges
    concat = range(2, 2 + num_nodes)
    return Genotype(cells["normal"], concat, cells["reduce"], concat, channels=channels, layers=layers)
