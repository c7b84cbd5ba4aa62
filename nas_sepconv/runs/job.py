"""The main job: a multi-objective search on NNI that ends in a frontier report.

``SearchConfig`` is every setting of a search (validated at once); ``run_search`` builds
the space (the DARTS-style cell space, or the ResNet backbone space), the trial evaluator
and the strategy, runs them in an NNI
``NasExperiment`` and writes the run directory (``nas_sepconv.runs.run_dir``): trials and the
frontier as they arrive, reference architectures trained with the same budget, and the
report. ``resume`` re-runs a stopped run from its strategy checkpoint: finished trials are
read back, not trained again.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import math
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from nas_sepconv.core.errors import Interrupted, UserError
from nas_sepconv.core.io import cut
from nas_sepconv.core.threads import default_threads
from nas_sepconv.core.validation import (
    MAX_CELLS,
    MAX_CHANNELS,
    MAX_PARAMS,
    check_at_most,
    check_choice,
    check_positive_float,
    check_positive_int,
)
from nas_sepconv.evaluation.data import DATASETS, load_dataset, stem_for
from nas_sepconv.evaluation.device import check_device, resolve_device
from nas_sepconv.evaluation.record import OK, RUNNING
from nas_sepconv.frontier.objectives import check_objectives
from nas_sepconv.frontier.pareto import ReferencePoint, reference_for
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.resnet import build_resnet, plan_resnet, resolve_conv, stage_widths
from nas_sepconv.ops import OP_SETS, OPS, get_op, op_set
from nas_sepconv.ops.registry import check_internals
from nas_sepconv.runs.run_dir import BASELINES, STRATEGY_STATE, ReferenceArch, RunDir

_logger = logging.getLogger(__name__)
SPACES = ("cell", "resnet", "mobilenet")
OPTUNA_STRATEGIES = ("optuna:tpe", "optuna:gp", "optuna:nsga2")
STRATEGIES = ("evolution", "random", "model-based") + (OPTUNA_STRATEGIES if importlib.util.find_spec("optuna") else ())
STRATEGY_SETTINGS = {  # keys of `strategy_settings` each strategy accepts (its constructor's arguments)
    "evolution": ("crossover_probability", "mutation_labels", "generations", "max_retries"),
    "random": ("batch_size", "max_retries"),
    "model-based": ("initial_samples", "candidates", "surrogate", "denoise", "max_retries"),
    **{name: ("max_retries",) for name in OPTUNA_STRATEGIES},
}
ENGINES = ("sequential", "ts")
MAX_SEED = 2**32 - 1


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """Every setting of a search; the defaults are the README's main job (digits, DARTS ops
    plus osep/blk/xsep, NSGA-II evolution, about 24 trials of 3 epochs: minutes on 2 cores).

    ``space`` 'cell' searches DARTS-style cells (``ops``, ``width``, ``cells``); 'resnet' the
    CIFAR ResNet-``depth`` backbone's block conv (``ops``: 'all' or a list of short or registry
    names, one choice for the network or with ``per_stage`` one per stage) and channel
    multiplier (``multipliers``), with He et al.'s ``shortcut`` "A" (parameter-free) or "B"
    (1x1 conv + BN projections at the stage transitions, as the osep paper's o-ResNets count).
    'mobilenet' searches a MobileNet ``version`` (v1, v2, v3-small, v3-large): per stage (or with
    ``per_block`` per block) the op x kernel (``ops``: 'all' or short names such as dw xsep dsep osep
    blk; ``kernels``: sizes to choose from, default the table's), plus the width multiplier
    (``multipliers``); the stem follows the data (digits or cifar).
    ``ops`` is an op-set name (``darts``, ``new``, ``all``) or a list of registry names;
    ``internals`` replaces the default candidate sets of op internals in the cell space, keyed by
    op family or op name (``{"osep": {"gamma": [1, 4], "N": [2, "auto"]}}``).
    ``trials`` and ``max_time`` (seconds) bound the budget; ``engine`` 'ts' runs trials as
    separate processes under NNI's manager with ``concurrency`` at a time. ``threads`` None
    takes the thread rule (``nas_sepconv.core.threads``), fixed when the run is created;
    ``device`` auto, cpu, cuda or cuda:N is where every trial trains (on the ts engine, a GPU
    NNI assigned the trial: ``CUDA_VISIBLE_DEVICES``).
    ``baseline`` (cell space; an op-set name such as ``darts`` or a list of registry names) also
    runs the same strategy, budget and seed over that op set, in a run directory under
    ``baselines/`` that shares this run's reference point and hypervolume box.
    """

    dataset: str = "digits"
    data_dir: str | None = None
    train_limit: int | None = None
    space: str = "cell"
    ops: str | tuple[str, ...] = "all"
    width: int = 8
    cells: int = 5
    depth: int = 20
    multipliers: tuple[float, ...] = (0.25, 0.5, 1.0)
    per_stage: bool = False
    shortcut: str = "A"
    internals: Mapping[str, Mapping[str, Any]] | None = None
    version: str = "v3-small"
    per_block: bool = False
    kernels: tuple[int, ...] | None = None
    strategy: str = "evolution"
    population: int = 8
    trials: int = 24
    max_time: float | None = None
    epochs: int = 3
    batch_size: int = 64
    lr: float = 0.025
    objectives: tuple[str, ...] = ("accuracy", "params")
    max_params: int | None = None
    max_flops: int | None = None
    seed: int = 0
    engine: str = "sequential"
    concurrency: int = 1
    threads: int | None = None
    device: str = "auto"
    references: bool = True
    baseline: str | tuple[str, ...] | None = None
    strategy_settings: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._check_types()
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("space", self.space, SPACES)
        if isinstance(self.ops, str):
            check_choice("ops", self.ops, OP_SETS if self.space == "cell" else ("all",))
        else:
            object.__setattr__(self, "ops", tuple(self.ops))
        check_choice("shortcut", self.shortcut, ("A", "B"))
        internals = check_internals(self.internals)
        object.__setattr__(self, "internals", {k: {p: list(v) for p, v in ps.items()} for k, ps in internals.items()}
                           or None)
        if self.space == "resnet":
            if self.internals:
                raise UserError(f"`internals` applies to the cell space only, got {self.internals!r} with space "
                                f"'resnet'.")
            self._check_resnet()
        elif self.space == "mobilenet":
            self._check_mobilenet()
        elif self.shortcut != "A":
            raise UserError(f"`shortcut` applies to the resnet space only, got {self.shortcut!r} for space "
                            f"{self.space!r}.")
        elif not isinstance(self.ops, str):
            for name in self.ops:
                get_op(name)
        for name in ("width", "cells", "population", "trials", "epochs", "batch_size", "concurrency"):
            check_positive_int(name, getattr(self, name))
        if self.threads is not None:
            check_positive_int("threads", self.threads)
        check_device(self.device)
        if self.engine == "sequential":  # trials train in this process: the device must be here
            resolve_device(self.device)
        check_positive_int("cells", self.cells, minimum=3)
        check_at_most("width", self.width, MAX_CHANNELS, "the size limit")
        check_at_most("cells", self.cells, MAX_CELLS, "the size limit")
        cores = os.cpu_count() or 1
        if self.threads is not None:
            check_at_most("threads", self.threads, cores, f"the {cores} cores of this machine")
        check_positive_int("seed", self.seed, minimum=0)
        for name in ("train_limit", "max_params", "max_flops"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        for name in ("lr", "max_time"):
            if getattr(self, name) is not None:
                check_positive_float(name, getattr(self, name))
        self._check_baseline()
        if self.strategy in OPTUNA_STRATEGIES and self.strategy not in STRATEGIES:
            raise UserError(f"`strategy` {self.strategy!r} needs Optuna: pip install \"nas-sepconv[optuna]\".")
        check_choice("strategy", self.strategy, STRATEGIES)
        self._check_strategy_settings()
        check_choice("engine", self.engine, ENGINES)
        object.__setattr__(self, "objectives", check_objectives(self.objectives, require_accuracy=True))
        if self.dataset != "digits" and not self.data_dir:
            raise UserError(f"`data_dir` must be given for dataset {self.dataset!r}, got {self.data_dir!r}.")
        if self.extra:
            raise UserError(f"unknown settings: {', '.join(sorted(self.extra))}; allowed: "
                            + ", ".join(f.name for f in dataclasses.fields(self) if f.name != "extra") + ".")

    def _check_baseline(self) -> None:
        if self.baseline is None:
            return
        if self.space != "cell":
            raise UserError(f"`baseline` needs the cell space, got space {self.space!r}.")
        if isinstance(self.baseline, str):
            check_choice("baseline", self.baseline, OP_SETS)
        else:
            object.__setattr__(self, "baseline", tuple(self.baseline))
            unknown = [name for name in self.baseline if name not in OPS]
            if unknown or not self.baseline:
                raise UserError(f"`baseline` must be an op set ({', '.join(OP_SETS)}) or registered op names, "
                                f"got {' '.join(map(str, unknown or self.baseline)) or 'nothing'}.")

    def _check_types(self) -> None:
        """Kinds of the settings a config file can get wrong before their values are checked."""
        def fail(name: str, allowed: str) -> UserError:
            return UserError(f"`{name}` must be {allowed}, got {cut(getattr(self, name))}.")

        for name in ("ops", "objectives"):
            value = getattr(self, name)
            if name == "ops" and isinstance(value, str):
                continue
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value \
                    or not all(isinstance(v, str) for v in value):
                raise fail(name, "an op-set name or a list of op names" if name == "ops" else "a list of names")
        for name in ("dataset", "space", "strategy", "engine"):
            if not isinstance(getattr(self, name), str):
                raise fail(name, "a name")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise fail("data_dir", "a directory path")
        for name in ("per_stage", "references"):
            if not isinstance(getattr(self, name), bool):
                raise fail(name, "true or false")
        if not isinstance(self.multipliers, (int, float, list, tuple)) or isinstance(self.multipliers, bool):
            raise fail("multipliers", "a list of numbers")
        if isinstance(self.seed, int) and not isinstance(self.seed, bool) and not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"`seed` must be an integer in [0, {MAX_SEED}] (NNI's and numpy's seed range), "
                            f"got {cut(self.seed)}.")

    def baseline_config(self) -> "SearchConfig":
        """This config over the ``baseline`` op set (no references, no further baseline)."""
        return dataclasses.replace(self, ops=self.baseline, baseline=None, references=False)

    @property
    def baseline_name(self) -> str:
        return self.baseline if isinstance(self.baseline, str) else "ops"

    def _check_strategy_settings(self) -> None:
        settings = self.strategy_settings
        if not isinstance(settings, Mapping):
            raise UserError(f"`strategy_settings` must be a mapping of setting -> value, got {settings!r}.")
        allowed = STRATEGY_SETTINGS[self.strategy]
        unknown = sorted(str(k) for k in settings if k not in allowed)
        if unknown:
            raise UserError(f"`strategy_settings` has {', '.join(unknown)}, which strategy {self.strategy!r} "
                            f"does not take; allowed: {', '.join(allowed)}.")
        object.__setattr__(self, "strategy_settings", dict(settings))

    def _check_resnet(self) -> None:
        multipliers = (self.multipliers,) if isinstance(self.multipliers, (int, float)) else tuple(self.multipliers)
        if not multipliers or len(set(multipliers)) != len(multipliers):
            raise UserError(f"`multipliers` must be a non-empty list of distinct numbers, got {self.multipliers!r}.")
        for multiplier in multipliers:
            stage_widths(multiplier)
        object.__setattr__(self, "multipliers", multipliers)
        if not isinstance(self.per_stage, bool):
            raise UserError(f"`per_stage` must be true or false, got {self.per_stage!r}.")
        plan_resnet(self.depth, "conv", 1.0, 10, 3, None)
        if not isinstance(self.ops, str):
            for name in self.ops:
                resolve_conv(name)

    def _check_mobilenet(self) -> None:
        from nas_sepconv.models.mobilenet_plan import op_name
        from nas_sepconv.models.mobilenet_table import VERSIONS, check_width

        check_choice("version", self.version, VERSIONS)
        multipliers = (self.multipliers,) if isinstance(self.multipliers, (int, float)) else tuple(self.multipliers)
        if not multipliers or len(set(multipliers)) != len(multipliers):
            raise UserError(f"`multipliers` must be a non-empty list of distinct numbers, got {self.multipliers!r}.")
        for multiplier in multipliers:
            check_width(multiplier)
        object.__setattr__(self, "multipliers", multipliers)
        if not isinstance(self.per_block, bool):
            raise UserError(f"`per_block` must be true or false, got {self.per_block!r}.")
        if not isinstance(self.ops, str):
            for name in self.ops:
                op_name(name, 3)
        if self.kernels is not None:
            kernels = (self.kernels,) if isinstance(self.kernels, int) else tuple(self.kernels)
            if not kernels or not all(isinstance(k, int) and k in (3, 5, 7) for k in kernels):
                raise UserError(f"`kernels` must be a list of kernel sizes among 3, 5, 7, got {self.kernels!r}.")
            object.__setattr__(self, "kernels", kernels)

    def mobilenet_ops(self) -> tuple[str, ...]:
        from nas_sepconv.models.mobilenet_plan import MOBILENET_OPS

        return tuple(MOBILENET_OPS) if self.ops == "all" else tuple(self.ops)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "SearchConfig":
        """From a config file's mapping (keys with ``-`` or ``_``); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {str(k).replace("-", "_"): v for k, v in data.items()}
        extra = {k: v for k, v in values.items() if k not in known}
        for key in ("ops", "objectives", "multipliers", "baseline", "kernels"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**{k: v for k, v in values.items() if k in known}, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("extra")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def stem(self) -> str:
        return stem_for(self.dataset)

    def op_names(self) -> tuple[str, ...]:
        return self.ops if not isinstance(self.ops, str) else op_set(self.ops)

    def trial_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``nas_sepconv.evaluation.trial.evaluate_sample`` (plain JSON)."""
        kwargs = dict(dataset=self.dataset, data_dir=self.data_dir, train_limit=self.train_limit,
                      epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                      num_threads=self.threads, device=self.device)
        return {k: v for k, v in kwargs.items() if v is not None}


def build_space(config: SearchConfig, spec):
    """The search space of ``config`` for data of ``spec`` (classes, channels, image size)."""
    from search_spaces import MobileNetSpace, ResNetSpace, SepConvDartsSpace  # NNI loads only when a search runs

    if config.space == "cell":  # the space's modules hold every candidate op: at least a DARTS_V2 network
        from nas_sepconv.genotypes.named import DARTS_V2
        from nas_sepconv.models.network import count

        params = count(DARTS_V2, num_classes=spec.num_classes, channels=config.width, layers=config.cells,
                       stem=config.stem, in_channels=spec.in_channels).params
        check_at_most("#params of the search space", params, MAX_PARAMS,
                      "the size limit, counted for DARTS_V2 at this width and depth; lower --width or --cells")
    if config.space == "mobilenet":
        return MobileNetSpace(config.version, ops=config.mobilenet_ops(), kernels=config.kernels,
                              widths=config.multipliers, per_block=config.per_block, stem=config.stem,
                              num_classes=spec.num_classes, in_channels=spec.in_channels, input_size=spec.image_size)
    if config.space == "resnet":
        return ResNetSpace(config.depth, convs=None if config.ops == "all" else config.ops,
                           multipliers=config.multipliers, per_stage=config.per_stage, num_classes=spec.num_classes,
                           in_channels=spec.in_channels, input_size=spec.image_size, shortcut=config.shortcut)
    return SepConvDartsSpace(op_candidates=config.op_names(), width=config.width, num_cells=config.cells,
                             stem=config.stem, num_classes=spec.num_classes, in_channels=spec.in_channels,
                             internals=config.internals)


def declare_reference(config: SearchConfig, space) -> ReferencePoint:
    """Hypervolume reference: accuracy 0 and the cost constraint, or 1.1x the largest
    architecture in the space (declared once, stored with the run)."""
    largest = space.max_cost()
    check_at_most("#params of the largest network of the space", largest.params, MAX_PARAMS,
                  "the size limit; lower --width or --cells")
    values = {"accuracy": 0.0,
              "params": config.max_params or math.ceil(1.1 * largest.params),
              "flops": config.max_flops or math.ceil(1.1 * largest.flops)}

    return reference_for(config.objectives, {k: values[k] for k in config.objectives})


def declare_box(config: SearchConfig, space) -> ReferencePoint:
    """The box normalising hypervolume: accuracy 0 and the space's largest costs (``max_cost()``),
    independent of constraints and seeds, so runs over one space and objectives compare."""
    largest = space.max_cost()
    values = {"accuracy": 0.0, "params": largest.params, "flops": largest.flops}
    return reference_for(config.objectives, {k: values[k] for k in config.objectives})


def create_run(config: SearchConfig, out: str | Path, name: str | None = None) -> RunDir:
    """A new run directory holding the resolved config and the declared reference point."""
    spec = load_dataset(config.dataset, config.data_dir, train_limit=8, test_limit=8).spec
    space = build_space(config, spec)
    if config.threads is None:  # the rule, fixed for the run so that a resume trains alike
        config = dataclasses.replace(config, threads=default_threads(config.concurrency if config.engine == "ts"
                                                                     else 1)[0])
    default = f"{config.strategy}-{'resnet-' if config.space == 'resnet' else ''}{config.dataset}"
    return RunDir.create(out, name or default, config=config.to_dict(),
                         seed=config.seed, reference=declare_reference(config, space),
                         box=declare_box(config, space))


def record_search(strategy, space, config: SearchConfig, out: str | Path, name: str | None = None,
                  *, references: bool = False) -> RunDir:
    """Write the run directory of a search driven from Python (an NNI ``NasExperiment`` with one
    of our strategies over ``space``), so ``report``, ``export`` and ``confirm`` work on it.

    ``config`` states the settings the experiment used (dataset, width, cells, epochs, ...), as
    ``search`` would store them; the reference point is the strategy's when it declared one,
    else ``declare_reference``; the box is ``declare_box``. Trials come from the strategy's
    archive; with ``references`` the reference architectures are trained too; the report is written.
    """
    from nas_sepconv.core.io import atomic_write
    from nas_sepconv.runs.pages import report_files
    from nas_sepconv.runs.report import build_report

    reference = strategy.archive.reference or declare_reference(config, space)
    run = RunDir.create(out, name or f"{config.strategy}-{config.dataset}", config=config.to_dict(),
                        seed=config.seed, reference=reference, box=declare_box(config, space))
    run.write_trials([r for r in strategy.archive.records if r.status != RUNNING], genotype_of=space.genotype)
    if references and config.references:
        run.write_references(train_references(config))
    for file, data in report_files(build_report([run])).items():
        atomic_write(run.path / file, lambda fh, data=data: fh.write(data), binary=True)
    return run


#: Settings a resume may change for its own session (``resume --device``): not checked against the checkpoint.
SESSION_SETTINGS = ("device",)


def _run_settings(config: SearchConfig) -> dict[str, Any]:
    """The settings every trial of a run shares (a resume with others is refused)."""
    return {k: v for k, v in config.to_dict().items() if k not in SESSION_SETTINGS}


def make_strategy(config: SearchConfig, run: RunDir):
    """The strategy of ``config``; ``strategy_settings`` go to its constructor. Strategies that
    propose in rounds get ``concurrency`` proposals per round, so every worker is busy."""
    from strategies import ModelBasedEHVI, MultiObjectiveEvolution, MultiObjectiveRandom, OptunaSearch

    common = dict(objectives=config.objectives, max_trials=config.trials, max_params=config.max_params,
                  max_flops=config.max_flops, reference=run.reference, seed=config.seed,
                  checkpoint_path=run.path / STRATEGY_STATE, checkpoint_meta=_run_settings(config),
                  max_seconds=config.max_time, **config.strategy_settings)
    concurrency = config.concurrency if config.engine == "ts" else 1
    if config.strategy == "random":
        return MultiObjectiveRandom(**{"batch_size": max(8, concurrency), **common})
    if config.strategy == "model-based":
        return ModelBasedEHVI(batch_size=concurrency, **common)
    if config.strategy in OPTUNA_STRATEGIES:
        return OptunaSearch(sampler=config.strategy.split(":")[1], batch_size=concurrency, **common)
    return MultiObjectiveEvolution(population_size=config.population, **common)


def run_search(run: RunDir, *, progress: Callable[[int, int], None] | None = None,
               device: str | None = None) -> list:
    """Run (or resume) the search of ``run``; write trials, frontier, references, report.
    ``device`` (resume ``--device``) replaces the run's device for this session.

    The run is locked for the call; the strategy is restored (``runs.restore``) before anything
    is written, and the run's files never hold fewer finished trials than before."""
    with run.lock():
        return _run_search(run, progress, device)


def _run_search(run: RunDir, progress: Callable[[int, int], None] | None, device: str | None) -> list:
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    from nas_sepconv.core.io import clean_stale_tmp
    from nas_sepconv.evaluation.trial import evaluate_sample
    from nas_sepconv.runs.restore import restore_strategy

    config = SearchConfig.from_mapping({**run.config, **({} if device is None else {"device": device})})
    spec = load_dataset(config.dataset, config.data_dir, train_limit=8, test_limit=8).spec
    space = build_space(config, spec)
    strategy = make_strategy(config, run)
    floor = restore_strategy(strategy, run, space)   # before anything is written, run.log included
    _log_resources(config)
    clean_stale_tmp(run.path)
    evaluator = FunctionalEvaluator(evaluate_sample, **config.trial_kwargs())
    engine = "sequential" if config.engine == "sequential" else "ts"
    # The sequential engine takes no training service (NNI warns each time one is given).
    nni_config = NasExperimentConfig(engine, "simplified", "local" if engine == "ts" else None)
    nni_config.experiment_working_directory = str((run.path / "nni").resolve())
    nni_config.experiment_name = run.name
    if engine == "ts":
        nni_config.trial_concurrency = config.concurrency
        gpus, indices, trial_device = ts_gpus(config.device, _cuda_count())
        if gpus:  # NNI gives each trial one GPU of ``indices`` and sets its CUDA_VISIBLE_DEVICES
            nni_config.trial_gpu_number = gpus
            nni_config.training_service.gpu_indices = indices
            nni_config.training_service.use_active_gpu = True
            evaluator = FunctionalEvaluator(evaluate_sample, **{**config.trial_kwargs(), "device": trial_device})
    if config.max_time and engine == "ts":  # the strategy keeps the time on either engine (max_seconds)
        nni_config.max_experiment_duration = f"{math.ceil(config.max_time) + 60}s"
    writer = _TrialWriter(run, strategy, space, progress, floor)
    writer.start()
    try:
        with _ctrl_c() as interrupted:
            experiment = NasExperiment(space, evaluator, strategy, nni_config)
            experiment.run()
            if not interrupted.is_set():  # stop now, while NNI logs to run.log, not at interpreter exit
                experiment.stop()
    finally:
        writer.stop()
    front = writer.flush()
    finished = [r for r in strategy.archive.records if r.status != "running"]
    if interrupted.is_set():
        raise Interrupted(len(finished), str(run.path))
    if not finished:
        raise UserError(f"no trial ran: the strategy found no new sample meeting the constraints "
                        f"(max_params {config.max_params}, max_flops {config.max_flops}) in "
                        f"{strategy.max_retries} draws; relax --max-params/--max-flops.")
    if config.references and not run.read_references():
        run.write_references(train_references(config, spec))
    if config.baseline is not None:
        run_search(baseline_run(run, config), progress=progress)
    return front


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def ts_gpus(device: str, cuda_count: int) -> tuple[int, list[int] | None, str]:
    """(GPUs per trial, GPU indices NNI may hand out, the device a trial trains on) on the ts engine.

    ``auto``/``cuda`` with GPUs here: one GPU per trial from all of them, the trial trains on
    ``cuda`` (the one NNI made visible); ``cuda:N``: one GPU per trial, always GPU N; ``cpu`` or
    no GPU: none assigned, and the trial's own ``auto`` resolves where it runs.
    """
    if device == "cpu" or cuda_count == 0:
        return 0, None, device
    if device in ("auto", "cuda"):
        return 1, list(range(cuda_count)), "cuda"
    return 1, [int(device.partition(":")[2])], "cuda"


def _log_resources(config: SearchConfig) -> None:
    """Say in run.log where trials train and with how many threads (and by which rule)."""
    threads = config.threads if config.threads is not None else default_threads(
        config.concurrency if config.engine == "ts" else 1)[0]
    where = ("the GPU NNI assigns each trial (CUDA_VISIBLE_DEVICES), else the CPU" if config.engine == "ts"
             and config.device in ("auto", "cuda") else str(resolve_device(config.device)))
    _logger.info("trials train on %s with %d torch thread(s) each; rule: %s", where, threads,
                 default_threads(config.concurrency if config.engine == "ts" else 1)[1])


def baseline_run(run: RunDir, config: SearchConfig) -> RunDir:
    """The baseline run of ``run`` under ``run/baselines`` (made on first call, reopened after):
    the same settings over ``config.baseline``, sharing the reference point and the box."""
    name = f"baseline-{config.baseline_name}"
    found = run.baselines()
    if found:
        return found[0]
    return RunDir.create(run.path / BASELINES, name, config=config.baseline_config().to_dict(), seed=config.seed,
                         reference=run.reference, box=run.box)


@contextlib.contextmanager
def _ctrl_c():
    """Note a Ctrl-C (SIGINT) in the yielded event, then let it interrupt as usual (NNI stops
    the experiment and returns normally, so the caller could not tell otherwise)."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def handler(signum, frame):
        interrupted.set()
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


class _TrialWriter(threading.Thread):
    """Rewrites trials.csv/frontier whenever a trial ends, and reports progress."""

    def __init__(self, run: RunDir, strategy, space, progress, floor: int = 0) -> None:
        super().__init__(daemon=True)
        self.run_dir, self.strategy, self.space, self.progress = run, strategy, space, progress
        self._stop_event = threading.Event()
        self._seen, self._floor = -1, floor
        self._front: list = []

    def run(self) -> None:
        while not self._stop_event.wait(1.0):
            try:
                self.flush()
            except OSError as err:  # e.g. a full disk: stop() raises it again in the caller's thread
                _logger.error("Could not write the trial files: %s", err)
                return

    def flush(self) -> list:
        """Rewrite the trial files if trials ended since the last call (never with fewer than the
        run held when it started); return the frontier."""
        records = [r for r in self.strategy.archive.records if r.status != RUNNING]
        if len(records) != self._seen and len(records) >= self._floor:
            self._seen = len(records)
            self._front = self.run_dir.write_trials(records, genotype_of=self.space.genotype)
            if self.progress is not None:
                self.progress(len(records), self.strategy.max_trials)
        return self._front

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.flush()


def reference_models(config: SearchConfig) -> list[tuple[str, Callable[[], Any], dict[str, Any]]]:
    """The reference architectures of a search as (label, model maker, network settings): the
    original MobileNet of the space's version at each searched width for the MobileNet space;
    DARTS_V2 at the search's width and cells and a plain CIFAR ResNet (20 layers, or the ResNet
    space's depth and shortcut; conv, multiplier 1) otherwise."""
    spec = load_dataset(config.dataset, config.data_dir, train_limit=8, test_limit=8).spec
    if config.space == "mobilenet":
        from nas_sepconv.models.mobilenet import build_mobilenet

        def original(w: float) -> Callable[[], Any]:
            return lambda: build_mobilenet(config.version, width=w, stem=config.stem, num_classes=spec.num_classes,
                                           in_channels=spec.in_channels)
        return [(f"MobileNet-{config.version} x{w:g}", original(w), {}) for w in config.multipliers]
    depth = config.depth if config.space == "resnet" else 20
    return [("DARTS_V2", lambda: DARTS_V2, dict(stem=config.stem, channels=config.width, layers=config.cells)),
            (f"ResNet{depth}", lambda: build_resnet(depth, num_classes=spec.num_classes, in_channels=spec.in_channels,
                                                    shortcut=config.shortcut), {})]


def train_references(config: SearchConfig, spec=None) -> list[ReferenceArch]:
    """Every ``reference_models`` architecture trained with the search's budget (same data
    split, epochs and seed), as labelled markers."""
    from nas_sepconv.evaluation.trial import evaluate_sample

    refs = []
    for label, make, network in reference_models(config):
        result = evaluate_sample(make(), **network, **config.trial_kwargs())
        if result.get("status") == OK:
            refs.append(ReferenceArch(label, int(result["params"]), float(result["default"]),
                                      int(result["flops"]), config.epochs))
    return refs


MAX_CONFIG_BYTES, MAX_YAML_ALIASES = 1 * 2**20, 100


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON mapping of settings (``--config``): at most 1 MiB and 100 YAML aliases
    (an alias bomb is refused), UTF-8, one-line errors naming the file."""
    from nas_sepconv.core.io import parse_json, read_text

    path = Path(path)
    try:
        text = read_text(path, "`--config` file", max_bytes=MAX_CONFIG_BYTES)
    except OSError as err:
        raise UserError(f"`--config` must be a readable file, got '{path}' ({err.strerror}).") from None
    import yaml

    if path.suffix == ".json":
        data = parse_json(text, f"`--config` file '{path}'")
    else:
        try:
            data = yaml.load(text, Loader=_bounded_loader())
        except yaml.YAMLError as err:
            raise UserError(f"`--config` file '{path}' is not valid YAML: {str(err).splitlines()[0]}") from None
        except RecursionError:
            raise UserError(f"`--config` file '{path}' is nested too deeply.") from None
    if not isinstance(data, dict):
        raise UserError(f"`--config` file '{path}' must hold a mapping of settings, got {type(data).__name__}.")
    return data


def _bounded_loader():
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """``SafeLoader`` that refuses more than ``MAX_YAML_ALIASES`` aliases."""

        aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (*name), which settings never need")
            return super().compose_node(parent, index)

    return BoundedLoader
