"""`nas-sepconv search --strategy oneshot|darts-penalty`: the real command on digits, smallest budget,
and their settings (keys of --config's strategy_settings) refused with one line before a run exists."""
import csv
import json

import pytest

TINY = ["--population", "2", "--epochs", "1", "--train-limit", "160", "--width", "4", "--cells", "3",
        "--batch-size", "32", "--ops", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "blk_3x3", "xsep_3x3",
        "--no-references", "--quiet"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _search(cli, tmp_path, strategy, settings):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"strategy_settings": settings}))
    return cli("search", *TINY, "--strategy", strategy, "--config", config, "--out", tmp_path / "runs")


def test_oneshot_writes_every_scored_and_retrained_architecture(cli, tmp_path):
    settings = {"supernet_epochs": 1, "generations": 1, "retrain_top_k": 1, "recalibration_batches": 1}
    code, out, err = _search(cli, tmp_path, "oneshot", settings)
    assert code == 0, err
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "config.json").read_text())["config"]["strategy_settings"] == settings
    trials = _rows(run / "trials.csv")
    # one generation of 2 one-shot scores (epochs 0: inherited weights), then 1 retrained at --epochs
    assert [t["epochs"] for t in trials] == ["0", "0", "1"] and all(t["status"] == "ok" for t in trials)
    assert trials[2]["genotype"] in {t["genotype"] for t in trials[:2]}
    assert (run / "strategy.json.supernet.pt").is_file() and (run / "report.md").is_file()
    assert [t["id"] for t in _rows(run / "frontier.csv")] == ["2"]     # the retrained point only (top budget)
    code, out, err = cli("resume", run, "--quiet")                     # finished: nothing trained again
    assert code == 0, err
    assert _rows(run / "trials.csv") == trials


def test_darts_penalty_trains_the_derived_architecture_of_each_penalty(cli, tmp_path):
    code, out, err = _search(cli, tmp_path, "darts-penalty", {"penalties": [0.0], "search_epochs": 1})
    assert code == 0, err
    run = next((tmp_path / "runs").iterdir())
    trials = _rows(run / "trials.csv")
    assert len(trials) == 1 and trials[0]["status"] == "ok" and trials[0]["epochs"] == "1"
    assert '"params"' not in trials[0]["genotype"]     # DARTS relaxes ops and inputs: default internals
    assert _rows(run / "frontier.csv") and (run / "report.md").is_file()


@pytest.mark.parametrize("strategy, settings, message", [
    ("oneshot", {"supernet_epochs": 0}, "`supernet_epochs` must be an integer >= 1, got 0"),
    ("oneshot", {"supernet_config": {"bogus": 1}}, "`supernet_config` must only set TrainConfig fields"),
    ("oneshot", {"penalties": [1]}, "`strategy_settings` has penalties, which strategy 'oneshot' does not take"),
    ("darts-penalty", {"penalties": [-1]}, "`penalties[0]` must be a finite number >= 0, got -1"),
    ("darts-penalty", {"penalties": "0.5"}, "`penalties` must be a non-empty list of numbers >= 0"),
    ("darts-penalty", {"search_epochs": 0}, "`search_epochs` must be an integer >= 1, got 0"),
    ("darts-penalty", {"arc_learning_rate": -1}, "`arc_learning_rate` must be"),
    ("model-based", {"surrogate": "svm"}, "`surrogate` must be one of"),
])
def test_bad_settings_exit_2_with_one_line_and_no_run_directory(cli, tmp_path, strategy, settings, message):
    code, out, err = _search(cli, tmp_path, strategy, settings)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_weight_sharing_strategies_need_the_cell_space(cli, tmp_path):
    code, out, err = cli("search", "--space", "resnet", "--strategy", "oneshot", "--out", tmp_path)
    assert code == 2 and "`--strategy` 'oneshot' needs the cell space, got space 'resnet'" in err
    code, out, err = cli("search", "--strategy", "darts-penalty", "--internals", "osep.gamma=1", "--out", tmp_path)
    assert code == 2 and "`internals` does not apply to strategy 'darts-penalty'" in err


def test_help_lists_every_strategy_and_its_settings(cli):
    code, out, err = cli("search", "--help")
    text = " ".join(out.split())
    assert code == 0
    for name in ("evolution", "random", "model-based", "oneshot", "darts-penalty"):
        assert name in text
    assert "oneshot: supernet_epochs," in text and "darts-penalty: penalties," in text
