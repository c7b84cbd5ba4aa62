"""A tiny real NNI search on digits, shared by the strategy tests and run as a script by the kill test.

``python search_helpers.py OUT_DIR SEED`` runs the evolution on the sequential engine with
``OUT_DIR/strategy.json`` as checkpoint and ``OUT_DIR/evaluations.log`` as evaluation log, and
writes the final archive to ``OUT_DIR/archive.json``.
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import nni
import nni.experiment.launcher as nni_launcher
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from nas_sepconv.evaluation.trial import evaluate_sample
from search_spaces import SepConvDartsSpace
from strategies import MultiObjectiveEvolution

OPS = ("sep_conv_3x3", "skip_connect", "max_pool_3x3", "blk_3x3")
TRAIN = dict(dataset="digits", epochs=1, train_limit=300, test_limit=100, batch_size=32, lr=0.1, num_threads=1)
MAX_PARAMS = 6000
EVOLUTION = dict(population_size=3, generations=3, max_params=MAX_PARAMS)


def tiny_space() -> SepConvDartsSpace:
    return SepConvDartsSpace(op_candidates=OPS, width=4, num_cells=3, stem="digits")


def logged_evaluate(model: Any, *, log_path: str, raise_at: int = -1, nan_at: int = -1, **params: Any) -> dict:
    """``evaluate_sample`` that first appends the trial's sample to ``log_path``; the
    ``raise_at``-th evaluation (0-based) raises, the ``nan_at``-th diverges (huge lr)."""
    sample = nni.get_current_parameter().sample
    log = Path(log_path)
    index = len(log.read_text().splitlines()) if log.exists() else 0
    with log.open("a") as fh:
        fh.write(json.dumps(sample, sort_keys=True) + "\n")
    if index == raise_at:
        raise RuntimeError(f"planned failure of evaluation {index}")
    if index == nan_at:
        params.update(lr=1e9, grad_clip=0.0)
    return evaluate_sample(model, **params)


def evaluations(log_path: Path) -> list[dict]:
    return [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []


def run_search(strategy: Any, work_dir: Path, *, engine: str = "sequential", port: int = 8080,
               concurrency: int = 1, **evaluate_kw: Any) -> Any:
    """Run ``strategy`` on the tiny space. On the sequential engine evaluations are logged to
    ``work_dir/evaluations.log``; trial processes of the training-service engine cannot import
    this test module, so they run ``evaluate_sample`` itself."""
    if engine == "sequential":
        evaluator = FunctionalEvaluator(logged_evaluate, log_path=str(work_dir / "evaluations.log"),
                                        **{**TRAIN, **evaluate_kw})
    else:
        evaluator = FunctionalEvaluator(evaluate_sample, **{**TRAIN, **evaluate_kw})
    config = NasExperimentConfig(engine, "simplified", "local")
    config.experiment_working_directory = str(work_dir / "nni-experiments")
    if engine != "sequential":
        config.trial_concurrency = concurrency
    with patient_nni_manager() if engine != "sequential" else contextlib.nullcontext():
        NasExperiment(tiny_space(), evaluator, strategy, config).run(port=port)
    return strategy


def run_functional(strategy: Any, space: Any, trial: Any, work_dir: Path, **trial_kw: Any) -> Any:
    """Run ``strategy`` over ``space`` on the sequential engine, each trial ``trial(model, **trial_kw)``
    (a table lookup or a logging wrapper); NNI's files go to ``work_dir/nni``."""
    config = NasExperimentConfig("sequential", "simplified", "local")
    config.experiment_working_directory = str(work_dir / "nni")
    NasExperiment(space, FunctionalEvaluator(trial, **trial_kw), strategy, config).run()
    return strategy


def patient_nni_manager(seconds: int = 60):
    """NNI gives its manager (a node process) 3 s to answer before it fails the experiment; on a
    loaded machine, a parallel test run say, it may need longer: wait up to ``seconds``."""
    check = nni_launcher._check_rest_server

    def patient(port, retry=3, url_prefix=None):
        return check(port, retry=max(retry, seconds), url_prefix=url_prefix)
    return mock.patch.object(nni_launcher, "_check_rest_server", patient)


def main(out_dir: str, seed: str) -> None:
    out = Path(out_dir)
    strategy = MultiObjectiveEvolution(seed=int(seed), checkpoint_path=out / "strategy.json", **EVOLUTION)
    run_search(strategy, out)
    strategy.archive.save(out / "archive.json")


if __name__ == "__main__":
    main(*sys.argv[1:])
