"""``nas-sepconv search``: multi-objective search on NNI, ending in a frontier report."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from nas_sepconv.cli._progress import finish_run, run_with_progress
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.ports import portal_port, portal_url
from nas_sepconv.evaluation.data import DATASETS
from nas_sepconv.runs.config import (
    ENGINES,
    OP_SETS,
    SPACES,
    SearchConfig,
    load_config_file,
)
from nas_sepconv.runs.job import check_strategy, create_run
from nas_sepconv.runs.strategy_registry import find_strategy, list_strategies


def strategy_help() -> str:
    """``--strategy``'s help, from the strategy registry: every name with its one-line description,
    those that need an optional extra, and the ``strategy_settings`` keys of each."""
    specs = [find_strategy(name) for name in list_strategies(available=False)]
    extras: dict[str, list[str]] = {}
    for spec in specs:
        if spec.needs:
            extras.setdefault(spec.needs, []).append(spec.name)
    return ("one of " + ", ".join(f"{spec.name} ({spec.description})" for spec in specs if spec.available)
            + "".join(f"; {', '.join(names)} need the {extra} extra" for extra, names in extras.items())
            + "; its settings are the mapping strategy_settings of --config: "
            + "; ".join(f"{spec.name}: {', '.join(spec.settings)}" for spec in specs))


FLAGS = {  # flag -> (type, help); defaults come from SearchConfig
    "space": (str, "cell (DARTS-style cells), resnet (the CIFAR ResNet backbone's block conv and width) or "
                   "mobilenet (a MobileNet's op x kernel per stage and width)"),
    "version": (str, "mobilenet space: v1, v2, v3-small or v3-large"),
    "dataset": (str, "digits (embedded default), cifar10, cifar100 or folder"),
    "data_dir": (str, "directory of cifar10/cifar100 batches or an image folder"),
    "train_limit": (int, "use only the first N training images"),
    "width": (int, "initial channels C of the cell network"),
    "cells": (int, "number of cells (depth)"),
    "depth": (int, "resnet space: ResNet depth 6n+2"),
    "shortcut": (str, "resnet space: A (parameter-free) or B (1x1 conv + BN projections at the stage transitions)"),
    "strategy": (str, strategy_help()),
    "population": (int, "population size of the evolution"),
    "trials": (int, "number of architectures to train"),
    "max_time": (float, "stop after this many seconds"),
    "epochs": (int, "training epochs per trial (fidelity)"),
    "batch_size": (int, "training batch size"),
    "lr": (float, "initial learning rate (cosine schedule)"),
    "max_params": (int, "constraint: skip architectures with more parameters"),
    "max_flops": (int, "constraint: skip architectures with more multiply-adds"),
    "seed": (int, "random seed of the search and of every trial"),
    "engine": (str, "auto (pool when more than one trial runs at once, else sequential), sequential (trials in "
                    "this process), pool (persistent worker processes) or ts (NNI training service)"),
    "concurrency": (int, "trials at a time (default: the cores // --threads (1 if not given), at least 1; "
                         "1 when trials train on a GPU, except on ts)"),
    "threads": (int, "torch threads per trial (default: the cores less the load average, divided by the "
                     "concurrent trials, at least 1)"),
    "port": (int, "ts engine: port of NNI's manager and web portal, 1024-65535 (default: a free port, picked "
                  "when the search starts)"),
    "device": (str, "where trials train: auto (CUDA when available), cpu, cuda or cuda:N; on the ts engine "
                    "the GPU NNI assigns each trial"),
}


SETTINGS = set(FLAGS) | {"ops", "objectives", "multipliers", "per_stage", "references"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    defaults = SearchConfig()
    p = sub.add_parser("search", help="multi-objective NAS (accuracy up, #params down) to a frontier report",
                       description=__doc__.split("``: ")[1] + " With no arguments: digits, DARTS ops plus "
                       "osep/blk/xsep, the model-based strategy. Flags override --config, which overrides defaults.")
    p.add_argument("--config", type=Path, help="YAML or JSON file of settings (same names as the flags)")
    p.add_argument("--ops", nargs="+", metavar="OP",
                   help=f"op set ({', '.join(OP_SETS)}) or op names (default {defaults.ops}); resnet space: all "
                   "or block convs such as conv dsep osep blk xsep; mobilenet space: all or dw xsep dsep osep so_sep "
                   "blk conv")
    p.add_argument("--baseline", nargs="+", metavar="OP",
                   help="also run the same strategy, budget and seed over this op set (darts, new, all) or these "
                   "op names, and compare the two frontiers in the report (cell space)")
    p.add_argument("--objectives", nargs="+", metavar="NAME", help="accuracy and params, optionally flops")
    p.add_argument("--internals", nargs="+", metavar="KEY.PARAM=V,V", type=parse_internal,
                   help="cell space: candidate values of an op internal, KEY an op family or op name, e.g. "
                        "osep.gamma=1,4 osep.N=2,auto blk_3x3.s=1,2 (default: the registry's choices)")
    choices = {"space": SPACES, "dataset": DATASETS, "strategy": list_strategies(), "engine": ENGINES,
               "shortcut": ("A", "B")}
    for name, (kind, text) in FLAGS.items():
        metavar = "{" + ",".join(choices[name]) + "}" if name in choices else None
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None, dest=name, metavar=metavar,
                       help=text if "default" in text else f"{text} (default {getattr(defaults, name)})")
    p.add_argument("--multipliers", nargs="+", type=float, metavar="M",
                   help=f"resnet space: channel multipliers to choose from (default "
                   f"{' '.join(map(str, defaults.multipliers))})")
    p.add_argument("--per-stage", action="store_true", default=None,
                   help="resnet space: one block-conv choice per stage instead of one for the network")
    p.add_argument("--per-block", action="store_true", default=None,
                   help="mobilenet space: one op choice per block instead of one per stage")
    p.add_argument("--kernels", nargs="+", type=int, metavar="K",
                   help="mobilenet space: kernel sizes to choose from (default: the table's kernel of each stage)")
    p.add_argument("--no-references", action="store_true",
                   help="do not train the reference architectures (DARTS_V2 and a plain ResNet; for the "
                   "mobilenet space the original MobileNet at each width)")
    p.add_argument("--out", type=Path, default=Path("results"), help="parent of the run directory (default results)")
    p.add_argument("--name", default=None, help="short name in the run directory's name")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="log every trial to the terminal")
    p.set_defaults(run=run)


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_internal(text: str) -> tuple[str, str, list]:
    """``KEY.PARAM=V1,V2`` -> (key, param, [values]) with numbers parsed (``auto`` stays text)."""
    head, sep, values = text.partition("=")
    key, dot, param = head.rpartition(".")
    if not sep or not dot or not key or not param or not values:
        raise argparse.ArgumentTypeError(f"must look like KEY.PARAM=V1,V2 (e.g. osep.gamma=1,4), got {text!r}")
    return key, param, [_value(v) for v in values.split(",")]


def resolve(args: argparse.Namespace) -> SearchConfig:
    """Defaults <- --config file <- flags; errors name the flag (``--data-dir``, not ``data_dir``)."""
    try:
        return _resolve(args)
    except UserError as err:
        raise UserError(flag_names(str(err))) from None


def flag_names(message: str) -> str:
    """``message`` with each setting in backticks written as its flag."""
    return re.sub(r"`([a-z_]+)`", lambda m: f"`--{m.group(1).replace('_', '-')}`"
                  if m.group(1) in SETTINGS else m.group(0), message)


def _resolve(args: argparse.Namespace) -> SearchConfig:
    settings = load_config_file(args.config) if args.config else {}
    if "name" in settings:                 # `name:` in a config file, like --name
        name = settings.pop("name")
        if not isinstance(name, str) or not name.strip():
            raise UserError(f"`--name` must be a non-empty string, got {name!r}.")
        if args.name is None:
            args.name = name
    settings.update({k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None})
    if args.ops:
        settings["ops"] = args.ops[0] if len(args.ops) == 1 and args.ops[0] in OP_SETS else list(args.ops)
    if args.baseline:
        one = len(args.baseline) == 1 and args.baseline[0] in OP_SETS
        settings["baseline"] = args.baseline[0] if one else list(args.baseline)
    if args.objectives:
        settings["objectives"] = list(args.objectives)
    if args.internals:
        internals = dict(settings.get("internals") or {})
        for key, param, values in args.internals:
            internals[key] = {**internals.get(key, {}), param: values}
        settings["internals"] = internals
    if args.multipliers:
        settings["multipliers"] = list(args.multipliers)
    if args.per_stage:
        settings["per_stage"] = True
    if args.per_block:
        settings["per_block"] = True
    if args.kernels:
        settings["kernels"] = list(args.kernels)
    if args.no_references:
        settings["references"] = False
    if settings.get("engine") is not None and settings["engine"] not in ENGINES:
        raise UserError(f"`--engine` must be one of {', '.join(ENGINES)}, got {settings['engine']!r}.")
    return SearchConfig.from_mapping(settings)


def run(args: argparse.Namespace) -> int:
    config = resolve(args)
    port = portal_port(config.port, "--port") if config.engine == "ts" else None  # before the run directory
    check_strategy(config)   # a bad strategy setting is refused before the run directory exists
    run_dir = create_run(config, args.out, args.name)
    print(f"run directory: {run_dir.path}")
    if port is not None and not args.quiet:
        print(f"NNI web portal: {portal_url(port)}")
    run_with_progress(run_dir, args, port=port)
    return finish_run(run_dir)
