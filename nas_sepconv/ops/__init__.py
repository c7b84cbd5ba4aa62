"""Operators: the registry and every op family. Importing this module registers them all."""
from nas_sepconv.ops.cost import Cost, conv_out, count_built
from nas_sepconv.ops.registry import OPS, OpSpec, create_op, get_op, op_cost, register_op

# Importing a family module registers its ops.
from nas_sepconv.ops import baselines, darts  # noqa: E402,F401
from nas_sepconv.ops import blk  # noqa: E402,F401
from nas_sepconv.ops import xsep  # noqa: E402,F401
from nas_sepconv.ops import osep  # noqa: E402,F401
from nas_sepconv.ops import osep_darts  # noqa: E402,F401

__all__ = ["Cost", "OPS", "OpSpec", "conv_out", "count_built", "create_op", "get_op", "op_cost", "register_op"]
