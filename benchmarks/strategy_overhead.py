"""Strategy overhead at a large archive: CPU seconds per proposal with 1,000 archived trials.

A search over the full cell space (``SepConvDartsSpace``, every op of the registry's default set,
width 8, 5 cells: the README's space) is resumed from a checkpoint holding ``--archived``
successful trials (uniform samples of the space; their accuracies are a synthetic smooth
function of the exact log-#params plus noise, because only the strategy's time is measured
here), then runs ``--proposals`` more trials through a real NNI ``NasExperiment`` (sequential
engine; a trial reports its synthetic accuracy). The CPU time of each ``_propose`` call (the
strategy's own work: drawing candidates, exact costs and keys, fitting the surrogate, EHVI) is
measured with ``time.process_time``; the trials' own time is not included.

    python benchmarks/strategy_overhead.py [--archived 1000] [--proposals 10] [--strategies model-based,optuna:tpe] [--candidates 256]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import nni
import numpy as np
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from search_spaces import SepConvDartsSpace
from strategies import ModelBasedEHVI, MultiObjectiveEvolution, OptunaSearch
from strategies.archive import Archive, TrialRecord
from strategies.evolution_ops import random_sample


def synthetic_accuracy(params: float, key: str) -> float:
    """A smooth accuracy-vs-size curve plus a key-dependent offset (timing only)."""
    return 0.5 + 0.4 * math.tanh(math.log(params) - 9.0) + 0.03 * ((zlib.crc32(key.encode()) % 1000) / 1000 - 0.5)


def synthetic_trial(model: Any) -> dict:
    """The frozen model's synthetic accuracy (its size and its printed structure stand for the
    architecture: a frozen space keeps no sample) and its analytic cost."""
    params = sum(p.numel() for p in model.parameters())
    metric = {"default": synthetic_accuracy(params, repr(model)), "params": params}
    nni.report_final_result(metric)
    return metric


SPACE = SepConvDartsSpace(width=8, num_cells=5, stem="digits")
TARGET = 1.0   # CPU seconds per proposal at 1,000 archived trials (the target)


def archived_state(count: int, seed: int) -> dict[str, Any]:
    """A strategy checkpoint with ``count`` ended, successful trials of the space."""
    rng, keys, records = np.random.RandomState(seed), set(), []
    simplified = SPACE.simplify()
    while len(records) < count:
        sample = random_sample(simplified, rng)
        key = SPACE.genotype(sample).to_json(indent=None)
        if key in keys:
            continue
        keys.add(key)
        cost = SPACE.cost(sample)
        records.append(TrialRecord(len(records), sample, key, {"accuracy": synthetic_accuracy(cost.params, key),
                                                               "params": float(cost.params)}, status="ok"))
    archive = Archive(("accuracy", "params"), None, records)
    rng_state = np.random.RandomState(seed + 1).get_state(legacy=False)
    rng_state = {**rng_state, "state": {"key": rng_state["state"]["key"].tolist(), "pos": int(rng_state["state"]["pos"])}}
    return {"version": 1, "archive": archive.to_dict(), "generation": 1, "planned": [], "next_id": count,
            "rng": rng_state, "extra": {}}


def make(name: str, total: int, checkpoint: Path, candidates: int) -> Any:
    common = dict(max_trials=total, seed=0, checkpoint_path=checkpoint)
    if name == "model-based":
        return ModelBasedEHVI(candidates=candidates, **common)
    if name.startswith("optuna:"):
        return OptunaSearch(sampler=name.split(":")[1], **common)
    return MultiObjectiveEvolution(**common)


def measure(name: str, archived: int, proposals: int, candidates: int = 256) -> list[float]:
    """CPU seconds of each proposal after resuming from ``archived`` trials."""
    with tempfile.TemporaryDirectory() as work:
        checkpoint = Path(work) / "state.json"
        state = archived_state(archived, 0)
        if name == "evolution":
            state["extra"] = {"population": list(range(8))}
        checkpoint.write_text(json.dumps(state))
        strategy = make(name, archived + proposals, checkpoint, candidates)
        times: list[float] = []
        propose = strategy._propose

        def timed(limit):
            start = time.process_time()
            out = propose(limit)
            times.append(time.process_time() - start)
            return out
        strategy._propose = timed
        config = NasExperimentConfig("sequential", "simplified", "local")
        config.experiment_working_directory = str(Path(work) / "nni")
        NasExperiment(SPACE, FunctionalEvaluator(synthetic_trial), strategy, config).run()
        assert len(strategy.archive) == archived + proposals, len(strategy.archive)
        assert all(r.status == "ok" for r in strategy.archive.records), "a synthetic trial failed"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archived", type=int, default=1000)
    parser.add_argument("--proposals", type=int, default=10)
    parser.add_argument("--strategies", default="model-based,evolution")
    parser.add_argument("--candidates", type=int, default=256, help="ModelBasedEHVI's candidates per proposal")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("nni").setLevel(logging.WARNING)
    for name in args.strategies.split(","):
        times = measure(name, args.archived, args.proposals, args.candidates)
        per = times
        label = f"{name} (candidates {args.candidates})" if name == "model-based" else name
        print(f"{label}: {args.archived} archived trials, {len(per)} proposals: CPU s per proposal median "
              f"{np.median(per):.3f} [min {np.min(per):.3f}, max {np.max(per):.3f}] = {np.median(per) / TARGET:.2f}x "
              f"the {TARGET:g} s target", flush=True)


if __name__ == "__main__":
    main()
