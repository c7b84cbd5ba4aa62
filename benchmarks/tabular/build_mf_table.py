"""Build the multi-fidelity tabular benchmark: the 216 architectures of ``tabular_space.py``,
accuracy recorded after every epoch of an 8-epoch run, two seeds.

What a budget means. Budget ``b`` epochs (1 <= b <= :data:`TOP_EPOCHS`) is the accuracy after
epoch ``b`` of ONE training run whose learning-rate schedule is that of the top budget (cosine
annealing over :data:`TOP_EPOCHS` epochs), i.e. an intermediate point of the top-budget run, as
ASHA with continued training sees it (Li et al., 2020, "A System for Massively Parallel
Hyperparameter Tuning"): a trial promoted from budget 2 to budget 4 continues the same run, it
does not restart with a 4-epoch schedule. A real trial reproduces that point exactly by training
``epochs=b`` with ``schedule_epochs=TOP_EPOCHS`` (``nas_sepconv.evaluation.train.TrainConfig``):
on the CPU the first ``b`` epochs of both runs are the same computation. Every evaluation uses the
recipe of ``build_table.py`` (the search split, split seed 0: half of digits' training part
trains, the other half scores; BN statistics re-estimated on the training images before each
evaluation; lr 0.1, batch 32, one thread), with weights and data order drawn from the row's
``seed``. Seeds :data:`SEEDS` = 0 and 1 are both trained for the full 8 epochs (the second seed's
low budgets are free), so a benchmark can score the mean of the two seeds at any budget.

``results/bench/tabular_mf_digits.csv`` has one row per (architecture, seed, epoch): ``key``
(slot choices, as in ``tabular_digits.csv``; ``tabular_space.edge_sample`` gives the sample),
``seed``, ``epoch`` (the budget), ``params``, ``flops``, ``accuracy`` (after that epoch) and
``seconds`` (wall time of the run up to and including that epoch's evaluation). The 8 rows of a
run are appended in one write when the run finishes, so an interrupted build loses at most the
run in progress; re-running skips the (architecture, seed) runs already in the file, and two
builders may append to the same file (e.g. ``--seeds 0`` and ``--seeds 1`` in two processes).
Cost: 216 x 2 x 8 = 3,456 training epochs, about 1 s each on one idle core.

    python benchmarks/tabular/build_mf_table.py [--out results/bench/tabular_mf_digits.csv]
        [--seeds 0,1] [--epochs 8] [--limit N] [--first N] [--reverse]
"""
from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path
from typing import Iterable

from tabular_mf_table import MF_TABLE_PATH, SEEDS, TOP_EPOCHS, MFRow, append_rows, read_mf_table
from tabular_space import MACRO, choice_key, edge_sample, enumerate_choices

from nas_sepconv.evaluation.train import TrainConfig, split_data, train_model
from nas_sepconv.evaluation.trial import _load, model_cost, reset_parameters
from nas_sepconv.genotypes.architecture import build_architecture
from nas_sepconv.genotypes.cell import Genotype

# build_table.TRAIN without epochs and seed (they vary per run here).
RECIPE = dict(lr=0.1, batch_size=32, num_threads=1)


def train_runs(choice: dict[str, str], seed: int, epochs: int = TOP_EPOCHS) -> list[MFRow]:
    """Train the architecture of ``choice`` once (``epochs`` epochs, cosine schedule over
    ``epochs``, weights and data order from ``seed``) and return one row per epoch."""
    loaded = _load("digits", None, None, None)
    genotype = Genotype.from_sample(edge_sample(choice))
    model = build_architecture(genotype, num_classes=loaded.spec.num_classes, stem=MACRO["stem"],
                               in_channels=loaded.spec.in_channels, channels=MACRO["width"],
                               layers=MACRO["num_cells"], drop_path=0.0)
    config = TrainConfig(epochs=epochs, seed=seed, **RECIPE)
    reset_parameters(model, seed)
    params, flops = model_cost(model, loaded)
    key, rows, start = choice_key(choice), [], time.perf_counter()

    def progress(epoch: int, metrics: dict) -> None:
        rows.append(MFRow(key, seed, epoch, params, flops, float(metrics["eval_acc"]),
                          round(time.perf_counter() - start, 3)))

    train_model(model, split_data(loaded, "search", seed=0), config, progress=progress)
    return rows


def build(out: str | Path, seeds: Iterable[int], epochs: int, limit: int | None = None, reverse: bool = False,
          first: int | None = None) -> int:
    """Train the (architecture, seed) runs missing from ``out`` (at most ``limit``; only of the
    ``first`` architectures if given; ``reverse``: last architecture first, so that a second
    builder on the same seed meets the first halfway); returns how many it planned."""
    seeds = tuple(seeds)
    done = {(row.key, row.seed) for row in read_mf_table(out) if row.epoch == epochs}
    order = enumerate_choices()[:first]
    order = order[::-1] if reverse else order
    todo = [(c, s) for s in seeds for c in order if (choice_key(c), s) not in done][:limit]
    print(f"{len(done)} runs in {out}; training {len(todo)} more (seeds {seeds}, {epochs} epochs).", flush=True)
    start = time.perf_counter()
    for i, (choice, seed) in enumerate(todo, 1):
        if (choice_key(choice), seed) in {(r.key, r.seed) for r in read_mf_table(out) if r.epoch == epochs}:
            continue   # another builder did it meanwhile
        rows = train_runs(choice, seed, epochs)
        append_rows(rows, out)
        elapsed = time.perf_counter() - start
        print(f"[{i}/{len(todo)}] seed {seed} acc " + " ".join(f"{r.accuracy:.3f}" for r in rows)
              + f" params {rows[0].params} {rows[0].key} ({elapsed / i:.1f} s each, "
              f"~{elapsed / i * (len(todo) - i) / 60:.1f} min left)", flush=True)
    return len(todo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(MF_TABLE_PATH), help="table CSV (resumed if it exists)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated training seeds")
    parser.add_argument("--epochs", type=int, default=TOP_EPOCHS, help="top budget (the schedule's length)")
    parser.add_argument("--limit", type=int, default=None, help="train at most this many new runs")
    parser.add_argument("--reverse", action="store_true", help="last architecture first (a second builder)")
    parser.add_argument("--first", type=int, default=None, help="only the first N architectures (a quick check)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("nni").setLevel(logging.WARNING)
    build(args.out, [int(s) for s in args.seeds.split(",")], args.epochs, args.limit, args.reverse, args.first)


if __name__ == "__main__":
    main()
