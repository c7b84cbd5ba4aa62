"""Readers for on-disk image data: CIFAR python-pickle batches and class-per-folder images.

Both return ``RawImages``: uint8 NCHW arrays plus labels, class names and the pixel
maximum, left unnormalised (``nas_sepconv.evaluation.data`` normalises). Every problem with a file
becomes a one-line ``ValueError`` naming the file and what is wrong with it.

CIFAR pickles are read with a restricted unpickler that only rebuilds numpy arrays, so
a tampered batch file cannot run code.
"""
from __future__ import annotations

import codecs
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import MAX_INPUT_SIZE

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True)
class RawImages:
    """uint8 images (N, C, H, W) in 0..max_value with int labels; test part may be absent."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray | None
    test_labels: np.ndarray | None
    class_names: tuple[str, ...]
    max_value: int
    test_split: str


@dataclass(frozen=True)
class _CifarLayout:
    folder: str
    train: tuple[str, ...]
    test: str
    meta: str
    label_key: str
    names_key: str
    num_classes: int


_CIFAR = {
    "cifar10": _CifarLayout("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)),
                            "test_batch", "batches.meta", "labels", "label_names", 10),
    "cifar100": _CifarLayout("cifar-100-python", ("train",), "test", "meta",
                             "fine_labels", "fine_label_names", 100),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and bytes only (Python 2 and 3, numpy 1 and 2)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): np.ndarray(0).__reduce__()[0],
        ("numpy.core.numeric", "_frombuffer"): np.zeros(1).__reduce_ex__(5)[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str):
        found = self._ALLOWED.get((module.replace("numpy._core", "numpy.core"), name))
        if found is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return found


def _fail(path: Path, problem: str) -> UserError:
    return UserError(f"CIFAR file '{path}' {problem}.")


def _load_pickle(path: Path) -> dict[str, object]:
    """Load one batch dict with str keys (the originals use byte-string keys)."""
    if not path.is_file():
        raise _fail(path, "is missing")
    try:
        with path.open("rb") as handle:
            obj = _ArrayUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means a corrupt file
        detail = " ".join(str(exc).split())
        raise _fail(path, f"is not a readable pickle ({type(exc).__name__}: {detail})") from None
    if not isinstance(obj, dict):
        raise _fail(path, f"must hold a dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _require(batch: dict[str, object], key: str, path: Path) -> object:
    if key not in batch:
        raise _fail(path, f"has no b'{key}' entry (keys: {sorted(batch)})")
    return batch[key]


def _read_batch(path: Path, layout: _CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels of one batch, checked for size and range."""
    batch = _load_pickle(path)
    data, labels = _require(batch, "data", path), _require(batch, layout.label_key, path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", type(data).__name__)
        raise _fail(path, f"b'data' must be a uint8 array of shape (N, 3072), got {getattr(data, 'dtype', '')}{shape}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size != data.shape[0] or not np.issubdtype(labels.dtype, np.integer):
        raise _fail(path, f"b'{layout.label_key}' must list {data.shape[0]} integer labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise _fail(path, f"b'{layout.label_key}' must lie in [0, {layout.num_classes}), "
                          f"got {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _cifar_root(data_dir: Path, name: str, layout: _CifarLayout) -> Path:
    """The extracted batch folder: ``data_dir`` itself or its ``layout.folder`` child."""
    if not data_dir.is_dir():
        raise UserError(f"`data_dir` must be an existing directory, got '{data_dir}'.")
    for root in (data_dir / layout.folder, data_dir):
        if (root / layout.meta).is_file():
            return root
    state = "is empty" if not any(data_dir.iterdir()) else "holds no " + name + " files"
    raise UserError(f"`data_dir` '{data_dir}' {state}: expected {layout.folder}/{layout.meta} "
                    f"or {layout.meta} inside it.")


def read_cifar(name: str, data_dir: Path) -> RawImages:
    """Read CIFAR-10 (``cifar10``) or CIFAR-100 fine labels (``cifar100``) from ``data_dir``."""
    layout = _CIFAR[name]
    root = _cifar_root(data_dir, name, layout)
    meta_path = root / layout.meta
    names = _require(_load_pickle(meta_path), layout.names_key, meta_path)
    if not isinstance(names, (list, tuple)) or len(names) != layout.num_classes:
        raise _fail(meta_path, f"b'{layout.names_key}' must list {layout.num_classes} class names")
    class_names = tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)
    parts = [_read_batch(root / f, layout) for f in layout.train]
    test_x, test_y = _read_batch(root / layout.test, layout)
    return RawImages(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                     test_x, test_y, class_names, 255, f"official {layout.test}")


def _class_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise UserError(f"`data_dir` must be an existing directory, got '{root}'.")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise UserError(f"`data_dir` '{root}' has no class sub-folders: expected one folder of images per class.")
    return folders


def _scan(root: Path) -> tuple[tuple[str, ...], list[Path], list[int]]:
    """Class names (sorted folder names) and every image path with its class index."""
    folders = _class_folders(root)
    paths, labels = [], []
    for index, folder in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise UserError(f"class folder '{folder}' has no images with extension in {IMAGE_EXTENSIONS}.")
        paths += files
        labels += [index] * len(files)
    return tuple(f.name for f in folders), paths, labels


def _read_images(paths: list[Path]) -> np.ndarray:
    """Decode all images as uint8 (N, C, H, W): grayscale if every image is single-band, else RGB."""
    from PIL import Image, UnidentifiedImageError

    images = []
    for path in paths:
        try:
            with Image.open(path) as img:
                width, height = img.size     # from the header, before any pixel is decoded
                if width > MAX_INPUT_SIZE or height > MAX_INPUT_SIZE:
                    raise UserError(f"image file '{path}' claims {width}x{height} pixels; at most "
                                    f"{MAX_INPUT_SIZE}x{MAX_INPUT_SIZE} are read.")
                img.load()
                images.append(img.copy())
        except Image.DecompressionBombError:
            raise UserError(f"image file '{path}' claims more pixels than PIL reads safely "
                            f"(a decompression bomb).") from None
        except UserError:
            raise
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise UserError(f"image file '{path}' cannot be read ({type(exc).__name__}).") from None
    mode = "L" if all(len(img.getbands()) == 1 and img.mode != "P" for img in images) else "RGB"
    size = images[0].size
    for path, img in zip(paths, images):
        if img.size != size:
            raise UserError(f"image file '{path}' is {img.size[0]}x{img.size[1]}, but '{paths[0]}' is "
                            f"{size[0]}x{size[1]}: all images must have the same size.")
    arrays = [np.asarray(img.convert(mode), dtype=np.uint8) for img in images]
    stacked = np.stack(arrays)
    return stacked[:, None] if mode == "L" else stacked.transpose(0, 3, 1, 2)


def read_image_folder(data_dir: Path) -> RawImages:
    """Read ``data_dir/<class>/*`` or, when both exist, ``data_dir/{train,test}/<class>/*``.

    Without train/test folders the test part is left absent for the caller to hold out.
    """
    train_dir, test_dir = data_dir / "train", data_dir / "test"
    split = train_dir.is_dir() and test_dir.is_dir()
    names, paths, labels = _scan(train_dir if split else data_dir)
    n_train = len(paths)
    if split:
        test_names, test_paths, test_labels = _scan(test_dir)
        if test_names != names:
            raise UserError(f"`data_dir` '{data_dir}': test classes {list(test_names)} differ from "
                            f"train classes {list(names)}.")
        paths, labels = paths + test_paths, labels + test_labels
    images, labels = _read_images(paths), np.asarray(labels, dtype=np.int64)
    if not split:
        return RawImages(images, labels, None, None, names, 255, "")
    return RawImages(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:],
                     names, 255, "official test/ folder")
