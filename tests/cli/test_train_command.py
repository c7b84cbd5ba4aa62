"""``nas-sepconv train``: DARTS_V2 (C=4, 3 cells) on digits for one epoch."""
import json

import torch

from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import build_model, count


def test_train_writes_weights_and_metrics(cli, tmp_path):
    out = tmp_path / "trained"
    code, stdout, err = cli("train", "DARTS_V2", "--channels", "4", "--layers", "3", "--epochs", "1",
                            "--batch-size", "256", "--threads", "1", "--out", out, "--verbose")
    assert code == 0
    assert "epoch 1: loss" in err and "1/1" in err  # tqdm bar and the verbose line go to stderr
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "weights.pt"]
    metrics = json.loads((out / "metrics.json").read_text())
    expected = count(DARTS_V2, channels=4, layers=3, stem="digits", in_channels=1)
    assert (metrics["params"], metrics["flops"]) == (expected.params, expected.flops)
    assert metrics["status"] == "ok" and 0.0 <= metrics["accuracy"] <= 1.0 and len(metrics["history"]) == 1
    assert metrics["accuracy"] == metrics["history"][0]["eval_acc"] and metrics["split"] == "test"
    assert metrics["train_config"]["batch_size"] == 256 and metrics["network"]["auxiliary"] is False
    model = build_model(DARTS_V2, channels=4, layers=3, stem="digits", in_channels=1)
    model.load_state_dict(torch.load(out / "weights.pt"))  # strict: every tensor has its place
    assert f"test accuracy {metrics['accuracy']:.4f}" in stdout


def test_diverging_training_is_recorded_as_failed(cli, tmp_path):
    out = tmp_path / "nan"
    code, stdout, err = cli("train", "DARTS_V2", "--channels", "4", "--layers", "3", "--epochs", "1",
                            "--lr", "1e30", "--threads", "1", "--auxiliary", "--out", out, "--quiet")
    assert code == 1 and stdout == "" and err.strip().startswith("nas-sepconv train: training failed:")
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "non-finite" in metrics["reason"] and metrics["network"]["auxiliary"]
