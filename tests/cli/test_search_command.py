"""`nas-sepconv search` and `resume`: the real command on digits with a tiny budget."""
import csv
import json

import pytest

from nas_sepconv import ResNetGenotype
from nas_sepconv.genotypes.files import load_genotype
from nas_sepconv.models.network import count
from nas_sepconv.runs.config import SearchConfig

TINY = ["--trials", "4", "--population", "2", "--epochs", "1", "--train-limit", "160", "--width", "4",
        "--cells", "3", "--batch-size", "32", "--ops", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "blk_3x3",
        "xsep_3x3"]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_search_writes_a_complete_run_and_resume_retrains_nothing(cli, tmp_path):
    code, out, err = cli("search", *TINY, "--out", tmp_path, "--quiet")
    assert code == 0, err
    run = next(tmp_path.iterdir())
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "trials.csv", "frontier.csv", "genotypes.json", "frontier.png", "frontier.svg",
            "hypervolume.png", "report.html", "report.md", "references.csv", "run.log", "strategy.json"} <= names
    meta = json.loads((run / "config.json").read_text())
    assert meta["config"]["trials"] == 4 and meta["reference_point"]["values"][0] == 0.0
    assert meta["config"]["device"] == "auto" and meta["config"]["threads"] >= 1  # the thread rule, fixed
    log = (run / "run.log").read_text()
    assert f"trials train on cpu with {meta['config']['threads']} torch thread(s) each; rule: " in log
    trials = _rows(run / "trials.csv")
    assert len(trials) == 4 and all(t["status"] == "ok" for t in trials)
    for row in _rows(run / "frontier.csv"):               # params in the table are exact counts
        genotype = load_genotype(run / "genotypes.json", row["id"])
        assert count(genotype, stem="digits", in_channels=1).params == int(row["params"])
    assert [r["label"] for r in _rows(run / "references.csv")] == ["DARTS_V2", "ResNet20"]

    code, out, err = cli("resume", run, "--quiet", "--device", "cuda:3")
    assert code == 2 and "`device` cuda:3 is not available" in err
    code, out, err = cli("resume", run, "--quiet", "--device", "cpu")
    assert code == 0, err
    assert _rows(run / "trials.csv") == trials               # nothing trained again, nothing lost


def test_search_over_the_resnet_space_to_a_report_export_and_training(cli, tmp_path):
    code, out, err = cli("search", "--space", "resnet", "--depth", "8", "--multipliers", "0.25", "0.5", "--per-stage",
                         "--shortcut", "B", "--ops", "conv", "dsep", "osep", "blk", "xsep", "--trials", "4", "--population", "2",
                         "--epochs", "1", "--train-limit", "160", "--batch-size", "32", "--out", tmp_path, "--quiet")
    assert code == 0, err
    run = next(tmp_path.iterdir())
    assert run.name.endswith("-model-based-resnet-digits")   # the default strategy names the run
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["space"], config["depth"], config["multipliers"], config["per_stage"], config["shortcut"]) == (
        "resnet", 8, [0.25, 0.5], True, "B")
    trials = _rows(run / "trials.csv")
    assert len(trials) == 4 and all(t["status"] == "ok" for t in trials)
    for row in trials:                                       # params in the table are exact counts
        genotype = ResNetGenotype.from_json(row["genotype"])
        assert len(genotype.conv) == 3 and genotype.multiplier in (0.25, 0.5) and genotype.shortcut == "B"
        assert genotype.count(in_channels=1, input_size=8).params == int(row["params"])
    front = [row["id"] for row in _rows(run / "frontier.csv")]
    assert isinstance(load_genotype(run / "genotypes.json", front[0]), ResNetGenotype)
    assert [r["label"] for r in _rows(run / "references.csv")] == ["DARTS_V2", "ResNet8"]
    assert "ResNet-8 " in (run / "report.md").read_text()

    code, out, err = cli("export", run)
    assert code == 0 and "no DARTS text" in out
    assert load_genotype(run / "export" / f"arch_{front[0]}.json") == load_genotype(run / "genotypes.json", front[0])
    code, out, err = cli("train", f"{run}#{front[0]}", "--epochs", "1", "--out", tmp_path / "trained", "--quiet")
    assert code == 0, err
    metrics = json.loads((tmp_path / "trained" / "metrics.json").read_text())
    assert metrics["genotype"]["kind"] == "resnet" and metrics["params"] == int(_rows(run / "frontier.csv")[0]["params"])
    code, _, err = cli("train", f"{run}#{front[0]}", "--channels", "8", "--out", tmp_path / "nope")
    assert code == 2 and "`--channels` does not apply to a ResNet genotype" in err


