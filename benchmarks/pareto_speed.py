"""Speed of nas_sepconv.frontier.pareto (moocore inside) against plain numpy versions.

The numpy versions are the obvious ones: all-pairs dominance for the front
(O(m n^2)), a sorted sweep for the 2-D hypervolume and slicing along the last
objective for 3-D (one 2-D sweep per slice, O(n^2 log n)).  Two point sets per
size: uniform in the unit cube (small fronts) and on the unit sphere's positive
orthant (every point non-dominated, the hard case).  Each result is also checked
for agreement.  Run:  python benchmarks/pareto_speed.py [--sizes 1000 10000]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from nas_sepconv.frontier.pareto import hypervolume, pareto_front


def numpy_front(z: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Indices of non-dominated rows (minimisation) by comparing every pair."""
    dominated = np.zeros(len(z), dtype=bool)
    for start in range(0, len(z), chunk):
        rows = z[start:start + chunk, None, :]
        no_worse = (z[None, :, :] <= rows).all(-1)
        better = (z[None, :, :] < rows).any(-1)
        dominated[start:start + chunk] = (no_worse & better).any(-1)
    return np.flatnonzero(~dominated)


def numpy_hv2d(z: np.ndarray, ref: np.ndarray) -> float:
    """2-D hypervolume: sweep by x; each point adds the strip below the best y so far."""
    z = z[np.all(z < ref, axis=1)]
    z = z[np.lexsort((z[:, 1], z[:, 0]))]
    best_before = np.minimum.accumulate(np.concatenate(([ref[1]], z[:-1, 1])))
    return float(np.sum((ref[0] - z[:, 0]) * np.maximum(best_before - z[:, 1], 0.0)))


def numpy_hv3d(z: np.ndarray, ref: np.ndarray) -> float:
    """3-D hypervolume: slabs between successive z values, each a 2-D hypervolume."""
    z = z[np.all(z < ref, axis=1)]
    z = z[np.argsort(z[:, 2], kind="stable")]
    tops = np.append(z[1:, 2], ref[2])
    return float(sum(
        numpy_hv2d(z[: i + 1, :2], ref[:2]) * (tops[i] - z[i, 2])
        for i in range(len(z)) if tops[i] > z[i, 2]
    ))


def timed(fn: Callable[[], object], budget_s: float = 0.3) -> tuple[float, object]:
    """Best of up to 3 runs (fewer when one run exceeds the budget); returns (seconds, result)."""
    best, result = np.inf, None
    for _ in range(3):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
        if best > budget_s:
            break
    return best, result


def point_sets(n: int, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    sphere = np.abs(rng.standard_normal((n, m)))
    return {"uniform": rng.random((n, m)), "sphere": sphere / np.linalg.norm(sphere, axis=1, keepdims=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    header = f"{'task':<6}{'set':<9}{'m':>2}{'n':>7}{'|front|':>9}{'moocore s':>12}{'numpy s':>11}{'ratio':>9}  agree"
    print(header)
    for n in args.sizes:
        for m in (2, 3):
            senses, ref = ("min",) * m, np.full(m, 1.1)
            for name, z in point_sets(n, m, rng).items():
                t_ours, front = timed(lambda: pareto_front(z, senses))
                t_np, front_np = timed(lambda: numpy_front(z))
                agree = np.array_equal(front, front_np)
                print(f"{'front':<6}{name:<9}{m:>2}{n:>7}{len(front):>9}{t_ours:>12.2e}{t_np:>11.2e}"
                      f"{t_np / t_ours:>9.3g}  {agree}")
                hv_np_fn = numpy_hv2d if m == 2 else numpy_hv3d
                t_ours, hv = timed(lambda: hypervolume(z, senses, ref))
                t_np, hv_np = timed(lambda: hv_np_fn(z, ref))
                rel = abs(hv - hv_np) / hv
                print(f"{'hv':<6}{name:<9}{m:>2}{n:>7}{len(front):>9}{t_ours:>12.2e}{t_np:>11.2e}"
                      f"{t_np / t_ours:>9.3g}  rel diff {rel:.1e}")


if __name__ == "__main__":
    main()
