"""End to end: `search --baseline darts`, then `confirm`, checked against independent computations
(brute-force frontiers, hypervolume by a 2-D sum, family shares counted from the genotypes)."""
import csv
import json
import re
import statistics

import pytest

from nas_sepconv.genotypes.architecture import architecture_from_json
from nas_sepconv.ops import OPS, op_set
from nas_sepconv.runs.run_dir import RunDir

TINY = ["--trials", "8", "--population", "4", "--epochs", "1", "--train-limit", "160", "--width", "4",
        "--cells", "3", "--batch-size", "32"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def brute_front(points):
    """Indices of (accuracy, params) points no other point dominates, by checking every pair."""
    return {i for i, (a, p) in enumerate(points)
            if not any(b >= a and q <= p and (b > a or q < p) for b, q in points)}


def hv_by_sum(points, max_params):
    """Area dominated in (accuracy up, params down) inside [0, 1] x [0, max_params], summed over the
    params axis: between consecutive sorted params the best accuracy reachable so far."""
    xs = sorted({p for _, p in points if p < max_params}) + [max_params]
    area = 0.0
    for left, right in zip(xs, xs[1:]):
        best = max([a for a, p in points if p <= left] + [0.0])
        area += best * (right - left)
    return area


def _edges(genotype):
    return [e.op for cell in (genotype.normal, genotype.reduce) for e in cell]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from nas_sepconv.cli import main

    out = tmp_path_factory.mktemp("search")
    assert main(["search", *TINY, "--baseline", "darts", "--out", str(out), "--quiet"]) == 0
    return RunDir.open(next(p for p in out.iterdir() if p.is_dir()))


def test_baseline_runs_the_same_search_over_the_darts_ops(searched):
    (base,) = searched.baselines()
    main_config, base_config = searched.config, base.config
    assert base_config["ops"] == "darts" and main_config["baseline"] == "darts"
    for key in ("strategy", "trials", "population", "epochs", "seed", "width", "cells"):
        assert base_config[key] == main_config[key]
    assert base.reference == searched.reference and base.box == searched.box
    darts = set(op_set("darts"))
    trials = base.read_trials()
    assert len(trials) == 8 and all(set(_edges(t.genotype)) <= darts for t in trials)


def test_written_shares_hv_and_dominance_match_independent_counts(searched):
    meta = json.loads((searched.path / "config.json").read_text())
    box = meta["hypervolume_box"]
    assert box["values"][0] == 0.0 and box["values"][1] > 0
    md = (searched.path / "report.md").read_text()
    for run in (searched, *searched.baselines()):
        table = _rows(run.path / "trials.csv")
        ok = [r for r in table if r["status"] == "ok"]
        points = [(float(r["accuracy"]), int(r["params"])) for r in ok]
        front = brute_front(points)
        assert {r["id"] for i, r in enumerate(ok) if i in front} == {r["id"] for r in table if r["is_pareto"] == "1"}
        for row in table:
            edges = _edges(architecture_from_json(row["genotype"]))
            for family in ("darts", "osep", "blk", "xsep"):
                share = sum(OPS[op].family == family for op in edges) / len(edges)
                assert float(row[f"share_{family}"]) == pytest.approx(share, abs=1e-4)
        hv = hv_by_sum(points, box["values"][1]) / box["values"][1]
        (line,) = [ln for ln in md.splitlines() if ln.startswith(f"| {run.name} |")]
        assert f"| {hv:.4f} |" in line
    refs = _rows(searched.path / "references.csv")
    ok = [r for r in _rows(searched.path / "trials.csv") if r["status"] == "ok"]
    points = [(float(r["accuracy"]), int(r["params"])) for r in ok]
    front = [ok[i] for i in sorted(brute_front(points))]
    (dominance,) = [ln for ln in md.splitlines() if ln.startswith("Dominance: ")]
    for ref in refs:
        a, p = float(ref["accuracy"]), int(ref["params"])
        beaten = [r["id"] for r in front if a >= float(r["accuracy"]) and p <= int(r["params"])
                  and (a > float(r["accuracy"]) or p < int(r["params"]))]
        assert (f"{ref['label']} dominates no frontier point" in dominance or "No reference" in dominance) \
            if not beaten else all(f"{i} (" in dominance for i in beaten)
    assert "## Frontiers compared" in md and (searched.path / "attainment.png").is_file()


def test_confirm_retrains_with_seeds_resumes_and_reports(searched, cli):
    code, out, err = cli("confirm", searched.path, "--seeds", "2", "--epochs", "1", "--top", "2", "--quiet")
    assert code == 0, err
    confirmed = _rows(searched.path / "confirmed.csv")
    front = {r["id"]: r for r in _rows(searched.path / "frontier.csv")}
    top = sorted(front, key=lambda i: -float(front[i]["accuracy"]))[:2]      # the 2 most accurate
    assert {r["trial"] for r in confirmed if r["trial"]} == set(top)
    assert {r["label"] for r in confirmed if not r["trial"]} == {"DARTS_V2", "ResNet20"}
    for row in confirmed:
        accs = [float(a) for a in row["accuracies"].split()]
        assert row["seeds"] == "0 1" and len(accs) == 2
        assert float(row["mean"]) == pytest.approx(statistics.fmean(accs))
        assert float(row["std"]) == pytest.approx(statistics.stdev(accs))
        if row["trial"]:
            assert int(row["params"]) == int(front[row["trial"]]["params"])   # the same architecture
    files = sorted((searched.path / "confirm").rglob("*.json"))
    assert len(files) == 2 * len(confirmed)
    stamps = [f.stat().st_mtime_ns for f in files]
    trials = [r for r in confirmed if r["trial"]]
    points = [(float(r["mean"]), int(r["params"])) for r in trials]
    expected = [trials[i]["label"] for i in sorted(brute_front(points), key=lambda i: int(trials[i]["params"]))]
    md = (searched.path / "report.md").read_text()
    assert f"Frontier recomputed on confirmed means: {', '.join(expected)}." in md
    assert len(re.findall(r"more accurate\? ", md)) == 2 * len(expected)   # one verdict per (point, reference)
    assert (searched.path / "confirmed.png").is_file()

    code, _, err = cli("confirm", searched.path, "--seeds", "2", "--epochs", "1", "--top", "2", "--quiet")  # resumes
    assert code == 0, err
    assert [f.stat().st_mtime_ns for f in files] == stamps and _rows(searched.path / "confirmed.csv") == confirmed


def test_bad_confirm_and_baseline_input_exit_2_with_one_line(cli, make_run, tmp_path):
    run = make_run()
    code, _, err = cli("confirm", run.path, "--seeds", "0")
    assert code == 2 and "`seeds`" in err and len(err.strip().splitlines()) == 1
    assert not (run.path / "confirm").exists() and not (run.path / "confirmed.csv").exists()
    last = make_run("last-seed", seed=2**32 - 1)  # seeds run's seed, +1, ...: past the seed range
    code, _, err = cli("confirm", last.path, "--seeds", "2")
    assert code == 2 and "`seeds` must be at most 1 (from the run's seed 4294967295" in err
    assert not (last.path / "confirm").exists()
    code, _, err = cli("confirm", tmp_path)
    assert code == 2 and "run directory" in err
    code, _, err = cli("search", "--space", "resnet", "--baseline", "darts", "--out", tmp_path / "x")
    assert code == 2 and "`baseline`" in err and not (tmp_path / "x").exists()
    code, _, err = cli("search", "--baseline", "dartz", "--out", tmp_path / "x")
    assert code == 2 and "`baseline`" in err


def test_quiet_confirm_prints_only_its_results_and_nni_logs_go_to_run_log(tmp_path):
    """Through the real process: no NNI trial log (ANSI-coloured), no Gym banner, no bar."""
    import dataclasses
    import os
    import subprocess
    import sys

    from cli_support import REF

    from nas_sepconv.evaluation.record import TrialRecord
    from nas_sepconv.genotypes.named import DARTS_V2

    run = RunDir.create(tmp_path / "runs", "evo", config={"references": False, "train_limit": 64, "epochs": 1,
                                                          "width": 4, "cells": 3, "batch_size": 32, "threads": 1},
                        seed=0, reference=REF)
    genotype = dataclasses.replace(DARTS_V2, channels=4, layers=3)
    run.write_trials([TrialRecord.ended(0, genotype, 100, 1000, 0.5, 1, 0, 2.0, "ok", "")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "confirm", str(run.path), "--seeds", "1", "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert not any(noise in done.stderr + done.stdout for noise in ("\x1b[", "Gym", "result:", "confirm:"))
    assert done.stdout.splitlines() == [
        f"trial 0: {int(_rows(run.path / 'confirmed.csv')[0]['params']):,} params, accuracy "
        f"{float(_rows(run.path / 'confirmed.csv')[0]['mean']):.4f} ± 0.0000 over seeds 0",
        f"1 trials; frontier and report in {run.path} (report.html)"]
    log = (run.path / "run.log").read_text()
    assert "Intermediate result" in log and "Final result" in log


def test_confirm_refuses_a_batch_whose_activations_exceed_the_limit_before_training(cli, tmp_path):
    import dataclasses

    from cli_support import REF

    from nas_sepconv.evaluation.record import TrialRecord
    from nas_sepconv.genotypes.named import DARTS_V2

    run = RunDir.create(tmp_path / "runs", "big", config={"references": False, "batch_size": 10**8}, seed=0,
                        reference=REF)
    run.write_trials([TrialRecord.ended(0, dataclasses.replace(DARTS_V2, channels=16, layers=8), 100, 1000, 0.5,
                                        1, 0, 2.0, "ok", "")])
    code, out, err = cli("confirm", run.path, "--seeds", "1", "--quiet")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "activations of trial 0 for a batch of 100000000" in err and "lower the run's `batch_size`" in err
    assert not any((run.path / name).exists() for name in ("confirm", "confirmed.csv", "run.log"))
