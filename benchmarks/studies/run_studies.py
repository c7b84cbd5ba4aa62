"""Run the reproduction studies on digits and write their CSVs, figures and summary tables.

    python benchmarks/studies/run_studies.py conv-types [--convs conv dw ...]
    python benchmarks/studies/run_studies.py gamma | xsep | decompose | report
    python benchmarks/studies/run_studies.py all      # every study whose ops are registered, then report

1. ``conv-types`` (osep paper Fig. 3(a)/(c)): ResNet-20 with each conv type, widths matched
   to each of :data:`BUDGETS` #params.
2. ``gamma`` (osep paper Table 2): o-ResNet-20 per overlap coefficient in :data:`GAMMAS`,
   each matched to :data:`MATCHED_BUDGET`; its limit columns (dw, conv) come from study 1.
3. ``xsep`` (XSepConv paper Tables 2-3): xsep-ResNet-20 at width :data:`XSEP_WIDTH` per 2x2
   placement, plus the standard placement under the default init (the recipe check).
4. ``decompose`` (depth-wise decomposition paper Table 3): see ``decomposition_study.py``.

Each (config, seed) is one CSV row under results/studies/, written as soon as it is trained;
re-running skips rows already there. Studies whose op is not registered yet are skipped
with a message. ``report`` redraws every figure and ``summary.md`` from the CSVs alone.
"""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SEEDS, STUDY_DIR, RunConfig, op_available, run_configs  # noqa: E402
from matching import matched_config  # noqa: E402

BUDGETS = (5_000, 15_000, 45_000)
MATCHED_BUDGET = 15_000
CONV_TYPES = ("conv", "dw", "dsep", "spatial", "osep", "so_sep", "blk", "xsep")
GAMMAS = ("1/16", "1/4", "1", "4", "16", "64")
XSEP_WIDTH = 16
PLACEMENTS = ("standard", "B", "P", "none")
CSV = {"conv_types": STUDY_DIR / "conv_types.csv", "gamma": STUDY_DIR / "gamma.csv",
       "xsep_placement": STUDY_DIR / "xsep_placement.csv", "decomposition": STUDY_DIR / "decomposition.csv"}


def conv_type_configs(convs: tuple[str, ...] = CONV_TYPES) -> list[RunConfig]:
    """Every (conv type, budget) network of study 1, widths matched by #params."""
    return [matched_config(conv, budget) for budget in BUDGETS for conv in convs]


def gamma_configs() -> list[RunConfig]:
    """Study 2: osep with each gamma, matched to :data:`MATCHED_BUDGET` (variant = the gamma as written)."""
    return [matched_config("osep", MATCHED_BUDGET, {"gamma": float(Fraction(g))}, variant=g) for g in GAMMAS]


def placement_configs() -> list[RunConfig]:
    """Study 3: one width, every placement; plus the standard placement without zero-init residual."""
    configs = [RunConfig("xsep", XSEP_WIDTH, {"placement": p}, variant=p) for p in PLACEMENTS]
    return configs + [RunConfig("xsep", XSEP_WIDTH, {"placement": "standard"}, init="default",
                                variant="standard, default init")]


def run_conv_types(convs: tuple[str, ...]) -> None:
    ready = tuple(c for c in convs if op_available(c))
    missing = sorted(set(convs) - set(ready))
    if missing:
        print(f"[conv_types] skipped, op not registered: {', '.join(missing)}", flush=True)
    run_configs("conv_types", CSV["conv_types"], conv_type_configs(ready))


def run_gamma() -> None:
    if not op_available("osep"):
        print("[gamma] skipped: osep_3x3 is not registered", flush=True)
        return
    run_configs("gamma", CSV["gamma"], gamma_configs())


def run_xsep() -> None:
    run_configs("xsep_placement", CSV["xsep_placement"], placement_configs())


def run_decompose() -> None:
    import decomposition_study
    decomposition_study.run(CSV["decomposition"], SEEDS)


def run_report() -> None:
    import report
    report.write_all(CSV, STUDY_DIR)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("conv-types", "gamma", "xsep", "decompose", "report", "all"))
    parser.add_argument("--convs", nargs="+", default=list(CONV_TYPES), choices=CONV_TYPES,
                        help="conv types for conv-types (default: all)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("nni").setLevel(logging.ERROR)
    steps = {"conv-types": lambda: run_conv_types(tuple(args.convs)), "gamma": run_gamma, "xsep": run_xsep,
             "decompose": run_decompose, "report": run_report}
    order = ("conv-types", "xsep", "decompose", "gamma", "report") if args.study == "all" else (args.study,)
    for step in order:
        steps[step]()


if __name__ == "__main__":
    main()
