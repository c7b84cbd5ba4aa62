"""Operators: the registry and every op family. Importing this module registers them all."""
from .cost import Cost, conv_out, count_built
from .registry import OPS, OpSpec, create_op, get_op, op_cost, register_op

# Importing a family module registers its ops.
from . import baselines, darts  # noqa: E402,F401
from . import blk  # noqa: E402,F401
from . import xsep  # noqa: E402,F401
from . import osep  # noqa: E402,F401
from . import osep_darts  # noqa: E402,F401

__all__ = ["Cost", "OPS", "OpSpec", "conv_out", "count_built", "create_op", "get_op", "op_cost", "register_op"]
