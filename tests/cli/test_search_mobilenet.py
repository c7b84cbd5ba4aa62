"""`nas-sepconv search --space mobilenet` end to end on digits: run files, export, count, train."""
import csv
import json

from nas_sepconv.genotypes.files import load_genotype
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.runs.config import SearchConfig


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_search_over_the_mobilenet_space_to_a_report_export_count_and_training(cli, tmp_path):
    code, out, err = cli("search", "--space", "mobilenet", "--version", "v3-small", "--multipliers", "0.25",
                         "--per-block", "--ops", "dw", "xsep", "blk", "--kernels", "3", "5", "--trials", "3",
                         "--population", "2", "--epochs", "1", "--train-limit", "160", "--batch-size", "32",
                         "--out", tmp_path, "--quiet")
    assert code == 0, err
    run = next(tmp_path.iterdir())
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "trials.csv", "frontier.csv", "genotypes.json", "frontier.png", "frontier.svg",
            "hypervolume.png", "report.html", "report.md", "references.csv", "run.log", "strategy.json"} <= names
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["space"], config["version"], config["per_block"], config["kernels"]) == (
        "mobilenet", "v3-small", True, [3, 5])
    trials = _rows(run / "trials.csv")
    assert len(trials) == 3 and all(t["status"] == "ok" for t in trials)
    for row in trials:                                       # params in the table are exact counts
        genotype = MobileNetGenotype.from_json(row["genotype"])
        assert genotype.version == "v3-small" and genotype.width == 0.25
        assert {b.op for b in genotype.blocks} <= {"dw", "xsep", "blk"}
        assert genotype.count(in_channels=1, stem="digits", input_size=8).params == int(row["params"])
    refs = _rows(run / "references.csv")
    assert [r["label"] for r in refs] == ["MobileNet-v3-small x0.25"]
    assert int(refs[0]["epochs"]) == 1
    assert "MobileNet-v3-small x0.25" in (run / "report.md").read_text()

    front = [row["id"] for row in _rows(run / "frontier.csv")]
    code, out, err = cli("export", run)
    assert code == 0 and "no DARTS text" in out
    exported = load_genotype(run / "export" / f"arch_{front[0]}.json")
    assert exported == load_genotype(run / "genotypes.json", front[0])
    code, out, err = cli("count", f"{run}#{front[0]}", "--stem", "digits")
    assert code == 0, err
    assert f"params: {int(_rows(run / 'frontier.csv')[0]['params']):,}" in out
    code, out, err = cli("train", f"{run}#{front[0]}", "--epochs", "1", "--out", tmp_path / "trained", "--quiet")
    assert code == 0, err
    metrics = json.loads((tmp_path / "trained" / "metrics.json").read_text())
    assert metrics["genotype"]["kind"] == "mobilenet"
    assert metrics["params"] == int(_rows(run / "frontier.csv")[0]["params"])
    code, _, err = cli("train", f"{run}#{front[0]}", "--layers", "8", "--out", tmp_path / "nope")
    assert code == 2 and "`--layers` does not apply to a MobileNet genotype" in err


def test_mobilenet_search_config_is_validated():
    assert SearchConfig(space="mobilenet", version="v1", ops=("dsep", "osep")).mobilenet_ops() == ("dsep", "osep")
    assert "blk" in SearchConfig(space="mobilenet").mobilenet_ops()
    config = SearchConfig(space="mobilenet", version="v2", per_block=True, kernels=(3, 5), ops=("dw", "blk"))
    assert SearchConfig.from_mapping(config.to_dict()) == config      # what resume reads back
    for kwargs, needle in ((dict(version="v4"), "`version`"), (dict(ops=("sep",)), "`op`"),
                           (dict(kernels=(4,)), "`kernels`"), (dict(multipliers=(0,)), "`width`"),
                           (dict(per_block=1), "`per_block`")):
        try:
            SearchConfig(space="mobilenet", **kwargs)
        except ValueError as err:
            assert needle in str(err)
        else:
            raise AssertionError(f"{kwargs} was accepted")
