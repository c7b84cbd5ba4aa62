"""The scale-out example configs (examples/*.yml) load into NNI 3.0's own config classes and
pass their validation (``canonical_copy``), without connecting anywhere."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nni.experiment.config.training_services import FrameworkControllerConfig, KubeflowConfig, LocalConfig, RemoteConfig
from nni.nas.experiment import NasExperimentConfig
from nni.nas.experiment.config.engine import TrainingServiceEngineConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {"local_gpu.yml": LocalConfig, "remote.yml": RemoteConfig, "kubeflow.yml": KubeflowConfig,
            "frameworkcontroller.yml": FrameworkControllerConfig}


def load(name: str, key_file: Path | None = None) -> NasExperimentConfig:
    """The README's recipe: the file's mapping as NasExperimentConfig keyword arguments."""
    config = NasExperimentConfig("ts", "simplified", **yaml.safe_load((ROOT / "examples" / name).read_text()))
    if key_file is not None and isinstance(config.training_service, RemoteConfig):
        for machine in config.training_service.machine_list:  # validation needs the key file to exist
            machine.ssh_key_file = str(key_file)
    return config


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)  # NAS experiments take the current directory as the code directory


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "id_ed25519"
    path.write_text("not a real key\n")
    return path


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_config_is_a_valid_nni_nas_experiment_config(name, in_repo, key_file):
    canonical = load(name, key_file).canonical_copy()
    service = canonical.training_service
    assert type(service) is EXAMPLES[name]
    assert isinstance(canonical.execution_engine, TrainingServiceEngineConfig)
    assert canonical.trial_concurrency >= 2
    assert canonical.trial_command.endswith("-m nni.nas.execution.training_service trial")
    if name != "local_gpu.yml":
        assert service.nni_manager_ip, "workers must be told how to reach the NNI manager"


def test_remote_example_lists_machines_with_gpus(in_repo, key_file):
    service = load("remote.yml", key_file).canonical_copy().training_service
    assert [m.host for m in service.machine_list] == ["10.0.0.21", "10.0.0.22"]
    assert all(m.gpu_indices == [0, 1, 2, 3] and m.ssh_key_file == str(key_file) for m in service.machine_list)
    assert service.trial_gpu_number == 1


def test_a_wrong_example_fails_nni_validation(in_repo, key_file):
    data = yaml.safe_load((ROOT / "examples" / "kubeflow.yml").read_text())
    with pytest.raises(AttributeError, match="trialconcurency"):
        NasExperimentConfig("ts", "simplified", trialConcurency=4, trainingService=data["trainingService"])
    data["trainingService"]["operator"] = "mpi-operator"
    with pytest.raises(AssertionError):
        NasExperimentConfig("ts", "simplified", **data).canonical_copy()
    remote = load("remote.yml", key_file)  # then one machine names a key file that does not exist
    remote.training_service.machine_list[0].ssh_key_file = str(key_file.parent / "absent")
    with pytest.raises(ValueError, match="SSH key file"):
        remote.canonical_copy()
