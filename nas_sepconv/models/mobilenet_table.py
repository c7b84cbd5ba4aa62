"""Block tables of MobileNetV1, V2 and V3 (Small, Large), widths and stems.

Each table row is one block, as the papers define them (V1: Howard et al. 2017, Table 1;
V2: Sandler et al. 2018, Table 2, ``t, c, n, s`` rows expanded to one row per block;
V3: Howard et al. 2019, Tables 1-2). Widths scale by the width multiplier and are rounded
by ``make_divisible`` (to a multiple of 8, never below 90% of the scaled width), the
rounding torchvision's MobileNetV2/V3 use; V1's widths are multiples of 8 at width 1, so the
same rule leaves the original network unchanged.

Stems (``STEMS``): "imagenet" keeps the papers' strides (the 3x3 stem conv has stride 2, the
output is 1/32 of 224); "cifar" (32x32) sets the stem stride to 1 and the first stride-2
block to stride 1 (1/8), as CIFAR ports of MobileNet usually do; "digits" (8x8) also sets the
second stride-2 block to stride 1 (1/4: 8x8 -> 2x2). Every table has four stride-2 blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

from nas_sepconv.core.validation import check_choice, check_positive_float

VERSIONS = ("v1", "v2", "v3-small", "v3-large")
STEMS = ("imagenet", "cifar", "digits")
#: stem -> (stem conv stride, how many of the first stride-2 blocks run at stride 1)
STEM_STRIDES = {"imagenet": (2, 0), "cifar": (1, 1), "digits": (1, 2)}
DEFAULT_INPUT = {"imagenet": 224, "cifar": 32, "digits": 8}


@dataclass(frozen=True)
class Row:
    """One block: kernel, expanded width (V2/V3; None for V1), output width, SE, activation, stride.

    ``expansion`` is V2's ratio t (expanded = round(t * c_in)); V3 gives the expanded width
    ``expanded`` directly. ``act`` is "relu", "relu6" or "hswish".
    """

    kernel: int
    out: int
    stride: int
    act: str
    expansion: float | None = None
    expanded: int | None = None
    se: bool = False


@dataclass(frozen=True)
class Table:
    """A MobileNet: stem width and activation, the block rows, the head."""

    version: str
    stem_width: int
    stem_act: str
    rows: tuple[Row, ...]
    last_conv: int | None  # V2: 1280 (never scaled below 1); V3: 6 x the last block width
    classifier_hidden: int | None  # V3's hidden linear layer (1024 Small, 1280 Large)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Nearest multiple of ``divisor`` (at least ``divisor``), bumped up if below 90% of ``value``."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def _v1() -> Table:
    spec = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    return Table("v1", 32, "relu", tuple(Row(3, c, s, "relu") for c, s in spec), None, None)


def _v2() -> Table:
    rows = []
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        rows += [Row(3, c, s if i == 0 else 1, "relu6", expansion=t) for i in range(n)]
    return Table("v2", 32, "relu6", tuple(rows), 1280, None)


def _v3(rows: list[tuple], hidden: int, version: str) -> Table:
    acts = {"RE": "relu", "HS": "hswish"}
    return Table(version, 16, "hswish", tuple(Row(k, c, s, acts[a], expanded=e, se=se) for k, e, c, se, a, s in rows),
                 6, hidden)


_V3_SMALL = [(3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
             (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
             (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
             (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]
_V3_LARGE = [(3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
             (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
             (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
             (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
             (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1)]

TABLES = {"v1": _v1(), "v2": _v2(), "v3-small": _v3(_V3_SMALL, 1024, "v3-small"),
          "v3-large": _v3(_V3_LARGE, 1280, "v3-large")}


def table(version: str) -> Table:
    """The block table of ``version`` (one of ``VERSIONS``)."""
    return TABLES[check_choice("version", version, VERSIONS)]


def block_strides(version: str, stem: str) -> tuple[int, tuple[int, ...]]:
    """(stem stride, per-block strides) for ``stem``: the first stride-2 blocks set to 1 as ``STEM_STRIDES`` says."""
    stem_stride, reduced = STEM_STRIDES[check_choice("stem", stem, STEMS)]
    strides, seen = [], 0
    for row in table(version).rows:
        if row.stride == 2:
            seen += 1
        strides.append(1 if row.stride == 2 and seen <= reduced else row.stride)
    return stem_stride, tuple(strides)


def stages(version: str) -> tuple[tuple[int, ...], ...]:
    """Block indices of each stage: runs of consecutive blocks with the same output width."""
    groups: list[list[int]] = []
    rows = table(version).rows
    for i, row in enumerate(rows):
        prev = rows[i - 1] if i else None
        if prev is None or row.out != prev.out:
            groups.append([i])
        else:
            groups[-1].append(i)
    return tuple(tuple(g) for g in groups)


def check_width(width: float) -> float:
    return check_positive_float("width", width)
