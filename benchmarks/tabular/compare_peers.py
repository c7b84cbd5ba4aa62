"""Every strategy against every peer on the tabular digits benchmark, in one script, paired by seed.

Strategies (all but pymoo run in a real ``NasExperiment`` on the sequential engine over
``TabularSubspace``, trials looked up in the table as in ``compare.py``):

- ours: ``evolution`` (``MultiObjectiveEvolution``, defaults), ``random``
  (``MultiObjectiveRandom``), ``model_based`` (``ModelBasedEHVI``, the settings chosen on
  seeds 0-19: ``MODEL_BASED``);
- NNI's ``nni_random`` and ``nni_evolution`` (``RegularizedEvolution``, settings of ``compare.py``);
- Optuna's ``optuna_tpe``, ``optuna_gp`` and ``optuna_nsga2``, default samplers through our
  ``OptunaSearch`` adapter;
- ``pymoo_nsga2``: pymoo's NSGA-II (population 8, integer variables, rounding repair) by
  ask/tell outside NNI, a benchmark-only dependency; an architecture it proposes again is
  looked up again but counts once.

Every run gets ``budget`` distinct evaluations (20% of the table). For each reference
(declared: accuracy 0; strict: worst accuracy of the table) the report gives the median
[min, max] hypervolume fraction at 5/10/15/20% of the table, evaluations to 95%, and, for the
model-based strategy against each peer, paired wins at 10% and 20% and the two-sided Wilcoxon
signed-rank p-value. ``CPU ms / proposal`` is the process CPU time of a whole run (strategy,
NNI engine and table lookups) over its evaluations; NNI Random's figure is the engine's own.

    python benchmarks/tabular/compare_peers.py --first-seed 20 --seeds 20 [--only model_based,optuna_gp]
        [--table results/bench/tabular_mf_digits.csv] [--against results/bench/compare_peers_digits.json]

``--table``: another table in ``tabular_digits.csv``'s format, or a multi-fidelity table (a row per
architecture, seed and epoch), scored at its top epoch with the mean accuracy over its seeds.
``--against``: also pair the model-based runs with the per-seed fractions of peers stored by an
earlier run (its JSON), for peers whose code did not change and that are not run again.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
from compare import evals_to_reach, fraction_curve, make_strategy, references_of, run_strategy
from scipy.stats import wilcoxon
from tabular_space import SLOTS, VARIANTS, choice_key
from tabular_table import TABLE_PATH, Row, load_table, rows_hypervolume, write_table

from nas_sepconv.core.io import atomic_write_json, atomic_write_text
from strategies import ModelBasedEHVI, MultiObjectiveEvolution, MultiObjectiveRandom, OptunaSearch

OUT = TABLE_PATH.parent / "compare_peers_digits.md"
MARKS = (0.05, 0.10, 0.15, 0.20)
TARGET = 0.95
OURS = "model_based"
MODEL_BASED: dict[str, Any] = {}
STRATEGIES = ("model_based", "evolution", "random", "nni_random", "nni_evolution", "optuna_tpe", "optuna_gp",
              "optuna_nsga2", "pymoo_nsga2")
NNI_SETTINGS = argparse.Namespace(population=8, sample_size=3)


def evaluated_keys(name: str, seed: int, budget: int, table: Path = TABLE_PATH) -> list[str]:
    """The keys strategy ``name`` evaluated with ``seed`` on ``table``, in order, ``budget`` distinct ones."""
    if name == "pymoo_nsga2":
        return pymoo_keys(seed, budget, table)
    if name == "model_based":
        strategy: Any = ModelBasedEHVI(max_trials=budget, seed=seed, **MODEL_BASED)
    elif name == "evolution":
        strategy = MultiObjectiveEvolution(max_trials=budget, seed=seed)
    elif name == "random":
        strategy = MultiObjectiveRandom(max_trials=budget, seed=seed)
    elif name.startswith("optuna_"):
        strategy = OptunaSearch(sampler=name.removeprefix("optuna_"), max_trials=budget, seed=seed)
    else:
        strategy = make_strategy(name, seed, budget, NNI_SETTINGS)
    return run_strategy(strategy, budget, table)


def pymoo_keys(seed: int, budget: int, table: Path = TABLE_PATH) -> list[str]:
    """pymoo's NSGA-II by ask/tell over one integer variable per slot, until ``budget`` distinct keys."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    rows = load_table(str(table))
    variants, slots = list(VARIANTS), list(SLOTS)
    problem = Problem(n_var=len(slots), n_obj=2, xl=0, xu=len(variants) - 1, vtype=int)
    algorithm = NSGA2(pop_size=8, sampling=IntegerRandomSampling(), eliminate_duplicates=True,
                      crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
                      mutation=PM(eta=20, vtype=float, repair=RoundingRepair()))
    algorithm.setup(problem, termination=("n_eval", 100 * budget), seed=seed, verbose=False)
    keys: list[str] = []
    while len(set(keys)) < budget:
        population = algorithm.ask()
        objectives = []
        for x in population.get("X"):
            key = choice_key({s: variants[int(round(v))] for s, v in zip(slots, x)})
            row = rows[key]
            if key not in keys and len(set(keys)) < budget:
                keys.append(key)
            objectives.append([-row.accuracy, row.params])
        population.set("F", np.array(objectives, dtype=float))
        algorithm.tell(infills=population)
    return keys


