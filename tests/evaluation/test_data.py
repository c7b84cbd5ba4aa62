"""Tests for data loading, splits and loaders (nas_sepconv.evaluation.data, nas_sepconv.evaluation.readers).

CIFAR files are written here exactly as the originals: pickle protocol 2 dicts with byte
string keys, b'data' a uint8 (N, 3072) array of R, G, B planes, labels as int lists.
"""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from nas_sepconv.evaluation.augment import Augmentation
from nas_sepconv.evaluation.data import (
    DATASETS,
    default_augmentation,
    load_dataset,
    make_loader,
    search_split,
    stratified_split,
)

CIFAR10 = {"folder": "cifar-10-batches-py", "meta": "batches.meta", "train": [f"data_batch_{i}" for i in range(1, 6)],
           "test": "test_batch", "label_key": b"labels", "classes": 10}
CIFAR100 = {"folder": "cifar-100-python", "meta": "meta", "train": ["train"], "test": "test",
            "label_key": b"fine_labels", "classes": 100}


def _dump(path, obj):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def _batch(rng, n, layout, name):
    labels = [int(v) for v in rng.integers(0, layout["classes"], n)]
    batch = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             layout["label_key"]: labels, b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    if layout is CIFAR100:
        batch[b"coarse_labels"] = [v // 5 for v in labels]
    return batch


def write_cifar(root, layout, per_batch=6, n_test=5, seed=0):
    """Write a tiny CIFAR tree under root/<folder>; return (train batches, test batch)."""
    rng = np.random.default_rng(seed)
    folder = root / layout["folder"]
    folder.mkdir(parents=True)
    names = [f"class_{i}".encode() for i in range(layout["classes"])]
    if layout is CIFAR10:
        meta = {b"num_cases_per_batch": per_batch, b"label_names": names, b"num_vis": 3072}
    else:
        meta = {b"fine_label_names": names, b"coarse_label_names": [f"super_{i}".encode() for i in range(20)]}
    _dump(folder / layout["meta"], meta)
    train = [_batch(rng, per_batch, layout, f) for f in layout["train"]]
    for fname, batch in zip(layout["train"], train):
        _dump(folder / fname, batch)
    test = _batch(rng, n_test, layout, layout["test"])
    _dump(folder / layout["test"], test)
    return train, test


def pixels(images, spec):
    """Undo normalisation: back to 0..255 integers."""
    mean, std = torch.tensor(spec.mean).view(1, -1, 1, 1), torch.tensor(spec.std).view(1, -1, 1, 1)
    return ((images * std + mean) * 255).round().to(torch.int64)


# --- digits -----------------------------------------------------------------------------

def test_digits_shapes_metadata_and_normalisation():
    data = load_dataset("digits")
    spec = data.spec
    assert (spec.num_classes, spec.in_channels, spec.image_size) == (10, 1, (8, 8))
    assert spec.class_names == tuple("0123456789")
    assert (spec.num_train, spec.num_test) == (1438, 359)  # 1797 - round(0.2 * 1797)
    assert data.train_images.shape == (1438, 1, 8, 8) and data.test_images.shape == (359, 1, 8, 8)
    assert data.train_images.dtype == torch.float32 and data.train_labels.dtype == torch.int64
    assert abs(float(data.train_images.mean())) < 1e-5 and abs(float(data.train_images.std()) - 1) < 1e-3
    assert "20%" in spec.test_split


def test_digits_matches_sklearn_and_holds_out_a_stratified_fifth():
    from sklearn.datasets import load_digits

    ref = load_digits()
    data = load_dataset("digits")
    spec = data.spec
    images = torch.cat([data.train_images, data.test_images]) * spec.std[0] + spec.mean[0]
    labels = torch.cat([data.train_labels, data.test_labels])
    ours = sorted(zip(labels.tolist(), (images * 16).round().view(len(labels), -1).to(torch.int64).tolist()))
    theirs = sorted(zip(ref.target.tolist(), ref.data.astype(np.int64).tolist()))
    assert ours == theirs
    per_class = np.bincount(ref.target, minlength=10)
    held = torch.bincount(data.test_labels, minlength=10).numpy()
    assert np.all(np.abs(held - 0.2 * per_class) < 1.0)


def test_digits_is_deterministic_and_cached():
    import time

    a = load_dataset("digits")
    start = time.perf_counter()
    b = load_dataset("digits")
    assert time.perf_counter() - start < 0.2
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    a.train_images.zero_()  # callers own their tensors: the cache is untouched
    assert not torch.equal(load_dataset("digits").train_images, a.train_images)


def test_limits_keep_a_stratified_subset():
    data = load_dataset("digits", train_limit=100, test_limit=50)
    assert (data.spec.num_train, data.spec.num_test) == (100, 50)
    full = torch.bincount(load_dataset("digits").train_labels, minlength=10)
    counts, share = torch.bincount(data.train_labels, minlength=10), full * 100 / full.sum()
    assert torch.all((counts >= share.floor()) & (counts <= share.ceil()))
    assert abs(float(data.train_images.mean())) < 1e-5


# --- splits and loaders -------------------------------------------------------------------

def test_stratified_split_is_exact_disjoint_and_even_per_class():
    labels = torch.tensor([0] * 7 + [1] * 10 + [2] * 3 + [3] * 21)
    rest, picked = stratified_split(labels, 12, seed=4)
    assert len(picked) == 12 and len(rest) == len(labels) - 12
    assert sorted(torch.cat([rest, picked]).tolist()) == list(range(len(labels)))
    share = 12 / len(labels) * torch.bincount(labels)
    counts = torch.bincount(labels[picked], minlength=4)
    assert torch.all((counts >= share.floor()) & (counts <= share.ceil()))
    again = stratified_split(labels, 12, seed=4)
    assert torch.equal(again[1], picked)
    assert not torch.equal(stratified_split(labels, 12, seed=5)[1], picked)


def test_search_split_halves_training_data_deterministically():
    data = load_dataset("digits")
    (wx, wy), (ax, ay) = search_split(data.train_images, data.train_labels, seed=3)
    assert len(wy) == len(ay) == 719
    assert torch.all((torch.bincount(wy) - torch.bincount(ay)).abs() <= 1)
    rows = {tuple(r) for r in wx.view(len(wx), -1).tolist()}
    assert sum(tuple(r) in rows for r in ax.view(len(ax), -1).tolist()) < 5  # only duplicate digits overlap
    (wx2, _), _ = search_split(data.train_images, data.train_labels, seed=3)
    assert torch.equal(wx, wx2)
    with pytest.raises(ValueError, match="`fraction`"):
        search_split(data.train_images, data.train_labels, seed=3, fraction=1.0)


def test_loader_batches_shuffle_by_seed_and_augment_only_when_asked():
    x = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous()
    y = torch.arange(10)
    plain = list(make_loader(x, y, batch_size=4))
    assert [len(b[1]) for b in plain] == [4, 4, 2]
    assert torch.equal(torch.cat([b[0] for b in plain]), x) and torch.equal(torch.cat([b[1] for b in plain]), y)
    assert [len(b[1]) for b in make_loader(x, y, batch_size=4, drop_last=True)] == [4, 4]

    def order(loader):
        return torch.cat([b[1] for b in loader]).tolist()

    loader = make_loader(x, y, batch_size=4, shuffle=True, seed=1)
    first, second = order(loader), order(loader)
    assert sorted(first) == list(range(10)) and first != list(range(10)) and first != second
    assert order(make_loader(x, y, batch_size=4, shuffle=True, seed=1)) == first
    aug = Augmentation(cutout=2)
    images = [b[0] for b in make_loader(x, y, batch_size=5, augment=aug, seed=2)]
    assert all((img == 0).any() for img in images[1:])  # only the first batch holds the all-zero image
    assert torch.equal(images[0], [b[0] for b in make_loader(x, y, batch_size=5, augment=aug, seed=2)][0])


def test_default_augmentation_per_data_set():
    assert default_augmentation(load_dataset("digits").spec) == Augmentation(padding=1)


# --- CIFAR ------------------------------------------------------------------------------

@pytest.mark.parametrize("layout,name", [(CIFAR10, "cifar10"), (CIFAR100, "cifar100")])
def test_cifar_reads_the_pickle_format(tmp_path, layout, name):
    train, test = write_cifar(tmp_path, layout)
    for data_dir in (tmp_path, tmp_path / layout["folder"]):  # parent or extracted folder
        data = load_dataset(name, data_dir)
        spec = data.spec
        n_train = sum(len(b[layout["label_key"]]) for b in train)
        assert (spec.num_classes, spec.in_channels, spec.image_size) == (layout["classes"], 3, (32, 32))
        assert spec.class_names[:2] == ("class_0", "class_1") and (spec.num_train, spec.num_test) == (n_train, 5)
        raw = np.concatenate([b[b"data"] for b in train]).astype(np.float64) / 255
        expected_mean = [raw[:, c * 1024:(c + 1) * 1024].mean() for c in range(3)]
        expected_std = [raw[:, c * 1024:(c + 1) * 1024].std() for c in range(3)]
        assert np.allclose(spec.mean, expected_mean) and np.allclose(spec.std, expected_std)
        got = pixels(data.train_images, spec).view(n_train, -1).numpy()
        assert np.array_equal(got, np.concatenate([b[b"data"] for b in train]))  # R, G, B planes, row-major
        assert data.train_labels.tolist() == sum((b[layout["label_key"]] for b in train), [])
        assert np.array_equal(pixels(data.test_images, spec).view(5, -1).numpy(), test[b"data"])
        assert data.test_labels.tolist() == test[layout["label_key"]]
    assert pixels(data.train_images, spec)[0, 1, 2, 3] == train[0][b"data"][0, 1024 + 2 * 32 + 3]
    assert default_augmentation(spec, cutout=16) == Augmentation(padding=4, flip=True, cutout=16)


def python2_batch(data, labels):
    """Bytes of a batch as Python 2's cPickle wrote the originals: protocol 2, str keys
    as SHORT_BINSTRING, a numpy 1 array built by numpy.core.multiarray._reconstruct."""
    def short(b):
        return b"U" + bytes([len(b)]) + b

    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + short(b"b") + b"\x87R(K\x01M"
             + len(data).to_bytes(2, "little") + b"M\x00\x0c\x86cnumpy\ndtype\n" + short(b"u1")
             + b"K\x00K\x01\x87R(K\x03" + short(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
             + len(data.tobytes()).to_bytes(4, "little") + data.tobytes() + b"tb")
    items = b"".join(b"K" + bytes([v]) for v in labels)
    return b"\x80\x02}(" + short(b"data") + array + short(b"labels") + b"](" + items + b"eu."


def test_cifar_reads_python2_numpy1_pickles(tmp_path):
    write_cifar(tmp_path, CIFAR10)
    data = np.random.default_rng(1).integers(0, 256, (4, 3072), dtype=np.uint8)
    (tmp_path / CIFAR10["folder"] / "test_batch").write_bytes(python2_batch(data, [3, 1, 4, 1]))
    loaded = load_dataset("cifar10", tmp_path)
    assert loaded.test_labels.tolist() == [3, 1, 4, 1]
    assert np.array_equal(pixels(loaded.test_images, loaded.spec).view(4, -1).numpy(), data)


def _rewrite(path, edit):
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")
    _dump(path, edit(batch))


def _drop(key):
    return lambda b: {k: v for k, v in b.items() if k != key}


BAD_BATCHES = {
    "truncated": (None, "not a readable pickle"),
    "no data": (_drop(b"data"), "has no b'data' entry"),
    "no labels": (_drop(b"labels"), "has no b'labels' entry"),
    "wrong size": (lambda b: {**b, b"data": b[b"data"][:, :3000]}, r"shape \(N, 3072\)"),
    "wrong dtype": (lambda b: {**b, b"data": b[b"data"].astype(np.float32)}, "uint8"),
    "label count": (lambda b: {**b, b"labels": b[b"labels"][:-1]}, "must list 6 integer labels"),
    "label range": (lambda b: {**b, b"labels": [10] * 6}, r"must lie in \[0, 10\)"),
    "not a dict": (lambda b: [b], "must hold a dict"),
}


@pytest.mark.parametrize("case", sorted(BAD_BATCHES))
def test_corrupt_cifar_batch_is_a_one_line_value_error(tmp_path, case):
    write_cifar(tmp_path, CIFAR10)
    path = tmp_path / CIFAR10["folder"] / "data_batch_3"
    edit, message = BAD_BATCHES[case]
    if edit is None:
        path.write_bytes(path.read_bytes()[:500])
    else:
        _rewrite(path, edit)
    with pytest.raises(ValueError, match=message) as err:
        load_dataset("cifar10", tmp_path)
    assert "data_batch_3" in str(err.value) and "\n" not in str(err.value)


def test_cifar_missing_files_and_dirs(tmp_path):
    with pytest.raises(ValueError, match="`data_dir` is required"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="`data_dir` must be an existing directory"):
        load_dataset("cifar100", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="`data_dir` .* is empty"):
        load_dataset("cifar10", tmp_path)
    write_cifar(tmp_path, CIFAR100)
    with pytest.raises(ValueError, match="holds no cifar10 files"):
        load_dataset("cifar10", tmp_path)
    (tmp_path / CIFAR100["folder"] / "test").unlink()
    with pytest.raises(ValueError, match="'.*test' is missing"):
        load_dataset("cifar100", tmp_path)


def test_cifar_meta_must_name_every_class(tmp_path):
    write_cifar(tmp_path, CIFAR100)
    meta = tmp_path / CIFAR100["folder"] / "meta"
    _rewrite(meta, lambda m: {**m, b"fine_label_names": m[b"fine_label_names"][:20]})
    with pytest.raises(ValueError, match="meta' b'fine_label_names' must list 100 class names"):
        load_dataset("cifar100", tmp_path)


def test_cifar_pickle_cannot_run_code(tmp_path):
    write_cifar(tmp_path, CIFAR10)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    _dump(tmp_path / CIFAR10["folder"] / "test_batch", {b"data": Evil()})
    with pytest.raises(ValueError, match="is not allowed"):
        load_dataset("cifar10", tmp_path)
    assert not marker.exists()


# --- image folder -----------------------------------------------------------------------

def write_folder(root, classes=("cat", "dog", "emu"), per_class=5, size=(6, 4), mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            arr = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(arr, mode).save(root / name / f"{i}.png")
            arrays[(name, i)] = arr
    return arrays


def test_folder_layout_holds_out_a_fifth(tmp_path):
    arrays = write_folder(tmp_path)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    data = load_dataset("folder", tmp_path)
    spec = data.spec
    assert spec.class_names == ("cat", "dog", "emu") and spec.in_channels == 3 and spec.image_size == (4, 6)
    assert (spec.num_train, spec.num_test) == (12, 3)
    assert torch.bincount(data.test_labels).tolist() == [1, 1, 1]
    got = {tuple(img.flatten().tolist()) for img in pixels(torch.cat([data.train_images, data.test_images]), spec)}
    assert got == {tuple(a.transpose(2, 0, 1).flatten().tolist()) for a in arrays.values()}


def test_folder_train_test_layout_and_grayscale(tmp_path):
    write_folder(tmp_path / "train", classes=("a", "b"), per_class=3, mode="L")
    write_folder(tmp_path / "test", classes=("a", "b"), per_class=2, mode="L", seed=1)
    data = load_dataset("folder", tmp_path)
    assert data.spec.in_channels == 1 and (data.spec.num_train, data.spec.num_test) == (6, 4)
    assert data.test_labels.tolist() == [0, 0, 1, 1] and "test/" in data.spec.test_split


@pytest.mark.parametrize("case,message", [
    ("no classes", "has no class sub-folders"),
    ("empty class", "class folder .*dog' has no images"),
    ("sizes differ", "all images must have the same size"),
    ("corrupt image", "image file .*1.png' cannot be read"),
    ("test classes", "test classes"),
])
def test_bad_image_folders(tmp_path, case, message):
    if case == "no classes":
        (tmp_path / "stray.png").write_bytes(b"")
    elif case == "empty class":
        write_folder(tmp_path, classes=("cat",))
        (tmp_path / "dog").mkdir()
    elif case == "sizes differ":
        write_folder(tmp_path)
        Image.new("RGB", (5, 5)).save(tmp_path / "dog" / "9.png")
    elif case == "corrupt image":
        write_folder(tmp_path)
        (tmp_path / "emu" / "1.png").write_bytes(b"\x89PNG broken")
    else:
        write_folder(tmp_path / "train", classes=("a", "b"))
        write_folder(tmp_path / "test", classes=("a", "c"))
    with pytest.raises(ValueError, match=message) as err:
        load_dataset("folder", tmp_path)
    assert "\n" not in str(err.value)


def test_bad_names_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="`name` must be one of 'digits'"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="`data_dir` is not used"):
        load_dataset("digits", tmp_path)
    with pytest.raises(ValueError, match="`train_limit`"):
        load_dataset("digits", train_limit=0)
    with pytest.raises(ValueError, match="`batch_size`"):
        make_loader(torch.ones(2, 1, 2, 2), torch.ones(2), batch_size=0)
    assert DATASETS == ("digits", "cifar10", "cifar100", "folder")
