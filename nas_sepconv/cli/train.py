"""``nas-sepconv train``: train a genotype with the DARTS recipe, save weights and metrics."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from nas_sepconv.cli._shared import (
    DEFAULT_MACRO,
    DEFAULTS,
    GENOTYPE_HELP,
    ResolvedGenotype,
    add_recipe_arguments,
    check_seed_and_threads,
    check_writable,
    first,
    merge_run_settings,
    resolve_genotype,
)
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write, atomic_write_json
from nas_sepconv.core.threads import default_threads
from nas_sepconv.evaluation.data import DATASETS, LoadedData, load_dataset, stem_for
from nas_sepconv.evaluation.device import resolve_device
from nas_sepconv.evaluation.record import FAILED, OK
from nas_sepconv.evaluation.train import SPLITS, TrainConfig, TrainingFailed, split_data, train_model
from nas_sepconv.genotypes.architecture import (
    Architecture,
    build_architecture,
    count_activations,
    count_architecture,
    is_backbone,
)
from nas_sepconv.models.activations import check_activation_memory
from nas_sepconv.models.preprocessing import cpu_state_dict
from nas_sepconv.ops import Cost
from nas_sepconv.runs.run_dir import package_versions, unique_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a genotype and write weights.pt and metrics.json",
                       description=__doc__.split("``: ")[1] + " Cosine-annealed SGD (momentum 0.9, weight "
                       "decay 3e-4, gradient clipping 5) with optional cutout, drop path and auxiliary head, "
                       "as in DARTS. By default it trains on the whole training part and reports top-1 on the "
                       "held-out test part.")
    p.add_argument("genotype", metavar="GENOTYPE", help=GENOTYPE_HELP)
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="data set (default: the run's for RUN#ID, else digits, embedded)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder of cifar10/cifar100 batches or images (default: the run's for RUN#ID)")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="test: train on the training part, score on the test part (default); search: "
                        "train on half the training part, score on the other half")
    add_recipe_arguments(p)
    p.add_argument("--cutout", type=int, default=DEFAULTS.cutout,
                   help=f"cutout side in pixels, 0 = off (default {DEFAULTS.cutout}; DARTS: 16 on CIFAR)")
    p.add_argument("--drop-path", type=float, default=DEFAULTS.drop_path,
                   help=f"final drop-path probability (default {DEFAULTS.drop_path}; DARTS: 0.2)")
    p.add_argument("--auxiliary", action="store_true", help="train with the auxiliary head (loss weight 0.4)")
    p.add_argument("--channels", type=int, default=None,
                   help="initial channels C (default: the genotype's, else the run's width for RUN#ID, else 16 on "
                        "digits, 36 otherwise)")
    p.add_argument("--layers", type=int, default=None,
                   help="number of cells (default: the genotype's, else the run's cells for RUN#ID, else 8 on "
                        "digits, 20 otherwise)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: the cores less the load average, at least 1)")
    p.add_argument("--device", default="auto", metavar="{auto,cpu,cuda,cuda:N}",
                   help="where to train: auto (CUDA when available, default), cpu, cuda or cuda:N")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: a new results/<time>-train-<genotype> directory)")
    noise = p.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true", help="no progress bar, only errors")
    noise.add_argument("--verbose", action="store_true", help="one line of metrics per epoch")
    p.set_defaults(run=run)


def _progress(bar: tqdm, verbose: bool) -> Callable[[int, dict], None]:
    def report(epoch: int, metrics: dict) -> None:
        bar.set_postfix(loss=f"{metrics['loss']:.3f}", acc=f"{metrics['eval_acc']:.3f}", refresh=False)
        bar.update(1)
        if verbose:
            bar.write(f"epoch {epoch}: loss {metrics['loss']:.4f}, train {metrics['train_acc']:.4f}, "
                      f"eval {metrics['eval_acc']:.4f}, lr {metrics['lr']:.5f}, {metrics['seconds']:.1f} s",
                      file=sys.stderr)
    return report


def _data_settings(args: argparse.Namespace, resolved: ResolvedGenotype) -> dict:
    """Dataset, data folder, channels and cells: flags over the run's (RUN#ID) over defaults."""
    data_dir = None if args.data_dir is None else str(args.data_dir)
    settings = merge_run_settings("train", resolved, {"dataset": args.dataset, "data_dir": data_dir,
                                                      "channels": args.channels, "layers": args.layers})
    settings.setdefault("dataset", "digits")
    if data_dir is None and settings["dataset"] != resolved.run.get("dataset"):
        settings["data_dir"] = None  # another data set than the run's: not the run's folder
    return settings


