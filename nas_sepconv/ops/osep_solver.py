"""Optimized separable convolution: the pure solver (osep paper, Section 3.4, Theorem 1, Algorithm 1).

An N-separable convolution is a chain of N grouped convs C_1 -> C_2 -> ... -> C_{N+1}
(C_1 = C_in, C_{N+1} = C_out, internal widths from a policy). Its cost is Eq. 15/16,
``sum_l C_{l+1} n_l K_l^H K_l^W`` with n_l = C_l / g_l channels per group, under the channel
condition (Eq. 21: g_1...g_N <= C_2...C_N / gamma) and the group condition (Eq. 23:
g_l <= min(C_l, C_{l+1})). Kernels follow Eqs. 25-26 (one conv carries the kernel).

Eq. 23 as printed, ``n_l >= max(1, C_{l+1}/C_l) <=> g_l <= min(C_l, C_{l+1})``, has a typo on
its left side: with n_l = C_l / g_l the right side is equivalent to
``n_l >= C_l / min(C_l, C_{l+1}) = max(1, C_l / C_{l+1})``. The solver uses the corrected lower
bound ``max(1, C_l / C_{l+1})`` (``lo`` below), i.e. the group condition on the right.

This module is torch-free: it returns integer group counts that satisfy both conditions
exactly as the module realises them (uneven groups, larger groups first on both sides,
round-robin channel shuffle between convs), and the exact realised #params. For gamma >= 1
it also guarantees the volumetric RF of the realised chain: for N >= 3 with uneven groups
Eq. 21 alone does not (block sizes are floors, and the shuffle's wrap-around overlaps), so
the reach of every output is computed structurally (``position_reach``).
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import math
from fractions import Fraction
from typing import Sequence

import numpy as np

Size = tuple[int, int]
TOLERANCE = 0.02  # relative optimality gap at which the search stops
NODE_BUDGET = 3000  # nodes popped for N <= 3
LONG_CHAIN_BUDGET = 600  # N >= 4 (N='auto'): the divisor-structured start is already close


def group_sizes(total: int, groups: int) -> list[int]:
    """Split ``total`` channels into ``groups`` sizes differing by at most one, larger first."""
    q, r = divmod(total, groups)
    return [q + 1] * r + [q] * (groups - r)


def grouped_params(c_in: int, c_out: int, groups: int, kernel: Size) -> int:
    """#params of an uneven grouped conv: sum over groups of cin_g * cout_g * kh * kw.

    With larger groups first on both sides, group j pairs (q + [j < r]) inputs with
    (s + [j < t]) outputs, which sums to g*q*s + r*s + t*q + min(r, t).
    """
    q, r = divmod(c_in, groups)
    s, t = divmod(c_out, groups)
    return (groups * q * s + r * s + t * q + min(r, t)) * kernel[0] * kernel[1]


def channel_condition(channels: Sequence[int], groups: Sequence[int], gamma: float) -> bool:
    """Eq. 21 in exact integer arithmetic: gamma * g_1...g_N <= C_2...C_N."""
    g = Fraction(gamma)
    return g.numerator * math.prod(groups) <= g.denominator * math.prod(channels[1:-1])


def group_condition(channels: Sequence[int], groups: Sequence[int]) -> bool:
    """Eq. 23: 1 <= g_l <= min(C_l, C_{l+1}) for every conv."""
    return all(1 <= g <= min(a, b) for g, a, b in zip(groups, channels, channels[1:]))


def position_reach(channels: Sequence[int], groups: Sequence[int]) -> np.ndarray:
    """Bool (g_N, C_2): which input positions of conv 2 reach each group of the last conv.

    Structural model of the module (N >= 2): conv l reads its input in contiguous uneven
    blocks and the shuffle before it puts the previous conv's group ``p mod g_{l-1}`` at
    position p; so a group's reach is the union over the previous groups ``p mod g_{l-1}``
    of its block. Position p of conv 2 comes from conv-1 group ``p mod g_1``, hence only
    ``groups[1:]`` are needed here. Rows are kept bit-packed.
    """
    reach = np.packbits(np.repeat(np.eye(groups[1], dtype=bool), group_sizes(channels[1], groups[1]), axis=1), axis=1)
    for prev, g, c in zip(groups[1:], groups[2:], channels[2:]):
        starts = np.cumsum([0] + group_sizes(c, g)[:-1])
        reach = np.bitwise_or.reduceat(reach[np.arange(c) % prev], starts, axis=0)
    return np.unpackbits(reach, axis=1, count=channels[1]).astype(bool)


def covers_all(reach: np.ndarray, first_groups: int) -> bool:
    """True when every row of a ``position_reach`` matrix meets every conv-1 group (p mod g_1)."""
    rows, width = reach.shape
    turns = -(-width // first_groups)
    folded = np.zeros((rows, turns * first_groups), dtype=bool)
    folded[:, :width] = reach
    return bool(folded.reshape(rows, turns, first_groups).any(axis=1).all())


Runs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def matrix_runs(reach: np.ndarray) -> Runs | None:
    """(x1, l1, x2, l2) per row: start and length of its (at most two) runs of True, else None."""
    edges = np.diff(np.pad(reach, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    count = np.bincount(rows, minlength=reach.shape[0])
    if count.max() > 2:
        return None
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    second = np.where(count == 2, first + 1, first)
    second_length = np.where(count == 2, ends[second] - starts[second], 0)
    return starts[first], ends[first] - starts[first], starts[second], second_length


def three_runs(channels: Sequence[int], groups: Sequence[int]) -> Runs:
    """``matrix_runs(position_reach(...))`` for N = 3 in closed form, without the matrix.

    Conv-3 group k reads the conv-2 groups u mod g_2 for u in its block [f_k, f_{k+1}); in
    unrolled coordinates E(u) = (u div g_2) C_2 + e_{u mod g_2} these cover the positions
    E(f_k) .. E(f_{k+1}) - 1 taken mod C_2: all of them, one run, or a run split at C_2.
    """
    c2 = channels[1]
    e = np.cumsum([0] + group_sizes(c2, groups[1]))
    f = np.cumsum([0] + group_sizes(channels[2], groups[2]))
    unrolled = (f // groups[1]) * c2 + e[f % groups[1]]
    start, length = unrolled[:-1] % c2, np.minimum(np.diff(unrolled), c2)
    first = np.where(length == c2, c2, np.minimum(length, c2 - start))
    return np.where(length == c2, 0, start), first, np.zeros_like(start), length - np.minimum(first, length)


def largest_cover(runs: Runs, low: int, high: int) -> int | None:
    """Largest g_1 in [low, high] for which every row's runs meet every residue mod g_1.

    Runs of lengths l1, l2 starting at x1, x2 map to arcs of the g-cycle; a run of length
    >= g fills it alone, two shorter arcs fill it iff d <= l1 and d + l2 >= g, where
    d = (x2 - x1) mod g (the second arc starts inside the first and wraps past its start).
    """
    if low > high:
        return None
    x1, l1, x2, l2 = runs
    g = np.arange(low, high + 1)[:, None]
    d = (x2 - x1) % g
    good = np.nonzero(((l1 >= g) | (l2 >= g) | ((d <= l1) & (d + l2 >= g))).all(axis=1))[0]
    return int(low + good[-1]) if good.size else None


def full_reach(channels: Sequence[int], groups: Sequence[int]) -> bool:
    """True when every output channel of the realised chain depends on every input channel."""
    if len(groups) == 1:
        return groups[0] == 1
    return covers_all(position_reach(channels, groups), groups[0])


def continuous_optimum(channels: Sequence[int], areas: Sequence[int], gamma: float) -> float:
    """Eq. 27 / A.4: N * (gamma * prod C_i * prod K_l^H K_l^W)^(1/N), ignoring Eq. 23."""
    n = len(areas)
    log = math.log(gamma) + sum(map(math.log, channels)) + sum(map(math.log, areas))
    return n * math.exp(log / n)


def _clipped_log_n(w: Sequence[float], lo: Sequence[float], hi: Sequence[float], target: float) -> list[float]:
    """KKT point of min sum e^{w_l + x_l} s.t. sum x_l >= target, lo_l <= x_l <= hi_l (x = log n).

    x_l = clip(t - w_l, lo_l, hi_l) with the scalar t found exactly on the piecewise-linear
    sum; if even every x_l = hi_l misses the target, all are at hi_l.
    """
    def total(t: float) -> float:
        return sum(min(max(t - wl, a), b) for wl, a, b in zip(w, lo, hi))

    points = sorted({wl + a for wl, a in zip(w, lo)} | {wl + b for wl, b in zip(w, hi)})
    t = points[0] if target <= total(points[0]) else points[-1]
    for left, right in zip(points, points[1:]):
        low, high = total(left), total(right)
        if low <= target <= high and high > low:
            t = left + (right - left) * (target - low) / (high - low)
            break
    return [min(max(t - wl, a), b) for wl, a, b in zip(w, lo, hi)]


def continuous_channels_per_group(channels: Sequence[int], areas: Sequence[int], gamma: float) -> list[float]:
    """Real n_l minimising Eq. 16 under Eq. 21 and the box 1 <= g_l <= min(C_l, C_{l+1}).

    Without active bounds this is Eq. 24. Algorithm 1 masks groups that leave the box and
    re-optimises the rest; that fixed point is the KKT solution n_l = clip(lam / w_l, lo, hi)
    (w_l = C_{l+1} K_l^H K_l^W), computed exactly by ``_clipped_log_n``.
    """
    w = [math.log(c * a) for c, a in zip(channels[1:], areas)]
    lo = [math.log(max(1.0, a / b)) for a, b in zip(channels, channels[1:])]
    hi = [math.log(c) for c in channels[:-1]]
    return [math.exp(x) for x in _clipped_log_n(w, lo, hi, math.log(gamma * channels[0]))]


class _Problem:
    """Integer group counts for one chain: exact realised cost, relaxation bound, feasibility."""

    def __init__(self, channels: Sequence[int], kernels: Sequence[Size], gamma: float) -> None:
        self.channels, self.kernels, self.gamma = tuple(channels), tuple(kernels), Fraction(gamma)
        c = self.channels
        self.gmax = [min(a, b) for a, b in zip(c, c[1:])]
        self.w = [math.log(b * kh * kw) for b, (kh, kw) in zip(c[1:], kernels)]
        self.lo = [math.log(max(1.0, a / b)) for a, b in zip(c, c[1:])]
        self.hi = [math.log(a) for a in c[:-1]]
        self.target = math.log(gamma * c[0])
        # The volumetric RF is promised for gamma >= 1; with N <= 2, Eq. 21 alone keeps it.
        self.check_reach = gamma >= 1 and len(kernels) >= 3

    def cost(self, layer: int, groups: int) -> int:
        c = self.channels
        return grouped_params(c[layer], c[layer + 1], groups, self.kernels[layer])

    def relax(self, fixed: dict[int, int]) -> tuple[float, dict[int, float]] | None:
        """Lower bound on the cost with ``fixed`` group counts, and the real optimum of the rest.

        Realised params are >= C_l C_{l+1} K_l^2 / g_l, so exact fixed costs plus the masked
        continuous optimum (Eq. 24) of the free layers bound every integer completion.
        """
        c = self.channels
        free = [i for i in range(len(self.kernels)) if i not in fixed]
        target = self.target - sum(math.log(c[i] / g) for i, g in fixed.items())
        if sum(self.hi[i] for i in free) < target - 1e-9:
            return None
        x = _clipped_log_n([self.w[i] for i in free], [self.lo[i] for i in free],
                           [self.hi[i] for i in free], target) if free else []
        bound = sum(self.cost(i, g) for i, g in fixed.items()) + sum(math.exp(self.w[i] + xi) for i, xi in zip(free, x))
        return bound, {i: c[i] / math.exp(xi) for i, xi in zip(free, x)}

    def budget(self) -> int:
        """Largest product g_1...g_N allowed by Eq. 21 (exact)."""
        return self.gamma.denominator * math.prod(self.channels[1:-1]) // self.gamma.numerator

    def divisor_plan(self) -> tuple[int, ...] | None:
        """Cheapest feasible chain whose convs 1..N-1 split their outputs evenly (g_l | C_{l+1}).

        Even output groups make every shuffle but the last seamless (the classic channel
        shuffle stack), so long chains (N from Eq. 28) keep the RF cheaply. Exact over that
        family: a Pareto DP on (product of groups, cost), then the largest g_N meeting Eq. 21;
        the results are checked in cost order.
        """
        n, cap = len(self.kernels), self.budget()
        front: list[tuple[int, int, tuple[int, ...]]] = [(1, 0, ())]
        for layer in range(n - 1):
            divisors = [g for g in range(1, self.gmax[layer] + 1) if self.channels[layer + 1] % g == 0]
            step = sorted((p * g, c + self.cost(layer, g), gs + (g,))
                          for p, c, gs in front for g in divisors if p * g <= cap)
            lows = itertools.accumulate([c for _, c, _ in step], min, initial=math.inf)
            front = [x for x, low in zip(step, lows) if x[1] < low]  # strictly cheaper than any smaller product
        chains = []
        for prod, cost, groups in front:
            last = min(self.gmax[-1], cap // prod)
            chains.append((cost + self.cost(n - 1, last), groups + (last,)))
        return next((groups for _, groups in sorted(chains) if self.feasible(groups)), None)

    def feasible(self, groups: Sequence[int]) -> bool:
        return channel_condition(self.channels, groups, float(self.gamma)) and (
            not self.check_reach or full_reach(self.channels, groups))

    def first_layer(self, rest: tuple[int, ...], limit: float) -> int | None:
        """Largest g_1 meeting Eq. 21 (exactly) and, where promised, the realised RF, among
        those whose conv costs less than ``limit``. Realised params never increase with g,
        so this is the cheapest g_1 for ``rest``."""
        high = min(self.gmax[0], self.budget() // math.prod(rest))
        low = bisect.bisect_right(range(1, high + 1), -limit, key=lambda g: -self.cost(0, g)) + 1
        if not self.check_reach or low > high:
            return high if low <= high else None
        groups = (high,) + rest
        if len(groups) == 3:
            return largest_cover(three_runs(self.channels, groups), low, high)
        reach = position_reach(self.channels, groups)
        runs = matrix_runs(reach)
        if runs is not None:
            return largest_cover(runs, low, high)
        return next((g for g in range(high, low - 1, -1) if covers_all(reach, g)), None)


def solve_groups(channels: Sequence[int], kernels: Sequence[Size], gamma: float) -> tuple[int, ...]:
    """Integer g_l meeting Eqs. 21 and 23 as realised (and, for gamma >= 1, the RF): the
    cheapest up to ``TOLERANCE``, or the best found within the node budget.

    Branch and bound over Algorithm 1's rounding, from the last conv backwards: layer l is
    fixed to floor(g_l) or ceil(g_l) of its masked continuous optimum and the free layers are
    re-optimised with that mask (Eq. 24 on the rest); the floor branch later steps down and
    the ceil branch up, each only while its bound is the lowest. That is how rounding that
    breaks Eq. 21 is repaired: the group count whose change costs least moves. g_1 is then
    the largest value meeting Eq. 21 and the RF. Start: the best even-output chain
    (``divisor_plan``) and a greedy dive. If gamma > C_2...C_N no grouping meets Eq. 21 and
    every conv is dense (g = 1).
    """
    prob, n = _Problem(channels, kernels, gamma), len(kernels)
    best = (1,) * n
    if not channel_condition(channels, best, gamma):
        return best
    best = prob.divisor_plan() or best
    best_cost = sum(prob.cost(i, g) for i, g in enumerate(best))
    heap: list = []
    tie = itertools.count()

    def children(fixed: dict[int, int], real: dict[int, float]) -> list:
        """Child nodes (bound, fixed, real, (layer, step outward)) of a node, best first."""
        if len(real) == 1:
            limit = best_cost / (1 + TOLERANCE) - sum(prob.cost(i, g) for i, g in fixed.items())
            g1 = prob.first_layer(tuple(fixed[i] for i in range(1, n)), limit)
            options = [] if g1 is None else [({**fixed, 0: g1}, None)]
        else:
            layer = max(real)
            low = min(prob.gmax[layer], max(1, math.floor(real[layer] + 1e-9)))
            options = [({**fixed, layer: low}, (layer, -1))]
            if low < prob.gmax[layer] and real[layer] > low + 1e-9:
                options.append(({**fixed, layer: low + 1}, (layer, 1)))
        nodes = [(node[0], f, node[1], d) for f, d in options if (node := prob.relax(f)) is not None]
        return sorted(nodes, key=lambda x: x[0])

    def push(node: tuple) -> None:
        heapq.heappush(heap, (node[0], next(tie)) + node[1:])

    node = (0.0, {}, prob.relax({})[1], None)
    while node[2]:  # dive: follow the better child down to a first solution
        kids = children(node[1], node[2])
        for kid in kids:
            push(kid)
        if not kids:
            break
        node = kids[0]
    if not node[2] and node[0] < best_cost:
        best, best_cost = tuple(node[1][i] for i in range(n)), node[0]
    for _ in range(NODE_BUDGET if n <= 3 else LONG_CHAIN_BUDGET):
        if not heap:
            break
        bound, _, fixed, real, outward = heapq.heappop(heap)
        if bound * (1 + TOLERANCE) >= best_cost:
            break
        if outward is not None and 1 <= (g := fixed[outward[0]] + outward[1]) <= prob.gmax[outward[0]]:
            sibling = {**fixed, outward[0]: g}
            if (node := prob.relax(sibling)) is not None:
                push((node[0], sibling, node[1], outward))
        if not real:
            best, best_cost = tuple(fixed[i] for i in range(n)), bound
        else:
            for kid in children(fixed, real):
                push(kid)
    return best
