"""``nas-sepconv blk-search``: the real command on a tiny ResNet trained on digits."""
import csv
import json

import pytest
import torch
from cli_support import tree

TINY = ("resnet8", "--multiplier", "0.25", "--quiet")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One real run that trains the dense ResNet (1 epoch) and searches with the paper's 0.5 defaults."""
    from nas_sepconv.cli import main
    out = tmp_path_factory.mktemp("blk") / "run"
    argv = ["blk-search", *TINY, "--epochs", "1", "--batch-size", "32", "--lr", "0.05", "--out", str(out)]
    assert main(argv) == 0
    return out


def test_writes_tables_summary_and_models(trained_run):
    assert sorted(p.name for p in trained_run.iterdir()) == ["blk_model.pt", "candidates.csv", "dense.pt",
                                                             "layers.csv", "summary.json"]
    rows = list(csv.DictReader((trained_run / "layers.csv").open()))
    summary = json.loads((trained_run / "summary.json").read_text())
    assert [r["layer"] for r in rows] == list(summary["choices"]) and len(rows) == 6  # the block convs
    assert summary["hsa"] == {"alpha_v": 0.5, "alpha_c": 0.5, "alpha_s": 0.5, "beta": 2, "q_max": 8, "select": "max"}
    for r in rows:
        choice = summary["choices"][r["layer"]]
        assert (choice is None) == (r["converted"] == "False")
        if choice:
            assert float(r["variance"]) >= 0.5 and float(r["params_ratio"]) <= 0.5 and float(r["flops_ratio"]) <= 0.5
    saved = sum(int(r["dense_params"]) - int(r["params"]) for r in rows)
    assert summary["converted"]["params"] == summary["dense"]["params"] - saved
    state = torch.load(trained_run / "blk_model.pt", weights_only=True)
    assert sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k) \
        == summary["converted"]["params"]


def test_reuses_weights_and_gives_s1t1_in_the_paper_extreme_case(cli, trained_run, tmp_path):
    code, out, err = cli("blk-search", "resnet8", "--multiplier", "0.25", "--weights", trained_run / "dense.pt",
                         "--alpha-v", "0", "--beta", "0", "--q-max", "1", "--alpha-c", "1", "--alpha-s", "1",
                         "--finetune-epochs", "1", "--out", tmp_path / "s1t1")
    assert code == 0 and err == ""
    summary = json.loads((tmp_path / "s1t1" / "summary.json").read_text())
    assert all((c["t"], c["q"]) == (1, 1) for c in summary["choices"].values())
    first = json.loads((trained_run / "summary.json").read_text())
    assert summary["dense"] == first["dense"] and "train_config" not in summary
    assert 0 <= summary["converted"]["finetuned_accuracy"] <= 1 and summary["finetune"] == {"epochs": 1, "lr": 1e-4}
    assert "fine-tuned" in out and "6/6 layers converted" in out


@pytest.mark.parametrize("argv,needle", [
    (("blk-search", "vgg16"), "`MODEL`"),
    (("blk-search", "resnet9"), "`depth`"),
    (("blk-search", *TINY, "--alpha-v", "2"), "`alpha_v`"),
    (("blk-search", *TINY, "--beta", "-1"), "`beta`"),
    (("blk-search", *TINY, "--weights", "missing.pt"), "`--weights`"),
    (("blk-search", *TINY, "--layers", "head"), "`layers`"),
    (("blk-search", *TINY, "--finetune-epochs", "-2"), "`--finetune-epochs`"),
])
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(cli, tmp_path, argv, needle):
    code, out, err = cli(*argv, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert tree(tmp_path) == []


def test_weights_of_another_model_are_refused(cli, trained_run, tmp_path):
    code, _, err = cli("blk-search", "resnet8", "--weights", trained_run / "dense.pt", "--out", tmp_path / "o")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "`--weights` must be a state_dict of resnet8 x1.0" in err
