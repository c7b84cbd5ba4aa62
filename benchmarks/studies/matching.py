"""Channel multipliers that match a #params budget (the osep paper's "_m<multiplier>" networks).

The osep paper scales each network's widths so that #params (and FLOPs) roughly match the
baseline's (Sec. 4.1, footnote 4; Appendix C matches #params only, as we do). Here the stem
width ``w`` runs over the integers (multiplier ``w / 16``, so the stage widths are exactly
``w, 2w, 4w``) and, for each conv type, the width whose exact ``count_resnet`` #params is
closest to the target wins (ties go to the narrower network). Widths an op refuses (a
divisibility rule) are skipped.
"""
from __future__ import annotations

from typing import Any, Mapping

from common import RunConfig

MAX_WIDTH = 256


def param_curve(conv: str, target: int, op_params: Mapping[str, Any] | None = None) -> list[tuple[int, int]]:
    """``(width, params)`` of every valid width from 1 until #params first exceeds ``2 * target``."""
    curve = []
    for width in range(1, MAX_WIDTH + 1):
        try:
            params = RunConfig(conv, width, dict(op_params or {})).cost().params
        except ValueError:
            continue
        curve.append((width, params))
        if params > 2 * target:
            break
    return curve


def closest_width(conv: str, target: int, op_params: Mapping[str, Any] | None = None) -> int:
    """The width whose #params is closest to ``target`` (the narrower one on a tie)."""
    curve = param_curve(conv, target, op_params)
    if not curve:
        raise ValueError(f"`conv` {conv!r} with {op_params!r} has no valid width up to {MAX_WIDTH}.")
    return min(curve, key=lambda wp: (abs(wp[1] - target), wp[0]))[0]


def matched_config(conv: str, target: int, op_params: Mapping[str, Any] | None = None, *,
                   variant: str = "") -> RunConfig:
    """The run config of ``conv`` matched to ``target`` #params."""
    params = dict(op_params or {})
    return RunConfig(conv, closest_width(conv, target, params), params, variant=variant, budget=target)
