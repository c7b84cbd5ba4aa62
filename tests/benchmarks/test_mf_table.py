"""The multi-fidelity tabular benchmark: its builder (resumable, the recipe of the 216 table), its
file format, the lookups at a budget, and the committed table's consistency."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from build_mf_table import build  # noqa: E402
from build_table import train_row  # noqa: E402
from compare_mf import asha_curve, asha_trials, epochs_to, hv_at_epochs  # noqa: E402
from tabular_mf_table import (  # noqa: E402
    MF_TABLE_PATH,
    MFRow,
    append_rows,
    budget_rows,
    lookup_mf_trial,
    read_mf_table,
)
from tabular_space import choice_key, enumerate_choices  # noqa: E402
from tabular_table import TABLE_PATH, declared_reference, load_table, rows_hypervolume  # noqa: E402


def test_builder_follows_the_216_tables_recipe_and_resumes_without_training(tmp_path):
    out = tmp_path / "mf.csv"
    assert build(out, seeds=(0,), epochs=3, first=1) == 1      # the 216 table's budget: 3 epochs, seed 0
    rows = read_mf_table(out)
    first = train_row(enumerate_choices()[0])                   # the 216 table's builder, trained now
    assert first.params == load_table(str(TABLE_PATH))[first.key].params
    assert [(r.key, r.seed, r.epoch) for r in rows] == [(first.key, 0, e) for e in (1, 2, 3)]
    assert (rows[-1].params, rows[-1].flops, rows[-1].accuracy) == (first.params, first.flops, first.accuracy)
    assert rows[0].seconds < rows[1].seconds < rows[2].seconds
    assert build(out, seeds=(0,), epochs=3, first=1) == 0      # done runs are skipped
    assert len(read_mf_table(out)) == 3


def test_file_format_survives_a_torn_line_and_a_run_appended_twice(tmp_path):
    out = tmp_path / "mf.csv"
    run = [MFRow("k", 0, e, 10, 20, 0.1 * e, float(e)) for e in (1, 2)]
    append_rows(run, out)
    append_rows([MFRow("k", 0, 1, 10, 20, 0.9, 9.0)], out)       # a racing builder's duplicate
    with out.open("a") as fh:
        fh.write('"k",1,1,10,20')                                # a torn last line
    assert read_mf_table(out) == run
    assert out.read_text().splitlines()[0] == "key,seed,epoch,params,flops,accuracy,seconds"


def test_budget_rows_average_the_seeds_and_lookup_reports_the_budget(tmp_path):
    out = tmp_path / "mf.csv"
    key = choice_key(enumerate_choices()[5])
    append_rows([MFRow(key, s, e, 100, 200, acc, 1.0) for s, e, acc in
                 [(0, 1, 0.2), (0, 8, 0.8), (1, 1, 0.4), (1, 8, 0.9), (2, 8, 0.1)]], out)
    assert budget_rows(out, 1)[key].accuracy == pytest.approx(0.3)
    assert budget_rows(out, 8, (0, 1, 2))[key].accuracy == pytest.approx(0.6)
    assert budget_rows(out, 1, (0, 1, 2)) == {}                   # seed 2 lacks budget 1
    model = SimpleNamespace(choice=enumerate_choices()[5])
    metric = lookup_mf_trial(model, str(out), epochs=8, schedule_epochs=8)
    assert metric == {"default": pytest.approx(0.85), "params": 100, "flops": 200, "epochs": 8, "seed": 0,
                      "trained_epochs": 8}
    with pytest.raises(ValueError, match="schedule"):
        lookup_mf_trial(model, str(out), epochs=1, schedule_epochs=4)


def test_asha_curve_counts_epochs_and_only_top_budget_trials():
    rows = load_table(str(TABLE_PATH))
    keys = [choice_key(c) for c in enumerate_choices()[:3]]
    reference = declared_reference(rows.values())
    trials = [{"key": keys[0], "epochs": 1, "trained": 1, "ok": True}, {"key": keys[1], "epochs": 1, "trained": 1,
                                                                          "ok": True},
              {"key": keys[0], "epochs": 8, "trained": 7, "ok": True}, {"key": keys[2], "epochs": 8, "trained": 8,
                                                                          "ok": False}]
    total = rows_hypervolume(list(rows.values()), reference)
    costs, fractions = asha_curve(trials, rows, reference, total)
    assert costs == [1, 2, 9, 17]                                  # the strategy's count: the promotion continued
    assert fractions[:2] == [0.0, 0.0] and fractions[2] == fractions[3] == rows_hypervolume([rows[keys[0]]], reference) / total
    assert asha_curve(trials, rows, reference, total, retrain=True)[0] == [1, 2, 10, 18]
    costs, fractions = asha_curve(trials, rows, reference, total, retrain=True)
    assert hv_at_epochs((costs, fractions), 9) == 0.0 and hv_at_epochs((costs, fractions), 10) == fractions[2]
    assert epochs_to((costs, fractions), fractions[2]) == 10 and epochs_to((costs, fractions), 2.0) == float("inf")


def test_committed_table_is_consistent_with_the_216_table():
    rows = read_mf_table(MF_TABLE_PATH)
    full = load_table(str(TABLE_PATH))
    runs: dict[tuple[str, int], list[MFRow]] = {}
    for row in rows:
        runs.setdefault((row.key, row.seed), []).append(row)
    assert runs, "the committed table has no run"
    for (key, seed), run in runs.items():
        assert seed in (0, 1) and key in full
        assert [r.epoch for r in run] == list(range(1, 9))
        assert all((r.params, r.flops) == (full[key].params, full[key].flops) for r in run)
        assert all(0.0 < r.accuracy <= 1.0 for r in run)
        assert all(a.seconds < b.seconds for a, b in zip(run, run[1:]))
    assert len(runs) <= 432


@pytest.mark.parametrize("name", ["mo_asha", "model_based_asha"])
def test_mo_asha_on_a_fake_table_costs_what_the_strategy_counted(tmp_path, name):
    """A complete (made-up) table: each multi-fidelity strategy's promotions continue, each reports the
    epochs beyond its previous rung, and the benchmark's cost curve is the strategy's own count."""
    full = load_table(str(TABLE_PATH))
    table = tmp_path / "mf.csv"
    append_rows([MFRow(key, 0, e, row.params, row.flops, row.accuracy * (0.6 + 0.05 * e), float(e))
                 for key, row in full.items() for e in range(1, 9)], table)
    trials = asha_trials(0, table, (0,), 60, {"min_epochs": 1, "eta": 3}, name)
    seen: dict[str, int] = {}
    for trial in trials:
        assert trial["trained"] == trial["epochs"] - seen.get(trial["key"], 0)
        seen[trial["key"]] = trial["epochs"]
    assert any(t["trained"] < t["epochs"] for t in trials)             # some promotions continued
    reference = declared_reference(full.values())
    top = budget_rows(table, 8, (0,))
    costs = asha_curve(trials, top, reference, 1.0)[0]
    assert 60 <= costs[-1] == sum(t["trained"] for t in trials) < 60 + 8   # the epoch budget, spent by that count
    assert asha_curve(trials, top, reference, 1.0, retrain=True)[0][-1] == sum(t["epochs"] for t in trials) > costs[-1]
