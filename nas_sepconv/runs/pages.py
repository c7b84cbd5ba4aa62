"""``report.md`` and ``report.html`` of a ``Report``, plus the figure files, as bytes.

Both pages come from one list of blocks (headings, paragraphs, tables, images, code), so
they always say the same. The HTML page is self-contained: figures are embedded (the frontier
figures as inline SVG whose points carry ``<title>`` hover texts: id, params, FLOPs, accuracy,
families and genotype; the rest as base64 PNG) and there is no external style sheet or script.
"""
from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

from nas_sepconv.genotypes.architecture import architecture_text
from nas_sepconv.genotypes.composition import composition
from nas_sepconv.runs.comparison import verdict
from nas_sepconv.runs.diagrams import architecture_diagrams
from nas_sepconv.runs.plots import (
    attainment_figure,
    confirmation_figure,
    figure_bytes,
    frontier_figure,
    genotype_figure,
    hypervolume_figure,
    op_frequency_figure,
)
from nas_sepconv.runs.report import Report, RunSummary, TrainingCost

Block = tuple  # ("h1" | "h2" | "p" | "code", text), ("table", headers, rows), ("image", file, alt)


def _number(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _box_text(report: Report) -> str:
    parts = [f"{o.name} {_number(v)}" for o, v in zip(report.reference.objectives, report.reference.values)]
    return ("Hypervolume (HV) is normalised by the box from the ideal point (accuracy 1, costs 0) to "
            + ", ".join(parts) + " (accuracy 0 and the largest costs of the search space, stored in "
            "config.json as hypervolume_box): 1 would be the whole box, and a run shows this one value in "
            "every report. The raw HV is on the run's own reference point (config.json reference_point).")


def _runs_table(report: Report) -> Block:
    rows = [[s.label, _ops(s), str(s.run.seed), str(len(s.rows)), str(s.failed), _cost_cell(s.cost),
             str(len(s.frontier)), f"{s.common_normalized:.4f}", _number(s.hypervolume)] for s in report.runs]
    return ("table", ["run", "ops", "seed", "trials", "failed", "epochs trained", "frontier", "HV (normalised)",
                      "HV raw (own reference)"], rows)


def _trials(count: int) -> str:
    return f"{count} trial{'' if count == 1 else 's'}"


def _cost_cell(cost: TrainingCost) -> str:
    if cost.unknown and not cost.counted:
        return "unknown"
    return f"{cost.epochs:,}" + (f" ({_trials(cost.unknown)} unrecorded)" if cost.unknown else "")


def _cost_text(cost: TrainingCost) -> str:
    """The run's training cost as a clause of the frontier paragraph."""
    if cost.unknown and not cost.counted:
        return "training epochs unknown (no trial recorded its trained_epochs)"
    text = f"{cost.epochs:,} training epochs (trained_epochs summed over {_trials(cost.counted)}"
    return text + (f"; {cost.unknown} did not record it)" if cost.unknown else ")")


def _ops(summary: RunSummary) -> str:
    ops = summary.run.config.get("ops", "")
    return ops if isinstance(ops, str) else " ".join(ops)


def _spread_blocks(report: Report) -> list[Block]:
    if not report.spreads:
        return []
    rows = [[", ".join(s.runs), ", ".join(map(str, s.seeds)), f"{s.mean:.4f} ± {s.std:.4f}",
             f"{s.min:.4f}", f"{s.max:.4f}"] for s in report.spreads]
    return [("h2", "Spread across seeds"),
            ("p", "Runs whose configs differ only in the seed; normalised hypervolume, mean ± sample "
                  "standard deviation."),
            ("table", ["runs", "seeds", "HV mean ± std", "min", "max"], rows)]


def _comparison_blocks(report: Report) -> list[Block]:
    groups = report.attainment
    if len(groups) < 2 and not any(len(g.runs) > 1 for g in groups):
        return []
    first = groups[0]
    rows = [[g.label, ", ".join(map(str, g.seeds)), f"{g.hv_mean:.4f} ± {g.hv_std:.4f}",
             "" if g is first else verdict(first.hypervolumes, g.hypervolumes)] for g in groups]
    return [("h2", "Frontiers compared (op sets, seeds)"),
            ("p", "Each group is the runs of one config over its seeds (a search and its --baseline are two "
                  "groups). The figure shows each group's empirical attainment surfaces (moocore.eaf): the "
                  "surface attained by at least one run (best), half of them (median) and all (worst). The "
                  f"verdict says whether {first.label} has the higher HV beyond the seed spread (\"holds\" only "
                  "when every seed of it beats every seed of the other)."),
            ("table", ["group (ops)", "seeds", "HV mean ± std", f"{first.label} higher HV?"], rows),
            ("image", "attainment.png", "empirical attainment surfaces per group")]


def _reference_blocks(report: Report) -> list[Block]:
    if not report.references:
        return []
    rows = [[r.label, _number(r.params), _number(r.flops), _number(r.accuracy), _number(r.epochs)]
            for r in report.references]
    return [("h2", "Reference architectures (same training budget)"),
            ("table", ["architecture", "#params", "FLOPs", "accuracy", "epochs"], rows)]


def _shares(genotype) -> str:
    found = composition(genotype)
    return ", ".join(f"{f} {v:.0%}" for f, v in found.shares.items() if v)


def _attribution_blocks(summary: RunSummary) -> list[Block]:
    rows = [[f.name, f"{f.frontier}/{f.frontier_total} ({f.frontier_share:.0%})",
             f"{f.population}/{f.population_total} ({f.population_share:.0%})",
             "" if f.ratio is None else f"{f.ratio:.2f}"] for f in summary.frequencies.families]
    return [("h2", f"Where the op families sit: {summary.label}"),
            ("p", "Dominance: " + summary.dominance_text),
            ("p", "Share of edges (cells) or blocks (ResNet) using each op family, on the frontier against every "
                  "finished trial; a ratio of 2 means the frontier uses that family twice as often as the "
                  "population."),
            ("table", ["family", "frontier", "population", "ratio"], rows),
            ("image", "op_frequency.png", "op frequency on the frontier against the population")]


def _run_blocks(summary: RunSummary, diagrams: bool) -> list[Block]:
    rows = [[str(r.id), _number(r.params), _number(r.flops), _number(r.accuracy), str(r.epochs), str(r.seed),
             _shares(r.genotype), " ".join(composition(r.genotype).internals), architecture_text(r.genotype)]
            for r in summary.frontier]
    objectives = ", ".join(f"{o.name} ({o.direction})" for o in summary.run.reference.objectives)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(summary.run.meta["versions"].items()))
    blocks = [("h2", f"Frontier of {summary.label}"),
              ("p", f"{len(summary.frontier)} non-dominated of {len(summary.rows) - summary.failed} finished "
                    f"trials ({summary.failed} failed), {_cost_text(summary.cost)}; objectives: {objectives}; "
                    f"HV {summary.normalized:.4f} normalised, {_number(summary.hypervolume)} raw. "
                    f"Versions: {versions}."),
              ("table", ["id", "#params", "FLOPs", "accuracy", "epochs", "seed", "families", "internals",
                         "genotype"], rows)]
    if diagrams:
        blocks += [("image", f"genotype_{r.id}.png", f"genotype of trial {r.id}") for r in summary.frontier]
    return blocks + [("code", json.dumps({"seed": summary.run.seed, "config": summary.run.config}, indent=2,
                                         sort_keys=True))]


