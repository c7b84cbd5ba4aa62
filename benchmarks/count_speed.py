"""Counting speed: analytic ``count`` vs building-and-counting vs NNI's freeze-and-count.

Ratios from one run (machines are noisy). Genotypes are random over the whole registry for
the first two methods; NNI's DARTS space only knows DARTS ops, so the NNI comparison uses
random DARTS-op genotypes, counted analytically too. Target: >= 1,000 genotypes/s analytic.

    python benchmarks/count_speed.py [--n 2000]
"""
from __future__ import annotations

import argparse
import random
import time
import warnings

import torch

from nas_sepconv.genotypes.sampling import random_genotype
from nas_sepconv.models.cell import _cell_op_cost
from nas_sepconv.models.network import build_model, count
from nas_sepconv.ops import op_set

MACRO = dict(channels=16, layers=8, stem="cifar")
DARTS_OPS = list(op_set("darts"))


def rate(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def build_and_count(genotype) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in build_model(genotype, **MACRO).parameters())


def nni_freeze_and_count(space, sample) -> int:
    return sum(p.numel() for p in space.freeze(sample).parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="genotypes for the analytic count")
    args = parser.parse_args()
    rng = random.Random(0)
    genotypes = [random_genotype(rng) for _ in range(args.n)]
    _cell_op_cost.cache_clear()
    cold = rate(lambda g: count(g, **MACRO), genotypes)
    warm = rate(lambda g: count(g, **MACRO), [random_genotype(rng) for _ in range(args.n)])
    built = rate(build_and_count, genotypes[:50])

    warnings.filterwarnings("ignore")
    from nni.nas.hub.pytorch.nasnet import DARTS

    space = DARTS(width=16, num_cells=8, dataset="cifar")
    darts_genotypes = [random_genotype(rng, DARTS_OPS) for _ in range(10)]
    samples = [g.to_sample() for g in darts_genotypes]
    for g, s in zip(darts_genotypes, samples):   # same networks, same counts
        assert count(g, **MACRO).params == nni_freeze_and_count(space, s)
    nni = rate(lambda s: nni_freeze_and_count(space, s), samples)
    analytic_darts = rate(lambda g: count(g, **MACRO), darts_genotypes * 50)

    print(f"{'method':<42} {'genotypes/s':>12} {'vs analytic (cold)':>19}")
    for name, value in [("analytic count, cold cache (whole registry)", cold),
                        ("analytic count, warm cache (whole registry)", warm),
                        ("build on meta device + sum numel", built),
                        ("NNI DARTS freeze + sum numel (DARTS ops)", nni),
                        ("analytic count (DARTS ops, same genotypes)", analytic_darts)]:
        print(f"{name:<42} {value:>12,.1f} {value / cold:>18.4f}x")


if __name__ == "__main__":
    main()
