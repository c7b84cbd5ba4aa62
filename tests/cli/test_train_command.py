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
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "preprocessing.json", "weights.pt"]
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


def test_saved_preprocessing_lets_raw_images_be_classified(cli, tmp_path):
    """A user's own digits (sklearn's raw 0..16 pixels, or scaled to 0..1), not the package's loader."""
    from sklearn.datasets import load_digits

    from nas_sepconv.models.preprocessing import Preprocessing

    out = tmp_path / "trained"
    code, _, err = cli("train", "DARTS_V2", "--channels", "8", "--layers", "3", "--epochs", "4", "--batch-size",
                       "64", "--threads", "1", "--out", out, "--quiet")
    assert code == 0, err
    saved = json.loads((out / "preprocessing.json").read_text())
    assert saved == json.loads((out / "metrics.json").read_text())["preprocessing"]
    assert saved["max_value"] == 16 and saved["channels"] == 1 and saved["input_size"] == [8, 8]
    assert abs(saved["mean"][0] - 0.305) < 0.01 and abs(saved["std"][0] - 0.376) < 0.01
    digits = load_digits()
    raw = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)  # (1797, 1, 8, 8), 0..16
    labels = torch.tensor(digits.target)
    weights = torch.load(out / "weights.pt", weights_only=True)

    def accuracy(model, images):
        model.load_state_dict(weights)
        with torch.no_grad():
            return float((model.eval()(images).argmax(1) == labels).float().mean())

    plain = accuracy(build_model(DARTS_V2, channels=8, layers=3, stem="digits", in_channels=1), raw)
    built_in = accuracy(build_model(DARTS_V2, channels=8, layers=3, stem="digits", in_channels=1,
                                    normalize=saved), raw)
    unit = Preprocessing.from_dict(saved).for_inputs_up_to(1.0)
    scaled = accuracy(build_model(DARTS_V2, channels=8, layers=3, stem="digits", in_channels=1,
                                  normalize=unit), raw / 16)
    assert built_in > 0.6 and abs(scaled - built_in) < 1e-3, (plain, built_in, scaled)
    assert built_in > plain + 0.2, (plain, built_in)