def _confirmation_blocks(report: Report) -> list[Block]:
    view = report.confirmation
    if view is None:
        return []
    rows = [[r.label, _number(r.params), str(r.epochs), " ".join(map(str, r.seeds)),
             " ".join(f"{a:.4f}" for a in r.accuracies), f"{r.mean:.4f} ± {r.std:.4f}"] for r in view.rows]
    texts = [c.text(view.by_label) for c in view.comparisons]
    return [("h2", "Confirmed with more seeds (confirmed.csv)"),
            ("table", ["architecture", "#params", "epochs", "seeds", "accuracy per seed", "mean ± std"], rows),
            ("p", "Frontier recomputed on confirmed means: " + (", ".join(view.frontier) or "none") + "."),
            ("p", "Verdicts (\"holds\" only when every seed of the trial beats every seed of the reference; "
                  "\"within seed spread\" when the seeds overlap): " + ("; ".join(texts) or "no reference "
                                                                      "to compare with") + "."),
            ("image", "confirmed.png", "confirmed accuracy with error bars")]


def report_blocks(report: Report, diagrams: bool = True) -> list[Block]:
    """The report's content, page-format independent."""
    title = report.runs[0].label if len(report.runs) == 1 else f"{len(report.runs)} runs compared"
    blocks: list[Block] = [("h1", f"nas-sepconv report: {title}"), ("p", _box_text(report)),
                           _runs_table(report), ("image", "frontier.png", "accuracy vs #params frontier")]
    blocks += _attribution_blocks(report.runs[0])
    blocks += _confirmation_blocks(report) + _comparison_blocks(report) + _spread_blocks(report)
    blocks += [("h2", "Hypervolume against evaluations"),
               ("image", "hypervolume.png", "hypervolume against evaluations")]
    blocks += _reference_blocks(report)
    for i, summary in enumerate(report.runs):
        blocks += _run_blocks(summary, diagrams and i == 0)
    return blocks


