"""The main job: a multi-objective search on NNI that ends in a frontier report.

``SearchConfig`` (``nas_sepconv.runs.config``) is every setting of a search; ``run_search`` builds
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
import logging
import math
import signal
import threading
from pathlib import Path
from typing import Any, Callable

import torch

from nas_sepconv.core.errors import Interrupted, UserError
from nas_sepconv.core.threads import default_concurrency, default_threads
from nas_sepconv.core.validation import MAX_PARAMS, check_at_most
from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.evaluation.device import resolve_device
from nas_sepconv.evaluation.record import OK, RUNNING
from nas_sepconv.frontier.pareto import ReferencePoint, reference_for
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.resnet import build_resnet
from nas_sepconv.runs.config import SearchConfig
from nas_sepconv.runs.run_dir import BASELINES, STRATEGY_STATE, ReferenceArch, RunDir
from nas_sepconv.runs.strategy_registry import get_strategy, strategies_of_class

_logger = logging.getLogger(__name__)
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
    check_space_activations(config, spec)
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
                             internals=config.internals,
                             search_internals=not get_strategy(config.strategy).fixed_internals)


def check_space_activations(config: SearchConfig, spec) -> int:
    """Bytes of forward activations of one training batch of the space's largest candidate
    (``nas_sepconv.models.activations``), refused up front above the limit. The counted tensors
    do not depend on the ops chosen (every candidate op keeps its edge's or block's shapes), so
    every candidate of the cell space counts as DARTS_V2 at ``width`` and ``cells``, and every
    ResNet or MobileNet candidate at most as the plain one at the largest multiplier."""
    from nas_sepconv.models import activations

    if config.space == "cell":
        elements = activations.network_activations(DARTS_V2, num_classes=spec.num_classes, channels=config.width,
                                                   layers=config.cells, stem=config.stem,
                                                   in_channels=spec.in_channels, input_size=spec.image_size)
        lower = "--batch-size, --width or --cells"
    elif config.space == "resnet":
        from nas_sepconv.models.resnet import plan_resnet

        plan = plan_resnet(config.depth, "conv", max(config.multipliers), spec.num_classes, spec.in_channels, None,
                           shortcut=config.shortcut)
        elements, lower = activations.resnet_activations(plan, spec.image_size), "--batch-size or --multipliers"
    else:
        from nas_sepconv.models.mobilenet_plan import plan_mobilenet

        plan = plan_mobilenet(config.version, width=max(config.multipliers), stem=config.stem,
                              num_classes=spec.num_classes, in_channels=spec.in_channels)
        elements, lower = activations.mobilenet_activations(plan, spec.image_size), "--batch-size or --multipliers"
    return activations.check_activation_memory(elements, config.batch_size, lower,
                                               "the largest network of the search space")


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


def default_run_name(config: SearchConfig) -> str:
    """A run's default name: strategy, space (unless the default cell space) and data set,
    e.g. ``model-based-digits``, ``evolution-resnet-cifar10``."""
    space = "" if config.space == "cell" else f"{config.space}-"
    return f"{config.strategy}-{space}{config.dataset}"


def create_run(config: SearchConfig, out: str | Path, name: str | None = None) -> RunDir:
    """A new run directory holding the resolved config and the declared reference point."""
    spec = load_dataset(config.dataset, config.data_dir, train_limit=8, test_limit=8).spec
    space = build_space(config, spec)
    config = resolve_parallel(config)  # the rules, fixed for the run so that a resume trains alike
    return RunDir.create(out, name or default_run_name(config), config=config.to_dict(),
                         seed=config.seed, reference=declare_reference(config, space),
                         box=declare_box(config, space))


def resolve_parallel(config: SearchConfig) -> SearchConfig:
    """``config`` with ``concurrency``, ``engine`` and ``threads`` fixed by the rules (unchanged where set).

    ``concurrency``: 1 on the sequential engine; on the ts engine the GPUs a trial may get, else the
    cores rule (``default_concurrency``); on the pool engine (and 'auto') 1 when the trials train on
    a GPU, else the cores rule. Engine 'auto': 'pool' when more than one trial runs at once, else
    'sequential' (no worker process at all). ``threads``: ``default_threads(concurrency)``.
    """
    engine, concurrency, threads = config.engine, config.concurrency, config.threads
    if concurrency is None:
        if engine == "sequential":
            concurrency = 1
        elif engine == "ts" and ts_gpus(config.device, _cuda_count())[1]:
            concurrency = len(ts_gpus(config.device, _cuda_count())[1])
        elif engine != "ts" and resolve_device(config.device).type == "cuda":
            concurrency = 1
        else:
            concurrency = default_concurrency(threads)[0]
    if engine == "auto":
        engine = "pool" if concurrency > 1 else "sequential"
    if threads is None:
        threads = default_threads(concurrency)[0]
    return dataclasses.replace(config, engine=engine, concurrency=concurrency, threads=threads)


def record_search(strategy, space, config: SearchConfig, out: str | Path, name: str | None = None,
                  *, references: bool = False) -> RunDir:
    """Write the run directory of a search driven from Python (an NNI ``NasExperiment`` with one
    of our strategies over ``space``), so ``report``, ``export`` and ``confirm`` work on it.

    ``config`` states the settings the experiment used (dataset, width, cells, epochs, ...), as
    ``search`` would store them (``config.strategy`` must name the strategy's class when it is one
    of the registry's); the reference point is the strategy's when it declared one,
    else ``declare_reference``; the box is ``declare_box``. Trials come from the strategy's
    archive; with ``references`` the reference architectures are trained too; the report is written.
    """
    from nas_sepconv.core.io import atomic_write
    from nas_sepconv.runs.pages import report_files
    from nas_sepconv.runs.report import build_report

    ran = strategies_of_class(type(strategy).__name__)
    if ran and config.strategy not in ran:  # the run's config.json must name the strategy that ran
        raise UserError(f"`strategy` of the config is {config.strategy!r}, but the search ran "
                        f"{type(strategy).__name__}: give SearchConfig(strategy={ran[0]!r}).")
    reference = strategy.archive.reference or declare_reference(config, space)
    run = RunDir.create(out, name or default_run_name(config), config=config.to_dict(),
                        seed=config.seed, reference=reference, box=declare_box(config, space))
    run.write_trials([r for r in strategy.archive.records if r.status != RUNNING], genotype_of=space.genotype)
    if references and config.references:
        run.write_references(train_references(config))
    for file, data in report_files(build_report([run])).items():
        atomic_write(run.path / file, lambda fh, data=data: fh.write(data), binary=True)
    return run


#: Settings a resume may change for its own session (``resume --device``, ``--port``): not checked against
#: the checkpoint.
SESSION_SETTINGS = ("device", "port")


def _run_settings(config: SearchConfig) -> dict[str, Any]:
    """The settings every trial of a run shares (a resume with others is refused)."""
    return {k: v for k, v in config.to_dict().items() if k not in SESSION_SETTINGS}


def make_strategy(config: SearchConfig, run: RunDir):
    """The strategy of ``config``; ``strategy_settings`` go to its constructor. Strategies that
    propose in rounds get ``concurrency`` proposals per round, so every worker is busy."""
    return build_strategy(config, run.reference, run.path / STRATEGY_STATE, _run_settings(config))


def check_strategy(config: SearchConfig) -> None:
    """Build the strategy of ``config`` once, unattached, so that a bad ``strategy_settings`` value
    is refused (one line) before a run directory is created."""
    build_strategy(config, None, None, None)


def build_strategy(config: SearchConfig, reference: ReferencePoint | None, checkpoint: Path | None,
                   meta: dict[str, Any] | None):
    """:func:`make_strategy` with the run's reference, checkpoint file and settings given: the
    registry's builder of ``config.strategy`` (``nas_sepconv.runs.strategy_registry``)."""
    common = dict(objectives=config.objectives, max_trials=config.trials, max_params=config.max_params,
                  max_flops=config.max_flops, reference=reference, seed=config.seed,
                  checkpoint_path=checkpoint, checkpoint_meta=meta, max_seconds=config.max_time)
    concurrency = resolve_parallel(config).concurrency
    return get_strategy(config.strategy).build(config, common, concurrency, dict(config.strategy_settings))


def run_search(run: RunDir, *, progress: Callable[[int, int], None] | None = None,
               device: str | None = None, port: int | None = None) -> list:
    """Run (or resume) the search of ``run``; write trials, frontier, references, report.
    ``device`` (resume ``--device``) replaces the run's device for this session, ``port`` its
    ``port`` (ts engine: NNI's manager and web portal; 0 = a free one, picked here and logged).

    The run is locked for the call; the strategy is restored (``runs.restore``) before anything
    is written, and the run's files never hold fewer finished trials than before."""
    with run.lock():
        return _run_search(run, progress, device, port)


def _run_search(run: RunDir, progress: Callable[[int, int], None] | None, device: str | None,
                port: int | None) -> list:
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    from nas_sepconv.core.io import clean_stale_tmp
    from nas_sepconv.core.ports import portal_port, portal_url
    from nas_sepconv.evaluation.trial import evaluate_sample
    from nas_sepconv.runs.pool_engine import PoolExperiment
    from nas_sepconv.runs.restore import restore_strategy

    session = {k: v for k, v in (("device", device), ("port", port)) if v is not None}
    config = SearchConfig.from_run({**run.config, **session})
    spec = load_dataset(config.dataset, config.data_dir, train_limit=8, test_limit=8).spec
    space = build_space(config, spec)
    strategy = make_strategy(config, run)
    engine = config.engine
    port = portal_port(config.port) if engine == "ts" else 8080  # the sequential and pool engines start no manager
    floor = restore_strategy(strategy, run, space)   # before anything is written, run.log included
    _log_resources(config)
    if engine == "ts":
        _logger.info("NNI web portal: %s (NNI listens on every interface at port %d)", portal_url(port), port)
    clean_stale_tmp(run.path)
    evaluator = FunctionalEvaluator(evaluate_sample, **config.trial_kwargs())
    # The sequential and pool engines take no training service (NNI warns each time one is given).
    nni_config = NasExperimentConfig("ts" if engine == "ts" else "sequential", "simplified",
                                     "local" if engine == "ts" else None)
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
    pool = _start_pool(config) if engine == "pool" else None   # forked before any thread of ours starts
    references: list = []
    writer = _TrialWriter(run, strategy, space, progress, floor)
    try:
        # The references train on the pool's workers between trials (a generation's end), else after the search.
        wanted = config.references and not run.read_references()
        futures = [pool.submit_task(train_reference, config=config.to_dict(), index=i)
                   for i in range(len(reference_models(config)))] if pool is not None and wanted else []
        writer.start()
        with _ctrl_c() as interrupted:
            experiment = (PoolExperiment(space, evaluator, strategy, nni_config, engine=pool) if pool is not None
                          else NasExperiment(space, evaluator, strategy, nni_config))
            experiment.run(port=port)
            if not interrupted.is_set():  # stop now, while NNI logs to run.log, not at interpreter exit
                try:
                    references = [future.result() for future in futures]
                finally:
                    experiment.stop()
    except KeyboardInterrupt:  # while the references finished on the pool, after NNI's run
        if not interrupted.is_set():
            raise
    finally:
        try:
            if pool is not None:
                pool.shutdown()
        finally:
            writer.stop()
    front = writer.flush()
    finished = [r for r in strategy.archive.records if r.status != RUNNING]
    if interrupted.is_set():
        raise Interrupted(len(finished), str(run.path))
    if not finished:
        raise UserError(f"no trial ran: the strategy found no new sample meeting the constraints "
                        f"(max_params {config.max_params}, max_flops {config.max_flops}) in "
                        f"{strategy.max_retries} draws; relax --max-params/--max-flops.")
    if config.references and not run.read_references():
        run.write_references(reference_archs(references) if futures else train_references(config, spec))
    if config.baseline is not None:
        run_search(baseline_run(run, config), progress=progress, port=port if engine == "ts" else None)
    return front


def _start_pool(config: SearchConfig):
    """The pool engine of ``config``: forked workers for CPU trials, spawned ones for CUDA (which
    does not survive a fork)."""
    from nas_sepconv.runs.pool_engine import PoolExecutionEngine

    cpu = resolve_device(config.device).type == "cpu"
    return PoolExecutionEngine(config.concurrency, config.threads or 1, start_method=None if cpu else "spawn")


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
    """Say in run.log where trials train, how many at once, on which engine and with how many
    threads (and by which rules)."""
    threads = config.threads if config.threads is not None else default_threads(config.concurrency or 1)[0]
    where = ("the GPU NNI assigns each trial (CUDA_VISIBLE_DEVICES), else the CPU" if config.engine == "ts"
             and config.device in ("auto", "cuda") else str(resolve_device(config.device)))
    _logger.info("%d trial(s) at once on the %s engine; rule: %s", config.concurrency or 1, config.engine,
                 default_concurrency(config.threads)[1] if config.engine != "sequential" else "one at a time")
    _logger.info("trials train on %s with %d torch thread(s) each; rule: %s", where, threads,
                 default_threads(config.concurrency or 1)[1])


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
    return reference_archs([train_reference(config.to_dict(), i) for i in range(len(reference_models(config)))])


def train_reference(config: dict, index: int) -> tuple[str, dict, int]:
    """(label, ``evaluate_sample``'s result, epochs) of reference ``index`` of the search ``config``
    (a ``SearchConfig.to_dict()``: plain data, so a pool worker can run it)."""
    from nas_sepconv.evaluation.trial import evaluate_sample

    settings = SearchConfig.from_mapping(config)
    label, make, network = reference_models(settings)[index]
    return label, evaluate_sample(make(), **network, **settings.trial_kwargs()), settings.epochs


def reference_archs(results: list[tuple[str, dict, int]]) -> list[ReferenceArch]:
    """The markers of the references that trained (``train_reference`` results, in order)."""
    return [ReferenceArch(label, int(result["params"]), float(result["default"]), int(result["flops"]), epochs)
            for label, result, epochs in results if result.get("status") == OK]
