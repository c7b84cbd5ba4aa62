"""``nas-sepconv decompose``: the real command on a tiny ResNet trained on digits."""
import csv
import json

import pytest
import torch
from cli_support import tree

TINY = ("resnet8", "--multiplier", "0.25", "--quiet")


def test_trains_decomposes_fine_tunes_and_writes_everything(cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = cli("decompose", *TINY, "--epochs", "1", "--batch-size", "32", "--lr", "0.05",
                            "--images", "40", "--method", "gsvd", "channel", "--finetune-epochs", "1",
                            "--out", out)
    assert code == 0 and stdout == "" and err == ""
    assert sorted(p.name for p in out.iterdir()) == ["decomposed_channel.pt", "decomposed_gsvd.pt", "dense.pt",
                                                     "layers.csv", "summary.json"]
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert [r["method"] for r in rows] == ["gsvd"] * 6 + ["channel"] * 6
    assert all(0 < float(r["rel_error"]) < 2 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 40 and summary["patches_per_image"] == 10 and summary["multi_layer"] is True
    assert summary["finetune"] == {"epochs": 1, "lr": 1e-4}
    gsvd = summary["methods"]["gsvd"]
    assert 0 <= gsvd["accuracy"] <= 1 and 0 <= gsvd["finetuned_accuracy"] <= 1
    saved = sum(int(r["params_before"]) - int(r["params_after"]) for r in rows if r["method"] == "gsvd")
    assert gsvd["params"] == summary["dense"]["params"] - saved
    mean = sum(float(r["rel_error"]) for r in rows if r["method"] == "gsvd") / 6
    assert gsvd["mean_rel_error"] == pytest.approx(mean)
    state = torch.load(out / "decomposed_gsvd.pt", weights_only=True)
    assert state["blocks.0.conv1.0.0.weight"].shape == (4, 1, 3, 3)  # depth-wise 3x3 on 4 channels

    code, stdout, err = cli("decompose", *TINY[:-1], "--weights", out / "dense.pt", "--images", "30",
                            "--independent", "--finetune-epochs", "0", "--out", tmp_path / "again")
    assert code == 0 and err == "" and "gsvd:" in stdout and "fine-tuned" not in stdout
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["multi_layer"] is False and again["dense"] == summary["dense"]
    assert "finetuned_accuracy" not in again["methods"]["gsvd"]


@pytest.mark.parametrize("argv,needle", [
    (("decompose", "resnet"), "`MODEL`"),
    (("decompose", *TINY, "--images", "0"), "`--images`"),
    (("decompose", *TINY, "--patches", "-3"), "`--patches`"),
    (("decompose", *TINY, "--finetune-epochs", "-1"), "`--finetune-epochs`"),
    (("decompose", *TINY, "--method", "tucker"), "--method"),
    (("decompose", *TINY, "--weights", "nowhere.pt"), "`--weights`"),
])
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(cli, tmp_path, argv, needle):
    code, out, err = cli(*argv, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert needle in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert tree(tmp_path) == []