def run_all(names: list[str], seeds: range, budget: int, rows: dict[str, Row],
            log: Callable[[str], None], cache: Path | None = None, table: Path = TABLE_PATH) -> dict[str, Any]:
    """Curves (per reference, per strategy, per seed) and CPU seconds per evaluation. With
    ``cache``, the evaluated keys and CPU times of every finished strategy are kept in that JSON
    file and a strategy found there (same seeds, same budget) is not run again. ``table``: the
    table the strategies search (``rows`` is it, loaded)."""
    references = references_of(rows)
    totals = {k: rows_hypervolume(list(rows.values()), r) for k, r in references.items()}
    curves: dict[str, dict[str, list[list[float]]]] = {k: {} for k in references}
    cpu: dict[str, list[float]] = {}
    stored = json.loads(cache.read_text()) if cache is not None and cache.exists() else {}
    tag = f"{seeds.start}-{seeds.stop}-{budget}" + ("" if Path(table) == TABLE_PATH else f"-{Path(table).stem}")
    for name in names:
        wall = time.perf_counter()
        if f"{name}@{tag}" in stored:
            entry = stored[f"{name}@{tag}"]
            cpu[name] = entry["cpu"]
            for kind, ref in references.items():
                curves[kind][name] = [fraction_curve(keys, rows, ref, totals[kind]) for keys in entry["keys"]]
            log(f"{name}: from {cache}")
            continue
        evaluated = []
        for seed in seeds:
            start = time.process_time()
            keys = evaluated_keys(name, seed, budget, table)
            cpu.setdefault(name, []).append((time.process_time() - start) / budget)
            if len(keys) != budget or len(set(keys)) != budget:
                raise RuntimeError(f"{name} seed {seed}: {len(keys)} evaluations, {len(set(keys))} distinct.")
            evaluated.append(keys)
            for kind, ref in references.items():
                curves[kind].setdefault(name, []).append(fraction_curve(keys, rows, ref, totals[kind]))
        if cache is not None:
            stored[f"{name}@{tag}"] = {"keys": evaluated, "cpu": cpu[name]}
            atomic_write_json(cache, stored)
        log(f"{name}: {len(seeds)} seeds in {time.perf_counter() - wall:.0f} s")
    return {"curves": curves, "cpu": cpu, "totals": totals, "references": {k: r.to_dict() for k, r in references.items()}}


