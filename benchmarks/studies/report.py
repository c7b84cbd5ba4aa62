"""Figures and ``summary.md`` (tables and claim verdicts) of the studies, from the CSVs alone.

A verdict compares two configurations' test accuracies over the seeds (``analysis.verdict``):
"holds" only when every seed of the claimed-better one beats every seed of the other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import analysis as A
import figures
from common import read_rows

PAPER_SIX = ("conv", "dw", "dsep", "spatial", "osep", "so_sep")
Table = list[tuple[str, A.Summary]]


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def markdown_table(rows: Table, label: str) -> str:
    lines = [f"| {label} | #params | FLOPs | median acc (%) | min-max (%) | seeds ok (failed) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {s.params:,} | {s.flops:,} | {_pct(s.median)} | {_pct(s.low)}-{_pct(s.high)} | "
              f"{s.n} ({s.failed}) |" for name, s in rows]
    return "\n".join(lines)


def claims(table: Mapping[str, A.Summary], pairs: Sequence[tuple[str, str]]) -> str:
    """One line per (better, worse) claim with its verdict and the two medians."""
    lines = []
    for better, worse in pairs:
        if better in table and worse in table:
            a, b = table[better], table[worse]
            lines.append(f"- {better} > {worse}: **{A.verdict(a, b)}** "
                         f"({_pct(a.median)} [{_pct(a.low)}-{_pct(a.high)}] vs "
                         f"{_pct(b.median)} [{_pct(b.low)}-{_pct(b.high)}])")
        else:
            lines.append(f"- {better} > {worse}: **missing** (no rows for "
                         f"{', '.join(k for k in (better, worse) if k not in table)})")
    return "\n".join(lines)


def conv_type_claims(bars: Table) -> str:
    table = dict(bars)
    pairs = [("osep", "conv"), ("osep", "dsep")] + [("osep", c) for c in A.CONV_ORDER if c not in
                                                    ("osep", "conv", "dsep")]
    pairs += [(c, "dw") for c in PAPER_SIX if c not in ("dw", "osep")]
    return claims(table, pairs)


def conv_types_section(rows: list, out: Path) -> str:
    budgets = A.budgets(rows)
    panels = {b: A.matched_bars(rows, b) for b in budgets}
    series, fronts = A.frontier_series(rows), {cost: A.global_front(rows, cost) for cost in ("params", "flops")}
    figures.frontier_figure(series, fronts, out / "fig_conv_types_frontier.png")
    figures.bars_figure(panels, out / "fig_conv_types_bars.png")
    parts = ["## 1. Conv types at matched #params (osep Fig. 3)",
             *(f"Global accuracy-{cost} frontier (median accuracy), by budget: "
               + ", ".join(f"{c} @ {b:,}" for c, b in sorted(front, key=lambda cb: (cb[1], cb[0])))
               for cost, front in fronts.items())]
    for budget, bars in panels.items():
        widths = {r["conv"]: r["width"] for r in rows if int(r["budget"]) == budget}
        parts += [f"### Budget {budget:,} params",
                  markdown_table([(f"{c} (w={widths[c]})", s) for c, s in bars], "conv (stem width)"),
                  conv_type_claims(bars)]
    return "\n\n".join(parts)


def gamma_section(rows: list, conv_rows: list, budget: int, out: Path) -> str:
    table = A.gamma_table(rows, conv_rows, budget)
    figures.table_figure(table, f"overlap coefficient (osep Table 2), ~{budget:,} params", "gamma",
                         out / "fig_gamma.png")
    by = dict(table)
    pairs = [("1", g) for g in by if g != "1"] + [(g, "eps (dw)") for g in by if g not in ("eps (dw)", "1")]
    return "\n\n".join(["## 2. Overlap coefficient gamma (osep Table 2)", markdown_table(table, "gamma"),
                        claims(by, pairs)])


def xsep_section(rows: list, out: Path) -> str:
    table = A.placement_table(rows)
    figures.table_figure(table, "XSepConv 2x2 placement (Tables 2-3)", "placement", out / "fig_xsep_placement.png")
    pairs = [("standard", "none"), ("standard", "B"), ("standard", "P"), ("standard", "standard, default init")]
    return "\n\n".join(["## 3. XSepConv placement (XSepConv Tables 2-3)", markdown_table(table, "placement"),
                        claims(dict(table), pairs)])


def decomposition_section(rows: list, out: Path) -> str:
    table = A.decomposition_table(rows)
    figures.table_figure(table, "depth-wise decomposition (Table 3)", "method", out / "fig_decomposition.png")
    errors = {m: [float(r["rel_error_mean"]) for r in rs if r["rel_error_mean"]]
              for (m,), rs in A.group(rows, "method").items() if not m.endswith("_ft")}
    error_lines = [f"- {m}: mean per-layer relative output error {min(v):.3f}-{max(v):.3f} over seeds "
                   "(before fine-tuning)"
                   for m, v in errors.items() if v]
    pairs = [("gsvd_ft", "dsep_scratch"), ("gsvd_ft", "channel_ft"), ("gsvd_ft", "gsvd"),
             ("conv_trained", "gsvd_ft"), ("dsep_scratch", "channel_ft")]
    return "\n\n".join(["## 4. Depth-wise decomposition (decomposition paper Table 3)",
                        markdown_table(table, "method"), "\n".join(error_lines), claims(dict(table), pairs)])


def write_all(csvs: Mapping[str, Path], out: Path, matched_budget: int = 15_000) -> Path:
    """Draw the figure of every study with rows and write ``out/summary.md``; returns its path."""
    rows = {name: read_rows(path) for name, path in csvs.items()}
    sections = ["# Study results (generated by benchmarks/studies/run_studies.py report; do not edit)"]
    if rows["conv_types"]:
        sections.append(conv_types_section(rows["conv_types"], out))
    if rows["gamma"]:
        sections.append(gamma_section(rows["gamma"], rows["conv_types"], matched_budget, out))
    if rows["xsep_placement"]:
        sections.append(xsep_section(rows["xsep_placement"], out))
    if rows["decomposition"]:
        sections.append(decomposition_section(rows["decomposition"], out))
    missing = [name for name, rs in rows.items() if not rs]
    if missing:
        sections.append("Not run yet: " + ", ".join(missing))
    path = out / "summary.md"
    path.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {path}", flush=True)
    return path
