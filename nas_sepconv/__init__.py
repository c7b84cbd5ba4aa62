"""nas-sepconv: searchable optimized, block-wise and extremely separated convolutions for NNI.

``from nas_sepconv import load_genotype, build_model`` turns a found genotype into a plain
``nn.Module``; ``count`` gives its exact #params and FLOPs without building it.
"""
from nas_sepconv import _compat
from nas_sepconv.genotypes.cell import Genotype, o_darts, replace_ops
from nas_sepconv.genotypes.files import load_genotype
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.genotypes.resnet import ResNetGenotype
from nas_sepconv.models.mobilenet import build_mobilenet, count_mobilenet
from nas_sepconv.models.network import build_model, count
from nas_sepconv.models.resnet import build_resnet, count_resnet
from nas_sepconv.ops import OPS, Cost, create_op, op_cost


def load_run(run):
    """The trials of a run directory as a pandas DataFrame (``nas_sepconv.runs.frame.load_run``)."""
    from nas_sepconv.runs.frame import load_run as load

    return load(run)


_compat.install()
__version__ = "0.1.0"
__all__ = ["OPS", "Cost", "Genotype", "MobileNetGenotype", "ResNetGenotype", "__version__", "build_mobilenet",
           "build_model", "build_resnet", "count", "count_mobilenet", "count_resnet", "create_op", "load_genotype",
           "load_run", "o_darts", "op_cost", "replace_ops"]
