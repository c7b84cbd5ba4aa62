"""Report values, figures and pages (nas_sepconv.runs.report, nas_sepconv.runs.plots, nas_sepconv.runs.pages)."""
import base64
import re
import statistics

import pytest

from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.frontier.objectives import Objective
from nas_sepconv.frontier.pareto import ReferencePoint
from nas_sepconv.genotypes.architecture import architecture_text
from nas_sepconv.genotypes.named import DARTS_V1, DARTS_V2
from nas_sepconv.runs.pages import report_blocks, report_files, to_markdown
from nas_sepconv.runs.plots import figure_bytes, frontier_figure, hypervolume_figure
from nas_sepconv.runs.report import (
    PlotPoint,
    build_report,
    common_reference,
    frontier_series,
    hypervolume_curve,
    staircase,
    training_cost,
)
from nas_sepconv.runs.run_dir import ReferenceArch, RunDir

OBJ = (Objective("accuracy", "max"), Objective("params", "min"))
REF = ReferencePoint(OBJ, (0.0, 1000.0))


def row(i, params, acc, status="ok", flops=1, epochs=1, trained=None):
    return TrialRecord.ended(i, DARTS_V2 if i % 2 else DARTS_V1, params, flops, acc, epochs, 0, 0.5, status,
                    "boom" if status == "failed" else "", trained)


def make_run(root, name, trials, *, seed=0, config=None, reference=REF, references=()):
    run = RunDir.create(root, name, config={"strategy": "random", **(config or {}), "seed": seed}, seed=seed,
                        reference=reference)
    run.write_trials(trials)
    if references:
        run.write_references(references)
    return run


def test_staircase_steps_right_then_up():
    points = [PlotPoint("a", 100, 0.5), PlotPoint("b", 200, 0.7), PlotPoint("c", 400, 0.9)]
    assert staircase(points) == ((100.0, 200.0, 200.0, 400.0, 400.0), (0.5, 0.5, 0.7, 0.7, 0.9))
    assert staircase([]) == ((), ())


def test_frontier_series_is_2d_and_skips_failed_trials():
    trials = [row(0, 100, 0.5), row(1, 300, 0.4), row(2, 200, 0.7), row(3, 50, None, "failed"),
              row(4, 200, 0.6, flops=0)]  # 4 is cheapest in FLOPs but dominated on the plot's plane
    series = frontier_series("run", trials)
    assert [p.id for p in series.frontier] == [0, 2]
    assert sorted(p.id for p in series.dominated) == [1, 4]
    assert series.staircase == ((100.0, 200.0, 200.0), (0.5, 0.5, 0.7))


def test_hypervolume_curve_by_hand():
    trials = [row(0, 100, 0.5), row(1, 50, None, "failed"), row(2, 400, 0.8), row(3, 500, 0.3),
              row(4, 2000, 0.99)]  # 3 is dominated; 4 lies beyond the reference point
    curve = hypervolume_curve("run", trials, REF)
    first = 0.5 * (1000 - 100)
    both = first + (0.8 - 0.5) * (1000 - 400)
    assert curve.evaluations == (1, 2, 3, 4, 5)
    volume = 1.0 * 1000  # box from the ideal point (accuracy 1, params 0) to REF
    assert curve.hypervolume == pytest.approx(tuple(v / volume for v in (first, first, both, both, both)))


def test_common_reference_takes_the_worst_value_per_objective():
    other = ReferencePoint(OBJ, (0.2, 3000.0))
    assert common_reference([REF, other]).values == (0.0, 3000.0)
    with pytest.raises(ValueError, match="share objectives"):
        common_reference([REF, ReferencePoint((Objective("accuracy", "max"),), (0.0,))])


def mo_asha_like_rows():
    """Rungs 1, 3, 9 (eta 3): nine trials at budget 1 (one of them failed), three promotions to 3
    that continued their checkpoint (2 epochs each) and one that retrained (3), one promotion to 9
    that continued (6), and one trial from an old file that lacks its trained epochs."""
    rows = [row(i, 100 + i, 0.5, status="failed" if i == 4 else "ok", trained=1) for i in range(9)]
    rows += [row(9 + i, 100 + i, 0.6, epochs=3, trained=2) for i in range(3)]
    rows += [row(12, 103, 0.6, epochs=3, trained=3), row(13, 100, 0.7, epochs=9, trained=6)]
    return rows + [row(14, 105, 0.5)]


