"""Study 4: depth-wise decomposition of a trained conv ResNet vs the same dsep ResNet from scratch.

The depth-wise decomposition paper's Table 3 at digits scale. Per seed:

- ``conv_trained``: ResNet-20 with dense 3x3 convs (width 16) trained with ``RECIPE``, the
  "folded" network and the upper bound;
- ``dsep_scratch``: the dsep ResNet-20 of the same width, trained from scratch with the same
  recipe (the paper's "original ShuffleNet V2");
- ``gsvd`` / ``gsvd_ft``: every block conv of the trained conv net decomposed into depth-wise +
  point-wise with inter-channel error compensation, multi-layer (Alg. 2, Eq. 10), before and
  after fine-tuning. The result has exactly the dsep network's architecture (checked);
- ``channel`` / ``channel_ft``: the channel-decomposition baseline at the same speed-up.

The stem conv is left dense, as in the dsep ResNet. Activations are sampled from
:data:`SAMPLE_IMAGES` training images, :data:`PATCHES` positions each (the paper: 300 x 10).
The decomposed nets are scored as they come out (BN statistics of the trained conv net, no
recalibration), and after :data:`FT_EPOCHS` epochs of fine-tuning at lr :data:`FT_LR`
(cosine to 0, otherwise ``RECIPE``).
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch
from common import RunConfig, append_rows, build, digits, read_rows, train_config
from torch import nn

from nas_sepconv.compress.decompose import decompose_model
from nas_sepconv.evaluation.data import LoadedData
from nas_sepconv.evaluation.train import evaluate, train_model
from nas_sepconv.ops.cost import count_built

WIDTH = 16
SAMPLE_IMAGES = 300
PATCHES = 10
FT_EPOCHS = 3
FT_LR = 0.01
METHODS = ("channel", "gsvd")
COLUMNS = ("study", "seed", "method", "width", "params", "flops", "accuracy", "rel_error_mean", "rel_error_max",
           "epochs", "seconds", "status")


def _row(seed: int, method: str, model: nn.Module, data: LoadedData, accuracy: float, epochs: int,
         seconds: float, errors: list | None = None) -> dict[str, Any]:
    cost = count_built(model, data.spec.image_size, data.spec.in_channels)
    rel = [e.rel_error for e in errors or []]
    return dict(study="decomposition", seed=seed, method=method, width=WIDTH, params=cost.params, flops=cost.flops,
                accuracy=accuracy, rel_error_mean=statistics.fmean(rel) if rel else "",
                rel_error_max=max(rel) if rel else "", epochs=epochs, seconds=round(seconds, 2), status="ok")


def _trained(config: RunConfig, seed: int, data: LoadedData) -> tuple[nn.Module, float, float]:
    model = build(config, seed, data)
    result = train_model(model, data, train_config(seed))
    return model, result.accuracy, result.seconds


def _decomposed_rows(conv: nn.Module, dsep_params: int, seed: int, data: LoadedData) -> list[dict[str, Any]]:
    """Decompose ``conv`` by each method; one row before and one after fine-tuning."""
    pick = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(seed))[:SAMPLE_IMAGES]
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        model, errors = decompose_model(conv, data.train_images[pick], method=method, multi_layer=True,
                                        patches_per_image=PATCHES, layers=["blocks"], seed=seed)
        accuracy = evaluate(model, data.test_images, data.test_labels)
        rows.append(_row(seed, method, model, data, accuracy, 0, time.perf_counter() - start, errors))
        if method == "gsvd" and rows[-1]["params"] != dsep_params:
            raise RuntimeError(f"decomposed net has {rows[-1]['params']} params, the dsep ResNet {dsep_params}")
        tuned = train_model(model, data, train_config(seed, epochs=FT_EPOCHS, lr=FT_LR))
        rows.append(_row(seed, f"{method}_ft", model, data, tuned.accuracy, FT_EPOCHS, tuned.seconds, errors))
    return rows


def seed_rows(seed: int, data: LoadedData) -> list[dict[str, Any]]:
    """Every row of one seed (trained conv, dsep from scratch, both decompositions before/after fine-tuning)."""
    conv, conv_acc, conv_s = _trained(RunConfig("conv", WIDTH), seed, data)
    dsep, dsep_acc, dsep_s = _trained(RunConfig("dsep", WIDTH), seed, data)
    epochs = train_config(seed).epochs
    rows = [_row(seed, "conv_trained", conv, data, conv_acc, epochs, conv_s),
            _row(seed, "dsep_scratch", dsep, data, dsep_acc, epochs, dsep_s)]
    return rows + _decomposed_rows(conv, rows[1]["params"], seed, data)


def run(path: Path, seeds: tuple[int, ...]) -> int:
    """Run the seeds that have no rows in ``path`` yet (a seed's rows are written together)."""
    done = {int(r["seed"]) for r in read_rows(path)}
    todo = [s for s in seeds if s not in done]
    print(f"[decomposition] seeds done {sorted(done)}; {len(todo)} to run", flush=True)
    data = digits()
    for seed in todo:
        rows = seed_rows(seed, data)
        append_rows(path, COLUMNS, rows)
        print(f"[decomposition] seed {seed}: " + ", ".join(f"{r['method']} {r['accuracy']:.4f}" for r in rows),
              flush=True)
    return len(todo)
