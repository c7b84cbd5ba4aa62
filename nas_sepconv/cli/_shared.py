"""Helpers shared by the sub-commands: genotype arguments, output folders, file writing."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write, clean_stale_tmp
from nas_sepconv.core.validation import check_seed, check_threads
from nas_sepconv.evaluation.data import stem_for
from nas_sepconv.evaluation.train import TrainConfig
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.genotypes.files import load_genotype
from nas_sepconv.runs.run_dir import RunDir

# (channels C, cells) when neither flags nor the genotype set them, per network stem: DARTS's
# evaluation networks (CIFAR C=36, 20 cells; ImageNet C=48, 14 cells) and a small one for 8x8 digits.
DEFAULT_MACRO = {"cifar": (36, 20), "imagenet": (48, 14), "digits": (16, 8)}
#: The training recipe's defaults, as ``TrainConfig`` defines them (the flags show these).
DEFAULTS = TrainConfig()
GENOTYPE_HELP = ("a genotype: a JSON or DARTS-text file, FILE:NAME (one genotype of a genotypes.py, parsed, "
                 "never run), RUN#ID (a trial of a run directory), or a named genotype such as DARTS_V2 or P-DARTS")


@dataclass(frozen=True)
class ResolvedGenotype:
    """A GENOTYPE argument: the genotype, a label for file names and, for ``RUN#ID``, the
    settings its run trained it with (``run_settings``)."""

    genotype: Genotype
    label: str
    run: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def resolve_genotype(spec: str) -> ResolvedGenotype:
    """The genotype named by a command-line argument and a short label for file names.

    ``RUN#ID`` picks trial ``ID`` of run directory ``RUN`` (any trial, frontier or not) and
    brings the run's settings; anything else is a genotype file or a shipped name (``load_genotype``).
    """
    run_path, sep, trial_id = spec.rpartition("#")
    if sep and run_path and not os.path.isfile(spec):
        run = RunDir.open(run_path)
        return ResolvedGenotype(run.genotype(trial_id), f"{Path(run_path).name}-{trial_id}",
                                run_settings(run.config), str(run.path / "config.json"))
    try:
        genotype = load_genotype(spec)
    except UserError as err:
        raise UserError(str(err).replace("`path_or_name`", "`GENOTYPE`")) from None
    file = spec.rpartition(":")[0] if not os.path.isfile(spec) and ":" in spec else spec
    return ResolvedGenotype(genotype, Path(spec).stem if os.path.isfile(file) else spec)


def run_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What a run trained its trials with: dataset, data_dir, stem and, for the cell space,
    channels (``width``) and layers (``cells``), from its ``config.json``."""
    dataset = config.get("dataset", "digits")
    settings = {"dataset": dataset, "data_dir": config.get("data_dir"),
                "stem": stem_for(dataset)}
    if config.get("space", "cell") == "cell":
        settings.update(channels=config.get("width"), layers=config.get("cells"))
    return {k: v for k, v in settings.items() if v is not None or k == "data_dir"}


def first(*values: Any) -> Any:
    """The first value that is not None (flag, genotype, run, default)."""
    return next((v for v in values if v is not None), None)


def merge_run_settings(command: str, resolved: ResolvedGenotype, flags: dict[str, Any]) -> dict[str, Any]:
    """``flags`` (None = not given) over the run's settings; a flag that changes a run setting is
    said on stderr, so a count or training that differs from the run's is never silent."""
    merged = dict(resolved.run)
    for key, value in flags.items():
        if value is None:
            continue
        if key in resolved.run and resolved.run[key] != value:
            flag = "--" + key.replace("_", "-")
            print(f"nas-sepconv {command}: {flag} {value} overrides the run's {resolved.run[key]} "
                  f"({resolved.source})", file=sys.stderr)
        merged[key] = value
    return merged


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any work."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise OSError(f"output directory '{folder}' is not writable ({err.strerror or err})") from None
    return folder


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused unless it is a plain file name that stays inside ``folder``."""
    target = Path(folder) / name
    if Path(name).name != name or name in ("", ".", "..") or target.resolve().parent != Path(folder).resolve():
        raise UserError(f"output file name {name[:80]!r} would leave '{folder}'.")
    return target


def write_files(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every ``{name: bytes}`` atomically into ``folder`` (checked writable first); every
    name must stay inside ``folder``."""
    for name in files:
        inside(folder, name)
    check_writable(folder)
    clean_stale_tmp(folder, files)
    return [atomic_write(folder / name, lambda fh, data=data: fh.write(data), binary=True)
            for name, data in files.items()]


def add_recipe_arguments(p: argparse.ArgumentParser, what: str = "") -> None:
    """``--epochs``, ``--batch-size``, ``--lr`` and ``--seed``, defaulting to ``TrainConfig``'s values."""
    trains = f" {what}" if what else ""
    p.add_argument("--epochs", type=int, default=DEFAULTS.epochs,
                   help=f"epochs to train{trains} (default {DEFAULTS.epochs})")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                   help=f"training batch size (default {DEFAULTS.batch_size})")
    p.add_argument("--lr", type=float, default=DEFAULTS.lr, help=f"initial learning rate (default {DEFAULTS.lr})")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed,
                   help=f"seed of weights, data order and augmentation (default {DEFAULTS.seed})")


def check_seed_and_threads(args: argparse.Namespace) -> None:
    """``--seed`` and ``--threads`` (where the command has them) by the rules ``search`` applies
    (``check_seed``, ``check_threads``), before anything is loaded, built or trained."""
    if getattr(args, "seed", None) is not None:
        check_seed("--seed", args.seed)
    if getattr(args, "threads", None) is not None:
        check_threads("--threads", args.threads)
