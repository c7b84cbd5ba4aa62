"""Shared pieces of the reproduction studies: the recipe, the run key, training one run, CSV I/O.

Every study trains CIFAR ResNet-20 (``nas_sepconv.models.resnet``) on the digits data (1 input
channel, 8x8, 10 classes) with one fixed recipe, :data:`RECIPE`: the osep paper's Appendix B
(SGD, momentum 0.9, lr 0.1, weight decay 1e-4, batch 128) shortened to :data:`EPOCHS`
epochs with a cosine schedule (``train.py`` has no step schedule), gradient-norm clipping at 5
as a guard, and the last BN of every residual branch initialised to zero ("zero-init
residual", Goyal et al. 2017; see results/studies/README.md for why). Data:
``split_data(digits, "test")``: all 1,438 training images train, the 359 held-out test images
are scored once per epoch and the LAST epoch's accuracy is the run's result (no selection on
the test images). A run's weights are drawn from its seed, and so are its batches.

CSV files are appended one row at a time and flushed, so an interrupted study keeps its rows
and a restart skips every (config, seed) already present. A (config, seed) already trained
for another study is copied from that study's CSV instead of trained again: training is
deterministic on the CPU, so it would give the same row.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

from nas_sepconv.evaluation.data import LoadedData, load_dataset
from nas_sepconv.evaluation.train import TrainConfig, TrainingFailed, split_data, train_model
from nas_sepconv.models.resnet import build_resnet, count_resnet
from nas_sepconv.ops import OPS, conv_aliases

ROOT = Path(__file__).resolve().parents[2]
STUDY_DIR = ROOT / "results" / "studies"
DEPTH = 20
BASE_WIDTH = 16
INPUT_SIZE = 8
EPOCHS = 20
SEEDS = (0, 1, 2)
RECIPE: dict[str, Any] = dict(epochs=EPOCHS, batch_size=128, lr=0.1, lr_min=0.0, momentum=0.9, weight_decay=1e-4,
                              grad_clip=5.0, auxiliary_weight=0.0, num_threads=1)
INITS = ("zero_residual", "default")

RUN_COLUMNS = ("study", "config", "conv", "op", "variant", "budget", "width", "multiplier", "op_params", "init",
               "seed", "params", "flops", "epochs", "accuracy", "train_acc", "final_loss", "seconds", "status",
               "reason")


@dataclass(frozen=True)
class RunConfig:
    """One trained network: conv type (short name), stem width ``w`` (multiplier ``w / 16``), op kwargs.

    ``variant`` labels the row in a table (a gamma, a placement); ``budget`` is the target
    #params it was matched to (0 when not matched).
    """

    conv: str
    width: int
    op_params: Mapping[str, Any] = field(default_factory=dict)
    init: str = "zero_residual"
    variant: str = ""
    budget: int = 0

    @property
    def multiplier(self) -> float:
        return self.width / BASE_WIDTH

    @property
    def key(self) -> str:
        """Identity of the network and recipe (not of the labels): the resume key with the seed."""
        params = json.dumps(dict(self.op_params), sort_keys=True, separators=(",", ":"))
        return f"{self.conv}|w={self.width}|{params}|{self.init}"

    def cost(self, num_classes: int = 10, in_channels: int = 1):
        return count_resnet(DEPTH, conv=self.conv, multiplier=self.multiplier, num_classes=num_classes,
                            in_channels=in_channels, input_size=INPUT_SIZE, op_params=dict(self.op_params))


def op_available(conv: str) -> bool:
    """Whether the op behind short name ``conv`` is registered (osep may land later than the rest)."""
    return conv_aliases().get(conv, conv) in OPS


def digits() -> LoadedData:
    """The (train, held-out test) pair every study uses."""
    return split_data(load_dataset("digits"), "test")


def build(config: RunConfig, seed: int, data: LoadedData) -> nn.Module:
    """ResNet-20 of ``config`` with weights drawn from ``seed`` (and zero-init residual if asked)."""
    if config.init not in INITS:
        raise ValueError(f"`init` must be one of {INITS}, got {config.init!r}.")
    torch.manual_seed(seed)
    model = build_resnet(DEPTH, conv=config.conv, multiplier=config.multiplier, num_classes=data.spec.num_classes,
                         in_channels=data.spec.in_channels, op_params=dict(config.op_params))
    if config.init == "zero_residual":
        for block in model.blocks:
            nn.init.zeros_(block.bn2.weight)
    return model


def train_config(seed: int, **overrides: Any) -> TrainConfig:
    return TrainConfig(seed=seed, **{**RECIPE, **overrides})


def train_row(study: str, config: RunConfig, seed: int, data: LoadedData) -> dict[str, Any]:
    """Train one (config, seed) with :data:`RECIPE` and return its CSV row (a diverged run is kept as failed)."""
    model = build(config, seed, data)
    cost = config.cost(data.spec.num_classes, data.spec.in_channels)
    built = sum(p.numel() for p in model.parameters())
    if built != cost.params:
        raise RuntimeError(f"count_resnet says {cost.params} params for {config.key}, the model has {built}")
    start = time.perf_counter()
    row = dict(study=study, config=config.key, conv=config.conv, op=conv_aliases().get(config.conv, config.conv),
               variant=config.variant, budget=config.budget, width=config.width, multiplier=config.multiplier,
               op_params=json.dumps(dict(config.op_params), sort_keys=True), init=config.init, seed=seed,
               params=cost.params, flops=cost.flops, epochs=RECIPE["epochs"])
    try:
        result = train_model(model, data, train_config(seed))
    except TrainingFailed as failure:
        return {**row, "accuracy": math.nan, "train_acc": math.nan, "final_loss": math.nan,
                "seconds": round(time.perf_counter() - start, 2), "status": "failed", "reason": failure.reason}
    last = result.history[-1]
    return {**row, "accuracy": result.accuracy, "train_acc": last.train_acc, "final_loss": last.loss,
            "seconds": round(result.seconds, 2), "status": "ok", "reason": ""}


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a study CSV as strings (empty list if the file does not exist yet)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def append_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` (writing the header first for a new file), flushed to disk at once."""
    new = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="raise")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def trained_elsewhere(path: Path) -> dict[tuple[str, int], dict[str, str]]:
    """Successful runs of the other study CSVs next to ``path``, by (config key, seed)."""
    rows = (r for other in sorted(path.parent.glob("*.csv")) if other != path for r in read_rows(other))
    return {(r["config"], int(r["seed"])): r for r in rows if "config" in r and r.get("status") == "ok"}


def run_configs(study: str, path: Path, configs: Sequence[RunConfig], seeds: Sequence[int] = SEEDS,
                data: LoadedData | None = None) -> int:
    """Train every (config, seed) missing from ``path``; returns how many were trained now."""
    done = {(row["config"], int(row["seed"])) for row in read_rows(path)}
    todo = [(c, s) for c in configs for s in seeds if (c.key, s) not in done]
    print(f"[{study}] {len(done)} rows in {path.name}; {len(todo)} runs to train", flush=True)
    data = data or digits()
    known = trained_elsewhere(path)
    start = time.perf_counter()
    for i, (config, seed) in enumerate(todo, 1):
        if (config.key, seed) in known:  # the same network, recipe and seed: training is deterministic
            row = {**known[(config.key, seed)], "study": study, "variant": config.variant, "budget": config.budget}
        else:
            row = train_row(study, config, seed, data)
        append_rows(path, RUN_COLUMNS, [row])
        left = (time.perf_counter() - start) / i * (len(todo) - i) / 60
        print(f"[{study}] {i}/{len(todo)} {config.key} seed {seed}: acc {float(row['accuracy']):.4f} "
              f"params {row['params']} ({row['seconds']} s, ~{left:.1f} min left)", flush=True)
    return len(todo)
