"""Register our ops in NNI's DARTS op table, ``nni.nas.hub.pytorch.nasnet.OPS``.

NNI's cell spaces (``NDS``, ``DARTS``) build edges as ``OPS[name](C, stride, affine)``; after
``register_nni_ops()`` they accept our op names too (e.g. ``NDS(op_candidates=['osep_3x3',
...])``), each built as ``cell_op`` with default internals. Importing ``search_spaces`` or
``nas_sepconv.evaluation.trial`` (the trial evaluator, imported in every NNI trial process) registers
them; ``import nas_sepconv`` alone does not, to keep NNI's slow import off the CLI's path.
"""
from __future__ import annotations

from functools import partial

from torch import nn

from nas_sepconv.models.cell import cell_op
from nas_sepconv.ops import OPS


def _nni_op(name: str, channels: int, stride: int, affine: bool) -> nn.Module:
    return cell_op(name, channels, stride, affine)


def register_nni_ops() -> list[str]:
    """Add every registry op that NNI lacks to ``nasnet.OPS``; return the names added.

    NNI's own entries (the DARTS set) are left as they are. Idempotent.
    """
    from nni.nas.hub.pytorch import nasnet

    added = [name for name in OPS if name not in nasnet.OPS]
    for name in added:
        nasnet.OPS[name] = partial(_nni_op, name)
    return added
