"""Drawing of the report figures from the values ``nas_sepconv.runs.report`` computes.

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg canvas to
bytes, so no GUI backend or pyplot global state is involved and the caller decides where
(and how atomically) the bytes are written. SVG output carries no date and fixed element
ids, so the same figure always gives the same bytes.
"""
from __future__ import annotations

import io
from typing import Sequence

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nas_sepconv.core.errors import UserError
from nas_sepconv.runs.report import FrontierSeries, HypervolumeCurve
from nas_sepconv.runs.run_dir import ReferenceArch

FORMATS = ("png", "svg")
_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
           "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def _new_figure() -> tuple[Figure, object]:
    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _draw_series(ax, series: FrontierSeries, color: str, overlay: bool) -> None:
    if series.dominated:
        ax.scatter([p.params for p in series.dominated], [p.accuracy for p in series.dominated],
                   s=12, color=color, alpha=0.2, linewidths=0,
                   label=None if overlay else "dominated")
    if series.frontier:
        xs, ys = series.staircase
        ax.plot(xs, ys, color=color, linewidth=1.5, label=f"{series.label} frontier" if overlay else "frontier")
        ax.scatter([p.params for p in series.frontier], [p.accuracy for p in series.frontier],
                   s=28, color=color, edgecolors="black", linewidths=0.5, zorder=3)


def frontier_figure(series: Sequence[FrontierSeries], references: Sequence[ReferenceArch] = ()) -> Figure:
    """Accuracy vs #params (log x): frontier staircases, faint dominated points, labelled references."""
    figure, ax = _new_figure()
    overlay = len(series) > 1
    for i, one in enumerate(series):
        _draw_series(ax, one, _COLORS[i % len(_COLORS)], overlay)
    for i, ref in enumerate(references):
        ax.scatter([ref.params], [ref.accuracy], marker="*", s=120, color="black", zorder=4,
                   label=None if i else "reference (same budget)")
        ax.annotate(ref.label, (ref.params, ref.accuracy), textcoords="offset points", xytext=(6, -10),
                    fontsize=8)
    if not any(one.frontier for one in series) and not references:
        ax.text(0.5, 0.5, "no finished trials yet", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("#params (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs #params: Pareto frontier" + ("s" if overlay else ""))
    ax.grid(True, which="both", alpha=0.3)
    return figure


def hypervolume_figure(curves: Sequence[HypervolumeCurve]) -> Figure:
    """Hypervolume (on one reference point) against the number of evaluations, one line per run."""
    figure, ax = _new_figure()
    for i, curve in enumerate(curves):
        if curve.evaluations:
            ax.step(curve.evaluations, curve.hypervolume, where="post", color=_COLORS[i % len(_COLORS)],
                    label=curve.label)
    if any(curve.evaluations for curve in curves):
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no evaluations yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (common reference point)")
    ax.set_title("Hypervolume against evaluations")
    ax.grid(True, alpha=0.3)
    return figure


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure rendered as ``png`` (150 dpi) or ``svg`` (no date, so reproducible)."""
    if fmt not in FORMATS:
        raise UserError(f"`fmt` must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with rc_context({"svg.hashsalt": "nas-sepconv"}):  # fixed ids inside the SVG
        figure.savefig(buffer, format=fmt, dpi=150, metadata=metadata)
    return buffer.getvalue()
