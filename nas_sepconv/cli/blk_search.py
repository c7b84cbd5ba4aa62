"""``nas-sepconv blk-search``: BlkSConv hyper-parameters of a trained ResNet by PCA (HSA) and the converted model."""
from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from nas_sepconv.cli._dense_model import (
    DenseModel,
    add_finetune_arguments,
    add_model_arguments,
    prepare_model,
    run_in_output_dir,
    save_state,
)
from nas_sepconv.cli._shared import check_seed_and_threads
from nas_sepconv.compress.decompose import fine_tune
from nas_sepconv.core.io import atomic_write_json
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.evaluation.train import evaluate
from nas_sepconv.ops import count_built
from nas_sepconv.runs.run_dir import package_versions


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("blk-search", help="choose BlkSConv (t, q) per layer of a trained ResNet by PCA, convert it",
                       description=__doc__.split("``: ")[1] + " For every block depth t in {1, 2, ..., 2^beta} "
                       "and q <= q_max principal components it computes the explained variance V(t,q), the "
                       "MAdds and the size; layers whose feasible set (Eq. 5) is empty stay dense. Writes "
                       "layers.csv, candidates.csv, summary.json and blk_model.pt (BlkSConv paper, Sec. III-C).")
    add_model_arguments(p)
    p.add_argument("--alpha-v", type=float, default=0.5, help="least explained variance V(t,q) in [0, 1] (default 0.5)")
    p.add_argument("--alpha-c", type=float, default=0.5, help="most MAdds as a share of the dense one's (default 0.5)")
    p.add_argument("--alpha-s", type=float, default=0.5, help="most params as a share of the dense one's (default 0.5)")
    p.add_argument("--beta", type=int, default=2, help="block depths t = 1, 2, ..., 2^beta (default 2)")
    p.add_argument("--q-max", type=int, default=8, help="most principal components q (gamma, default 8)")
    p.add_argument("--select", choices=("max", "min"), default="max",
                   help="largest (Eq. 6, default) or smallest (Eq. 7) size in the feasible set")
    add_finetune_arguments(p, 0, "")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_seed_and_threads(args)
    from nas_sepconv.compress.hsa import HSAConfig  # strategies/ imports NNI: only load it when used

    check_positive_int("--finetune-epochs", args.finetune_epochs, minimum=0)
    config = HSAConfig(alpha_v=args.alpha_v, alpha_c=args.alpha_c, alpha_s=args.alpha_s, beta=args.beta,
                       q_max=args.q_max, select=args.select)
    return run_in_output_dir(args, "blk-search", lambda out: _search_and_save(args, config, out))


def _search_and_save(args: argparse.Namespace, config, out: Path) -> int:
    from nas_sepconv.compress.hsa import blk_search, total_ratio, write_candidate_table, write_layer_table

    dense = prepare_model(args, out)
    converted, results = blk_search(dense.model, dense.input_shape, config, args.layers)
    accuracy = evaluate(converted, dense.data.test_images, dense.data.test_labels)
    cost = count_built(converted, dense.data.spec.image_size, dense.data.spec.in_channels)
    after = {"accuracy": accuracy, "params": cost.params, "flops": cost.flops}
    if args.finetune_epochs:
        after["finetuned_accuracy"] = fine_tune(converted, dense.data, epochs=args.finetune_epochs,
                                                lr=args.finetune_lr, batch_size=args.batch_size,
                                                seed=args.seed, device=args.device).accuracy
    params_ratio, flops_ratio = total_ratio(results)
    write_layer_table(out / "layers.csv", results)
    write_candidate_table(out / "candidates.csv", results)
    save_state(out / "blk_model.pt", converted)
    summary = {**dense.info, "hsa": asdict(config), "layers": args.layers,
               "dense": {"accuracy": dense.accuracy, "params": dense.cost.params, "flops": dense.cost.flops},
               "finetune": {"epochs": args.finetune_epochs, "lr": args.finetune_lr}, "converted": after,
               "searched_layers": {"count": len(results), "converted": sum(r.choice is not None for r in results),
                                   "params_ratio": params_ratio, "flops_ratio": flops_ratio},
               "choices": {r.conv.name: None if r.choice is None else {"t": r.choice.t, "q": r.choice.q,
                                                                       "variance": r.choice.variance}
                           for r in results},
               "versions": package_versions()}
    atomic_write_json(out / "summary.json", summary)
    if not args.quiet:
        _print(dense, results, after, out)
    return 0


def _print(dense: DenseModel, results, after: dict, out: Path) -> None:
    print(f"{'layer':<22} {'c_in':>5} {'c_out':>5} {'s':>2} {'t':>3} {'q':>3} {'V':>6} {'params':>8} {'ratio':>6}")
    for r in results:
        row, ch = r.row(), r.choice
        t, q, v = (ch.t, ch.q, f"{ch.variance:.3f}") if ch else ("-", "-", "-")
        print(f"{row['layer']:<22} {row['c_in']:>5} {row['c_out']:>5} {row['stride']:>2} {t:>3} {q:>3} {v:>6} "
              f"{row['params']:>8} {row['params_ratio']:>6.3f}")
    tuned = f", fine-tuned {after['finetuned_accuracy']:.4f}" if "finetuned_accuracy" in after else ""
    print(f"dense:     accuracy {dense.accuracy:.4f}, {dense.cost.params:,} params, {dense.cost.flops:,} FLOPs")
    print(f"converted: accuracy {after['accuracy']:.4f}{tuned}, {after['params']:,} params, {after['flops']:,} "
          f"FLOPs ({sum(r.choice is not None for r in results)}/{len(results)} layers converted)")
    print(f"wrote {out}")
