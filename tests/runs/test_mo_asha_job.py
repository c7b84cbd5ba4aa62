"""The search job's MO-ASHA: promotions continue their training in the run directory's `trainings/`
folder unless `continue_training: false` (nas_sepconv.runs.job.build_strategy)."""
import pytest

from nas_sepconv.core.errors import UserError
from nas_sepconv.runs.config import SearchConfig
from nas_sepconv.runs.job import build_strategy
from nas_sepconv.runs.run_dir import TRAININGS


def _strategy(tmp_path, **settings):
    config = SearchConfig(strategy="mo-asha", epochs=3, strategy_settings=settings)
    return build_strategy(config, None, tmp_path / "strategy.json", None)


def test_the_job_continues_trainings_in_the_run_directory_unless_told_not_to(tmp_path):
    assert _strategy(tmp_path).trainings.path == (tmp_path / TRAININGS).resolve()
    assert _strategy(tmp_path, continue_training=False).trainings is None
    config = SearchConfig(strategy="mo-asha", epochs=3)
    assert build_strategy(config, None, None, None).trainings is None     # unattached (settings check): no folder
    assert not (tmp_path / TRAININGS).exists()                              # made when the search starts


def test_continue_training_must_be_a_boolean(tmp_path):
    with pytest.raises(UserError, match="continue_training"):
        _strategy(tmp_path, continue_training="no")
