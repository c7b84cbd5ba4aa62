"""The MODEL argument of the post-training commands (``blk-search``, ``decompose``).

MODEL names a CIFAR ResNet with plain 3x3 convs (``resnet20`` etc.). Its trained weights come
from ``--weights`` (a state_dict, e.g. the ``dense.pt`` an earlier run of either command
wrote) or, without it, from training it first on the data set for ``--epochs``.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from nas_sepconv.cli._shared import add_recipe_arguments, check_writable
from nas_sepconv.compress.dense import find_dense_convs
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write, load_weights
from nas_sepconv.evaluation.data import DATASETS, LoadedData, load_dataset
from nas_sepconv.evaluation.device import resolve_device
from nas_sepconv.evaluation.train import TrainConfig, TrainingFailed, evaluate, train_model
from nas_sepconv.models.preprocessing import cpu_state_dict
from nas_sepconv.models.resnet import build_resnet
from nas_sepconv.ops import Cost, count_built
from nas_sepconv.runs.run_dir import unique_dir

MODEL_HELP = "the CIFAR ResNet to convert, resnetN with N = 6n+2 (resnet8, resnet20, resnet56, ...), plain 3x3 convs"


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """MODEL and the options that load or train it, choose the layers and the output folder."""
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--multiplier", type=float, default=1.0, help="channel multiplier of the ResNet (default 1)")
    p.add_argument("--dataset", choices=DATASETS, default="digits", help="data set (default digits, embedded)")
    p.add_argument("--data-dir", type=Path, default=None, help="folder of cifar10/cifar100 batches or images")
    p.add_argument("--weights", type=Path, default=None,
                   help="trained state_dict of MODEL (e.g. dense.pt of an earlier run); default: train it first")
    add_recipe_arguments(p, what="MODEL when no --weights")
    p.add_argument("--layers", nargs="+", default=["blocks"], metavar="NAME",
                   help="modules whose dense convs are converted (default: blocks, i.e. every block conv; "
                        "the stem stays a plain conv as in the osep ResNets)")
    p.add_argument("--device", default="auto", metavar="{auto,cpu,cuda,cuda:N}",
                   help="where MODEL trains and the converted model fine-tunes: auto (CUDA when available, "
                        "default), cpu, cuda or cuda:N; the decomposition itself runs on the CPU")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: a new results/<time>-... one)")
    p.add_argument("--quiet", action="store_true", help="print only errors")


def add_finetune_arguments(p: argparse.ArgumentParser, epochs: int, note: str) -> None:
    """``--finetune-epochs`` (0 = none) and ``--finetune-lr`` for training the converted model."""
    p.add_argument("--finetune-epochs", type=int, default=epochs,
                   help=f"epochs of fine-tuning the converted model, 0 = none (default {epochs}{note})")
    p.add_argument("--finetune-lr", type=float, default=1e-4, help="fine-tuning learning rate (default 1e-4)")


def parse_depth(spec: str) -> int:
    """Depth N of ``resnetN``; the ResNet builder checks N = 6n+2."""
    match = re.fullmatch(r"resnet(\d+)", spec.strip().lower())
    if not match:
        raise UserError(f"`MODEL` must be resnetN with N = 6n+2 (resnet8, resnet20, ...), got {spec!r}")
    return int(match.group(1))


@dataclass
class DenseModel:
    """The trained dense ResNet, its data, test accuracy, exact cost and where its weights came from."""

    model: nn.Module
    data: LoadedData
    accuracy: float
    cost: Cost
    info: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.data.spec.in_channels, *self.data.spec.image_size)


def output_dir(args: argparse.Namespace, command: str) -> tuple[Path, bool]:
    """``--out`` (checked writable) or a new results folder; True if this call created it."""
    if args.out is None:
        return unique_dir("results", f"{command}-{args.model}"), True
    created = not args.out.exists()
    return check_writable(args.out), created


def run_in_output_dir(args: argparse.Namespace, command: str, body: Callable[[Path], int]) -> int:
    """Run ``body(out)`` in the command's output folder: a diverged training exits 1 with one
    line on stderr, and a folder this call created is removed again if nothing was written."""
    resolve_device(args.device, "--device")  # before any folder is made
    out, created = output_dir(args, command)
    try:
        return body(out)
    except TrainingFailed as failure:
        print(f"nas-sepconv {command}: training failed: {failure.reason}", file=sys.stderr)
        return 1
    finally:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


def save_state(path: Path, model: nn.Module) -> Path:
    """Atomically write ``model``'s state_dict, every tensor on the CPU (loads without a GPU)."""
    return atomic_write(path, lambda fh: torch.save(cpu_state_dict(model), fh), binary=True)


def _load(model: nn.Module, path: Path, what: str) -> None:
    try:
        state = load_weights(path)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise UserError(f"`--weights` must be an existing file, got '{path}'") from None
    except Exception as err:  # unpickling and shape errors come in many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"`--weights` must be a state_dict of {what}, could not load '{path}': {first}") from None


def prepare_model(args: argparse.Namespace, out: Path) -> DenseModel:
    """Build MODEL, check ``--layers``, then load ``--weights`` or train (saving ``out/dense.pt``)."""
    depth = parse_depth(args.model)
    resolve_device(args.device, "--device")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         device=args.device)
    data = load_dataset(args.dataset, args.data_dir)
    torch.manual_seed(config.seed)
    model = build_resnet(depth, multiplier=args.multiplier, num_classes=data.spec.num_classes,
                         in_channels=data.spec.in_channels)
    shape = (data.spec.in_channels, *data.spec.image_size)
    if not find_dense_convs(model, shape, args.layers):
        raise UserError(f"`--layers` must select at least one 3x3 conv of {args.model}, got {args.layers!r}")
    info: dict[str, Any] = {"model": args.model, "multiplier": args.multiplier, "dataset": args.dataset,
                            "data_dir": None if args.data_dir is None else str(args.data_dir)}
    if args.weights is not None:
        _load(model, args.weights, f"{args.model} x{args.multiplier} on {args.dataset}")
        info["weights"] = str(args.weights)
    else:
        if not args.quiet:
            print(f"training {args.model} on {args.dataset} for {config.epochs} epochs", file=sys.stderr)
        train_model(model, data, config)
        info.update(weights=str(save_state(out / "dense.pt", model)), train_config=config.to_dict())
    model.cpu().eval()  # decomposition and PCA run on the CPU
    accuracy = evaluate(model, data.test_images, data.test_labels)
    return DenseModel(model, data, accuracy, count_built(model, data.spec.image_size, data.spec.in_channels), info)