def test_training_cost_sums_the_trained_epochs_by_hand(tmp_path):
    rows = mo_asha_like_rows()
    by_hand = 9 * 1 + 3 * 2 + 3 + 6                    # the failed trial's epoch counts too
    assert sum(r.epochs for r in rows[:-1]) == 9 + 4 * 3 + 9 > by_hand   # what the budgets alone would say
    cost = training_cost(rows)
    assert (cost.epochs, cost.counted, cost.unknown) == (by_hand, 14, 1)
    assert (training_cost(rows[:-1]).epochs, training_cost(rows[:-1]).unknown) == (by_hand, 0)
    assert (training_cost([row(0, 100, 0.5)]).counted, training_cost([]).epochs) == (0, 0)
    run = make_run(tmp_path, "asha", rows, config={"strategy": "mo-asha"})
    summary = build_report([run]).runs[0]
    assert summary.cost == cost                         # through trials.csv
    md = to_markdown(report_blocks(build_report([run])))
    assert "| trials | failed | epochs trained |" in md and f"| 15 | 1 | {by_hand} (1 trial unrecorded) |" in md
    assert f"(1 failed), {by_hand} training epochs (trained_epochs summed over 14 trials; 1 did not record it);" in md
    whole = to_markdown(report_blocks(build_report([make_run(tmp_path, "all", rows[:-1])])))
    assert f"| 14 | 1 | {by_hand} |" in whole and f"{by_hand} training epochs (trained_epochs summed over 14 " \
        "trials);" in whole
    old = to_markdown(report_blocks(build_report([make_run(tmp_path, "old", [row(0, 100, 0.5), row(1, 90, 0.4)])])))
    assert "| 2 | 0 | unknown |" in old and "training epochs unknown (no trial recorded its trained_epochs)" in old


def test_build_report_table_and_seed_spread(tmp_path):
    wide = ReferencePoint(OBJ, (0.0, 2000.0))
    a = make_run(tmp_path, "a", [row(0, 100, 0.5), row(1, 400, 0.8)], seed=0)
    b = make_run(tmp_path, "b", [row(0, 200, 0.6)], seed=1, reference=wide)
    c = make_run(tmp_path, "c", [row(0, 100, 0.9)], seed=2, config={"strategy": "evolution"})
    report = build_report([a, b, c])
    assert report.reference.values == (0.0, 2000.0)
    own = [0.5 * 900 + 0.3 * 600, 0.6 * 1800, 0.9 * 900]
    common = [v / 2000 for v in (0.5 * 1900 + 0.3 * 1600, 0.6 * 1800, 0.9 * 1900)]  # box volume 1 x 2000
    assert [s.hypervolume for s in report.runs] == pytest.approx(own)
    assert [s.normalized for s in report.runs] == pytest.approx([own[0] / 1000, own[1] / 2000, own[2] / 1000])
    assert [s.common_normalized for s in report.runs] == pytest.approx(common)
    assert [s.curve.hypervolume[-1] for s in report.runs] == pytest.approx(common)
    (spread,) = report.spreads  # a and b share a config; c differs in strategy
    assert spread.runs == (a.name, b.name) and spread.seeds == (0, 1)
    assert spread.mean == pytest.approx(statistics.fmean(common[:2]))
    assert spread.std == pytest.approx(statistics.stdev(common[:2]))
    assert (spread.min, spread.max) == pytest.approx((min(common[:2]), max(common[:2])))


def test_same_seed_runs_get_no_spread(tmp_path):
    runs = [make_run(tmp_path, name, [row(0, 100, 0.5)], seed=0) for name in ("x", "y")]
    assert build_report(runs).spreads == ()
    with pytest.raises(ValueError, match="distinct"):
        build_report([runs[0], runs[0]])


