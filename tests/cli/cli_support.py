"""Constants and helpers of the CLI tests (imported by conftest and the test modules)."""
from nas_sepconv.frontier.objectives import Objective
from nas_sepconv.frontier.pareto import ReferencePoint
from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.named import DARTS_V2

REF = ReferencePoint((Objective("accuracy", "max"), Objective("params", "min")), (0.0, 1e6))
BLK = replace_ops(DARTS_V2, {"sep_conv_3x3": ("blk_3x3", {"s": 2, "t": 1})})
# (params, accuracy): trials 0, 2 (with op params) and 3 are the frontier; 4 failed.
TRIALS = [(100, 0.5), (300, 0.4), (200, 0.7), (400, 0.9), (50, None)]


def tree(root):
    """Every path under ``root`` (files and folders), to check a failed command left nothing."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def write_tiny_cifar10(root, per_batch=4, n_test=6, seed=0):
    """A real CIFAR-10 python-pickle tree (protocol 2, byte keys, uint8 R/G/B planes) of random images."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def dump(name, obj):
        with open(folder / name, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)

    def batch(n, name):
        return {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"labels": [int(v) for v in rng.integers(0, 10, n)], b"filenames": [b"x.png"] * n}

    dump("batches.meta", {b"num_cases_per_batch": per_batch, b"label_names": [f"c{i}".encode() for i in range(10)],
                          b"num_vis": 3072})
    for i in range(1, 6):
        dump(f"data_batch_{i}", batch(per_batch, f"data_batch_{i}"))
    dump("test_batch", batch(n_test, "test_batch"))
    return root
