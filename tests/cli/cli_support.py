"""Constants and helpers of the CLI tests (imported by conftest and the test modules)."""
from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.frontier.objectives import Objective
from nas_sepconv.frontier.pareto import ReferencePoint

REF = ReferencePoint((Objective("accuracy", "max"), Objective("params", "min")), (0.0, 1e6))
BLK = replace_ops(DARTS_V2, {"sep_conv_3x3": ("blk_3x3", {"s": 2, "t": 1})})
# (params, accuracy): trials 0, 2 (with op params) and 3 are the frontier; 4 failed.
TRIALS = [(100, 0.5), (300, 0.4), (200, 0.7), (400, 0.9), (50, None)]


def tree(root):
    """Every path under ``root`` (files and folders), to check a failed command left nothing."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))