def test_config_file_and_flags_resolve(tmp_path, cli):
    config = tmp_path / "search.yaml"
    config.write_text("epochs: 2\nops: darts\nstrategy: evolution\nobjectives: [accuracy, params, flops]\n")
    from nas_sepconv.cli import build_parser
    from nas_sepconv.cli.search import resolve

    args = build_parser().parse_args(["search", "--config", str(config), "--epochs", "5"])
    resolved = resolve(args)
    assert resolved == SearchConfig(epochs=5, ops="darts", strategy="evolution",
                                    objectives=("accuracy", "params", "flops"))
    config.write_text("space: resnet\nshortcut: B\n")
    assert resolve(build_parser().parse_args(["search", "--config", str(config)])).shortcut == "B"
    assert resolve(build_parser().parse_args(["search", "--config", str(config), "--shortcut", "A"])).shortcut == "A"


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "`--epochs` must be an integer >= 1, got 0"),
    (["--strategy", "annealing"], "`--strategy` must be one of 'evolution', 'random', 'model-based'"),
    (["--ops", "sep_conv_3x3", "bogus_op"], "`name` must be one of"),
    (["--dataset", "cifar10"], "`--data-dir` must be given for dataset 'cifar10'"),
    (["--objectives", "params", "flops"], "`--objectives` must be distinct names among"),
    (["--engine", "kubernetes"], "`--engine` must be one of sequential, ts"),
    (["--space", "transformer"], "`--space` must be one of 'cell', 'resnet', 'mobilenet', got 'transformer'"),
    (["--space", "resnet", "--ops", "darts"], "`--ops` must be one of 'all', got 'darts'"),
    (["--space", "resnet", "--ops", "osep", "warp"], "`conv` must be one of"),
    (["--space", "resnet", "--depth", "9"], "`--depth` must be 6n+2"),
    (["--space", "resnet", "--multipliers", "0.5", "0"], "`multiplier` must be a finite number > 0, got 0.0"),
    (["--space", "resnet", "--multipliers", "0.5", "0.5"], "`--multipliers` must be a non-empty list of distinct"),
    (["--space", "resnet", "--shortcut", "C"], "`--shortcut` must be one of 'A', 'B', got 'C'"),
    (["--shortcut", "B"], "`--shortcut` applies to the resnet space only, got 'B' for space 'cell'"),
    (["--space", "mobilenet", "--version", "v4"], "`--version` must be one of 'v1', 'v2', 'v3-small', 'v3-large'"),
    (["--space", "mobilenet", "--ops", "dw", "sep"], "`op` must be one of dw, xsep"),
    (["--space", "mobilenet", "--kernels", "4"], "`kernels` must be a list of kernel sizes among 3, 5, 7"),
])
def test_bad_input_exits_2_with_one_line(cli, tmp_path, argv, message):
    code, out, err = cli("search", *argv, "--out", tmp_path / "runs")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text, message", [
    ("ops: 5\n", "`--ops` must be an op-set name or a list of op names, got 5"),
    ("objectives: 5\n", "`--objectives` must be a list of names, got 5"),
    ("ops: [[1, 2]]\n", "`--ops` must be an op-set name or a list of op names, got ([1, 2],)"),
    ("data_dir: 5\n", "`--data-dir` must be a directory path, got 5"),
    ("seed: 99999999999\n", "`--seed` must be an integer in [0, 4294967295]"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, "
                                                      f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
                                                      for i in range(25)), "more than 100 aliases"),
    ("name: [1]\n", "`--name` must be a non-empty string"),
    (b"epochs: 2 # \xe9\n", "is not UTF-8 text"),
])
def test_config_values_are_checked_by_the_flags_own_rules(cli, tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, out, err = cli("search", "--config", bad, "--out", tmp_path / "runs")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()


def test_seed_out_of_range_is_refused_before_a_run_directory_is_made(cli, tmp_path):
    code, out, err = cli("search", "--seed", "99999999999", "--out", tmp_path / "runs")
    assert code == 2 and "`--seed` must be an integer in [0, 4294967295]" in err
    assert not (tmp_path / "runs").exists()


def test_name_in_a_config_file_names_the_run(tmp_path):
    from nas_sepconv.cli import build_parser
    from nas_sepconv.cli.search import resolve

    config = tmp_path / "search.yaml"
    config.write_text("name: my-study\nepochs: 2\n")
    args = build_parser().parse_args(["search", "--config", str(config)])
    assert resolve(args) == SearchConfig(epochs=2) and args.name == "my-study"


def test_bad_config_file(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 2\nwarp_speed: 9\n")
    code, _, err = cli("search", "--config", bad, "--out", tmp_path / "runs")
    assert code == 2 and "unknown settings: warp_speed" in err and len(err.strip().splitlines()) == 1


def test_malformed_config_file(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1, 2\n")
    code, _, err = cli("search", "--config", bad, "--out", tmp_path / "runs")
    assert code == 2 and "is not valid YAML" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_resume_refuses_a_directory_that_is_not_a_run(cli, tmp_path):
    code, _, err = cli("resume", tmp_path)
    assert code == 2 and "must be a run directory" in err


@pytest.mark.parametrize("strategy,settings", [("model-based", {"initial_samples": 2, "surrogate": "forest"}),
                                               ("optuna:tpe", {})])
def test_search_with_the_model_based_and_optuna_strategies(cli, tmp_path, strategy, settings):
    if strategy.startswith("optuna"):
        pytest.importorskip("optuna")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"strategy_settings": settings}))
    code, out, err = cli("search", *TINY, "--strategy", strategy, "--config", config, "--no-references",
                         "--out", tmp_path / "runs", "--quiet")
    assert code == 0, err
    run = next((tmp_path / "runs").iterdir())
    meta = json.loads((run / "config.json").read_text())["config"]
    assert meta["strategy"] == strategy and meta["strategy_settings"] == settings
    trials = _rows(run / "trials.csv")
    assert len(trials) == 4 and all(t["status"] == "ok" for t in trials)
    assert len({t["genotype"] for t in trials}) == 4


def test_a_setting_the_strategy_does_not_take_is_refused():
    with pytest.raises(ValueError, match="`strategy_settings` has surrogate, which strategy 'evolution'"):
        SearchConfig(strategy="evolution", strategy_settings={"surrogate": "gp"})
    with pytest.raises(ValueError, match="`strategy_settings` has generations, which strategy 'model-based'"):
        SearchConfig(strategy_settings={"generations": 2})            # the default strategy's own keys
    config = SearchConfig(strategy="model-based", strategy_settings={"surrogate": "forest"})
    assert SearchConfig.from_mapping(config.to_dict()) == config
