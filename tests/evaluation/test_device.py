"""--device: auto/cpu/cuda/cuda:N resolution, with CUDA availability as torch reports it."""
import pytest
import torch

from nas_sepconv.evaluation.device import check_device, resolve_device
from nas_sepconv.evaluation.train import TrainConfig


def test_auto_is_cuda_exactly_when_torch_sees_a_gpu(monkeypatch):
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"`device` cuda:2 is not available: only 2 CUDA device\(s\) are visible"):
        resolve_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"`--device` cuda is not available: no CUDA device is visible"):
        resolve_device("cuda", "--device")


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "CPU", "", 0, None, "mps"])
def test_only_the_documented_spellings(bad):
    with pytest.raises(ValueError, match=r"`device` must be auto, cpu, cuda or cuda:N, got "):
        check_device(bad)


def test_train_config_resolves_auto_and_checks_at_construction(monkeypatch):
    assert TrainConfig().device == "auto" and TrainConfig(device="cpu").torch_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"`device` cuda:0 is not available"):
        TrainConfig(device="cuda:0")


def test_ts_engine_hands_each_trial_one_gpu():
    from nas_sepconv.runs.job import ts_gpus

    assert ts_gpus("auto", 0) == (0, None, "auto") and ts_gpus("cpu", 4) == (0, None, "cpu")
    assert ts_gpus("auto", 4) == (1, [0, 1, 2, 3], "cuda") and ts_gpus("cuda", 2) == (1, [0, 1], "cuda")
    assert ts_gpus("cuda:3", 4) == (1, [3], "cuda")  # the trial sees only GPU 3, as its cuda:0