def scored_table(path: Path, work: Path) -> Path:
    """``path`` if it is in ``tabular_digits.csv``'s format; a multi-fidelity table (a row per
    architecture, seed and epoch) becomes one at its top epoch, accuracy and seconds the mean over
    the seeds that reached it, written under ``work`` (the trials look that file up)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if "epoch" not in (reader.fieldnames or ()):
            return path
        records = [r for r in reader if r.get("key") not in (None, "key") and r.get("seconds")]
    top = max(int(r["epoch"]) for r in records)
    groups: dict[str, list[dict[str, str]]] = {}
    for r in records:
        if int(r["epoch"]) == top:
            groups.setdefault(r["key"], []).append(r)
    seeds = max(len({r["seed"] for r in group}) for group in groups.values())
    rows = [Row(key, json.dumps(json.loads(key), sort_keys=True), int(g[0]["params"]), int(g[0]["flops"]),
                float(np.mean([float(r["accuracy"]) for r in g])), float(np.mean([float(r["seconds"]) for r in g])))
            for key, g in groups.items() if len({r["seed"] for r in g}) == seeds]
    return write_table(rows, work / f"{path.stem}_top{top}.csv")


def at(run: list[float], n: int) -> float:
    return run[min(n, len(run)) - 1]


def cell(values: list[float], fmt: str = "{:.4f}") -> str:
    return f"{fmt.format(np.median(values))} [{fmt.format(np.min(values))}, {fmt.format(np.max(values))}]"


def table(curves: dict[str, list[list[float]]], cpu: dict[str, list[float]], size: int, budget: int) -> list[str]:
    marks = [max(1, round(m * size)) for m in MARKS]
    head = ["strategy"] + [f"HV @ {n} ({m:.0%})" for m, n in zip(MARKS, marks)] + [f"evals to {TARGET:.0%}",
                                                                                     "CPU ms / proposal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, runs in curves.items():
        reach = [evals_to_reach(run, TARGET) for run in runs]
        reach_v = [float(r) if r is not None else math.inf for r in reach]
        med = np.median(reach_v)
        reached = f"{med:g}" if math.isfinite(med) else f">{budget}"
        lines.append("| " + " | ".join([name] + [cell([at(r, n) for r in runs]) for n in marks]
                                       + [f"{reached} ({sum(r is not None for r in reach)}/{len(runs)} reach)",
                                          f"{1000 * np.median(cpu[name]):.1f}"]) + " |")
    return lines


def _paired_row(name: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """One table row: per mark, our wins, ties, Wilcoxon p and median difference against one peer."""
    cells, ok = [], True
    for a, b in pairs:
        wins = int(np.sum(a > b))
        p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
        ok &= wins >= 13 and np.median(a) > np.median(b)
        cells.append(f"{wins}/{len(a)} (ties {int(np.sum(a == b))}) / {p:.3g} / {np.median(a - b):+.4f}")
    return f"| {name} | " + " | ".join(cells) + f" | {'**yes**' if ok else '**no**'} |"


def _paired_header(first: str, marks: list[int]) -> list[str]:
    return [f"| {first} | " + " | ".join(f"wins @ {n} / p / median diff" for n in marks)
            + " | ahead in median and >= 13 wins at both? |", "|---|---|---|---|"]


def paired(curves: dict[str, list[list[float]]], size: int) -> list[str]:
    """Model-based against each peer at 10% and 20%: wins, median difference, Wilcoxon p."""
    marks = [max(1, round(m * size)) for m in (0.10, 0.20)]
    ours = curves[OURS]
    return _paired_header("peer", marks) + [
        _paired_row(name, [(np.array([at(r, n) for r in ours]), np.array([at(r, n) for r in runs])) for n in marks])
        for name, runs in curves.items() if name != OURS]


def paired_stored(ours: list[list[float]], stored: dict[str, dict[str, list[float]]], size: int) -> list[str]:
    """Like :func:`paired`, against peers' per-seed fractions stored by an earlier run of this script
    (``--against``: its JSON's ``hv_at``, same seeds and table) instead of runs in this process."""
    marks = [max(1, round(m * size)) for m in (0.10, 0.20)]
    return _paired_header("peer (stored)", marks) + [
        _paired_row(name, [(np.round(np.array([at(r, n) for r in ours]), 6), np.round(np.array(fractions[str(n)]), 6))
                           for n in marks])
        for name, fractions in stored.items() if name != OURS]


def markdown(result: dict[str, Any], args: argparse.Namespace, size: int, budget: int) -> str:
    out = [f"# Every strategy against its peers on the tabular digits benchmark ({size} architectures)", "",
           f"Generated by `benchmarks/tabular/compare_peers.py`: seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, "
           f"{budget} distinct evaluations per run (20% of the table), paired by seed. Model-based settings: "
           f"{MODEL_BASED or 'defaults'} (chosen on seeds 0-19). Hypervolume fraction = hypervolume of the first k "
           "evaluated architectures over that of the whole table; median [min, max] over seeds. CPU ms / proposal: "
           "process CPU time of a whole run (strategy + NNI engine + table lookups) over its evaluations, "
           "median over seeds; NNI Random's figure is the engine's own overhead.", ""]
    out += [f"Table: `{args.table.name}`" + (" (a multi-fidelity table, scored at its top epoch, mean over its seeds)."
                                              if args.table.name != TABLE_PATH.name and "mf" in args.table.name else "."), ""]
    if args.note:
        out += [args.note, ""]
    for kind, curves in result["curves"].items():
        ref = dict(zip(("accuracy", "params"), result["references"][kind]["values"]))
        out += [f"## {kind.capitalize()} reference: accuracy {ref['accuracy']:.4f}, params {ref['params']:g}", ""]
        out += table(curves, result["cpu"], size, budget) + [""]
        if OURS in curves and len(curves) > 1:
            out += [f"Paired, `{OURS}` against each peer (wins = seeds where it has the larger fraction; "
                    "two-sided Wilcoxon signed-rank p):", ""] + paired(curves, size) + [""]
        if OURS in curves and args.against is not None:
            stored = json.loads(args.against.read_text())
            if stored["seeds"] != [args.first_seed, args.seeds] or stored["budget"] != budget:
                raise SystemExit(f"--against {args.against}: seeds {stored['seeds']}, budget {stored['budget']}; "
                                 f"this run: {[args.first_seed, args.seeds]}, {budget}.")
            out += [f"Paired, `{OURS}` of this run against the peers' per-seed fractions stored in "
                    f"`{args.against.name}` (same seeds and table; the peers' code is unchanged):", ""]
            out += paired_stored(curves[OURS], {k: v for k, v in stored["hv_at"][kind].items() if k not in curves},
                                 size) + [""]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=20)
    parser.add_argument("--only", default=",".join(STRATEGIES), help="comma-separated strategies")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--note", default="")
    parser.add_argument("--cache", type=Path, default=None, help="JSON of finished strategies' runs, reused")
    parser.add_argument("--against", type=Path, default=None,
                        help="also pair the model-based runs with the per-seed fractions of the peers stored in "
                        "this JSON (written by an earlier run, same seeds)")
    parser.add_argument("--table", type=Path, default=TABLE_PATH,
                        help="the table to search: tabular_digits.csv's format, or a multi-fidelity table (columns "
                        "key, seed, epoch, params, flops, accuracy, seconds) scored at its top epoch, mean over seeds")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("nni").setLevel(logging.WARNING)
    if args.cache is not None and args.cache.resolve() == Path(args.out.removesuffix(".md") + ".json").resolve():
        parser.error(f"`--cache` must differ from the summary JSON that `--out` implies, got {args.cache}.")
    with tempfile.TemporaryDirectory() as work:
        table = scored_table(args.table, Path(work))
        rows = load_table(str(table))
        budget = round(0.20 * len(rows))
        names = args.only.split(",")
        result = run_all(names, range(args.first_seed, args.first_seed + args.seeds), budget, rows, print,
                         args.cache, table)
    atomic_write_text(args.out, markdown(result, args, len(rows), budget))
    marks = [max(1, round(m * len(rows))) for m in MARKS]
    atomic_write_json(args.out.removesuffix(".md") + ".json", {
        "seeds": [args.first_seed, args.seeds], "budget": budget, "totals": result["totals"], "cpu": result["cpu"],
        "hv_at": {k: {n: {str(m): [round(at(r, m), 6) for r in runs] for m in marks} for n, runs in c.items()}
                  for k, c in result["curves"].items()}})
    print(json.dumps({"out": args.out}))


if __name__ == "__main__":
    main()