def _md_text(text: str) -> str:
    """``text`` made inert in Markdown: no raw HTML or entity (a ``<`` or ``&`` that could start
    one is written as an entity), no link or image (``](``), no code span, one line."""
    text = re.sub(r"&(?=[A-Za-z#])", "&amp;", str(text))
    text = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text).replace("`", "\\`").replace("](", "]\\(")
    return " ".join(text.splitlines())


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|")


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def to_markdown(blocks: list[Block]) -> str:
    """Markdown text; images are linked by file name (they sit next to ``report.md``)."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            out.append(f"{'#' if kind == 'h1' else '##'} {_md_text(block[1])}")
        elif kind == "p":
            out.append(_md_text(block[1]))
        elif kind == "code":
            fence = _fence(block[1])
            out.append(f"{fence}json\n{block[1]}\n{fence}")
        elif kind == "image":
            out.append(f"![{_md_text(block[2])}]({block[1]})")
        else:
            lines = ["| " + " | ".join(_md_cell(h) for h in block[1]) + " |", "|" + "---|" * len(block[1])]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block[2]]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;"
          "font-size:13px;text-align:left;vertical-align:top}img,svg{max-width:100%;height:auto}"
          "pre{background:#f5f5f5;padding:8px;overflow:auto}")


def inline_svg(svg: bytes, hover: dict[str, str]) -> str:
    """The SVG text for inlining in HTML (no XML prolog), each ``<g id=gid>`` of ``hover``
    given a ``<title>`` child, which browsers show as a tooltip."""
    text = svg.decode("utf-8")
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)
    for gid, title in hover.items():
        text = re.sub(f'<g id="{gid}">', lambda m, t=title: f'{m.group(0)}<title>{html.escape(t)}</title>', text,
                      count=1)
    return text


def to_html(blocks: list[Block], images: dict[str, bytes], svgs: dict[str, str] | None = None) -> str:
    """A self-contained HTML page; ``images`` maps each image block's file name to PNG bytes and
    ``svgs`` (optional) maps some of them to inline SVG text shown instead."""
    out = []
    svgs = svgs or {}
    for block in blocks:
        kind, esc = block[0], html.escape
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{esc(block[1])}</{kind}>")
        elif kind == "code":
            out.append(f"<pre>{esc(block[1])}</pre>")
        elif kind == "image" and block[1] in svgs:
            out.append(f'<figure aria-label="{esc(block[2])}">{svgs[block[1]]}</figure>')
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


def report_files(report: Report, diagrams: bool = True) -> dict[str, bytes]:
    """Every report file by name, rendered in memory so a failure writes nothing."""
    main = report.runs[0]
    figures = {"frontier": frontier_figure([run.series for run in report.runs], report.references),
               "op_frequency": op_frequency_figure(main.frequencies),
               "hypervolume": hypervolume_figure([run.curve for run in report.runs])}
    if _comparison_blocks(report):
        figures["attainment"] = attainment_figure(report.attainment)
    if report.confirmation is not None:
        figures["confirmed"] = confirmation_figure(report.confirmation)
    if diagrams:
        figures.update({f"genotype_{r.id}": genotype_figure(architecture_diagrams(r.genotype))
                        for r in main.frontier})
    files: dict[str, bytes] = {}
    svgs: dict[str, str] = {}
    for name, figure in figures.items():
        files[f"{name}.png"] = figure_bytes(figure, "png")
        if figure.hover or name == "frontier":
            files[f"{name}.svg"] = figure_bytes(figure, "svg")
            svgs[f"{name}.png"] = inline_svg(files[f"{name}.svg"], figure.hover)
    blocks = report_blocks(report, diagrams)
    files["report.md"] = to_markdown(blocks).encode("utf-8")
    files["report.html"] = to_html(blocks, files, svgs).encode("utf-8")
    return files
