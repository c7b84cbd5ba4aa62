"""`nas-sepconv search --strategy mo-asha` (and model-based-asha, whose rungs are the same): trials at their rung's budget, promotions that continue
their training (cost and checkpoints in the run directory), the frontier from the top budget only,
settings from `--config`, and a resume that retrains nothing."""
import csv
import json

import pytest

from nas_sepconv.evaluation.record import TrialRecord, top_fidelity

TINY = ["--trials", "4", "--epochs", "2", "--train-limit", "160", "--width", "4", "--cells", "3", "--batch-size",
        "32", "--ops", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "--no-references", "--quiet"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# model-based-asha with initial_samples 2: its fourth trial (a new architecture) is proposed by EHVI on the two 1-epoch trials
@pytest.mark.parametrize("strategy, extra", [("mo-asha", {}), ("model-based-asha", {"initial_samples": 2})])
def test_mo_asha_search_trains_at_rung_budgets_and_reports_the_top_budget(cli, tmp_path, strategy, extra):
    config = tmp_path / "asha.json"
    config.write_text(json.dumps({"strategy": strategy, "strategy_settings": {"min_epochs": 1, "eta": 2, **extra}}))
    # The sequential engine promotes synchronously, so the order of trials is fixed (the default pool
    # engine promotes when a worker frees, so there a third rung-1 trial may start first).
    code, out, err = cli("search", *TINY, "--engine", "sequential", "--config", config, "--out", tmp_path / "runs")
    assert code == 0, err
    run = next((tmp_path / "runs").iterdir())
    trials = _rows(run / "trials.csv")
    assert [t["epochs"] for t in trials] == ["1", "1", "2", "1"]     # the better of the first two promoted
    assert trials[2]["genotype"] in (trials[0]["genotype"], trials[1]["genotype"])
    assert [r["id"] for r in _rows(run / "frontier.csv")] == ["2"]  # only the top budget
    state = json.loads((run / "strategy.json").read_text())
    trained = [r["trained_epochs"] for r in state["archive"]["records"]]
    assert trained == [1, 1, 1, 1]                                 # the promotion continued: 4 epochs, not 5
    assert [t["trained_epochs"] for t in trials] == ["1", "1", "1", "1"]   # and trials.csv says so
    assert "| 4 | 0 | 4 |" in (run / "report.md").read_text()     # trials, failed, epochs trained
    assert state["archive"]["records"][2]["extra"]["resumed_from"] == 1
    assert not (run / "trainings").exists()                        # checkpoints removed at the end
    code, out, err = cli("resume", run, "--quiet")
    assert code == 0, err
    assert _rows(run / "trials.csv") == trials                     # nothing trained again


@pytest.mark.parametrize("setting", [{"min_epochs": 4}, {"continue_training": "yes"}])
def test_bad_mo_asha_setting_exits_2_with_one_line(cli, tmp_path, setting):
    config = tmp_path / "asha.json"
    config.write_text(json.dumps({"strategy": "mo-asha", "strategy_settings": setting}))
    code, out, err = cli("search", *TINY, "--config", config, "--out", tmp_path / "runs")
    assert code == 2 and next(iter(setting)) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())   # no run directory made


def test_top_fidelity_keeps_the_highest_budget_of_a_multi_fidelity_run():
    ended = [TrialRecord(i, objectives={"accuracy": 0.5, "params": 10.0, "flops": 1.0}, status="ok", epochs=e, seed=0)
             for i, e in enumerate([1, 3, 8, 8, 1])]
    assert [r.id for r in top_fidelity(ended)] == [2, 3]
    assert top_fidelity(ended[:1] + ended[4:]) == ended[:1] + ended[4:]   # one budget: everything
