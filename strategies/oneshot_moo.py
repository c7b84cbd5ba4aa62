"""One-shot multi-objective search: a weight-sharing supernet, then NSGA-II over its sub-networks.

1. Train a :class:`~strategies.supernet.Supernet` over the whole space, op internals included,
   by uniform single-path sampling per batch (SPOS, Guo et al. 2020) on the weights half of
   the search split.
2. Run NSGA-II (:class:`~strategies.moo_evolution.MultiObjectiveEvolution`: duplicates and
   ``max_params``/``max_flops`` rejected before scoring) over sub-networks scored in this
   process: the path's network inherits the supernet weights (:meth:`Supernet.extract`),
   its BN statistics are recalibrated on training batches, and its top-1 on the other half
   of the split is the accuracy; #params and FLOPs are the space's analytic ``cost``.
3. Optionally retrain ``retrain_top_k`` points of that frontier from scratch, as ordinary NNI
   trials of the experiment's evaluator (``nas_sepconv.evaluation.trial.evaluate_sample``): full fidelity.

Every point is kept in :attr:`archive`. One-shot points have ``epochs`` 0 (no training of
their own) and ``extra['fidelity'] == 'oneshot'``; retrained ones carry the evaluator's
epochs. :meth:`frontier` and :meth:`hypervolume` take ``fidelity`` ('oneshot' or 'full') so
the two kinds of accuracy are never mixed in one frontier.

Why not an NNI one-shot strategy: NNI's one-shot strategies expect a Lightning evaluator and
mix whole candidate ops (they cannot sample op internals), and a Lightning ``Classification``
failed on the sequential engine (docs/verified-facts.md). So this is an NNI ``Strategy`` (a
``MultiObjectiveEvolution`` subclass, sharing its archive, checkpoint and NSGA-II) whose run
trains the supernet itself, reading the training and data settings (``TrainConfig`` fields,
``dataset``, ``data_dir``, ``train_limit``, ``split_seed``) from the experiment's
``FunctionalEvaluator`` arguments, overridden by ``supernet_config``. Use it exactly like
``MultiObjectiveEvolution`` in a ``NasExperiment`` (see that module); the space must be a
``SepConvDartsSpace`` with fixed ``width`` and ``num_cells``::

    evaluator = FunctionalEvaluator(evaluate_sample, dataset="cifar10", data_dir="data", epochs=50)
    strategy = OneShotMultiObjective(supernet_epochs=50, population_size=32, generations=20,
                                     retrain_top_k=4, reference={"accuracy": 0.0, "params": 1e6},
                                     checkpoint_path="results/run/strategy.json")
    NasExperiment(SepConvDartsSpace(width=16, num_cells=8), evaluator, strategy, config).run()
    strategy.frontier()                   # one-shot frontier (inherited weights)
    strategy.frontier(fidelity="full")    # the retrained points' frontier

Resuming: the state (``state_dict``, written to ``checkpoint_path``) holds the archive, the
population and whether the supernet is trained; its weights go to
``<checkpoint_path>.supernet.pt``. Without that file the supernet is trained again, which
on the CPU gives the same weights for the same seed.
"""
from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from numpy.random import RandomState

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write, load_weights
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.data import load_dataset, make_loader
from nas_sepconv.evaluation.record import FAILED, OK, TrialRecord
from nas_sepconv.evaluation.train import TrainConfig, evaluate, recalibrate_bn, split_data, train_model
from nas_sepconv.evaluation.trial import CONFIG_KEYS, DATA_KEYS
from nas_sepconv.frontier.objectives import senses

from .archive import Archive
from .evolution_ops import Sample, nsga2_select, random_sample
from .moo_evolution import MultiObjectiveEvolution
from .space_info import original_space
from .supernet import RandomPaths, Supernet

_logger = logging.getLogger(__name__)
FIDELITIES = ("oneshot", "full")


