"""Operators: the registry and every op family. Importing this module registers them all."""
# ruff: noqa: I001 (the family imports below run in the order of the op sets, not sorted)
from nas_sepconv.ops.cost import Cost, conv_out, count_built
from nas_sepconv.ops.registry import (OP_SETS, OPS, OpSpec, conv_aliases, create_op, get_op, list_ops, new_families,
                                      op_cost, op_set, register_op)

# Importing a family module registers its ops; the order here is the order of op sets.
from nas_sepconv.ops import baselines, darts  # noqa: F401
from nas_sepconv.ops import osep, osep_darts  # noqa: F401
from nas_sepconv.ops import blk  # noqa: F401
from nas_sepconv.ops import xsep, xsep_composite  # noqa: F401

__all__ = ["Cost", "OPS", "OP_SETS", "OpSpec", "conv_aliases", "conv_out", "count_built", "create_op", "get_op",
           "list_ops", "new_families", "op_cost", "op_set", "register_op"]
