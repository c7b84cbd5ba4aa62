"""Settings of ``model_based_asha`` (``strategies.ModelBasedASHA``) on seeds 0-19 of the multi-fidelity table.

``compare_mf.py`` gives both multi-fidelity strategies the rungs chosen for MO-ASHA by its
``--tune``; this sweep asks whether other rungs or another ``initial_samples`` would let the
model-based one meet the requirement (full-fidelity NSGA-II's hypervolume at 20% of the table,
344 epochs, with at most half the epochs). It runs on the tuning seeds 0-19 only, the table
scored at its top budget with the mean of both training seeds, and writes
``results/bench/tune_mf_model_based_digits.json``: NSGA-II's median at 344 epochs and, per
setting, the median hypervolume fraction at 172 epochs (declared and strict reference) and the
seeds where it is at least NSGA-II's.

    python benchmarks/tabular/tune_mf_model_based.py [--seeds 20] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
from compare_mf import FULL, MB_ASHA, _refs, asha_runs, hv_at_epochs
from compare_peers import run_all
from tabular_mf_table import MF_TABLE_PATH, SEEDS, TOP_EPOCHS, budget_rows, top_table_csv

from nas_sepconv.core.io import atomic_write_json

OUT = MF_TABLE_PATH.parent / "tune_mf_model_based_digits.json"
GRID = ((1, 3, 8), (1, 3, 4), (1, 2, 8), (1, 2, 4), (1, 4, 4), (2, 3, 4), (2, 2, 4))  # min_epochs, eta, initial_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (the tuning seeds: at most 20)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not 1 <= args.seeds <= 20:
        raise SystemExit(f"`--seeds` must be in 1..20 (seeds 20-39 are the scoring seeds), got {args.seeds}")
    warnings.filterwarnings("ignore")
    logging.getLogger("nni").setLevel(logging.WARNING)
    seeds = range(0, args.seeds)
    rows = budget_rows(MF_TABLE_PATH, TOP_EPOCHS, SEEDS)
    budget = round(0.20 * len(rows))
    half = budget * TOP_EPOCHS / 2
    with tempfile.TemporaryDirectory() as work:
        top = top_table_csv(MF_TABLE_PATH, Path(work) / "top.csv", TOP_EPOCHS, SEEDS)
        full = run_all([FULL], seeds, budget, rows, print, table=top)
    targets = [run[budget - 1] for run in full["curves"]["declared"][FULL]]
    result = {"seeds": [0, args.seeds - 1], "epochs_full": budget * TOP_EPOCHS, "epochs_half": half,
              "nsga2_declared_median": float(np.median(targets)), "settings": []}
    for min_epochs, eta, initial in GRID:
        settings = {"min_epochs": min_epochs, "eta": eta, "initial_samples": initial}
        runs = asha_runs(seeds, MF_TABLE_PATH, SEEDS, budget, settings, _refs(full), full["totals"], print, MB_ASHA)
        declared = [hv_at_epochs(c, half) for c in runs["curves"]["declared"]]
        strict = [hv_at_epochs(c, half) for c in runs["curves"]["strict"]]
        entry = {"settings": settings, "declared_median": float(np.median(declared)),
                 "strict_median": float(np.median(strict)),
                 "seeds_at_least_nsga2": int(sum(a >= t for a, t in zip(declared, targets)))}
        result["settings"].append(entry)
        print(json.dumps(entry), flush=True)
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
