"""Drawing only: every figure takes the numbers ``analysis.py`` computed from the CSVs.

Medians are the marks, the seed min-max is the error bar, and each seed is a faint dot.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from analysis import Summary  # noqa: E402

COLORS = {"conv": "tab:blue", "dw": "tab:gray", "dsep": "tab:green", "spatial": "tab:purple", "osep": "tab:orange",
          "so_sep": "tab:brown", "blk": "tab:pink", "xsep": "tab:olive"}


def _errorbar(ax, x: float, s: Summary, color: str, label: str | None = None) -> None:
    ax.errorbar([x], [100 * s.median], yerr=[[100 * (s.median - s.low)], [100 * (s.high - s.median)]],
                fmt="o", color=color, capsize=3, label=label)
    ax.scatter([x] * len(s.accuracies), [100 * a for a in s.accuracies], s=8, color=color, alpha=0.35)


def frontier_figure(series: dict[str, list[tuple[int, Summary]]],
                    fronts: Mapping[str, Sequence[tuple[str, int]]], path: Path) -> None:
    """Fig. 3(a)/(b): median test accuracy vs #params and vs FLOPs, one line per conv type.

    ``fronts[cost]`` are the (conv, budget) points ringed as the global frontier of that panel.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, cost in zip(axes, ("params", "flops")):
        for conv, points in series.items():
            xs = [getattr(s, cost) for _, s in points]
            ax.plot(xs, [100 * s.median for _, s in points], "-", color=COLORS[conv], alpha=0.8)
            for i, (_, s) in enumerate(points):
                _errorbar(ax, getattr(s, cost), s, COLORS[conv], conv if i == 0 else None)
        for conv, budget in fronts[cost]:
            s = dict(series[conv])[budget]
            ax.scatter([getattr(s, cost)], [100 * s.median], s=140, facecolors="none", edgecolors="black")
        ax.set_xscale("log")
        ax.set_xlabel("#params" if cost == "params" else "FLOPs (multiply-adds)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%), median and seed min-max")
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title("(a) accuracy vs #params (black ring: global frontier)")
    axes[1].set_title("(b) accuracy vs FLOPs (black ring: global frontier)")
    fig.suptitle("ResNet-20 on digits, widths matched to each #params budget")
    _save(fig, path)


def bars_figure(panels: dict[int, list[tuple[str, Summary]]], path: Path) -> None:
    """Fig. 3(c): one bar per conv type at each matched budget."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, (budget, bars) in zip(axes[0], panels.items()):
        for i, (conv, s) in enumerate(bars):
            ax.bar(i, 100 * s.median, color=COLORS[conv], alpha=0.75)
            _errorbar(ax, i, s, "black")
        ax.set_xticks(range(len(bars)), [c for c, _ in bars], rotation=45)
        ax.set_title(f"~{budget:,} params")
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylim(_bottom(bars), 100)
    axes[0][0].set_ylabel("test accuracy (%)")
    fig.suptitle("(c) conv types at matched #params (bar: median; bar and dots: seeds)")
    _save(fig, path)


def table_figure(rows: list[tuple[str, Summary]], title: str, xlabel: str, path: Path) -> None:
    """A bar per table column (gamma, placement or method) with the seed spread."""
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(rows)), 4.4))
    for i, (label, s) in enumerate(rows):
        ax.bar(i, 100 * s.median, color="tab:orange" if i % 2 else "tab:blue", alpha=0.6)
        _errorbar(ax, i, s, "black")
    ax.set_xticks(range(len(rows)), [label for label, _ in rows], rotation=30, ha="right")
    ax.set_ylim(_bottom(rows), 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def _bottom(rows: list[tuple[str, Summary]]) -> float:
    low = min((s.low for _, s in rows if s.n), default=0.0)
    return max(0.0, 100 * low - 5)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
