"""A run's config.json read back: a run written without a `strategy` key (by hand, or with
``RunDir.create``) keeps the strategy it was written under, never today's default."""
import pytest

from nas_sepconv.frontier.objectives import Objective
from nas_sepconv.frontier.pareto import ReferencePoint
from nas_sepconv.runs import job
from nas_sepconv.runs.config import STORED_DEFAULTS, SearchConfig
from nas_sepconv.runs.run_dir import RunDir

REF = ReferencePoint((Objective("accuracy", "max"), Objective("params", "min")), (0.0, 1e6))


def old_run(tmp_path, **settings):
    """A run directory whose config.json lacks `strategy` (every other setting written)."""
    config = SearchConfig(width=4, cells=3, trials=2, epochs=1, engine="sequential", references=False).to_dict()
    del config["strategy"]
    return RunDir.create(tmp_path, "old", config={**config, **settings}, seed=0, reference=REF)


def test_the_default_is_model_based_and_every_new_run_writes_its_strategy():
    assert SearchConfig().strategy == "model-based"
    assert SearchConfig().to_dict()["strategy"] == "model-based"
    assert STORED_DEFAULTS == {"strategy": "evolution"}


def test_a_stored_config_without_strategy_reads_back_as_evolution(tmp_path):
    run = old_run(tmp_path, strategy_settings={"generations": 2}, objectives=["accuracy", "params", "flops"])
    assert "strategy" not in run.config
    config = SearchConfig.from_run(run.config)      # from_mapping would refuse both settings for model-based
    assert config.strategy == "evolution" and config.strategy_settings == {"generations": 2}
    assert SearchConfig.from_run({"strategy": "random"}).strategy == "random"   # a stored key wins
    with pytest.raises(ValueError, match="strategy 'model-based'"):
        SearchConfig.from_mapping(run.config)


class _Stop(Exception):
    pass


def test_resume_and_confirm_read_the_old_runs_strategy(tmp_path, monkeypatch):
    from nas_sepconv.runs import confirm

    run = old_run(tmp_path)
    seen = []

    def make_strategy(config, run):
        seen.append(config.strategy)
        raise _Stop

    monkeypatch.setattr(job, "make_strategy", make_strategy)
    with pytest.raises(_Stop):
        job.run_search(run)                           # what `resume RUN` runs
    assert seen == ["evolution"]
    read = []
    monkeypatch.setattr(SearchConfig, "from_run", classmethod(lambda cls, data: read.append(data) or _stop()))
    with pytest.raises(_Stop):
        confirm.confirm_tasks(run)
    assert read == [run.config]


def _stop():
    raise _Stop
