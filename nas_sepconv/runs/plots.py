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
from nas_sepconv.genotypes.composition import MIXED, families
from nas_sepconv.runs.attribution import OpFrequencies
from nas_sepconv.runs.report import FrontierSeries, HypervolumeCurve
from nas_sepconv.runs.run_dir import ReferenceArch

FORMATS = ("png", "svg")
_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
           "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
_FAMILY_COLORS = {"darts": "tab:blue", "baseline": "tab:gray", "osep": "tab:orange", "blk": "tab:green",
                  "xsep": "tab:red", MIXED: "tab:purple"}
_MARKERS = ("o", "s", "^", "D", "v", "P")


def family_color(family: str) -> str:
    """A fixed colour per op family (registered later ones get the remaining palette colours)."""
    if family in _FAMILY_COLORS:
        return _FAMILY_COLORS[family]
    others = [f for f in families() if f not in _FAMILY_COLORS]
    spare = ("tab:brown", "tab:pink", "tab:olive", "tab:cyan")
    return spare[others.index(family) % len(spare)] if family in others else "black"


def _new_figure(size: tuple[float, float] = (7.0, 4.5)) -> tuple[Figure, object]:
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    figure.hover = {}  # SVG group id -> hover text (pages.inline_svg turns them into <title>s)
    return figure, figure.add_subplot()


def _point(ax, figure, point, marker: str, frontier: bool) -> None:
    gid = f"point{len(figure.hover)}"
    artist = ax.scatter([point.params], [point.accuracy], s=34 if frontier else 14, marker=marker,
                        color=family_color(point.family), alpha=1.0 if frontier else 0.35,
                        edgecolors="black" if frontier else "none", linewidths=0.5, zorder=3 if frontier else 2)
    artist.set_gid(gid)
    figure.hover[gid] = point.hover or f"trial {point.id}"


def _draw_series(ax, figure, series: FrontierSeries, color: str, marker: str, overlay: bool, right: float) -> None:
    for point in series.dominated:
        _point(ax, figure, point, marker, False)
    if series.frontier:
        xs, ys = series.staircase
        color = color if overlay else "black"
        ax.plot(xs, ys, color=color, linewidth=1.2, label=f"{series.label} frontier ({marker})" if overlay else "frontier")
        ax.plot([xs[-1], right], [ys[-1], ys[-1]], color=color, linewidth=1.2, alpha=0.5)  # best accuracy beyond
        for point in series.frontier:
            _point(ax, figure, point, marker, True)
            ax.annotate(str(point.id), (point.params, point.accuracy), textcoords="offset points", xytext=(3, 4),
                        fontsize=7)


def _family_legend(ax, series: Sequence[FrontierSeries]) -> list:
    seen = list(dict.fromkeys(p.family for one in series for p in (*one.frontier, *one.dominated)))
    return [ax.scatter([], [], color=family_color(f), s=30, label=f"dominant family: {f}") for f in seen]


def frontier_figure(series: Sequence[FrontierSeries], references: Sequence[ReferenceArch] = ()) -> Figure:
    """Accuracy vs #params (log x): points coloured by dominant op family (or mixed), frontier
    points labelled with their trial id, staircases per run (marker per run), references as stars."""
    figure, ax = _new_figure()
    overlay = len(series) > 1
    right = 1.15 * max([p.params for one in series for p in (*one.frontier, *one.dominated)]
                       + [ref.params for ref in references] + [1])
    for i, one in enumerate(series):
        _draw_series(ax, figure, one, _COLORS[i % len(_COLORS)], _MARKERS[i % len(_MARKERS)], overlay, right)
    _family_legend(ax, series)
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
    ax.set_ylabel("normalised hypervolume (share of the box)")
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


