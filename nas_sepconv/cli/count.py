"""``nas-sepconv count``: exact #params and FLOPs of a genotype's network, without building it."""
from __future__ import annotations

import argparse

from nas_sepconv.cli._shared import DEFAULT_MACRO, GENOTYPE_HELP, first, merge_run_settings, resolve_genotype
from nas_sepconv.core.errors import UserError
from nas_sepconv.genotypes.architecture import Backbone, is_backbone
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.models.network import DEFAULT_IN_CHANNELS, DEFAULT_INPUT, STEMS, count
from nas_sepconv.ops import Cost

NUM_CLASSES = {"cifar": 10, "imagenet": 1000, "digits": 10}
DATASET_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("count", help="#params and FLOPs of a genotype's network",
                       description=__doc__.split("``: ")[1] + " #params exclude the auxiliary head (as "
                       "DARTS counts); FLOPs are multiply-adds of conv and linear layers. A RUN#ID counts the "
                       "network its run trained (dataset, stem, channels, cells from its config.json) unless "
                       "a flag says otherwise.")
    p.add_argument("genotype", metavar="GENOTYPE", help=GENOTYPE_HELP)
    p.add_argument("--stem", choices=STEMS, default=None,
                   help="network family: cifar (NetworkCIFAR), imagenet (NetworkImageNet) or digits "
                        "(default: the run's for RUN#ID, else cifar)")
    p.add_argument("--channels", type=int, default=None,
                   help="initial channels C (default: the run's, else the genotype's, else 36 cifar / 48 imagenet "
                        "/ 16 digits)")
    p.add_argument("--layers", type=int, default=None,
                   help="number of cells (default: the run's, else the genotype's, else 20 cifar / 14 imagenet / "
                        "8 digits)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classifier outputs (default: the run's data set's, else 10, 1000 for imagenet)")
    p.add_argument("--input-size", type=int, default=None,
                   help="input height = width (default: the run's data set's, else "
                        f"{', '.join(f'{s} {n}' for s, n in DEFAULT_INPUT.items())})")
    p.set_defaults(run=run)


def _data_shape(settings: dict) -> tuple[int | None, int | None, int]:
    """(classes, input size, input channels) of the run's data set, None where unknown without loading."""
    dataset = settings.get("dataset")
    if dataset == "folder":
        from nas_sepconv.evaluation.data import load_dataset

        spec = load_dataset("folder", settings.get("data_dir"), train_limit=8, test_limit=8).spec
        return spec.num_classes, spec.image_size[0], spec.in_channels
    size = {"digits": 8, "cifar10": 32, "cifar100": 32}.get(dataset)
    return DATASET_CLASSES.get(dataset), size, 1 if dataset == "digits" else 3


def run(args: argparse.Namespace) -> int:
    resolved = resolve_genotype(args.genotype)
    genotype, label = resolved.genotype, resolved.label
    settings = merge_run_settings("count", resolved, {"stem": args.stem, "channels": args.channels,
                                                      "layers": args.layers})
    stem = settings.get("stem", "cifar")
    run_classes, run_size, in_channels = _data_shape(settings) if resolved.run else (None, None, None)
    classes = first(args.num_classes, run_classes, NUM_CLASSES[stem])
    size = first(args.input_size, run_size, DEFAULT_INPUT[stem])
    if is_backbone(genotype):
        cost = _count_backbone(args, genotype, label, classes, size, stem, in_channels)
    else:
        channels, layers = DEFAULT_MACRO[stem]
        channels = first(args.channels, genotype.channels, settings.get("channels"), channels)
        layers = first(args.layers, genotype.layers, settings.get("layers"), layers)
        cost = count(genotype, num_classes=classes, channels=channels, layers=layers, stem=stem, input_size=size,
                     in_channels=in_channels)
        print(f"{label}: stem {stem}, C={channels}, {layers} cells, {classes} classes, input {size}x{size}")
    print(f"params: {cost.params:,}")
    print(f"FLOPs:  {cost.flops:,}")
    return 0


def _count_backbone(args: argparse.Namespace, genotype: Backbone, label: str, classes: int, size: int,
                    stem: str, in_channels: int | None) -> Cost:
    """A ResNet or MobileNet genotype: the stem sets the defaults (digits: 1 input channel, 8x8)
    and, for a MobileNet, its early strides."""
    kind = genotype.describe().split("-")[0]
    for flag, value in (("--channels", args.channels), ("--layers", args.layers)):
        if value is not None:
            raise UserError(f"`{flag}` does not apply to a {kind} genotype ({genotype.describe()}), got {value!r}.")
    in_channels = first(in_channels, DEFAULT_IN_CHANNELS[stem])
    mobile = {"stem": stem} if isinstance(genotype, MobileNetGenotype) else {}
    print(f"{label}: {genotype.describe()}, {classes} classes, input {in_channels}x{size}x{size}"
          + (f", stem {stem}" if mobile else ""))
    return genotype.count(num_classes=classes, in_channels=in_channels, input_size=size, **mobile)