def run(args: argparse.Namespace) -> int:
    check_seed_and_threads(args)
    resolved = resolve_genotype(args.genotype)
    genotype, label = resolved.genotype, resolved.label
    resolve_device(args.device, "--device")
    threads, rule = ((args.threads, f"{args.threads} torch thread(s) (--threads)") if args.threads is not None
                     else default_threads(1))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, cutout=args.cutout,
                         drop_path=args.drop_path, seed=args.seed, num_threads=threads, device=args.device)
    args.resources = f"training on {config.torch_device()} with {rule}"  # said once the inputs are checked
    settings = _data_settings(args, resolved)
    args.dataset, args.data_dir = settings["dataset"], settings.get("data_dir")
    data = load_dataset(args.dataset, args.data_dir)
    network = _network(args, genotype, data, settings)
    built = {k: v for k, v in network.items() if k != "auxiliary"}
    check_activation_memory(count_activations(genotype, input_size=data.spec.image_size, **built), config.batch_size,
                            "`--batch-size`" + ("" if is_backbone(genotype) else ", `--channels` or `--layers`"))
    torch.manual_seed(config.seed)  # initial weights are a function of the seed
    model = build_architecture(genotype, drop_path=config.drop_path, **network)
    cost = count_architecture(genotype, input_size=data.spec.image_size, **built)
    created = args.out is None or not args.out.exists()
    out = unique_dir("results", f"train-{label}") if args.out is None else check_writable(args.out)
    try:
        return _train_and_save(args, genotype, model, data, config, network, cost, out)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def _network(args: argparse.Namespace, genotype: Architecture, data: LoadedData, settings: dict) -> dict:
    """Network settings: the cell network's macro (flags, else the genotype's, else the run's,
    else defaults), or only classes, input channels and stem for a ResNet or MobileNet genotype, which takes
    no cell flags."""
    stem = stem_for(args.dataset)
    common = {"num_classes": data.spec.num_classes, "in_channels": data.spec.in_channels, "stem": stem}
    if is_backbone(genotype):
        for flag, value in (("--channels", args.channels), ("--layers", args.layers),
                            ("--auxiliary", args.auxiliary), ("--drop-path", args.drop_path)):
            if value:
                raise UserError(f"`{flag}` does not apply to a {genotype.describe().split('-')[0]} genotype "
                                f"({genotype.describe()}), got {value!r}.")
        return common
    channels, layers = DEFAULT_MACRO[stem]
    return {"channels": first(args.channels, genotype.channels, settings.get("channels"), channels),
            "layers": first(args.layers, genotype.layers, settings.get("layers"), layers),
            "auxiliary": args.auxiliary, **common}


def _train_and_save(args: argparse.Namespace, genotype: Architecture, model: torch.nn.Module, data: LoadedData,
                    config: TrainConfig, network: dict, cost: Cost, out: Path) -> int:
    """Train, then write weights.pt and metrics.json (only metrics.json, marked failed, on divergence)."""
    preprocessing = data.spec.preprocessing().to_dict()
    metrics = {"genotype": genotype.to_dict(), "source": args.genotype, "dataset": args.dataset,
               "data_dir": None if args.data_dir is None else str(args.data_dir), "split": args.split,
               "network": network, "preprocessing": preprocessing, "train_config": config.to_dict(),
               "params": cost.params, "flops": cost.flops, "versions": package_versions()}
    if not args.quiet:
        print(args.resources, file=sys.stderr)
    with tqdm(total=config.epochs, desc="train", unit="epoch", disable=args.quiet, file=sys.stderr) as bar:
        try:
            result = train_model(model, split_data(data, args.split, seed=config.seed), config,
                                 progress=_progress(bar, args.verbose))
        except TrainingFailed as failure:
            atomic_write_json(out / "metrics.json", {**metrics, "status": FAILED, "reason": failure.reason})
            print(f"nas-sepconv train: training failed: {failure.reason}", file=sys.stderr)
            return 1
    atomic_write(out / "weights.pt", lambda fh: torch.save(cpu_state_dict(model), fh), binary=True)
    atomic_write_json(out / "preprocessing.json", preprocessing)
    atomic_write_json(out / "metrics.json", {**metrics, **result.to_dict(), "status": OK})
    if not args.quiet:
        print(f"{args.split} accuracy {result.accuracy:.4f} with {cost.params:,} params, {cost.flops:,} FLOPs "
              f"in {result.seconds:.1f} s; wrote {out / 'weights.pt'}, {out / 'preprocessing.json'} and "
              f"{out / 'metrics.json'}")
    return 0
