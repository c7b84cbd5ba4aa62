"""nas-sepconv: searchable optimized, block-wise and extremely separated convolutions for NNI."""
from .ops import OPS, Cost, create_op, op_cost
from .genotype import Genotype
from .genotype_files import load_genotype
from .resnet import build_resnet, count_resnet

__version__ = "0.1.0"
__all__ = ["OPS", "Cost", "create_op", "op_cost", "Genotype", "load_genotype", "build_resnet", "count_resnet", "__version__"]
