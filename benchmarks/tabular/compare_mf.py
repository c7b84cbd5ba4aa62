"""Every strategy on the multi-fidelity table at its top budget, and the multi-fidelity ones with their cost in epochs.

The table is ``results/bench/tabular_mf_digits.csv`` (``build_mf_table.py``): the 216
architectures of ``tabular_space.py``, accuracy after each of 8 epochs of one 8-epoch run, two
seeds. Scoring uses the top budget, the mean of the two seeds (``tabular_mf_table.budget_rows``).

- Full-fidelity strategies (every one of ``compare_peers.py``: ours, NNI's, Optuna's, pymoo's) run
  exactly as there, by ``compare_peers.run_all`` on the top-budget table written in
  ``tabular_digits.csv``'s format: each evaluation is one 8-epoch training, 43 distinct
  evaluations (20% of the table, 344 epochs) per run.
- ``mo_asha`` (``strategies.mo_asha.MultiObjectiveASHA``) runs in a real ``NasExperiment`` on the
  sequential engine with ``FunctionalEvaluator(tabular_mf_table.lookup_mf_trial)``: the strategy
  sets each trial's ``epochs`` (its rung's budget), the trial reports the table's mean accuracy at
  that budget. Promotions continue the lower-budget run (``checkpoint_dir``, the checkpointed
  ASHA of Li et al.; the lookup's checkpoint is the epoch reached, ``tabular_mf_table.table_checkpoint``):
  a continued promotion reports ``trained_epochs = b_{k+1} - b_k`` and the run's cost is the
  strategy's own accounting, ``MultiObjectiveASHA.epochs_trained`` (its epoch budget is spent by it
  too). The cost if every promotion retrained its budget from scratch (the same trials, each costing
  its whole budget) is reported as a secondary line. Its hypervolume counts only its trials at the
  top budget (the frontier rule).
  For the common table, its curve is put on the same axis as the others: the value at "k
  evaluations" is its hypervolume after ``8 k`` epochs.
- ``model_based_asha`` (``strategies.model_based_asha.ModelBasedASHA``: MO-ASHA whose new
  architectures are proposed by EHVI fitted on the highest rung with 8 'ok' trials) runs and is
  costed exactly as ``mo_asha``, with the same rung settings, and is also paired with ``mo_asha``
  by seed (hypervolume at half and at all of NSGA-II's epochs).

The requirement (issue): MO-ASHA reaches the hypervolume that full-fidelity NSGA-II (our
``evolution``) reaches at its 20% budget (43 evaluations = 344 epochs) with at most half of the
training epochs (172), median over seeds. Checked two ways: (a) the median over seeds of
MO-ASHA's hypervolume at 172 epochs against NSGA-II's median at 344; (b) per seed, the epochs
MO-ASHA needs to reach that seed's NSGA-II hypervolume at 344 epochs, median over seeds <= 172.
The requirement counts as met when (a) holds; (b) is the paired view. Both lines are given for each
multi-fidelity strategy.

Settings of MO-ASHA (``min_epochs``, ``eta``) are chosen on seeds 0-19 (``--tune``, which writes
``compare_mf_tune_digits.json``) and reported on seeds 20-39; ``model_based_asha`` takes the same
rung settings (not tuned for it) and ``ModelBasedASHA``'s defaults otherwise.

    python benchmarks/tabular/compare_mf.py --tune                  # seeds 0-19, MO-ASHA settings
    python benchmarks/tabular/compare_mf.py [--only mo_asha,model_based_asha,evolution] [--table-seeds 0,1]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from compare_peers import MARKS, OURS, STRATEGIES, at, cell, paired, run_all, table
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig
from scipy.stats import wilcoxon
from tabular_mf_table import (
    MF_TABLE_PATH,
    SEEDS,
    TOP_EPOCHS,
    budget_rows,
    lookup_mf_trial,
    read_mf_table,
    top_table_csv,
)
from tabular_space import TabularSubspace, choice_key
from tabular_table import Row, rows_hypervolume

from nas_sepconv.core.io import atomic_write_json, atomic_write_text
from strategies.mo_asha import MultiObjectiveASHA
from strategies.model_based_asha import ModelBasedASHA

OUT = MF_TABLE_PATH.parent / "compare_mf_digits.md"
TUNE_OUT = MF_TABLE_PATH.parent / "compare_mf_tune_digits.json"
ASHA = "mo_asha"
MB_ASHA = "model_based_asha"
MULTI_FIDELITY = {ASHA: MultiObjectiveASHA, MB_ASHA: ModelBasedASHA}   # run by asha_runs, in this order
TUNE_GRID = ({"min_epochs": 1, "eta": 2}, {"min_epochs": 1, "eta": 3}, {"min_epochs": 1, "eta": 4},
             {"min_epochs": 2, "eta": 2}, {"min_epochs": 2, "eta": 3}, {"min_epochs": 4, "eta": 2})
ASHA_SETTINGS: dict[str, int] = {"min_epochs": 1, "eta": 3}   # replaced by the --tune choice below
FULL = "evolution"   # full-fidelity NSGA-II, the requirement's yardstick


def asha_trials(seed: int, table: Path, seeds: tuple[int, ...], epoch_budget: int,
                settings: dict[str, int], name: str = ASHA) -> list[dict[str, Any]]:
    """One run of the multi-fidelity strategy ``name`` (:data:`MULTI_FIDELITY`; promotions continue)
    on the multi-fidelity table: its trials in order as {key, epochs, trained (the epochs the
    strategy counted for it), ok}."""
    config = NasExperimentConfig("sequential", "simplified")
    evaluator = FunctionalEvaluator(lookup_mf_trial, table=str(table), epochs=TOP_EPOCHS, seeds=list(seeds))
    with tempfile.TemporaryDirectory() as work:
        strategy = MULTI_FIDELITY[name](max_epochs=TOP_EPOCHS, epoch_budget=epoch_budget, seed=seed,
                                      checkpoint_dir=Path(work) / "trainings", **settings)
        config.experiment_working_directory = work
        NasExperiment(TabularSubspace(), evaluator, strategy, config).run()
    return [{"key": choice_key(r.sample), "epochs": strategy.budget_of(r), "trained": strategy.trained_epochs(r.id),
             "ok": r.ok} for r in strategy.archive.records]


def asha_curve(trials: list[dict[str, Any]], top: dict[str, Row], reference, total: float,
               retrain: bool = False) -> tuple[list[int], list[float]]:
    """(cumulative epochs after each trial, hypervolume fraction of its top-budget trials so far).
    The cost of a trial is the epochs the strategy counted (``trained``); with ``retrain``, its
    whole budget (what the same trials cost if promotions retrained from scratch)."""
    cost, costs, fractions, seen = 0, [], [], []
    for trial in trials:
        cost += trial["epochs"] if retrain else trial["trained"]
        if trial["epochs"] == TOP_EPOCHS and trial["ok"]:
            seen.append(top[trial["key"]])
        costs.append(cost)
        fractions.append(rows_hypervolume(seen, reference) / total)
    return costs, fractions


def hv_at_epochs(curve: tuple[list[int], list[float]], epochs: float) -> float:
    """Hypervolume fraction of the trials ended within ``epochs`` epochs."""
    return max([f for c, f in zip(*curve) if c <= epochs], default=0.0)


def epochs_to(curve: tuple[list[int], list[float]], fraction: float) -> float:
    """Epochs after which the curve first reaches ``fraction`` (inf: never)."""
    return next((c for c, f in zip(*curve) if f >= fraction - 1e-12), math.inf)


def asha_runs(seeds: range, table: Path, table_seeds: tuple[int, ...], budget: int,
              settings: dict[str, int], references: dict, totals: dict, log, name: str = ASHA) -> dict[str, Any]:
    """The multi-fidelity strategy ``name`` (default MO-ASHA) over ``seeds``: trials, curves per
    reference (``curves``: the strategy's cost, promotions continued; ``retrain``: the same trials
    if promotions retrained), CPU ms per trial."""
    top = budget_rows(table, TOP_EPOCHS, table_seeds)
    out: dict[str, Any] = {"trials": [], "cpu": [], "curves": {k: [] for k in references},
                           "retrain": {k: [] for k in references}}
    wall = time.perf_counter()
    for seed in seeds:
        start = time.process_time()
        trials = asha_trials(seed, table, table_seeds, budget * TOP_EPOCHS, settings, name)
        out["cpu"].append((time.process_time() - start) / len(trials))
        out["trials"].append(trials)
        for kind, ref in references.items():
            out["curves"][kind].append(asha_curve(trials, top, ref, totals[kind]))
            out["retrain"][kind].append(asha_curve(trials, top, ref, totals[kind], retrain=True))
    log(f"{name} {settings}: {len(seeds)} seeds in {time.perf_counter() - wall:.0f} s")
    return out


def per_evaluation(curve: tuple[list[int], list[float]], budget: int) -> list[float]:
    """The curve on the full-fidelity axis: the value at k evaluations is the fraction after 8 k epochs."""
    return [hv_at_epochs(curve, k * TOP_EPOCHS) for k in range(1, budget + 1)]


def requirement(full: list[list[float]], asha: list[tuple], asha_retrain: list[tuple], budget: int,
                name: str = ASHA) -> list[str]:
    """Lines stating the requirement on one reference for the multi-fidelity strategy ``name``: (a)
    medians, (b) paired epochs to reach; ``asha`` at its own (continued-training) cost,
    ``asha_retrain`` the same trials at retraining cost."""
    full_epochs, half = budget * TOP_EPOCHS, budget * TOP_EPOCHS / 2
    targets = [run[budget - 1] for run in full]
    at_half = [hv_at_epochs(c, half) for c in asha]
    at_half_retrain = [hv_at_epochs(c, half) for c in asha_retrain]
    reach = [epochs_to(c, t) for c, t in zip(asha, targets)]
    reach_retrain = [epochs_to(c, t) for c, t in zip(asha_retrain, targets)]
    med_full, med_half = float(np.median(targets)), float(np.median(at_half))
    met_a, med_reach = med_half >= med_full, float(np.median(reach))
    wins = int(np.sum(np.array(at_half) >= np.array(targets)))
    diff = np.array(at_half) - np.array(targets)
    p = wilcoxon(at_half, targets).pvalue if np.any(diff != 0) else 1.0
    show = lambda v: f"{v:g}" if math.isfinite(v) else f">{full_epochs}"  # noqa: E731
    return [
        f"- (a) median hypervolume fraction: {FULL} (full fidelity) at {budget} evaluations = {full_epochs:g} epochs "
        f"{cell(targets)}; {name} at {half:g} epochs {cell(at_half)}: "
        f"**{'met' if met_a else 'not met'}** (promotions continue training; if they retrained from scratch: "
        f"{np.median(at_half_retrain):.4f} at {half:g} epochs).",
        f"- (b) paired: {name} at {half:g} epochs >= {FULL} at {full_epochs:g} in {wins}/{len(targets)} seeds "
        f"(median difference {np.median(diff):+.4f}, Wilcoxon p {p:.3g}); epochs {name} needs to reach its seed's "
        f"{FULL} hypervolume: median {show(med_reach)} [{show(min(reach))}, {show(max(reach))}] "
        f"({sum(math.isfinite(r) for r in reach)}/{len(reach)} reach within {full_epochs:g}), "
        f"{'<=' if med_reach <= half else '>'} {half:g}; at retraining cost median "
        f"{show(float(np.median(reach_retrain)))}.",
    ]


def paired_mf(ours: list[tuple], theirs: list[tuple], budget: int, name: str, other: str) -> list[str]:
    """Lines pairing two multi-fidelity strategies by seed at half and at all of the full-fidelity epochs."""
    lines = []
    for epochs in (budget * TOP_EPOCHS / 2, budget * TOP_EPOCHS):
        a = np.array([hv_at_epochs(c, epochs) for c in ours])
        b = np.array([hv_at_epochs(c, epochs) for c in theirs])
        p = wilcoxon(a, b).pvalue if np.any(a != b) else 1.0
        lines.append(f"- at {epochs:g} epochs: `{name}` {cell(list(a))} against `{other}` {cell(list(b))}: larger in "
                     f"{int(np.sum(a > b))}, equal in {int(np.sum(a == b))} of {len(a)} seeds (median difference "
                     f"{np.median(a - b):+.4f}, Wilcoxon p {p:.3g}).")
    return lines


def tune(args: argparse.Namespace, table: Path, table_seeds: tuple[int, ...], top_csv: Path,
         out: Path = TUNE_OUT) -> dict[str, Any]:
    """Seeds 0-19: NSGA-II's 20% hypervolume per seed, and MO-ASHA's at half its epochs for each
    setting of :data:`TUNE_GRID`; the chosen setting has the best median (declared reference)."""
    seeds = range(0, args.seeds)
    rows = budget_rows(table, TOP_EPOCHS, table_seeds)
    budget = round(0.20 * len(rows))
    full = run_all([FULL], seeds, budget, rows, print, table=top_csv)
    result: dict[str, Any] = {"seeds": [0, args.seeds - 1], "budget": budget, "settings": []}
    for settings in TUNE_GRID:
        runs = asha_runs(seeds, table, table_seeds, budget, settings, _refs(full), full["totals"], print)
        entry = {"settings": settings}
        for kind in full["curves"]:
            targets = [run[budget - 1] for run in full["curves"][kind][FULL]]
            at_half = [hv_at_epochs(c, budget * TOP_EPOCHS / 2) for c in runs["curves"][kind]]
            entry[kind] = {"median_at_half": float(np.median(at_half)), "median_full": float(np.median(targets)),
                           "wins": int(np.sum(np.array(at_half) >= np.array(targets))),
                           "median_epochs_to_full": float(np.median([epochs_to(c, t) for c, t in
                                                                     zip(runs["curves"][kind], targets)]))}
        result["settings"].append(entry)
        print(json.dumps(entry))
    best = max(result["settings"], key=lambda e: e["declared"]["median_at_half"])
    result["chosen"] = best["settings"]
    atomic_write_json(out, result)
    return result


def _refs(result: dict[str, Any]) -> dict:
    from nas_sepconv.frontier.pareto import ReferencePoint

    return {k: ReferencePoint.from_dict(v) for k, v in result["references"].items()}


def markdown(result: dict[str, Any], mf: dict[str, dict[str, Any]], args: argparse.Namespace, size: int, budget: int,
             settings: dict[str, int], tuned: dict[str, Any] | None, table_seeds: tuple[int, ...]) -> str:
    """The report; ``mf``: the runs of each multi-fidelity strategy (:func:`asha_runs`), by name."""
    first, last = args.first_seed, args.first_seed + args.seeds - 1
    out = [f"# Multi-fidelity: every strategy on the multi-fidelity digits table ({size} architectures)", "",
           f"Generated by `benchmarks/tabular/compare_mf.py` from `{MF_TABLE_PATH.name}` (accuracy after each of "
           f"{TOP_EPOCHS} epochs of one {TOP_EPOCHS}-epoch run; scored at the top budget, mean of seeds "
           f"{', '.join(map(str, table_seeds))}): seeds {first}..{last}, paired by seed. Full-fidelity strategies: "
           f"{budget} distinct evaluations of {TOP_EPOCHS} epochs each ({budget * TOP_EPOCHS} epochs, 20% of the "
           f"table), as in `compare_peers.py`. `{ASHA}`: MO-ASHA ({settings}, rungs "
           f"{MultiObjectiveASHA(max_epochs=TOP_EPOCHS, **settings).rungs} epochs); `{MB_ASHA}`: the same rungs, "
           f"new architectures proposed by EHVI on the highest rung with 8 'ok' trials (`ModelBasedASHA`). Each "
           f"has a budget of {budget * TOP_EPOCHS} epochs; its row is on the same axis: the value at k evaluations "
           f"is its hypervolume (top-budget trials only) after {TOP_EPOCHS} k training epochs, its cost the "
           f"strategy's own count (a promoted trial continues its lower-budget run and trains only the epochs "
           f"beyond it). CPU ms / proposal: process CPU time of a whole run over its evaluations (the "
           f"multi-fidelity ones: over their trials).", ""]
    if tuned is not None:
        lo, hi = tuned["seeds"]
        out += [f"MO-ASHA's settings were chosen on seeds {lo}-{hi} (`--tune`, declared reference; median hypervolume "
                f"fraction at {budget * TOP_EPOCHS // 2} epochs against NSGA-II's median at {budget * TOP_EPOCHS}):", "",
                "| setting | MO-ASHA @ half epochs | NSGA-II @ 20% | seeds MO-ASHA >= NSGA-II | epochs to NSGA-II's HV |",
                "|---|---|---|---|---|"]
        for e in tuned["settings"]:
            d = e["declared"]
            out.append(f"| {e['settings']} | {d['median_at_half']:.4f} | {d['median_full']:.4f} | {d['wins']}/{hi - lo + 1} | "
                       f"{d['median_epochs_to_full']:g} |")
        out += ["", f"Chosen: {tuned['chosen']}.", ""]
    if args.note:
        out += [args.note, ""]
    for kind, curves in result["curves"].items():
        ref = dict(zip(("accuracy", "params"), result["references"][kind]["values"]))
        curves = {**curves, **{n: [per_evaluation(c, budget) for c in runs["curves"][kind]] for n, runs in mf.items()}}
        cpu = {**result["cpu"], **{n: runs["cpu"] for n, runs in mf.items()}}
        out += [f"## {kind.capitalize()} reference: accuracy {ref['accuracy']:.4f}, params {ref['params']:g}", ""]
        out += table(curves, cpu, size, budget) + [""]
        if FULL in curves:
            for name, runs in mf.items():
                out += [f"Requirement: `{name}` reaches full-fidelity NSGA-II's 20% hypervolume with at most half "
                        "the training epochs, median over seeds:", ""]
                out += requirement(result["curves"][kind][FULL], runs["curves"][kind], runs["retrain"][kind], budget,
                                   name)
                out += [""]
        if ASHA in mf and MB_ASHA in mf:
            out += [f"Paired by seed, `{MB_ASHA}` against `{ASHA}` (hypervolume fraction at the epochs given):", ""]
            out += paired_mf(mf[MB_ASHA]["curves"][kind], mf[ASHA]["curves"][kind], budget, MB_ASHA, ASHA) + [""]
        if OURS in curves:
            out += [f"Paired, `{OURS}` against each peer (wins = seeds where it has the larger fraction; "
                    "two-sided Wilcoxon signed-rank p):", ""] + paired(curves, size) + [""]
    for name, runs in mf.items():
        trials = [len(t) for t in runs["trials"]]
        top = [sum(1 for x in t if x["epochs"] == TOP_EPOCHS) for t in runs["trials"]]
        out += [f"`{name}` runs: {np.median(trials):g} trials per run (median; [{min(trials)}, {max(trials)}]), of "
                f"which {np.median(top):g} at the top budget.", ""]
    return "\n".join(out) + "\n"


def partial_report(table: Path, table_seeds: tuple[int, ...]) -> str:
    """The report of an unfinished table: what it holds, and (preliminary, no strategy run) how well
    each budget ranks the architectures done so far by their top-budget accuracy (Spearman)."""
    from scipy.stats import spearmanr

    finished = [r for r in read_mf_table(table) if r.epoch == TOP_EPOCHS]
    runs = {(r.key, r.seed) for r in finished}
    per_seed = {s: sum(1 for _, x in runs if x == s) for s in SEEDS}
    hours = sum(r.seconds for r in finished) / 3600
    out = ["# Multi-fidelity: every strategy on the multi-fidelity digits table", "",
           f"**Not scored yet**: `{Path(table).name}` holds {len(runs)} of {216 * len(SEEDS)} runs "
           f"({', '.join(f'seed {s}: {n} of 216' for s, n in per_seed.items())}); the comparison needs all 216 "
           f"architectures with seeds {', '.join(map(str, table_seeds))}. So the requirement (MO-ASHA reaches "
           "full-fidelity NSGA-II's 20% hypervolume with at most half the epochs) is **not checked** yet. The runs so "
           f"far took {len(runs) * TOP_EPOCHS} training epochs, {hours:.1f} hours of wall time in all (one thread each, "
           "on a shared machine). To finish:", "",
           "    python benchmarks/tabular/build_mf_table.py    # resumes; skips the runs in the file",
           "    python benchmarks/tabular/compare_mf.py --tune # MO-ASHA's settings, seeds 0-19",
           "    python benchmarks/tabular/compare_mf.py        # every strategy, seeds 20-39", ""]
    for seed in SEEDS:
        top = budget_rows(table, TOP_EPOCHS, (seed,))
        if len(top) < 5:
            continue
        keys = sorted(top)
        out += [f"Preliminary, seed {seed}, the {len(keys)} architectures done so far: Spearman rank correlation "
                f"of the accuracy after b epochs with the accuracy after {TOP_EPOCHS} (how well a low budget "
                "ranks; not a search result):", "", "| b | " + " | ".join(map(str, range(1, TOP_EPOCHS))) + " |",
                "|---|" + "---|" * (TOP_EPOCHS - 1)]
        cells = []
        for b in range(1, TOP_EPOCHS):
            low = budget_rows(table, b, (seed,))
            cells.append(f"{spearmanr([low[k].accuracy for k in keys], [top[k].accuracy for k in keys])[0]:.3f}")
        out += ["| Spearman | " + " | ".join(cells) + " |", ""]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=20)
    parser.add_argument("--only", default=",".join((*STRATEGIES, *MULTI_FIDELITY)), help="comma-separated strategies")
    parser.add_argument("--table", type=Path, default=MF_TABLE_PATH)
    parser.add_argument("--table-seeds", default=",".join(map(str, SEEDS)), help="training seeds scored (mean)")
    parser.add_argument("--tune", action="store_true", help="choose MO-ASHA's settings on seeds 0-19")
    parser.add_argument("--tune-file", type=Path, default=TUNE_OUT, help="JSON --tune writes and a report reads")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--note", default="")
    parser.add_argument("--cache", type=Path, default=None, help="JSON of finished strategies' runs, reused")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("nni").setLevel(logging.WARNING)
    table_seeds = tuple(int(s) for s in args.table_seeds.split(","))
    rows = budget_rows(args.table, TOP_EPOCHS, table_seeds)
    if len(rows) != 216:
        atomic_write_text(args.out, partial_report(args.table, table_seeds))
        raise SystemExit(f"{args.table}: {len(rows)} of 216 architectures have seeds {table_seeds} at "
                         f"{TOP_EPOCHS} epochs; wrote the partial state to {args.out}. Finish build_mf_table.py "
                         f"(or pass --table-seeds) and run this again.")
    with tempfile.TemporaryDirectory() as work:
        top_csv = top_table_csv(args.table, Path(work) / "top.csv", TOP_EPOCHS, table_seeds)
        if args.tune:
            tune(args, args.table, table_seeds, top_csv, args.tune_file)
            return
        tuned = json.loads(args.tune_file.read_text()) if args.tune_file.exists() else None
        settings = dict(tuned["chosen"]) if tuned is not None else ASHA_SETTINGS
        names = args.only.split(",")
        budget = round(0.20 * len(rows))
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        result = run_all([n for n in names if n not in MULTI_FIDELITY], seeds, budget, rows, print, args.cache,
                         table=top_csv)
        mf = {n: asha_runs(seeds, args.table, table_seeds, budget, settings, _refs(result), result["totals"], print, n)
              for n in MULTI_FIDELITY if n in names}
    atomic_write_text(args.out, markdown(result, mf, args, len(rows), budget, settings, tuned, table_seeds))
    marks = [max(1, round(m * len(rows))) for m in MARKS]
    atomic_write_json(args.out.removesuffix(".md") + ".json", {
        "seeds": [args.first_seed, args.seeds], "budget": budget, "totals": result["totals"], "cpu": result["cpu"],
        "table_seeds": list(table_seeds), "mo_asha_settings": settings,
        "hv_at": {k: {n: {str(m): [round(at(r, m), 6) for r in runs] for m in marks} for n, runs in c.items()}
                  for k, c in result["curves"].items()},
        **{n: {"cpu": runs["cpu"], "trials": runs["trials"]} for n, runs in mf.items()}})
    print(json.dumps({"out": args.out}))


if __name__ == "__main__":
    main()
