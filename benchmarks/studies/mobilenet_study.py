"""MobileNet reproduction study on digits: each paper's operator inside its own host network.

    python benchmarks/studies/mobilenet_study.py run [--epochs 6] [--seeds 0 1 2] [--studies v1-osep ...]
        [--variants dw ...]
    python benchmarks/studies/mobilenet_study.py report

Three comparisons, each at matched #params (every variant's width multiplier is the one on a
0.01 grid whose exact ``count_mobilenet`` #params is closest to its baseline's, as the papers
match budgets), 3 seeds, digits stem (8x8, 1 channel, stride-1 stem and first two stride-2
blocks at stride 1):

1. MobileNetV3-Small: dw vs XSepConv-MobileNetV3-Small (XSepConv paper, Section 4.2) with the
   2x2 conv placed standard / B / P / none (Section 4.3, Tables 2-3);
2. MobileNetV2: dw vs BlkNet-s1t1 / s1t2 / s2t1 (BlkSConv paper, Table 10);
3. MobileNetV1: dsep (dw+pw pairs as one op) vs osep (o-MobileNet; osep paper, Table 5).

Recipe: ``common.RECIPE`` (SGD 0.1, momentum 0.9, wd 1e-4, batch 128, cosine, clip 5) with
fewer epochs (default 6); all 1,438 training digits train, the 359 held-out digits score the
last epoch. Rows are appended to results/studies/mobilenet.csv as they finish (re-running
skips done rows); ``report`` writes results/studies/mobilenet.md from the CSV alone.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import STUDY_DIR, append_rows, digits, read_rows, train_config  # noqa: E402

from nas_sepconv.core.io import atomic_write_text  # noqa: E402
from nas_sepconv.evaluation.train import TrainingFailed, train_model  # noqa: E402
from nas_sepconv.models.mobilenet import build_mobilenet, count_mobilenet  # noqa: E402
from nas_sepconv.models.mobilenet_presets import blknet, xsepconv_v3_small_blocks  # noqa: E402

CSV = STUDY_DIR / "mobilenet.csv"
REPORT = STUDY_DIR / "mobilenet.md"
COLUMNS = ("study", "variant", "version", "width", "config", "seed", "params", "flops", "epochs", "accuracy",
           "seconds", "status", "reason")
BASE_WIDTH = {"v3-small": 0.5, "v2": 0.35, "v1": 0.25}
NET = dict(stem="digits", num_classes=10, in_channels=1)
ORDER = ("v1-osep", "v3-small-xsep", "v2-blk")


def _v3(placement: str | None) -> dict[str, Any]:
    return {} if placement is None else {"blocks": xsepconv_v3_small_blocks(placement=placement)}


STUDIES: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "v3-small-xsep": [("dw", "v3-small", _v3(None))] + [(f"xsep-{p}", "v3-small", _v3(p))
                                                        for p in ("standard", "B", "P", "none")],
    "v2-blk": [("dw", "v2", {})] + [(f"blk-s{s}t{t}", "v2", blknet(s, t)) for s, t in ((1, 1), (1, 2), (2, 1))],
    "v1-osep": [("dsep", "v1", {"ops": "dsep"}), ("osep", "v1", {"ops": "osep"})],
}


def matched_width(version: str, kwargs: dict[str, Any], target: int) -> float:
    """The width on a 0.01 grid (0.1 .. 2.0) whose #params is closest to ``target`` (narrower on ties)."""
    best = None
    for w100 in range(10, 201):
        params = count_mobilenet(version, width=w100 / 100, input_size=8, **NET, **kwargs).params
        key = (abs(params - target), w100)
        best = key if best is None or key < best else best
        if params > 2 * target:
            break
    return best[1] / 100


def configs() -> list[dict[str, Any]]:
    out = []
    for study, variants in STUDIES.items():
        base_version, base_kwargs = variants[0][1], variants[0][2]
        target = count_mobilenet(base_version, width=BASE_WIDTH[base_version], input_size=8, **NET,
                                 **base_kwargs).params
        for i, (variant, version, kwargs) in enumerate(variants):
            width = BASE_WIDTH[version] if i == 0 else matched_width(version, kwargs, target)
            out.append(dict(study=study, variant=variant, version=version, width=width, kwargs=kwargs))
    return out


def config_key(c: dict[str, Any]) -> str:
    kwargs = {k: ([b.to_dict() for b in v] if k == "blocks" else v) for k, v in c["kwargs"].items()}
    return f"{c['version']}|w={c['width']:g}|{json.dumps(kwargs, sort_keys=True, separators=(',', ':'))}"


def train_one(c: dict[str, Any], seed: int, epochs: int, data) -> dict[str, Any]:
    import torch

    torch.manual_seed(seed)
    model = build_mobilenet(c["version"], width=c["width"], **NET, **c["kwargs"])
    cost = count_mobilenet(c["version"], width=c["width"], input_size=8, **NET, **c["kwargs"])
    assert sum(p.numel() for p in model.parameters()) == cost.params
    row = dict(study=c["study"], variant=c["variant"], version=c["version"], width=c["width"], config=config_key(c),
               seed=seed, params=cost.params, flops=cost.flops, epochs=epochs)
    start = time.perf_counter()
    try:
        result = train_model(model, data, train_config(seed, epochs=epochs))
    except TrainingFailed as failure:
        return {**row, "accuracy": math.nan, "seconds": round(time.perf_counter() - start, 1), "status": "failed",
                "reason": failure.reason}
    return {**row, "accuracy": result.accuracy, "seconds": round(result.seconds, 1), "status": "ok", "reason": ""}


