"""Data sets for search and training: loading, normalisation, splits and loaders.

Four sources, all returned as float32 NCHW tensors normalised per channel with the mean
and std of the training part, and int64 labels:

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), the embedded
  default. It has no official test split, so a fixed stratified 20% (seed 0, independent
  of any run seed) is held out as the test part.
- ``cifar10`` / ``cifar100``: the standard python-pickle batches, read from ``data_dir``
  (see ``nas_sepconv.evaluation.readers``).
- ``folder``: one sub-folder per class of images PIL can read. ``data_dir/train`` and
  ``data_dir/test`` with the same classes give the split; otherwise 20% is held out as
  for digits.

The search split (DARTS, Liu et al. 2019, Sec. 3) halves the training part: one half
trains the weights, the other scores architectures. The test part is never used in search.
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.augment import Augmentation
from nas_sepconv.evaluation.readers import RawImages, read_cifar, read_image_folder
from nas_sepconv.models.preprocessing import Preprocessing

DATASETS = ("digits", "cifar10", "cifar100", "folder")


def stem_for(dataset: str) -> str:
    """The network stem a data set's images take: ``digits`` (8x8, 1 channel) for digits,
    ``cifar`` (the 32x32 CIFAR stem, which any image size runs through) for the others."""
    return "digits" if check_choice("dataset", dataset, DATASETS) == "digits" else "cifar"
HELD_OUT_FRACTION = 0.2
HELD_OUT_SEED = 0


@dataclass(frozen=True)
class DatasetSpec:
    """What a model and a report need to know about a loaded data set."""

    name: str
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_train: int
    num_test: int
    test_split: str
    max_value: int = 255

    def preprocessing(self) -> Preprocessing:
        """What a model trained on these tensors expects: ``(x / max_value - mean) / std``."""
        return Preprocessing(mean=self.mean, std=self.std, max_value=self.max_value, input_size=self.image_size,
                             channels=self.in_channels)


@dataclass(frozen=True, eq=False)
class LoadedData:
    """Normalised training and test tensors with their ``DatasetSpec``."""

    spec: DatasetSpec
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def stratified_split(labels: torch.Tensor | np.ndarray, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``count`` indices spread evenly over the classes; return ``(rest, picked)``.

    Indices are shuffled by ``seed``, grouped by class, and every (n/count)-th position is
    picked, so each class gives floor or ceil of its share. Both parts come back sorted.
    """
    labels = torch.tensor(np.asarray(labels), dtype=torch.int64)
    n = labels.numel()
    count = check_positive_int("count", count)
    if count >= n:
        raise UserError(f"`count` must be smaller than the {n} samples it splits, got {count}.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    order = order[torch.argsort(labels[order], stable=True)]
    pos = torch.arange(1, n + 1)
    picked = (pos * count) // n > ((pos - 1) * count) // n
    return order[~picked].sort().values, order[picked].sort().values


def search_split(images: torch.Tensor, labels: torch.Tensor, seed: int, fraction: float = 0.5
                 ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Split training data into ``(weights_part, arch_part)``, each an ``(images, labels)`` pair.

    ``arch_part`` holds ``round(fraction * N)`` stratified samples (half by default, as in
    DARTS); the same ``seed`` always gives the same split.
    """
    if not 0.0 < fraction < 1.0:
        raise UserError(f"`fraction` must be strictly between 0 and 1, got {fraction!r}.")
    if len(images) != len(labels):
        raise UserError(f"`images` and `labels` must have the same length, got {len(images)} and {len(labels)}.")
    count = max(1, round(fraction * len(labels)))
    rest, picked = stratified_split(labels, count, seed)
    return (images[rest], labels[rest]), (images[picked], labels[picked])


def _check_limit(name: str, value: int | None) -> int | None:
    return None if value is None else check_positive_int(name, value)


def load_dataset(name: str, data_dir: str | Path | None = None, *, train_limit: int | None = None,
                 test_limit: int | None = None) -> LoadedData:
    """Load a data set by name (one of ``DATASETS``) as normalised tensors.

    ``data_dir`` is required for cifar10/cifar100/folder and refused for digits.
    ``train_limit``/``test_limit`` keep a fixed stratified subset (seed 0) for quick runs;
    the normalisation statistics come from the training images actually kept.
    """
    check_choice("name", name, DATASETS)
    train_limit, test_limit = _check_limit("train_limit", train_limit), _check_limit("test_limit", test_limit)
    raw = _read_raw(name, data_dir)
    train_x, train_y = _limit(raw.train_images, raw.train_labels, train_limit)
    test_x, test_y = _limit(raw.test_images, raw.test_labels, test_limit)
    mean, std = channel_stats(train_x, raw.max_value)
    spec = DatasetSpec(name=name, num_classes=len(raw.class_names), in_channels=train_x.shape[1],
                       image_size=(train_x.shape[2], train_x.shape[3]), class_names=raw.class_names,
                       mean=mean, std=std, num_train=len(train_y), num_test=len(test_y),
                       test_split=raw.test_split, max_value=raw.max_value)
    return LoadedData(spec, normalise(train_x, raw.max_value, mean, std), torch.from_numpy(train_y.astype(np.int64)),
                      normalise(test_x, raw.max_value, mean, std), torch.from_numpy(test_y.astype(np.int64)))


def _read_raw(name: str, data_dir: str | Path | None) -> RawImages:
    if name == "digits":
        if data_dir is not None:
            raise UserError(f"`data_dir` is not used by the embedded 'digits' data set, got {str(data_dir)!r}.")
        return _digits_raw()
    if data_dir is None:
        raise UserError(f"`data_dir` is required for the {name!r} data set, got None.")
    if name == "folder":
        raw = read_image_folder(Path(data_dir))
    else:
        raw = read_cifar(name, Path(data_dir))
    if raw.test_images is None:
        return _hold_out(raw)
    return raw


@functools.lru_cache(maxsize=1)
def _digits_raw() -> RawImages:
    """scikit-learn digits as uint8 in 0..16, cached for the process (read-only arrays).

    The CSV bundled with scikit-learn is read directly: importing ``sklearn.datasets``
    costs about a second per (trial) process. ``load_digits`` is the fallback.
    """
    table = _digits_table()
    images = table[:, :64].reshape(-1, 1, 8, 8).astype(np.uint8)
    labels = table[:, 64].astype(np.int64)
    names = tuple(str(c) for c in range(10))
    raw = _hold_out(RawImages(images, labels, None, None, names, 16, ""))
    for array in (raw.train_images, raw.train_labels, raw.test_images, raw.test_labels):
        array.flags.writeable = False
    return raw


def _digits_table() -> np.ndarray:
    """(1797, 65) table: 64 pixel values in 0..16, then the digit."""
    spec = importlib.util.find_spec("sklearn")
    bundled = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if bundled is not None and bundled.is_file():
        return np.loadtxt(bundled, delimiter=",")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.column_stack([bunch.data, bunch.target])


def _hold_out(raw: RawImages) -> RawImages:
    """Carve the fixed stratified held-out test part from a set without an official one."""
    n = len(raw.train_labels)
    count = round(HELD_OUT_FRACTION * n)
    if count < 1 or count >= n:
        raise UserError(f"a held-out test split of {HELD_OUT_FRACTION:.0%} needs at least 3 images, got {n}.")
    rest, picked = (idx.numpy() for idx in stratified_split(raw.train_labels, count, HELD_OUT_SEED))
    return RawImages(raw.train_images[rest], raw.train_labels[rest], raw.train_images[picked],
                     raw.train_labels[picked], raw.class_names, raw.max_value,
                     f"held-out stratified {HELD_OUT_FRACTION:.0%} of the images (seed {HELD_OUT_SEED})")


def _limit(images: np.ndarray, labels: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    if limit is None or limit >= len(labels):
        return images, labels
    _, picked = stratified_split(labels, limit, HELD_OUT_SEED)
    return images[picked.numpy()], labels[picked.numpy()]


def channel_stats(images: np.ndarray, max_value: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and std of integer images scaled to [0, 1] (via histograms).

    A constant channel gets std 1 so normalising it cannot divide by zero.
    """
    means, stds = [], []
    for c in range(images.shape[1]):
        hist = np.bincount(images[:, c].ravel(), minlength=max_value + 1).astype(np.float64)
        values = np.arange(hist.size, dtype=np.float64) / max_value
        mean = float(hist @ values / hist.sum())
        var = float(hist @ (values - mean) ** 2 / hist.sum())
        means.append(mean)
        stds.append(var ** 0.5 if var > 0 else 1.0)
    return tuple(means), tuple(stds)


def normalise(images: np.ndarray, max_value: int, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """float32 ``(x / max_value - mean[c]) / std[c]``, one channel at a time to bound memory."""
    out = torch.empty(images.shape, dtype=torch.float32)
    for c in range(images.shape[1]):
        channel = torch.tensor(images[:, c], dtype=torch.float32) / max_value
        out[:, c] = (channel - mean[c]) / std[c]
    return out


class _AugmentBatch:
    """Collate step that augments each (images, labels) batch with its own generator."""

    def __init__(self, augment: Augmentation | None, generator: torch.Generator) -> None:
        self.augment, self.generator = augment, generator

    def __call__(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = batch
        return (images if self.augment is None else self.augment(images, self.generator)), labels


def make_loader(images: torch.Tensor, labels: torch.Tensor, *, batch_size: int, shuffle: bool = False,
                seed: int = 0, augment: Augmentation | None = None, drop_last: bool = False) -> DataLoader:
    """A DataLoader over tensors that yields whole batches (indexed at once, no per-item copy).

    Shuffling and augmentation draw from two generators seeded by ``seed`` and ``seed + 1``,
    so a seed fixes every epoch's order and augmentation. Pass ``augment`` for training
    loaders only; evaluation loaders leave it ``None`` and ``shuffle`` False.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    if len(images) != len(labels):
        raise UserError(f"`images` and `labels` must have the same length, got {len(images)} and {len(labels)}.")
    dataset = TensorDataset(images, labels)
    order = (RandomSampler(dataset, generator=torch.Generator().manual_seed(int(seed))) if shuffle
             else SequentialSampler(dataset))
    batches = BatchSampler(order, batch_size, drop_last)
    collate = _AugmentBatch(augment, torch.Generator().manual_seed(int(seed) + 1))
    return DataLoader(dataset, sampler=batches, batch_size=None, collate_fn=collate)


def loader_generators(loader: DataLoader) -> tuple[torch.Generator, ...]:
    """The generators of a :func:`make_loader` loader (data order, if shuffled, then augmentation):
    their states, with the epoch, fix the batches of the epochs still to come."""
    order = getattr(loader.sampler, "sampler", None)
    shuffle = (order.generator,) if isinstance(order, RandomSampler) else ()
    return (*shuffle, loader.collate_fn.generator)


def default_augmentation(spec: DatasetSpec, cutout: int = 0) -> Augmentation:
    """The usual training augmentation for a data set: pad-crop by 1/8 of the side, flip.

    Digits are not mirror-symmetric, so they get a 1-pixel pad-crop and no flip; CIFAR
    gets the standard 4-pixel pad-crop and flip. ``cutout`` (e.g. 16 on CIFAR) is opt-in.
    """
    if spec.name == "digits":
        return Augmentation(padding=1, flip=False, cutout=cutout)
    return Augmentation(padding=max(1, min(spec.image_size) // 8), flip=True, cutout=cutout)
