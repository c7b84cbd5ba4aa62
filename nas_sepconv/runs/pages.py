"""``report.md`` and ``report.html`` of a ``Report``, plus the figure files, as bytes.

Both pages come from one list of blocks (headings, paragraphs, tables, images, code), so
they always say the same. The HTML page is self-contained: figures are embedded as base64
PNG and there is no external style sheet or script.
"""
from __future__ import annotations

import base64
import html
import json
from typing import Any

from nas_sepconv.genotypes.architecture import architecture_text
from nas_sepconv.runs.plots import figure_bytes, frontier_figure, hypervolume_figure
from nas_sepconv.runs.report import Report, RunSummary

Block = tuple  # ("h1" | "h2" | "p" | "code", text), ("table", headers, rows), ("image", file, alt)
FIGURES = {"frontier": "accuracy vs #params frontier", "hypervolume": "hypervolume against evaluations"}


def _number(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _reference_text(report: Report) -> str:
    parts = [f"{o.name} {_number(v)} ({o.direction})" for o, v in zip(report.reference.objectives,
                                                                       report.reference.values)]
    return "Common hypervolume reference point: " + ", ".join(parts) + "."


def _runs_table(report: Report) -> Block:
    rows = [[s.label, str(s.run.seed), str(len(s.rows)), str(s.failed), str(len(s.frontier)),
             _number(s.hypervolume), _number(s.common_hypervolume)] for s in report.runs]
    return ("table", ["run", "seed", "trials", "failed", "frontier", "HV (own reference)",
                      "HV (common reference)"], rows)


def _spread_blocks(report: Report) -> list[Block]:
    if not report.spreads:
        return []
    rows = [[", ".join(s.runs), ", ".join(map(str, s.seeds)), f"{_number(s.mean)} ± {_number(s.std)}",
             _number(s.min), _number(s.max)] for s in report.spreads]
    return [("h2", "Spread across seeds"),
            ("p", "Runs whose configs differ only in the seed; hypervolume on the common reference "
                  "point, mean ± sample standard deviation."),
            ("table", ["runs", "seeds", "HV mean ± std", "min", "max"], rows)]


def _reference_blocks(report: Report) -> list[Block]:
    if not report.references:
        return []
    rows = [[r.label, _number(r.params), _number(r.flops), _number(r.accuracy), _number(r.epochs)]
            for r in report.references]
    return [("h2", "Reference architectures (same training budget)"),
            ("table", ["architecture", "#params", "FLOPs", "accuracy", "epochs"], rows)]


def _run_blocks(summary: RunSummary) -> list[Block]:
    rows = [[str(r.id), _number(r.params), _number(r.flops), _number(r.accuracy), str(r.epochs), str(r.seed),
             architecture_text(r.genotype)] for r in summary.frontier]
    objectives = ", ".join(f"{o.name} ({o.direction})" for o in summary.run.reference.objectives)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(summary.run.meta["versions"].items()))
    return [("h2", f"Frontier of {summary.label}"),
            ("p", f"{len(summary.frontier)} non-dominated of {len(summary.rows) - summary.failed} finished "
                  f"trials ({summary.failed} failed); objectives: {objectives}. Versions: {versions}."),
            ("table", ["id", "#params", "FLOPs", "accuracy", "epochs", "seed", "genotype"], rows),
            ("code", json.dumps({"seed": summary.run.seed, "config": summary.run.config}, indent=2,
                                sort_keys=True))]


def report_blocks(report: Report) -> list[Block]:
    """The report's content, page-format independent."""
    title = report.runs[0].label if len(report.runs) == 1 else f"{len(report.runs)} runs compared"
    blocks: list[Block] = [("h1", f"nas-sepconv report: {title}"), ("p", _reference_text(report)),
                           _runs_table(report), *_spread_blocks(report)]
    blocks += [("h2", "Figures")] + [("image", f"{name}.png", alt) for name, alt in FIGURES.items()]
    blocks += _reference_blocks(report)
    for summary in report.runs:
        blocks += _run_blocks(summary)
    return blocks


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    """Markdown text; images are linked by file name (they sit next to ``report.md``)."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            out.append(f"{'#' if kind == 'h1' else '##'} {block[1]}")
        elif kind == "p":
            out.append(block[1])
        elif kind == "code":
            out.append(f"```json\n{block[1]}\n```")
        elif kind == "image":
            out.append(f"![{block[2]}]({block[1]})")
        else:
            lines = ["| " + " | ".join(block[1]) + " |", "|" + "---|" * len(block[1])]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block[2]]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;"
          "font-size:13px;text-align:left;vertical-align:top}img{max-width:100%}"
          "pre{background:#f5f5f5;padding:8px;overflow:auto}")


def to_html(blocks: list[Block], images: dict[str, bytes]) -> str:
    """A self-contained HTML page; ``images`` maps each image block's file name to PNG bytes."""
    out = []
    for block in blocks:
        kind, esc = block[0], html.escape
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{esc(block[1])}</{kind}>")
        elif kind == "code":
            out.append(f"<pre>{esc(block[1])}</pre>")
        elif kind == "image":
            data = base64.b64encode(images[block[1]]).decode("ascii")
            out.append(f'<img src="data:image/png;base64,{data}" alt="{esc(block[2])}">')
        else:
            head = "".join(f"<th>{esc(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in block[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    title = html.escape(blocks[0][1])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def report_files(report: Report) -> dict[str, bytes]:
    """Every report file by name, rendered in memory so a failure writes nothing."""
    frontier = frontier_figure([run.series for run in report.runs], report.references)
    curves = hypervolume_figure([run.curve for run in report.runs])
    files = {"frontier.png": figure_bytes(frontier, "png"), "frontier.svg": figure_bytes(frontier, "svg"),
             "hypervolume.png": figure_bytes(curves, "png")}
    blocks = report_blocks(report)
    files["report.md"] = to_markdown(blocks).encode("utf-8")
    files["report.html"] = to_html(blocks, files).encode("utf-8")
    return files