def run(epochs: int, seeds: list[int], studies: list[str], variants: list[str] | None = None) -> None:
    import torch

    torch.set_num_threads(1)
    done = {(r["config"], int(r["seed"]), int(r["epochs"])) for r in read_rows(CSV)}
    data = digits()
    by_study: dict[str, list[dict[str, Any]]] = {}
    for c in configs():
        by_study.setdefault(c["study"], []).append(c)
    # Study by study (cheapest first, so a CPU-bound session finishes whole comparisons), and
    # inside a study seed-major: every variant gets seed 0 before any gets seed 1.
    order = [(c, seed) for study in ORDER if study in studies for seed in seeds for c in by_study[study]
             if variants is None or c["variant"] in variants]
    for c, seed in order:
        if (config_key(c), seed, epochs) in done:
            continue
        row = train_one(c, seed, epochs, data)
        append_rows(CSV, COLUMNS, [row])
        print(f"{c['study']} {c['variant']} w={c['width']} seed {seed}: acc {row['accuracy']:.4f} "
              f"params {row['params']} ({row['seconds']} s)", flush=True)


def verdict(a: list[float], b: list[float]) -> str:
    """'holds' when a's worst seed beats b's best, 'reversed' when the opposite, else by medians within spread."""
    if min(a) > max(b):
        return "holds"
    if max(a) < min(b):
        return "reversed"
    return "same direction, within seed spread" if statistics.median(a) > statistics.median(b) else \
        "opposite direction, within seed spread"


#: The papers' claims checked per study, as (better, worse) variant pairs.
CLAIMS = {"v3-small-xsep": [("xsep-standard", "dw")] + [("xsep-standard", f"xsep-{p}") for p in ("B", "P", "none")],
          "v2-blk": [(f"blk-s{s}t{t}", "dw") for s, t in ((1, 1), (1, 2), (2, 1))],
          "v1-osep": [("osep", "dsep")]}


def report() -> str:
    rows = [r for r in read_rows(CSV) if r["status"] == "ok"]
    lines = ["# MobileNet study on digits (generated by benchmarks/studies/mobilenet_study.py report)\n",
             "Matched #params per comparison; accuracy = held-out digits (359 images) after the last epoch.",
             "Verdict: 'holds' when the worst seed of the claimed-better variant beats the best seed of the",
             "other, 'reversed' for the opposite, otherwise the direction of the medians within the seed spread.\n"]
    for study, variants in STUDIES.items():
        lines.append(f"## {study}\n")
        epochs_run = sorted({int(r["epochs"]) for r in rows if r["study"] == study})
        if not epochs_run:
            lines += ["Not run yet (no rows in mobilenet.csv).", ""]
        for epochs in epochs_run:
            lines += _study_table(study, variants, [r for r in rows if int(r["epochs"]) == epochs])
    text = "\n".join(lines) + "\n"
    atomic_write_text(REPORT, text)
    return text


def _study_table(study: str, variants, rows: list[dict[str, str]]) -> list[str]:
    lines = ["| variant | width | #params | FLOPs | epochs | seeds | median acc (%) | min-max (%) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    accs: dict[str, list[float]] = {}
    for variant, _, _ in variants:
        mine = [r for r in rows if r["study"] == study and r["variant"] == variant]
        if not mine:
            continue
        acc = [100 * float(r["accuracy"]) for r in mine]
        accs[variant] = acc
        lines.append(f"| {variant} | {mine[0]['width']} | {int(mine[0]['params']):,} | {int(mine[0]['flops']):,} "
                     f"| {mine[0]['epochs']} | {len(acc)} | {statistics.median(acc):.2f} | "
                     f"{min(acc):.2f}-{max(acc):.2f} |")
    lines.append("")
    for better, worse in CLAIMS[study]:
        if better in accs and worse in accs:
            seeds = min(len(accs[better]), len(accs[worse]))
            call = verdict(accs[better], accs[worse]) if seeds >= 3 else f"no verdict: {seeds} seed(s)"
            lines.append(f"- {better} > {worse} (the paper's claim): **{call}** "
                         f"({statistics.median(accs[better]):.2f} vs {statistics.median(accs[worse]):.2f})")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("run", "report", "configs"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--studies", nargs="+", choices=ORDER, default=list(ORDER))
    parser.add_argument("--variants", nargs="+", default=None, help="only these variants (e.g. dw xsep-standard)")
    args = parser.parse_args()
    if args.what == "configs":
        for c in configs():
            cost = count_mobilenet(c["version"], width=c["width"], input_size=8, **NET, **c["kwargs"])
            print(c["study"], c["variant"], c["width"], cost)
    elif args.what == "run":
        run(args.epochs, args.seeds, args.studies, args.variants)
        print(report())
    else:
        print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
