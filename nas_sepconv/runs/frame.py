"""A run as a pandas DataFrame, the way ``optuna.Study.trials_dataframe()`` gives a study.

One row per recorded trial, in evaluation order. Columns: ``id``, ``status`` (ok/failed),
one column per objective (``accuracy``, ``params``, ``flops``), ``seed``, ``epochs`` (the
fidelity), ``trained_epochs`` (the epochs the trial itself trained; empty when unknown), ``seconds``, ``reason``, ``is_pareto`` (on the run's frontier under its declared
objectives), ``share_<family>`` per registered op family and ``dominant_family``
(``nas_sepconv.genotypes.composition``), ``internals``, ``genotype`` (one-line text) and one
``label_<name>`` column per search label (op and input per edge and each op internal for a
cell genotype; conv per stage, multiplier and op params for a ResNet one), empty where a trial
does not set that label.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nas_sepconv.frontier.objectives import OBJECTIVES
from nas_sepconv.genotypes.architecture import architecture_labels, architecture_text
from nas_sepconv.genotypes.composition import composition, families
from nas_sepconv.runs.run_dir import RunDir, frontier


def load_run(run: str | Path | RunDir) -> pd.DataFrame:
    """The trials of run directory ``run`` as a DataFrame (columns in the module docstring)."""
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    rows = run.read_trials()
    pareto = {row.id for row in frontier(rows, run.reference)}
    records = []
    for row in rows:
        found = composition(row.genotype)
        record = {"id": row.id, "status": row.status, **{n: row.objectives.get(n) for n in OBJECTIVES},
                  "seed": row.seed, "epochs": row.epochs, "trained_epochs": row.trained_epochs,
                  "seconds": row.seconds, "reason": row.reason,
                  "is_pareto": row.id in pareto,
                  **{f"share_{f}": found.shares.get(f, 0.0) for f in families()},
                  "dominant_family": found.dominant, "internals": " ".join(found.internals),
                  "genotype": architecture_text(row.genotype)}
        record.update({f"label_{k}": v if not isinstance(v, (list, tuple)) else str(list(v))
                       for k, v in architecture_labels(row.genotype).items()})
        records.append(record)
    columns = ["id", "status", *OBJECTIVES, "seed", "epochs", "trained_epochs", "seconds", "reason", "is_pareto",
               *(f"share_{f}" for f in families()), "dominant_family", "internals", "genotype"]
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame[columns + sorted(c for c in frame.columns if c not in columns)]
