import pytest
from nni.nas.experiment import NasExperimentConfig


@pytest.fixture
def nni_config(tmp_path):
    """Factory of NNI experiment configs whose state stays under the test's tmp dir."""
    def make(engine: str = "sequential", model_format: str = "simplified", **kwargs) -> NasExperimentConfig:
        config = NasExperimentConfig(engine, model_format, "local", **kwargs)
        config.experiment_working_directory = str(tmp_path / "nni-experiments")
        return config
    return make