def test_frontier_figure_draws_the_computed_values():
    series = frontier_series("run", [row(0, 100, 0.5), row(1, 300, 0.4), row(2, 200, 0.7)])
    refs = [ReferenceArch("DARTS_V2", 3349342, 0.9), ReferenceArch("ResNet20", 269722, 0.8)]
    ax = frontier_figure([series], refs).axes[0]
    assert ax.get_xscale() == "log"
    line, tail = ax.get_lines()  # the staircase, then its best accuracy continued to the right
    assert tuple(tail.get_xdata()) == (200, 1.15 * 3349342) and tuple(tail.get_ydata()) == (0.7, 0.7)
    assert tuple(line.get_xdata()) == series.staircase[0] and tuple(line.get_ydata()) == series.staircase[1]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "2", "DARTS_V2", "ResNet20"]  # frontier ids labelled
    dominated = ax.collections[0]
    assert dominated.get_offsets().tolist() == [[300, 0.4]] and dominated.get_alpha() < 0.5


def test_hypervolume_figure_and_bytes():
    curve = hypervolume_curve("run", [row(0, 100, 0.5), row(2, 400, 0.8)], REF)
    figure = hypervolume_figure([curve])
    (line,) = figure.axes[0].get_lines()
    assert tuple(line.get_ydata()) == pytest.approx(curve.hypervolume)
    assert figure_bytes(figure, "png").startswith(b"\x89PNG")
    svg = figure_bytes(figure, "svg")
    assert svg.startswith(b"<?xml") and b"<dc:date>" not in svg
    assert svg == figure_bytes(figure, "svg")  # reproducible
    with pytest.raises(ValueError, match="fmt"):
        figure_bytes(figure, "gif")


def test_empty_run_still_renders(tmp_path):
    files = report_files(build_report([make_run(tmp_path, "empty", [])]))
    assert set(files) == {"frontier.png", "frontier.svg", "op_frequency.png", "hypervolume.png", "report.md",
                          "report.html"}


def test_pages_list_the_frontier_and_embed_the_images(tmp_path):
    refs = [ReferenceArch("<b>Res</b>", 1000, 0.8)]
    run = make_run(tmp_path, "r", [row(0, 100, 0.5), row(1, 300, 0.4), row(2, 200, 0.7)], references=refs)
    files = report_files(build_report([run]))
    md = files["report.md"].decode()
    assert architecture_text(DARTS_V1).replace("|", "\\|") in md and "| 2 | 200 |" in md and "| 1 | 300 |" not in md
    assert "![accuracy vs #params frontier](frontier.png)" in md
    page = files["report.html"].decode()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(i) for i in images] == [files[n] for n in ("op_frequency.png", "hypervolume.png",
                                                                         "genotype_0.png", "genotype_2.png")]
    assert "&lt;b&gt;Res&lt;/b&gt;" in page and "<b>Res" not in page
    assert not re.search(r'(src|href)="(http|//)', page) and "<script" not in page  # self-contained
    assert "<title>trial 2: 200 params" in page  # hover text of a point
    assert to_markdown(report_blocks(build_report([run]))) == md


def test_genotype_text_lists_every_edge_with_params():
    from nas_sepconv.genotypes.cell import replace_ops

    blk = replace_ops(DARTS_V2, {"sep_conv_3x3": ("blk_3x3", {"s": 2, "t": 1})})
    text = architecture_text(blk)
    assert text.count("<-") == 16 and "blk_3x3[s=2,t=1]<-0" in text and "dil_conv_3x3<-2" in text
    assert text.endswith("| concat 2,3,4,5")


def test_markdown_escapes_hostile_labels_and_names(tmp_path):
    hostile = "<img src=x onerror=alert(1)>[click](javascript:alert(1))`code`&amp;"
    run = make_run(tmp_path, "r", [row(0, 100, 0.5)], references=[ReferenceArch(hostile, 1000, 0.8)])
    md = to_markdown(report_blocks(build_report([run])))
    assert "<img" not in md and "](javascript" not in md and "`code`" not in md and "&amp;amp;" in md
    assert "&lt;img src=x onerror=alert(1)>[click]\\(javascript:alert(1))\\`code\\`" in md
