"""A search driven from Python (NasExperiment + our strategy) written as a run directory with
``record_search``: report, export and confirm work on it like on a `nas-sepconv search` run."""
import pytest
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from nas_sepconv.core.errors import UserError
from nas_sepconv.evaluation.trial import evaluate_sample
from nas_sepconv.models.network import count
from nas_sepconv.runs.job import SearchConfig, default_run_name, record_search
from nas_sepconv.runs.run_dir import RunDir
from search_spaces import SepConvDartsSpace
from strategies import MultiObjectiveRandom


def test_python_search_writes_a_run_that_report_and_export_read(tmp_path):
    from nas_sepconv.cli import main

    config = SearchConfig(ops=("max_pool_3x3", "sep_conv_3x3", "osep_3x3"), width=4, cells=3, trials=3, epochs=1,
                          train_limit=96, batch_size=32, strategy="random", references=False)
    space = SepConvDartsSpace(op_candidates=config.op_names(), width=4, num_cells=3, stem="digits",
                              in_channels=1)
    evaluator = FunctionalEvaluator(evaluate_sample, **config.trial_kwargs())
    strategy = MultiObjectiveRandom(max_trials=3, seed=0)
    nni_config = NasExperimentConfig("sequential", "simplified", "local")
    nni_config.experiment_working_directory = str(tmp_path / "nni")
    NasExperiment(space, evaluator, strategy, nni_config).run()

    run = record_search(strategy, space, config, tmp_path / "results")
    assert run.name.endswith("-random-digits")           # named as `nas-sepconv search` names it
    assert RunDir.open(run.path).config["ops"] == list(config.ops)
    rows = run.read_trials()
    assert len(rows) == 3 and all(r.params == count(r.genotype, stem="digits", in_channels=1).params for r in rows)
    assert (run.path / "report.html").is_file() and run.box.values[1] == space.max_cost().params
    assert main(["report", str(run.path)]) == 0
    assert main(["export", str(run.path)]) == 0 and (run.path / "export" / "genotypes.json").is_file()
    assert main(["confirm", str(run.path), "--seeds", "1", "--epochs", "1", "--top", "1", "--quiet"]) == 0
    confirmed = (run.path / "confirmed.csv").read_text().splitlines()
    assert len(confirmed) == 2 and confirmed[0].startswith("label")


@pytest.mark.parametrize("space, name", [("cell", "evolution-digits"), ("resnet", "evolution-resnet-digits"),
                                         ("mobilenet", "evolution-mobilenet-digits")])
def test_default_run_name_says_strategy_space_and_data(space, name):
    assert default_run_name(SearchConfig(strategy="evolution", space=space)) == name


def test_a_config_that_names_another_strategy_is_refused_before_a_run_directory(tmp_path):
    ran = type("MultiObjectiveEvolution", (), {})()    # what the README's scale-out example runs
    with pytest.raises(UserError, match=r"`strategy` of the config is 'model-based', but the search ran "
                                        r"MultiObjectiveEvolution: give SearchConfig\(strategy='evolution'\)"):
        record_search(ran, None, SearchConfig(references=False), tmp_path / "results")
    assert not (tmp_path / "results").exists()
