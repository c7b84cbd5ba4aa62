"""The papers' MobileNet variants, each one configuration of ``build_mobilenet``.

- o-MobileNet (osep paper, Section 4.3.2, Table 5): every dw+pw pair of MobileNetV1 becomes
  one osep 3x3 op (``ops="osep"``); the paper widens the network until its FLOPs match the
  original's, so the width multiplier is a parameter here (see ``results/reference``).
- BlkNet-sitj (BlkSConv paper, Section IV-F, Fig. 3, Table 10): in every MobileNetV2
  inverted residual the depth-wise conv and the linear point-wise projection become one
  BlkSConv 3x3 with (s, t).
- XSepConv-MobileNetV3-Small (XSepConv paper, Section 4.2): the stride-1 5x5 depth-wise convs
  of the middle stages become XSepConv k=5, those of the last stage (after the last
  downsampling) XSepConv k=3; the stride-2 depth-wise convs stay. ``downsampling=True`` is the
  paper's variant whose first stride-2 5x5 depth-wise conv is enlarged to 7x7 and replaced by
  the downsampling XSepConv k=7 (Fig. 1(b), Fig. 4).
"""
from __future__ import annotations

from typing import Any

from nas_sepconv.core.validation import check_choice
from nas_sepconv.models.mobilenet_plan import BlockChoice
from nas_sepconv.models.mobilenet_table import table


def o_mobilenet(**params: Any) -> dict[str, Any]:
    """``build_mobilenet("v1", **o_mobilenet(), width=...)``: osep 3x3 for every dw+pw pair."""
    return {"ops": "osep", "op_params": {"osep": params} if params else None}


def blknet(s: int, t: int) -> dict[str, Any]:
    """``build_mobilenet("v2", **blknet(s, t))``: BlkNet-s{s}t{t}."""
    return {"ops": "blk", "op_params": {"blk": {"s": s, "t": t}}}


def xsepconv_v3_small_blocks(*, placement: str = "standard", downsampling: bool = False) -> tuple[BlockChoice, ...]:
    """Per-block choices of XSepConv-MobileNetV3-Small (XSepConv paper, Section 4.2)."""
    check_choice("downsampling", downsampling, (True, False))
    rows = table("v3-small").rows
    last_down = max(i for i, r in enumerate(rows) if r.stride == 2)
    first_big_down = min(i for i, r in enumerate(rows) if r.stride == 2 and r.kernel == 5)
    params = (("placement", placement),)
    blocks = []
    for i, row in enumerate(rows):
        if row.kernel == 5 and row.stride == 1:
            blocks.append(BlockChoice("xsep", 3 if i > last_down else 5, None, params))
        elif downsampling and i == first_big_down:
            blocks.append(BlockChoice("xsep", 7, None, params))
        else:
            blocks.append(BlockChoice("dw", row.kernel))
    return tuple(blocks)
