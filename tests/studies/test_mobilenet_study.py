"""The MobileNet study: matched widths against a brute-force scan, verdicts on hand-made seeds,
and the committed CSV's costs against an independent ``count_mobilenet`` (when it exists)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "studies"))

import mobilenet_study as M  # noqa: E402

from nas_sepconv.models.mobilenet import count_mobilenet  # noqa: E402


def test_matched_width_is_the_closest_on_the_grid():
    target = count_mobilenet("v1", width=0.25, input_size=8, **M.NET).params
    width = M.matched_width("v1", {"ops": "osep"}, target)
    scan = {w / 100: count_mobilenet("v1", width=w / 100, input_size=8, **M.NET, ops="osep").params
            for w in range(10, 101)}
    best = min(scan, key=lambda w: (abs(scan[w] - target), w))
    assert width == best


def test_verdicts():
    assert M.verdict([95, 96, 97], [90, 91, 94]) == "holds"
    assert M.verdict([80, 81, 82], [90, 91, 94]) == "reversed"
    assert M.verdict([92, 95, 96], [90, 93, 94]) == "same direction, within seed spread"
    assert M.verdict([90, 92, 96], [91, 93, 94]) == "opposite direction, within seed spread"


def test_committed_rows_have_exact_costs():
    if not M.CSV.exists():
        return
    with M.CSV.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    configs = {M.config_key(c): c for c in M.configs()}
    for row in rows:
        c = configs[row["config"]]
        cost = count_mobilenet(c["version"], width=c["width"], input_size=8, **M.NET, **c["kwargs"])
        assert (int(row["params"]), int(row["flops"])) == (cost.params, cost.flops)