class OneShotMultiObjective(MultiObjectiveEvolution):
    """Supernet training, NSGA-II over inherited-weight scores, optional retraining.

    Keyword-only: ``supernet_epochs`` (50); ``supernet_config`` (``TrainConfig`` fields that
    override the evaluator's for the supernet); ``recalibration_batches`` (training batches,
    fixed by the seed, that re-estimate BN statistics before each score, 10);
    ``retrain_top_k`` (frontier points retrained from scratch afterwards, 0; when the
    frontier is larger, NSGA-II's crowding distance picks them, extremes first, so they span
    it); ``generations`` (10, one-shot generations) and every other argument of
    :class:`~strategies.moo_evolution.MultiObjectiveEvolution` (``max_trials`` counts
    one-shot scores and retrained trials together). After the run, :attr:`supernet` holds
    the trained supernet and :attr:`supernet_history` its epochs (``eval_acc`` is the
    accuracy of random paths on the validation half).
    """

    def __init__(self, *, supernet_epochs: int = 50, supernet_config: Mapping[str, Any] | None = None,
                 recalibration_batches: int = 10, retrain_top_k: int = 0, generations: int = 10,
                 **kwargs: Any) -> None:
        super().__init__(generations=check_positive_int("generations", generations), **kwargs)
        self.supernet_epochs = check_positive_int("supernet_epochs", supernet_epochs)
        unknown = sorted(set(supernet_config or {}) - CONFIG_KEYS)
        if unknown:
            raise UserError(f"`supernet_config` must only set TrainConfig fields ({', '.join(sorted(CONFIG_KEYS))}), "
                            f"got {unknown}.")
        self.supernet_config = dict(supernet_config or {})
        self.recalibration_batches = check_positive_int("recalibration_batches", recalibration_batches)
        self.retrain_top_k = check_positive_int("retrain_top_k", retrain_top_k, minimum=0)
        self.supernet: Supernet | None = None
        self.supernet_history: list[dict[str, Any]] = []
        self._supernet_trained = False

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, supernet_epochs={self.supernet_epochs}, "
                f"retrain_top_k={self.retrain_top_k}")

    # ----- results ------------------------------------------------------------------------
    def records(self, fidelity: str = "oneshot") -> list[TrialRecord]:
        """Records of one fidelity: 'oneshot' (inherited weights) or 'full' (retrained)."""
        check_choice("fidelity", fidelity, FIDELITIES)
        with self._lock:
            return [r for r in self.archive.records if _fidelity(r) == fidelity]

    def frontier(self, objectives: Sequence[str] | None = None, *, fidelity: str = "oneshot") -> list[TrialRecord]:
        """Non-dominated successful records of one fidelity (default: the one-shot search's)."""
        return Archive(self.objectives, self.archive.reference, self.records(fidelity)).frontier(objectives)

    def hypervolume(self, objectives: Sequence[str] | None = None, *, fidelity: str = "oneshot") -> float:
        """Hypervolume of one fidelity's records against the declared reference point."""
        return Archive(self.objectives, self.archive.reference, self.records(fidelity)).hypervolume(objectives)

    # ----- NNI strategy interface -----------------------------------------------------------
    def _initialize(self, model_space: Any, engine: Any) -> Any:
        space = original_space(model_space)
        if not all(hasattr(space, name) for name in ("genotype", "cost", "op_candidates", "macro")):
            raise UserError(f"the one-shot strategy needs a SepConvDartsSpace, got {model_space!r}.")
        self._space = space
        self._settings = _evaluator_settings(getattr(model_space, "evaluator", None))
        config = {**self._settings["config"], "drop_path": 0.0, "seed": self.seed}
        self._supernet_config = TrainConfig(**{**config, **self.supernet_config, "epochs": self.supernet_epochs})
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.supernet = Supernet.from_space(space)
        _logger.info("Supernet built: %d candidate modules, %d parameters.", self.supernet.num_candidates(),
                     sum(p.numel() for p in self.supernet.parameters()))
        return super()._initialize(model_space, engine)

    def _run(self) -> None:
        threads = torch.get_num_threads()
        if self._supernet_config.num_threads is not None:
            torch.set_num_threads(self._supernet_config.num_threads)
        try:
            self._prepare_data()
            self._prepare_supernet()
            super()._run()
        finally:
            torch.set_num_threads(threads)

    # ----- phase 1: supernet ----------------------------------------------------------------
    def _prepare_data(self) -> None:
        data = self._settings["data"]
        loaded = load_dataset(data.get("dataset", "digits"), data.get("data_dir"),
                              train_limit=data.get("train_limit"), test_limit=data.get("test_limit"))
        self._data = split_data(loaded, "search", seed=data.get("split_seed", 0))
        loader = make_loader(self._data.train_images, self._data.train_labels,
                             batch_size=self._supernet_config.batch_size, shuffle=True, seed=self.seed)
        self._recalibration = [images for images, _ in itertools.islice(loader, self.recalibration_batches)]

    def _weights_path(self) -> Path | None:
        return None if self.checkpoint_path is None else self.checkpoint_path.with_name(
            self.checkpoint_path.name + ".supernet.pt")

    def _prepare_supernet(self) -> None:
        path = self._weights_path()
        if self._supernet_trained and path is not None and path.exists():
            self.supernet.load_state_dict(load_weights(path))
            self.supernet.to(self._supernet_config.torch_device())
            _logger.info("Supernet weights loaded from %s.", path)
            return
        space, rng = self.model_space.simplify(), RandomState(self.seed)
        model = RandomPaths(self.supernet, lambda: self._space.genotype(random_sample(space, rng)))
        _logger.info("Training the supernet for %d epochs on %d images.", self.supernet_epochs,
                     len(self._data.train_labels))
        result = train_model(model, self._data, self._supernet_config,
                             progress=lambda epoch, m: _logger.info("Supernet epoch %d: %s", epoch, m))
        self.supernet_history = [dict(vars(record)) for record in result.history]
        self._supernet_trained = True
        if path is not None:
            atomic_write(path, lambda fh: torch.save(self.supernet.state_dict(), fh), binary=True)
        self._save_checkpoint()

    # ----- phase 2: one-shot NSGA-II ---------------------------------------------------------
    def _score(self, sample: Sample) -> dict[str, Any]:
        """The metric dict of ``sample`` scored with inherited weights (see the module docstring)."""
        start = time.perf_counter()
        subnet = self.supernet.extract(self._space.genotype(sample))
        recalibrate_bn(subnet, self._recalibration)
        accuracy = evaluate(subnet, self._data.test_images, self._data.test_labels,
                            self._supernet_config.eval_batch_size)
        cost = self._space.cost(sample)
        return {"default": accuracy, "params": cost.params, "flops": cost.flops, "epochs": 0, "seed": self.seed,
                "status": OK, "fidelity": "oneshot", "supernet_epochs": self.supernet_epochs,
                "seconds": time.perf_counter() - start}

    def _submit(self, entry: dict[str, Any]) -> None:
        if self.generation >= self.generations:  # phase 3: an NNI trial of the evaluator
            super()._submit(entry)
            return
        with self._lock:
            self.archive.add(TrialRecord(entry["id"], entry["sample"], entry["key"], dict(entry["cost"]),
                                         generation=self.generation))
        try:
            metric = self._score(entry["sample"])
        except (RuntimeError, ValueError) as err:
            metric = {"default": float("nan"), "status": FAILED,
                      "reason": f"one-shot scoring raised {type(err).__name__}: {err}"}
        self._end(entry["id"], metric, "")

    # ----- phase 3: retraining --------------------------------------------------------------
    def _propose(self, limit: int | None) -> list[Sample]:
        if self.generation < self.generations:
            return super()._propose(limit)
        if self.generation > self.generations or not self.retrain_top_k:
            return []
        front = self.frontier()
        if len(front) > self.retrain_top_k:
            chosen = nsga2_select(self.archive.points(front), senses(self.objectives), self.retrain_top_k)
            front = [front[i] for i in chosen]
        _logger.info("Retraining %d frontier points from scratch.", len(front))
        return [dict(record.sample) for record in front][:limit]

    def _end_generation(self, records: list[TrialRecord]) -> None:
        if self.generation < self.generations:
            super()._end_generation(records)
            return
        _logger.info("Retraining ended: %d points, %d on the full-fidelity frontier.", len(records),
                     len(self.frontier(fidelity="full")))

    # ----- checkpointing ------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "supernet_trained": self._supernet_trained,
                "supernet_history": self.supernet_history}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        super()._load_extra_state(state)
        self._supernet_trained = bool(state.get("supernet_trained", False))
        self.supernet_history = list(state.get("supernet_history", []))


def _fidelity(record: TrialRecord) -> str:
    return "oneshot" if record.extra.get("fidelity") == "oneshot" else "full"


def _evaluator_settings(evaluator: Any) -> dict[str, dict[str, Any]]:
    """Training (``TrainConfig`` fields) and data settings from a ``FunctionalEvaluator``'s arguments."""
    arguments = dict(getattr(evaluator, "arguments", None) or {})
    return {"config": {k: v for k, v in arguments.items() if k in CONFIG_KEYS},
            "data": {k: v for k, v in arguments.items() if k in DATA_KEYS - {"split"}}}
