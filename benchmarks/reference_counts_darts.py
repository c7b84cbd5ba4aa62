"""Write results/reference/darts_counts.md: DARTS and o-DARTS counts against the papers.

Run ``python3 benchmarks/reference_counts_darts.py`` (a few seconds). DARTS_V2's counts and
the o-DARTS rows are also asserted in tests (tests/models/test_network.py,
tests/genotypes/test_o_darts.py). o-DARTS = ``o_darts(DARTS_V2)``: every dsep of DARTS
replaced by osep (osep paper, Section 4), i.e. sep_conv_KxK -> o_sep_conv_KxK (each dw+pw
pair of SepConv an osep) and dil_conv_KxK -> o_dil_conv_KxK (DilConv's dilated dw+pw pair a
dilated osep), osep internals at their defaults (N=2, gamma=1, Algorithm 1's placement);
``o_darts(..., dil_conv=False)`` is the SepConv-only reading.
"""
from __future__ import annotations

from pathlib import Path

from nas_sepconv.genotypes.cell import o_darts, replace_ops
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import count

OUT = Path(__file__).resolve().parents[1] / "results" / "reference" / "darts_counts.md"
O_DARTS = o_darts(DARTS_V2)
O_DARTS_SEP_ONLY = o_darts(DARTS_V2, dil_conv=False)
CIFAR = dict(layers=20, stem="cifar", num_classes=10)
IMAGENET = dict(layers=14, stem="imagenet", num_classes=1000)
DARTS_CODE = "DARTS reference code (github.com/quark0/darts): 3,349,342"
# (label, genotype, C, macro, paper M params, paper GFLOPs, source)
ROWS = [
    ("DARTS_V2 (CIFAR-10)", DARTS_V2, 36, CIFAR, 3.349342, None, DARTS_CODE),
    ("d-DARTS (CIFAR-10)", DARTS_V2, 36, CIFAR, 3.35, 0.528, "osep Table 3"),
    ("o-DARTS (CIFAR-10)", O_DARTS, 42, CIFAR, 3.25, 0.572, "osep Table 3"),
    ("o-DARTS, SepConv only (CIFAR-10)", O_DARTS_SEP_ONLY, 42, CIFAR, 3.25, 0.572, "osep Table 3"),
    ("DARTS_V2 (ImageNet)", DARTS_V2, 48, IMAGENET, 4.718752, None, "DARTS reference code: 4,718,752"),
    ("d-DARTS (ImageNet)", DARTS_V2, 48, IMAGENET, 4.72, 0.530, "osep Table 5"),
    ("o-DARTS (ImageNet)", O_DARTS, 56, IMAGENET, 4.50, 0.554, "osep Table 5"),
    ("o-DARTS, SepConv only (ImageNet)", O_DARTS_SEP_ONLY, 56, IMAGENET, 4.50, 0.554, "osep Table 5"),
]
OSEP_EDGES = ("o_sep_conv_3x3", "o_sep_conv_5x5", "o_dil_conv_3x3", "o_dil_conv_5x5")


def table_row(label, genotype, c, macro, p_paper, f_paper, source) -> str:
    cost = count(genotype, channels=c, **macro)
    params, flops = cost.params / 1e6, cost.flops / 1e9
    f_cells = f"{f_paper:.3f} | {100 * (flops / f_paper - 1):+.2f}%" if f_paper else "- | -"
    return (f"| {label} | {c} | {macro['layers']} | {cost.params:,} | {params:.3f} | {p_paper:.3f} | "
            f"{100 * (params / p_paper - 1):+.2f}% | {flops:.4f} | {f_cells} | {source} |")


def cifar_gap() -> tuple[int, int]:
    """Params and MACs that the paper's CIFAR o-DARTS has beyond ours."""
    cost = count(O_DARTS, channels=42, **CIFAR)
    return round(3.25e6 - cost.params), round(0.572e9 - cost.flops)


def edge_share(c: int, macro: dict, p_paper: float, f_paper: float) -> tuple[str, float, float]:
    """The osep edges' cost (network minus the same network with those edges set to 'none'),
    and what the paper's totals leave for them (paper minus our cost of everything else)."""
    total = count(O_DARTS, channels=c, **macro)
    rest = count(replace_ops(O_DARTS, {op: "none" for op in OSEP_EDGES}), channels=c, **macro)
    edges_p, edges_f = total.params - rest.params, total.flops - rest.flops
    implied_p, implied_f = p_paper * 1e6 - rest.params, f_paper * 1e9 - rest.flops
    line = (f"| {macro['stem']} C={c} | {rest.params:,} / {rest.flops / 1e6:.1f} | {edges_p:,} / "
            f"{edges_f / 1e6:.1f} | {implied_p:,.0f} / {implied_f / 1e6:.1f} | {100 * (implied_p / edges_p - 1):+.1f}% / "
            f"{100 * (implied_f / edges_f - 1):+.1f}% |")
    return line, implied_p / edges_p - 1, implied_f / edges_f - 1


