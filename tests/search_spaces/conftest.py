import nni
import pytest
from nni.nas.evaluator.pytorch import Classification, DataLoader
from nni.nas.experiment import NasExperimentConfig
from torch.utils.data import TensorDataset

from nas_sepconv.evaluation.data import load_dataset


@pytest.fixture
def nni_config(tmp_path):
    """Factory of NNI experiment configs whose state stays under the test's tmp dir."""
    def make(engine: str = "sequential", model_format: str = "simplified", **kwargs) -> NasExperimentConfig:
        config = NasExperimentConfig(engine, model_format, "local", **kwargs)
        config.experiment_working_directory = str(tmp_path / "nni-experiments")
        return config
    return make


@pytest.fixture
def digits_classification():
    """A fresh NNI ``Classification`` evaluator (one epoch on 96 digits) for one-shot strategies."""
    data = load_dataset("digits", train_limit=96)
    ds = nni.trace(TensorDataset)(data.train_images, data.train_labels)
    return Classification(train_dataloaders=DataLoader(ds, batch_size=32), val_dataloaders=DataLoader(ds, batch_size=48),
                          max_epochs=1, num_classes=10, enable_progress_bar=False, logger=False,
                          enable_checkpointing=False)