def op_frequency_figure(frequencies: OpFrequencies) -> Figure:
    """Share of edges/blocks per family and per op, frontier against population, with counts."""
    figure = Figure(figsize=(9.0, 0.9 + 0.28 * (len(frequencies.ops) + len(frequencies.families))),
                    layout="constrained")
    FigureCanvasAgg(figure)
    figure.hover = {}
    axes = figure.subplots(1, 2, width_ratios=[1, 1.4])
    for ax, rows, title in ((axes[0], frequencies.families, "op family"), (axes[1], frequencies.ops, "op")):
        ys = range(len(rows))
        ax.barh([y + 0.2 for y in ys], [r.population_share for r in rows], height=0.4, color="lightgray",
                label="population")
        ax.barh([y - 0.2 for y in ys], [r.frontier_share for r in rows], height=0.4,
                color=[family_color(r.family) for r in rows], label="frontier")
        for y, r in zip(ys, rows):
            ax.text(max(r.frontier_share, r.population_share) + 0.01, y,
                    f"{r.frontier}/{r.frontier_total} vs {r.population}/{r.population_total}", va="center",
                    fontsize=7)
        ax.set_yticks(list(ys), [r.name for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.25 * max([r.frontier_share for r in rows] + [r.population_share for r in rows] + [0.1]))
        ax.set_xlabel("share of edges / blocks")
        ax.set_title(f"{title}: frontier vs population")
        ax.legend(loc="lower right", fontsize=7)
    return figure


def attainment_figure(groups) -> Figure:
    """Median attainment surface per group of seeds (solid) between its best and worst (dashed)."""
    figure, ax = _new_figure()
    drawn = False
    right = 1.15 * max([x for g in groups for name in ("best", "median", "worst") for x, _ in getattr(g, name)] + [1])
    for i, group in enumerate(groups):
        color = _COLORS[i % len(_COLORS)]
        seeds = f"{len(group.runs)} seed{'s' if len(group.runs) > 1 else ''}"
        for name, style, width in (("best", "--", 0.8), ("median", "-", 1.6), ("worst", ":", 0.8)):
            surface = getattr(group, name)
            if not surface:
                continue
            xs, ys = _steps(surface)
            ax.plot(xs + [right], ys + [ys[-1]], style, color=color, linewidth=width,
                    marker="o" if name == "median" else None, markersize=3, label=f"{group.label} {name} ({seeds})")
            drawn = True
    if drawn:
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=7)
    else:
        ax.text(0.5, 0.5, "no finished trials yet", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlabel("#params (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_title("Empirical attainment surfaces over seeds: best, median, worst")
    ax.grid(True, which="both", alpha=0.3)
    return figure


def _steps(points) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, (x, y) in enumerate(points):
        if i:
            xs.append(x)
            ys.append(ys[-1])
        xs.append(x)
        ys.append(y)
    return xs, ys


def confirmation_figure(view) -> Figure:
    """Confirmed mean accuracy ± std (error bars) against #params; the frontier on the means."""
    figure, ax = _new_figure()
    for row in view.rows:
        reference = row.trial is None
        artist = ax.errorbar([row.params], [row.mean], yerr=[row.std], fmt="*" if reference else "o",
                             color="black" if reference else "tab:blue", markersize=9 if reference else 5, capsize=3)
        gid = f"point{len(figure.hover)}"
        artist[0].set_gid(gid)
        figure.hover[gid] = (f"{row.label}: {row.params:,} params, {row.flops:,} FLOPs, accuracy "
                             f"{row.mean:.4f} ± {row.std:.4f} over seeds {' '.join(map(str, row.seeds))}")
        ax.annotate(row.label.replace("trial ", ""), (row.params, row.mean), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    rows = view.by_label
    front = [(rows[label].params, rows[label].mean) for label in view.frontier]
    if front:
        xs, ys = _steps(front)
        ax.plot(xs, ys, color="tab:blue", linewidth=1.2, label="frontier on confirmed means")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("#params (log scale)")
    ax.set_ylabel("accuracy (mean ± std over seeds)")
    ax.set_title("Confirmed: frontier architectures and references retrained")
    ax.grid(True, which="both", alpha=0.3)
    return figure


def genotype_figure(diagrams) -> Figure:
    """The panels of ``nas_sepconv.runs.diagrams.architecture_diagrams`` side by side."""
    figure = Figure(figsize=(5.0 * len(diagrams), 3.2), layout="constrained")
    FigureCanvasAgg(figure)
    figure.hover = {}
    axes = figure.subplots(1, len(diagrams), squeeze=False)[0]
    for ax, diagram in zip(axes, diagrams):
        nodes = diagram.nodes
        for edge in diagram.edges:
            (x0, y0), (x1, y1) = nodes[edge.source], nodes[edge.target]
            color = family_color(edge.family) if edge.family else "gray"
            rad = -0.5 if diagram.curved(edge) else 0.0
            ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color=color, lw=1.2, shrinkA=12,
                                                                shrinkB=12, connectionstyle=f"arc3,rad={rad}"))
            if edge.label:  # near the target, where the arrows into different nodes spread apart
                t = 0.5 if rad else 0.72
                bend = 0.5 * rad  # the arc's midpoint lies half the control point's offset off the chord
                lx, ly = x0 + t * (x1 - x0) + bend * (y1 - y0), y0 + t * (y1 - y0) - bend * (x1 - x0)
                ax.text(lx, ly, edge.label, fontsize=6, color=color, ha="center", va="center",
                        bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.8))
        for name, (x, y) in nodes.items():
            incoming = [e.family for e in diagram.edges if e.target == name and e.family]
            face = family_color(incoming[0]) if incoming and "\n" in name else "lightyellow"
            ax.text(x, y, name, ha="center", va="center", fontsize=7,
                    bbox=dict(boxstyle="round", facecolor=face, alpha=0.5 if face != "lightyellow" else 1.0))
        ax.set_xlim(-0.15, 1.15)
        ax.set_ylim(-0.1, 1.1)
        ax.set_title(diagram.title, fontsize=9)
        ax.axis("off")
    return figure
