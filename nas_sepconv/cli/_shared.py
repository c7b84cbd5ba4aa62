"""Helpers shared by the sub-commands: genotype arguments, output folders, file writing."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.genotypes.files import load_genotype
from nas_sepconv.core.io import atomic_write
from nas_sepconv.evaluation.train import TrainConfig
from nas_sepconv.runs.run_dir import RunDir

# (channels C, cells) when neither flags nor the genotype set them, per network stem: DARTS's
# evaluation networks (CIFAR C=36, 20 cells; ImageNet C=48, 14 cells) and a small one for 8x8 digits.
DEFAULT_MACRO = {"cifar": (36, 20), "imagenet": (48, 14), "digits": (16, 8)}
#: The training recipe's defaults, as ``TrainConfig`` defines them (the flags show these).
DEFAULTS = TrainConfig()
GENOTYPE_HELP = ("a genotype: a JSON or DARTS-text file, FILE:NAME (one genotype of a genotypes.py, parsed, "
                 "never run), RUN#ID (a trial of a run directory), or a named genotype such as DARTS_V2 or P-DARTS")


def resolve_genotype(spec: str) -> tuple[Genotype, str]:
    """The genotype named by a command-line argument and a short label for file names.

    ``RUN#ID`` picks trial ``ID`` of run directory ``RUN`` (any trial, frontier or not);
    anything else is a genotype file or a shipped name (``load_genotype``).
    """
    run_path, sep, trial_id = spec.rpartition("#")
    if sep and run_path and not os.path.isfile(spec):
        return RunDir.open(run_path).genotype(trial_id), f"{Path(run_path).name}-{trial_id}"
    genotype = load_genotype(spec)
    return genotype, Path(spec).stem if os.path.isfile(spec) else spec


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


def write_files(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every ``{name: bytes}`` atomically into ``folder`` (checked writable first)."""
    check_writable(folder)
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
