"""nas-sepconv: searchable optimized, block-wise and extremely separated convolutions for NNI.

``from nas_sepconv import load_genotype, build_model`` turns a found genotype into a plain
``nn.Module``; ``count`` gives its exact #params and FLOPs without building it.
"""
from .genotype import Genotype, replace_ops
from .genotype_files import load_genotype
from .network import build_model, count
from .ops import OPS, Cost, create_op, op_cost
from .resnet import build_resnet, count_resnet
from .resnet_genotype import ResNetGenotype

__version__ = "0.1.0"
__all__ = ["OPS", "Cost", "Genotype", "ResNetGenotype", "__version__", "build_model", "build_resnet", "count", "count_resnet",
           "create_op", "load_genotype", "op_cost", "replace_ops"]
