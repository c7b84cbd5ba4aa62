"""``nas-sepconv decompose``: a trained ResNet's convs made depth-wise separable from sampled activations."""
from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import torch

from nas_sepconv.cli._dense_model import (
    DenseModel,
    add_finetune_arguments,
    add_model_arguments,
    prepare_model,
    run_in_output_dir,
    save_state,
)
from nas_sepconv.cli._shared import check_seed_and_threads
from nas_sepconv.compress.decompose import METHODS, LayerError, decompose_model, fine_tune
from nas_sepconv.core.io import atomic_write_json, atomic_write_text
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.evaluation.train import evaluate
from nas_sepconv.ops import count_built
from nas_sepconv.runs.run_dir import package_versions


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decompose", help="turn a trained ResNet's 3x3 convs into depth-wise + point-wise",
                       description=__doc__.split("``: ")[1] + " Methods: gsvd (Algorithm 2, inter-channel error "
                       "compensation, and layer by layer from the decomposed network's input, Eq. 10), svd "
                       "(Algorithm 1) and channel (the channel-decomposition baseline at the same speed-up). "
                       "Then fine-tunes (Sec. 3.7). Writes layers.csv (relative error per layer), summary.json and "
                       "decomposed_<method>.pt.")
    add_model_arguments(p)
    p.add_argument("--method", nargs="+", choices=METHODS, default=["gsvd"], help="one or more methods (default gsvd)")
    p.add_argument("--independent", action="store_true",
                   help="fit every layer on the original network's input instead of layer by layer")
    p.add_argument("--images", type=int, default=300, help="training images sampled (default 300, as the paper)")
    p.add_argument("--patches", type=int, default=10, help="patches sampled per image (default 10, as the paper)")
    add_finetune_arguments(p, 10, ", as the paper: 10 epochs at 1e-4")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_seed_and_threads(args)
    check_positive_int("--images", args.images)
    check_positive_int("--patches", args.patches)
    check_positive_int("--finetune-epochs", args.finetune_epochs, minimum=0)
    return run_in_output_dir(args, "decompose", lambda out: _decompose_and_save(args, out))


def _sample_images(dense: DenseModel, count: int, seed: int) -> torch.Tensor:
    images = dense.data.train_images
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:count]]


def _decompose_and_save(args: argparse.Namespace, out: Path) -> int:
    dense = prepare_model(args, out)
    images = _sample_images(dense, args.images, args.seed)
    rows: list[dict] = []
    methods: dict[str, dict] = {}
    for method in dict.fromkeys(args.method):
        model, reports = decompose_model(dense.model, images, method=method, multi_layer=not args.independent,
                                         patches_per_image=args.patches, layers=args.layers, seed=args.seed)
        cost = count_built(model, dense.data.spec.image_size, dense.data.spec.in_channels)
        result = {"accuracy": evaluate(model, dense.data.test_images, dense.data.test_labels),
                  "params": cost.params, "flops": cost.flops,
                  "mean_rel_error": sum(r.rel_error for r in reports) / len(reports)}
        if args.finetune_epochs:
            tuned = fine_tune(model, dense.data, epochs=args.finetune_epochs, lr=args.finetune_lr,
                              batch_size=args.batch_size, seed=args.seed, device=args.device)
            result["finetuned_accuracy"] = tuned.accuracy
        save_state(out / f"decomposed_{method}.pt", model)
        methods[method] = result
        rows.extend(r.row() for r in reports)
    _write_table(out / "layers.csv", rows)
    atomic_write_json(out / "summary.json", {
        **dense.info, "layers": args.layers, "multi_layer": not args.independent, "images": len(images),
        "patches_per_image": args.patches, "finetune": {"epochs": args.finetune_epochs, "lr": args.finetune_lr},
        "dense": {"accuracy": dense.accuracy, "params": dense.cost.params, "flops": dense.cost.flops},
        "methods": methods, "versions": package_versions()})
    if not args.quiet:
        _print(dense, rows, methods, out)
    return 0


def _write_table(path: Path, rows: list[dict]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(LayerError.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def _print(dense: DenseModel, rows: list[dict], methods: dict[str, dict], out: Path) -> None:
    print(f"{'method':<8} {'layer':<22} {'c_in':>5} {'c_out':>5} {'rank':>4} {'speed-up':>8} {'rel.err':>8}")
    for r in rows:
        print(f"{r['method']:<8} {r['layer']:<22} {r['c_in']:>5} {r['c_out']:>5} {r['rank']:>4} "
              f"{r['speedup']:>8.2f} {r['rel_error']:>8.4f}")
    print(f"dense:    accuracy {dense.accuracy:.4f}, {dense.cost.params:,} params, {dense.cost.flops:,} FLOPs")
    for method, m in methods.items():
        tuned = f", fine-tuned {m['finetuned_accuracy']:.4f}" if "finetuned_accuracy" in m else ""
        print(f"{method + ':':<9} accuracy {m['accuracy']:.4f}{tuned}, {m['params']:,} params, {m['flops']:,} FLOPs")
    print(f"wrote {out}")
