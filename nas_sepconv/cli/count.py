"""``nas-sepconv count``: exact #params and FLOPs of a genotype's network, without building it."""
from __future__ import annotations

import argparse

from nas_sepconv.core.errors import UserError
from nas_sepconv.models.network import DEFAULT_IN_CHANNELS, DEFAULT_INPUT, STEMS, count
from nas_sepconv.ops import Cost
from nas_sepconv.genotypes.resnet import ResNetGenotype
from nas_sepconv.cli._shared import DEFAULT_MACRO, GENOTYPE_HELP, resolve_genotype

NUM_CLASSES = {"cifar": 10, "imagenet": 1000, "digits": 10}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("count", help="#params and FLOPs of a genotype's network",
                       description=__doc__.split("``: ")[1] + " #params exclude the auxiliary head (as "
                       "DARTS counts); FLOPs are multiply-adds of conv and linear layers.")
    p.add_argument("genotype", metavar="GENOTYPE", help=GENOTYPE_HELP)
    p.add_argument("--stem", choices=STEMS, default="cifar",
                   help="network family: cifar (NetworkCIFAR), imagenet (NetworkImageNet) or digits")
    p.add_argument("--channels", type=int, default=None,
                   help="initial channels C (default: the genotype's, else 36 cifar / 48 imagenet / 16 digits)")
    p.add_argument("--layers", type=int, default=None,
                   help="number of cells (default: the genotype's, else 20 cifar / 14 imagenet / 8 digits)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classifier outputs (default 10, 1000 for imagenet)")
    p.add_argument("--input-size", type=int, default=None,
                   help=f"input height = width (default {', '.join(f'{s} {n}' for s, n in DEFAULT_INPUT.items())})")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    genotype, label = resolve_genotype(args.genotype)
    classes = args.num_classes if args.num_classes is not None else NUM_CLASSES[args.stem]
    size = args.input_size if args.input_size is not None else DEFAULT_INPUT[args.stem]
    if isinstance(genotype, ResNetGenotype):
        cost = _count_resnet(args, genotype, label, classes, size)
    else:
        channels, layers = DEFAULT_MACRO[args.stem]
        channels = args.channels if args.channels is not None else (genotype.channels or channels)
        layers = args.layers if args.layers is not None else (genotype.layers or layers)
        cost = count(genotype, num_classes=classes, channels=channels, layers=layers, stem=args.stem,
                     input_size=size)
        print(f"{label}: stem {args.stem}, C={channels}, {layers} cells, {classes} classes, input {size}x{size}")
    print(f"params: {cost.params:,}")
    print(f"FLOPs:  {cost.flops:,}")
    return 0


def _count_resnet(args: argparse.Namespace, genotype: ResNetGenotype, label: str, classes: int, size: int) -> Cost:
    """A ResNet genotype: ``--stem`` only sets the defaults (digits: 1 input channel, 8x8)."""
    for flag, value in (("--channels", args.channels), ("--layers", args.layers)):
        if value is not None:
            raise UserError(f"`{flag}` does not apply to a ResNet genotype ({genotype.describe()}), got {value!r}.")
    in_channels = DEFAULT_IN_CHANNELS[args.stem]
    print(f"{label}: {genotype.describe()}, {classes} classes, input {in_channels}x{size}x{size}")
    return genotype.count(num_classes=classes, in_channels=in_channels, input_size=size)
