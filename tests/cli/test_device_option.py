"""--device and the thread rule through the real command processes (this machine's CPU; GPUs: benchmarks/gpu_smoke.py)."""
import json
import subprocess
import sys

import pytest
import torch

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="asks for a GPU that is not there")


def nas(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "nas_sepconv", *map(str, argv)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)


def test_train_on_the_cpu_says_where_and_with_how_many_threads(tmp_path):
    done = nas(tmp_path, "train", "DARTS_V2", "--channels", "4", "--layers", "3", "--epochs", "1",
               "--device", "auto", "--out", tmp_path / "t")
    assert done.returncode == 0, done.stderr
    assert "training on cpu with " in done.stderr and " torch thread(s) per trial: (" in done.stderr
    config = json.loads((tmp_path / "t" / "metrics.json").read_text())["train_config"]
    threads = int(done.stderr.split("training on cpu with ")[1].split()[0])
    assert config["device"] == "auto" and config["num_threads"] == threads >= 1
    state = torch.load(tmp_path / "t" / "weights.pt", weights_only=True)
    assert {str(v.device) for v in state.values()} == {"cpu"}


@NO_GPU
@pytest.mark.parametrize("argv", [
    ["train", "DARTS_V2", "--device", "cuda"],
    ["train", "DARTS_V2", "--device", "cuda:0"],
    ["decompose", "resnet8", "--device", "cuda"],
    ["blk-search", "resnet8", "--device", "cuda:1"],
    ["search", "--device", "cuda"],
])
def test_a_missing_gpu_is_one_line_exit_2_and_nothing_written(tmp_path, argv):
    done = nas(tmp_path, *argv)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "is not available: no CUDA device is visible" in done.stderr and "--device cpu or auto" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bad_device_name_is_refused(tmp_path):
    done = nas(tmp_path, "train", "DARTS_V2", "--device", "gpu0")
    assert done.returncode == 2 and done.stderr.strip().endswith("must be auto, cpu, cuda or cuda:N, got 'gpu0'.")


def test_decompose_trains_on_the_device_and_saves_cpu_weights(tmp_path):
    done = nas(tmp_path, "decompose", "resnet8", "--multiplier", "0.25", "--epochs", "1", "--finetune-epochs", "1",
               "--images", "20", "--patches", "2", "--device", "cpu", "--out", tmp_path / "d", "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["train_config"]["device"] == "cpu"
    for name in ("dense.pt", "decomposed_gsvd.pt"):
        state = torch.load(tmp_path / "d" / name, weights_only=True)
        assert {str(v.device) for v in state.values()} == {"cpu"}