def notes() -> list[str]:
    share = [edge_share(42, CIFAR, 3.25, 0.572), edge_share(56, IMAGENET, 4.50, 0.554)]
    c43, gap = count(O_DARTS, channels=43, **CIFAR), cifar_gap()
    edges = count(O_DARTS, channels=42, **CIFAR)
    rest = count(replace_ops(O_DARTS, {op: "none" for op in OSEP_EDGES}), channels=42, **CIFAR)
    uniform = (edges.flops - rest.flops) / (edges.params - rest.params)
    return ["", "## Why the o-DARTS rows differ from the paper", "",
            "- **Both dsep ops are replaced.** The paper replaces \"the dsep convolutions\" of DARTS; "
            "DARTS_V2's normal cell has five `sep_conv_3x3` edges and one `dil_conv_3x3` (a dilated dsep), "
            "its reduction cell only pools and skips. With both replaced (`o_darts`), ImageNet C=56 is within "
            "1% of Table 5 in #params and FLOPs; the SepConv-only reading is 4.0% / 2.7% over.",
            "- The d-DARTS rows match (0.0% params): our DARTS network is the reference network, and "
            "the FLOPs convention (conv + linear multiply-adds) matches the paper's to within the "
            "rounding of its printed values. So everything but the osep edges is counted as the paper does.",
            "- **CIFAR-10 C=42 stays short** (-2.2% params, -3.3% FLOPs with both replaced; SepConv only: "
            "+1.6% / -0.8%, closer, but that reading misses ImageNet by 4.0% / 2.7%). The table splits each network into the osep edges and everything else "
            "(params / M MACs); the last column is how much costlier than ours the paper's osep edges "
            "must be for its printed totals:", "",
            "| network | everything else (ours = paper's d-DARTS counting) | osep edges, ours | "
            "osep edges implied by the paper | implied vs ours |",
            "| --- | --- | --- | --- | --- |", share[0][0], share[1][0], "",
            f"  The paper's osep edges would have to be {100 * -share[1][1]:.1f}% / {100 * -share[1][2]:.1f}% cheaper "
            f"than ours on ImageNet but {100 * share[0][1]:.1f}% / {100 * share[0][2]:.1f}% costlier on CIFAR, with the "
            "same op at the same kind of widths (C, 2C, 4C; every osep edge of DARTS_V2 is a 3x3 C->C chain). "
            "Other osep internals move both datasets the same way and fit neither (table below); placement "
            "does not change a 2-conv chain between equal widths, and restricting groups to divisors of the "
            "channels changes no group count at 42/84/168 or 56/112/224. Our integer groups are within "
            "0-2.5% of Eq. 24's continuous optimum at those widths. The CIFAR totals "
            f"lie between our C=42 and C=43 (C=43: {c43.params / 1e6:.3f} M / {c43.flops / 1e9:.3f} G). "
            f"The missing {gap[0]:,} params and {gap[1] / 1e6:.1f} M MACs are {gap[1] / gap[0]:.0f} MACs per "
            "param: what extra weights of the 16x16 stage (C=84, 256 MACs per weight) would cost, or a mix of "
            f"the 32x32 and 8x8 stages; a uniform excess over all our osep edges would come at {uniform:.0f} MACs "
            "per param; "
            "the paper gives no code or per-op counts that would tell which realisation of osep its CIFAR "
            "row used, so the remaining gap is left as measured.", "",
            "| osep internals (both dsep ops replaced) | ImageNet C=56: params / FLOPs gap | "
            "CIFAR-10 C=42: params / FLOPs gap |", "| --- | --- | --- |"] + [internals_row(p) for p in INTERNALS] + [""]


INTERNALS = [{}, {"N": 3}, {"N": "auto"}, {"gamma": 0.25}, {"gamma": 4.0}, {"placement": "last"}]


def internals_row(params: dict) -> str:
    gaps = []
    for c, macro, p_paper, f_paper in ((56, IMAGENET, 4.50, 0.554), (42, CIFAR, 3.25, 0.572)):
        cost = count(o_darts(DARTS_V2, params=params), channels=c, **macro)
        gaps.append(f"{100 * (cost.params / 1e6 / p_paper - 1):+.1f}% / {100 * (cost.flops / 1e9 / f_paper - 1):+.1f}%")
    label = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults (N=2, gamma=1)"
    return f"| {label} | {gaps[0]} | {gaps[1]} |"


def main() -> None:
    lines = ["# DARTS and o-DARTS: our exact counts against the papers", "",
             "Generated by `benchmarks/reference_counts_darts.py`. Params exclude the auxiliary head "
             "(as DARTS counts); FLOPs are multiply-adds of conv and linear layers at 32x32 (CIFAR) "
             "or 224x224 (ImageNet). o-DARTS = `o_darts(DARTS_V2)` (SepConv and DilConv dseps -> osep); "
             "'SepConv only' = `o_darts(DARTS_V2, dil_conv=False)`. DARTS_V2's params are exact-match tests "
             "(`tests/models/test_network.py`), the o-DARTS rows are asserted in `tests/genotypes/test_o_darts.py`.",
             "",
             "| network | C | cells | ours: params | ours: M | paper | gap | ours: GFLOPs | paper | gap | source |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [table_row(*row) for row in ROWS] + notes()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
