"""Closed-form expected hypervolume improvement of a point with an exact cost and a Gaussian accuracy.

Two objectives: accuracy ``y`` (max) and a cost ``c`` (min, e.g. #params), reference point
``(r_y, r_c)``. The attained region of a front is the staircase below
``h(p) = max(r_y, max{y_i : c_i <= p})`` for ``p`` in ``[0, r_c]``. A new point ``(c, y)``
adds the area between ``h`` and ``y`` over ``[c, r_c]``:

    HVI(c, y) = sum_j w_j (y - h_j)^+,

where ``[p_j, p_{j+1})`` are the pieces of ``[c, r_c]`` on which ``h`` is constant (``h_j``,
width ``w_j``; the breakpoints are the front's costs above ``c``). With the cost known and
``y ~ N(mu, sigma^2)``, the expectation is exact (``E[(Y - h)^+] = (mu - h) Phi(z) + sigma phi(z)``,
``z = (mu - h) / sigma``; the expected improvement of Jones et al. 1998 per piece):

    EHVI(c, mu, sigma) = sum_j w_j [(mu - h_j) Phi(z_j) + sigma phi(z_j)].

This is the two-objective EHVI of Emmerich et al. 2006 in the degenerate case where one
objective has no uncertainty, so it needs no box decomposition over both axes.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr


def staircase(front_costs: np.ndarray, front_accuracies: np.ndarray, ref_accuracy: float,
              ref_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints ``b`` (ascending costs, inside the reference) and levels ``h``: the attained
    accuracy is ``h[k]`` on ``[b[k], b[k+1])`` (``b[-1]`` extends to ``ref_cost``); points that are
    dominated or outside the reference are dropped. ``h`` is non-decreasing."""
    costs, accs = np.asarray(front_costs, float), np.asarray(front_accuracies, float)
    keep = (costs < ref_cost) & (accs > ref_accuracy)
    costs, accs = costs[keep], accs[keep]
    order = np.lexsort((-accs, costs))
    costs, accs = costs[order], np.maximum.accumulate(accs[order]) if len(accs) else accs
    first = np.ones(len(costs), dtype=bool)
    first[1:] = costs[1:] != costs[:-1]
    costs, accs = costs[first], accs[first]
    rising = np.ones(len(costs), dtype=bool)
    rising[1:] = accs[1:] > accs[:-1]
    return np.concatenate(([-np.inf], costs[rising])), np.concatenate(([ref_accuracy], accs[rising]))


def _pieces(breaks: np.ndarray, levels: np.ndarray, cost: float, ref_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Widths and levels of the constant pieces of the staircase over ``[cost, ref_cost]``."""
    start = np.searchsorted(breaks, cost, side="right") - 1
    edges = np.concatenate(([cost], breaks[start + 1:], [ref_cost]))
    return np.diff(edges), levels[start:]


def hvi(cost: float, accuracy: float, breaks: np.ndarray, levels: np.ndarray, ref_cost: float) -> float:
    """Exact hypervolume improvement of the point ``(cost, accuracy)`` over the staircase."""
    if cost >= ref_cost:
        return 0.0
    widths, heights = _pieces(breaks, levels, cost, ref_cost)
    return float(np.sum(widths * np.maximum(accuracy - heights, 0.0)))


def ehvi(costs: np.ndarray, means: np.ndarray, stds: np.ndarray, breaks: np.ndarray, levels: np.ndarray,
         ref_cost: float) -> np.ndarray:
    """Expected hypervolume improvement of each candidate (exact ``costs``, accuracy
    ``N(means, stds^2)``) over the staircase ``(breaks, levels)`` of :func:`staircase`.
    Vectorised: the width of piece ``j`` seen from cost ``c`` is
    ``max(0, min(b_{j+1}, r_c) - max(b_j, c))``."""
    costs, means, stds = (np.asarray(a, float).ravel()[:, None] for a in (costs, means, stds))
    upper = np.concatenate((breaks[1:], [ref_cost]))[None, :]
    widths = np.maximum(0.0, np.minimum(upper, ref_cost) - np.maximum(breaks[None, :], costs))
    gap = means - levels[None, :]
    safe = np.where(stds > 0.0, stds, 1.0)
    z = gap / safe
    expected = np.where(stds > 0.0, gap * ndtr(z) + safe * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi),
                        np.maximum(gap, 0.0))
    return np.sum(widths * expected, axis=1)
