"""Every setting of a search, validated at once: ``SearchConfig`` and ``--config`` files.

``SearchConfig`` is what the main job (``nas_sepconv.runs.job``) runs and what a run's
``config.json`` records; ``load_config_file`` reads a YAML or JSON file of the same keys,
bounded in size and aliases.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import cut
from nas_sepconv.core.ports import check_port
from nas_sepconv.core.validation import (
    MAX_CELLS,
    MAX_CHANNELS,
    check_at_most,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_threads,
)
from nas_sepconv.evaluation.data import DATASETS, stem_for
from nas_sepconv.evaluation.device import check_device, resolve_device
from nas_sepconv.frontier.objectives import check_objectives
from nas_sepconv.models.resnet import plan_resnet, resolve_conv, stage_widths
from nas_sepconv.ops import OP_SETS, OPS, get_op, op_set
from nas_sepconv.ops.registry import check_internals
from nas_sepconv.runs.strategy_registry import ONE_SHOT, get_strategy

SPACES = ("cell", "resnet", "mobilenet")
ENGINES = ("sequential", "ts", "pool", "auto")
#: Settings whose default changed, with the default a run's ``config.json`` was written under when
#: it lacks the key (``SearchConfig.from_run``): ``strategy`` was 'evolution' until the model-based
#: strategy became the default. ``search`` always wrote the key; a config.json written by hand or
#: by ``RunDir.create`` may lack it, and a resume must not switch such a run's strategy.
STORED_DEFAULTS = {"strategy": "evolution"}


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """Every setting of a search; the defaults are the README's main job (digits, DARTS ops
    plus osep/blk/xsep, the model-based strategy, 24 trials of 3 epochs: minutes on 2 cores).

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
    ``trials`` and ``max_time`` (seconds) bound the budget; ``engine`` 'sequential' trains one
    trial at a time in this process, 'pool' ``concurrency`` at a time in persistent worker
    processes (``nas_sepconv.runs.pool_engine``), 'ts' as separate processes under NNI's manager
    (training service); 'auto' is 'pool' when ``concurrency`` comes out above 1, else
    'sequential'. ``concurrency`` None takes the rule (``nas_sepconv.core.threads``: the cores
    divided by the threads per trial, 1 when the trials train on a GPU of the pool's machine);
    ``threads`` None takes the thread rule; both are fixed when the run is created;
    ``device`` auto, cpu, cuda or cuda:N is where every trial trains (on the ts engine, a GPU
    NNI assigned the trial: ``CUDA_VISIBLE_DEVICES``). ``port`` is the ts engine's NNI manager and
    web portal port: 0 picks a free one when the search starts, else 1024-65535 and free.
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
    strategy: str = "model-based"
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
    engine: str = "auto"
    concurrency: int | None = None
    threads: int | None = None
    device: str = "auto"
    port: int = 0
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
        for name in ("width", "cells", "population", "trials", "epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if self.threads is not None:
            check_threads("threads", self.threads)
        if self.concurrency is not None:
            check_positive_int("concurrency", self.concurrency)
        check_device(self.device)
        check_choice("engine", self.engine, ENGINES)
        if check_port("port", self.port) and self.engine != "ts":
            raise UserError(f"`port` applies to the ts engine only (NNI's manager and web portal), got {self.port} "
                            f"with engine {self.engine!r}.")
        if self.engine != "ts":  # trials train in this process or its workers: the device must be here
            resolve_device(self.device)
        check_positive_int("cells", self.cells, minimum=3)
        check_at_most("width", self.width, MAX_CHANNELS, "the size limit")
        check_at_most("cells", self.cells, MAX_CELLS, "the size limit")
        self._check_concurrency(os.cpu_count() or 1)
        check_seed("seed", self.seed)
        for name in ("train_limit", "max_params", "max_flops"):
            if getattr(self, name) is not None:
                check_positive_int(name, getattr(self, name))
        for name in ("lr", "max_time"):
            if getattr(self, name) is not None:
                check_positive_float(name, getattr(self, name))
        self._check_baseline()
        spec = get_strategy(self.strategy)
        self._check_strategy_settings(spec.settings)
        if spec.kind == ONE_SHOT and self.space != "cell":
            raise UserError(f"`strategy` {self.strategy!r} needs the cell space, got space {self.space!r}.")
        if spec.fixed_internals and self.internals:
            raise UserError(f"`internals` does not apply to strategy {self.strategy!r} ({spec.fixed_internals}), "
                            f"got {self.internals!r}.")
        object.__setattr__(self, "objectives", check_objectives(self.objectives, require_accuracy=True))
        if spec.check is not None:   # what only this strategy refuses (e.g. mo-asha's rungs), before a run directory
            spec.check(self)
        if self.dataset != "digits" and not self.data_dir:
            raise UserError(f"`data_dir` must be given for dataset {self.dataset!r}, got {self.data_dir!r}.")
        if self.extra:
            raise UserError(f"unknown settings: {', '.join(sorted(self.extra))}; allowed: "
                            + ", ".join(f.name for f in dataclasses.fields(self) if f.name != "extra") + ".")

    def _check_concurrency(self, cores: int) -> None:
        if self.concurrency is None:
            return
        if self.engine == "sequential" and self.concurrency > 1:
            raise UserError(f"`concurrency` must be 1 on the sequential engine (one trial at a time), got "
                            f"{self.concurrency}; use `engine` pool or ts for concurrent trials.")
        if self.engine in ("auto", "pool"):  # worker processes on this machine
            check_at_most("concurrency", self.concurrency, cores,
                          f"the {cores} cores of this machine (engine {self.engine}: one worker process per trial)")
            if self.threads is not None and self.concurrency * self.threads > cores:
                raise UserError(f"`concurrency` ({self.concurrency}) x `threads` ({self.threads}) must be at most "
                                f"the {cores} cores of this machine on engine {self.engine}.")

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
        check_seed("seed", self.seed)

    def baseline_config(self) -> "SearchConfig":
        """This config over the ``baseline`` op set (no references, no further baseline)."""
        return dataclasses.replace(self, ops=self.baseline, baseline=None, references=False)

    @property
    def baseline_name(self) -> str:
        return self.baseline if isinstance(self.baseline, str) else "ops"

    def _check_strategy_settings(self, allowed: tuple[str, ...]) -> None:
        settings = self.strategy_settings
        if not isinstance(settings, Mapping):
            raise UserError(f"`strategy_settings` must be a mapping of setting -> value, got {settings!r}.")
        unknown = sorted(str(k) for k in settings if k not in allowed)
        if unknown:
            raise UserError(f"`strategy_settings` has {', '.join(unknown)}, which strategy {self.strategy!r} "
                            f"does not take; allowed: {', '.join(allowed)}.")
        object.__setattr__(self, "strategy_settings", dict(settings))

    def _check_multipliers(self, check_one) -> None:
        """`multipliers` as a tuple of distinct numbers, each accepted by the backbone's ``check_one``."""
        multipliers = (self.multipliers,) if isinstance(self.multipliers, (int, float)) else tuple(self.multipliers)
        if not multipliers or len(set(multipliers)) != len(multipliers):
            raise UserError(f"`multipliers` must be a non-empty list of distinct numbers, got {self.multipliers!r}.")
        for multiplier in multipliers:
            check_one(multiplier)
        object.__setattr__(self, "multipliers", multipliers)

    def _check_resnet(self) -> None:
        self._check_multipliers(stage_widths)
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
        self._check_multipliers(check_width)
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

    @classmethod
    def from_run(cls, data: Mapping[str, Any]) -> "SearchConfig":
        """From a stored run's ``config.json`` settings: as ``from_mapping``, but a key of
        ``STORED_DEFAULTS`` it lacks takes the default it was written under, not today's."""
        return cls.from_mapping({**STORED_DEFAULTS, **data})

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
