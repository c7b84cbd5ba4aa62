"""nas-sepconv: searchable optimized, block-wise and extremely separated convolutions for NNI."""
from .ops import OPS, Cost, create_op, op_cost

__version__ = "0.1.0"
__all__ = ["OPS", "Cost", "create_op", "op_cost", "__version__"]
