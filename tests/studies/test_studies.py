"""The reproduction studies' committed CSVs and the numbers their figures and tables show.

Checks the raw rows (schema, one row per (config, seed), at least 3 seeds, costs equal to an
independent ``count_resnet``), the matched-budget selection against a brute-force scan of
widths, and the analysis functions against hand-made rows with known answers.
"""
from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "studies"))

import analysis as A  # noqa: E402
import decomposition_study  # noqa: E402
import figures  # noqa: E402
from common import RUN_COLUMNS, op_available  # noqa: E402
from run_studies import BUDGETS, CSV, GAMMAS, PLACEMENTS  # noqa: E402

from nas_sepconv.models.resnet import count_resnet  # noqa: E402


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _existing(name: str) -> list[dict[str, str]]:
    if not CSV[name].exists():
        pytest.skip(f"{CSV[name].name} not produced yet")
    return _read(CSV[name])[1]


def _count(row: dict[str, str]) -> int:
    return count_resnet(20, conv=row["op"], multiplier=int(row["width"]) / 16, num_classes=10, in_channels=1,
                        input_size=8, op_params=json.loads(row["op_params"])).params


@pytest.mark.parametrize("name", ["conv_types", "gamma", "xsep_placement"])
def test_run_csv_schema_and_costs(name):
    rows = _existing(name)
    assert _read(CSV[name])[0] == list(RUN_COLUMNS)
    keys = [(r["config"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)), "one row per (config, seed)"
    for config, rs in A.group(rows, "config").items():
        assert len(rs) >= 3, f"{config} has {len(rs)} seeds"
    for r in rows:
        assert r["status"] in ("ok", "failed") and r["study"] == name
        if r["status"] == "ok":
            assert 0.0 <= float(r["accuracy"]) <= 1.0 and r["epochs"] == "20"
    for r in {r["config"]: r for r in rows}.values():
        if op_available(r["conv"]):
            assert int(r["params"]) == _count(r)


def test_matched_budget_is_the_closest_width():
    rows = _existing("conv_types")
    assert {int(r["budget"]) for r in rows} <= set(BUDGETS)
    for (conv, budget), rs in A.group(rows, "conv", "budget").items():
        if not op_available(conv):
            continue
        chosen, target = int(rs[0]["width"]), int(budget)
        best = abs(int(rs[0]["params"]) - target)
        for width in range(1, 2 * chosen + 4):
            try:
                params = count_resnet(20, conv=conv, multiplier=width / 16, num_classes=10, in_channels=1,
                                      input_size=8).params
            except ValueError:
                continue
            assert abs(params - target) > best or (abs(params - target) == best and width >= chosen), \
                f"{conv} at {target}: width {width} ({params}) beats chosen {chosen}"


def test_study_variants_are_complete():
    gamma = _existing("gamma") if CSV["gamma"].exists() else []
    assert {r["variant"] for r in gamma} <= set(GAMMAS)
    placement = {r["variant"] for r in _existing("xsep_placement")}
    assert set(PLACEMENTS) <= placement


def test_decomposition_rows():
    rows = _existing("decomposition")
    assert _read(CSV["decomposition"])[0] == list(decomposition_study.COLUMNS)
    for seed, rs in A.group(rows, "seed").items():
        by = {r["method"]: r for r in rs}
        assert set(by) == set(A.DECOMPOSITION_ORDER), f"seed {seed}"
        assert by["gsvd"]["params"] == by["gsvd_ft"]["params"] == by["dsep_scratch"]["params"]
        assert 0.0 <= float(by["gsvd"]["rel_error_mean"]) <= float(by["gsvd"]["rel_error_max"])
    assert len(A.group(rows, "seed")) >= 3


def _row(conv="conv", budget=100, params=10, acc=0.5, seed=0, status="ok", variant="", flops=None, **extra):
    flops = 2 * params if flops is None else flops
    return dict(conv=conv, budget=str(budget), params=str(params), flops=str(flops), accuracy=str(acc),
                seed=str(seed), status=status, variant=variant, **extra)


def test_summary_is_median_and_range_of_ok_runs():
    rows = [_row(acc=a, seed=i) for i, a in enumerate((0.9, 0.7, 0.8, 0.95))] + [_row(acc="nan", status="failed")]
    s = A.Summary.of(rows)
    assert (s.n, s.failed) == (4, 1)
    assert s.median == pytest.approx(statistics.median([0.9, 0.7, 0.8, 0.95]))
    assert (s.low, s.high, s.params, s.flops) == (0.7, 0.95, 10, 20)
    with pytest.raises(ValueError, match="one configuration"):
        A.Summary.of([_row(params=10), _row(params=11)])


def _summary(*accs):
    return A.Summary.of([_row(acc=a, seed=i) for i, a in enumerate(accs)])


@pytest.mark.parametrize("better, worse, expected", [
    ((0.9, 0.91, 0.92), (0.8, 0.85, 0.89), "holds"),
    ((0.9, 0.91, 0.92), (0.8, 0.9, 0.95), "same direction, within seed spread"),
    ((0.9, 0.9, 0.9), (0.8, 0.9, 0.95), "no difference"),
    ((0.8, 0.85, 0.95), (0.9, 0.91, 0.92), "reversed, within seed spread"),
    ((0.7, 0.75, 0.8), (0.9, 0.91, 0.92), "reversed"),
])
def test_verdict(better, worse, expected):
    assert A.verdict(_summary(*better), _summary(*worse)) == expected


def _grid():
    """Two budgets x three conv types, three seeds each; accuracy known per (conv, budget)."""
    truth = {("conv", 100): (0.80, 90), ("dsep", 100): (0.85, 110), ("dw", 100): (0.60, 95),
             ("conv", 300): (0.90, 320), ("dsep", 300): (0.84, 280), ("dw", 300): (0.70, 310)}
    rows = [_row(conv=c, budget=b, params=p, acc=acc + d, seed=i, flops=_flops(c, p))
            for (c, b), (acc, p) in truth.items() for i, d in enumerate((-0.01, 0.0, 0.02))]
    return truth, rows


def _flops(conv: str, params: int) -> int:
    """FLOPs not proportional to #params, so the two frontiers differ: dsep is 10x costlier."""
    return params * (10 if conv == "dsep" else 1)


def test_matched_bars_and_frontier_series():
    truth, rows = _grid()
    bars = A.matched_bars(rows, 300)
    assert [c for c, _ in bars] == ["conv", "dw", "dsep"]  # CONV_ORDER
    assert [s.median for _, s in bars] == pytest.approx([0.90, 0.70, 0.84])
    series = A.frontier_series(rows)
    assert [b for b, _ in series["dsep"]] == [100, 300]
    assert [s.params for _, s in series["conv"]] == [90, 320]


def test_global_front_matches_brute_force():
    truth, rows = _grid()
    points = {key: (acc, p) for key, (acc, p) in truth.items()}
    brute = {k for k, (a, p) in points.items()
             if not any(a2 >= a and p2 <= p and (a2, p2) != (a, p) for a2, p2 in points.values())}
    assert set(A.global_front(rows)) == brute == {("conv", 100), ("dsep", 100), ("conv", 300)}
    by_flops = {k: (a, _flops(k[0], p)) for k, (a, p) in points.items()}
    flops_brute = {k for k, (a, f) in by_flops.items()
                   if not any(a2 >= a and f2 <= f and (a2, f2) != (a, f) for a2, f2 in by_flops.values())}
    assert set(A.global_front(rows, "flops")) == flops_brute == {("conv", 100), ("conv", 300)}
    with pytest.raises(ValueError, match="`cost`"):
        A.global_front(rows, "latency")


def test_gamma_table_order_and_limits():
    _, conv_rows = _grid()
    gamma_rows = [_row(conv="osep", variant=g, params=100 + i, acc=0.8 + 0.01 * i, seed=s)
                  for i, g in enumerate(("4", "1/16", "1", "64")) for s in range(3)]
    table = A.gamma_table(gamma_rows, conv_rows, 100)
    assert [label for label, _ in table] == ["eps (dw)", "1/16", "1", "4", "64", "+inf (conv)"]
    assert table[0][1].median == pytest.approx(0.60) and table[-1][1].median == pytest.approx(0.80)
    assert dict(table)["4"].median == pytest.approx(0.80)


def test_placement_table_order():
    rows = [_row(conv="xsep", variant=v, acc=0.5, seed=s) for v in ("none", "P", "standard, default init",
                                                                    "standard", "B") for s in range(3)]
    assert [v for v, _ in A.placement_table(rows)] == ["standard", "B", "P", "none", "standard, default init"]


def test_figures_draw_from_summaries(tmp_path):
    truth, rows = _grid()
    fronts = {cost: A.global_front(rows, cost) for cost in ("params", "flops")}
    figures.frontier_figure(A.frontier_series(rows), fronts, tmp_path / "f.png")
    figures.bars_figure({b: A.matched_bars(rows, b) for b in A.budgets(rows)}, tmp_path / "b.png")
    figures.table_figure(A.matched_bars(rows, 100), "t", "x", tmp_path / "t.png")
    assert all((tmp_path / n).stat().st_size > 1000 for n in ("f.png", "b.png", "t.png"))
