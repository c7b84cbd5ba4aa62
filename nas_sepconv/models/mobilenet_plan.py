"""A validated MobileNet configuration, its blocks' shapes and its exact cost (no module built).

Each block of a table row (``mobilenet_table``) is configured by a ``BlockChoice``: the op
(a short name of ``MOBILENET_OPS``, looked up in the op registry with the kernel size), the
kernel size, the expansion ratio (V2/V3; None keeps the table's) and the op's keyword
parameters (osep ``N``/``gamma``, blk ``s``/``t``, xsep ``placement``, ...). An op has one of
two roles:

- "spatial" (dw, xsep) replaces the depth-wise conv alone: it keeps the expanded width;
- "pair" (dsep, osep, so_sep, blk, conv) replaces the depth-wise conv and the point-wise conv
  after it (V1's dw+pw, V2/V3's dw+linear projection), mapping the expanded width to the
  block's output width, as o-MobileNet (osep paper, Section 4.3.2) and BlkNet (BlkSConv
  paper, Fig. 3) do. A V3 block's squeeze-excitation then gates the op's input.

Block layout (module order = forward order): V2/V3 ``[expand 1x1, BN, act]``, spatial op,
``BN, act`` (none for an op the registry marks ``has_bn``: xsep carries its own BN + ReLU
per conv, XSepConv paper Fig. 6), ``[SE]``, projection 1x1 + BN (V1: + act); pair op: ``[expand]``, ``[SE]``, op, BN
(V1: + act). Residual when stride 1 and c_in == c_out (V2/V3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_float, check_positive_int
from nas_sepconv.models.mobilenet_table import Table, block_strides, check_width, make_divisible, table
from nas_sepconv.ops import OPS, Cost, op_cost
from nas_sepconv.ops.cost import bn_cost, conv_cost, conv_out

Size = tuple[int, int]

#: short name -> (registry prefix, role); the registry name is ``f"{prefix}_{k}x{k}"``.
MOBILENET_OPS: dict[str, tuple[str, str]] = {
    "dw": ("dw_conv", "spatial"), "xsep": ("xsep", "spatial"), "dsep": ("dsep_conv", "pair"),
    "osep": ("osep", "pair"), "so_sep": ("so_sep", "pair"), "blk": ("blk", "pair"), "conv": ("conv", "pair"),
}


def op_name(op: str, kernel: int) -> str:
    """Registry name of short op ``op`` at ``kernel``; an error lists the short names or kernels allowed."""
    if op not in MOBILENET_OPS:
        raise UserError(f"`op` must be one of {', '.join(MOBILENET_OPS)}, got {op!r}.")
    prefix = MOBILENET_OPS[op][0]
    name = f"{prefix}_{kernel}x{kernel}"
    if isinstance(kernel, bool) or not isinstance(kernel, int) or name not in OPS:
        kernels = [k for k in range(1, 12) if f"{prefix}_{k}x{k}" in OPS]
        raise UserError(f"`kernel` of op {op!r} must be one of {kernels}, got {kernel!r}.")
    return name


def role(op: str) -> str:
    return MOBILENET_OPS[op][1]


@dataclass(frozen=True)
class BlockChoice:
    """What a search may change in one block: op, kernel, expansion ratio, op parameters."""

    op: str
    kernel: int
    expansion: float | None = None
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        items = self.params.items() if isinstance(self.params, Mapping) else self.params
        object.__setattr__(self, "params", tuple(sorted(items)))
        op_name(self.op, self.kernel)
        if self.expansion is not None:
            check_positive_float("expansion", self.expansion)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "kernel": self.kernel}
        if self.expansion is not None:
            data["expansion"] = self.expansion
        return {**data, "params": dict(self.params)} if self.params else data


@dataclass(frozen=True)
class BlockSpec:
    """One resolved block: widths, stride, input size, activation, SE and the op's kwargs."""

    index: int
    op: str
    name: str
    kernel: int
    c_in: int
    expanded: int
    c_out: int
    stride: int
    act: str
    se: bool
    params: Mapping[str, Any]
    in_size: Size
    v1: bool

    @property
    def out_size(self) -> Size:
        return (self.in_size[0] - 1) // self.stride + 1, (self.in_size[1] - 1) // self.stride + 1

    @property
    def role(self) -> str:
        return role(self.op)

    @property
    def has_bn(self) -> bool:
        """The op normalises and activates inside itself (the registry's ``has_bn``, e.g. xsep)."""
        return OPS[self.name].has_bn

    @property
    def squeeze(self) -> int:
        """SE bottleneck width (MobileNetV3: a quarter of the gated, expanded width, rounded to 8)."""
        return make_divisible(self.expanded // 4, 8)

    @property
    def residual(self) -> bool:
        return not self.v1 and self.stride == 1 and self.c_in == self.c_out

    def cost(self) -> Cost:
        """Exact params and multiply-adds of the block (see the module docstring for the layout)."""
        hw, out = self.in_size, self.out_size
        total = Cost(0, 0)
        if self.expanded != self.c_in:
            total += conv_cost(self.c_in, self.expanded, (1, 1), hw) + bn_cost(self.expanded)
        if self.se:
            total += conv_cost(self.expanded, self.squeeze, (1, 1), (1, 1), bias=True)
            total += conv_cost(self.squeeze, self.expanded, (1, 1), (1, 1), bias=True)
        if self.role == "pair":
            return total + op_cost(self.name, self.expanded, self.c_out, self.stride, input_size=hw,
                                   **self.params) + bn_cost(self.c_out)
        total += op_cost(self.name, self.expanded, self.expanded, self.stride, input_size=hw, **self.params)
        if not self.has_bn:
            total += bn_cost(self.expanded)
        return total + conv_cost(self.expanded, self.c_out, (1, 1), out) + bn_cost(self.c_out)


def block_choices(version: str, *, ops: str | Sequence[str] = "dw", kernels: int | Sequence[int] | None = None,
                  expansions: float | Sequence[float | None] | None = None,
                  op_params: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[BlockChoice, ...]:
    """Per-block choices from shorthand: one value for every block or one per block; kernels
    default to the table's; ``op_params`` maps a short op name to the parameters its blocks get."""
    rows = table(version).rows
    n = len(rows)

    def per_block(name: str, value: Any, default: Sequence[Any]) -> list[Any]:
        if value is None:
            return list(default)
        if isinstance(value, (str, int, float)):
            return [value] * n
        if not isinstance(value, Sequence) or len(value) != n:
            raise UserError(f"`{name}` must be one value or a list of {n} (one per {version} block), got {value!r}.")
        return list(value)

    if op_params is not None and (not isinstance(op_params, Mapping)
                                  or not all(isinstance(v, Mapping) for v in op_params.values())):
        raise UserError(f"`op_params` must map op names to parameter mappings, got {op_params!r}.")
    params = dict(op_params or {})
    unknown = sorted(set(params) - set(MOBILENET_OPS))
    if unknown:
        raise UserError(f"`op_params` keys must be op names among {', '.join(MOBILENET_OPS)}, got {unknown}.")
    op_list = per_block("ops", ops, ["dw"] * n)
    kernel_list = per_block("kernels", kernels, [r.kernel for r in rows])
    expansion_list = per_block("expansions", expansions, [None] * n)
    if version == "v1" and any(e is not None for e in expansion_list):
        raise UserError(f"`expansions` do not apply to MobileNetV1 (no expansion layer), got {expansions!r}.")
    return tuple(BlockChoice(o, k, e, tuple(params.get(o, {}).items()))
                 for o, k, e in zip(op_list, kernel_list, expansion_list))


@dataclass(frozen=True)
class MobileNetPlan:
    """A validated MobileNet: version, width multiplier, stem, classes and per-block choices."""

    version: str
    width: float
    stem: str
    num_classes: int
    in_channels: int
    blocks: tuple[BlockChoice, ...]

    @property
    def table(self) -> Table:
        return table(self.version)

    def channels(self, value: int) -> int:
        return make_divisible(value * self.width)

    @property
    def stem_width(self) -> int:
        return self.channels(self.table.stem_width)

    @property
    def stem_stride(self) -> int:
        return block_strides(self.version, self.stem)[0]

    def specs(self, input_size: Size) -> Iterator[BlockSpec]:
        """Every block in forward order, with its widths and input size."""
        strides = block_strides(self.version, self.stem)[1]
        c_in, hw = self.stem_width, self.stem_size(input_size)
        for i, (row, choice, stride) in enumerate(zip(self.table.rows, self.blocks, strides)):
            expanded = self._expanded(row, choice, c_in)
            spec = BlockSpec(i, choice.op, op_name(choice.op, choice.kernel), choice.kernel, c_in, expanded,
                             self.channels(row.out), stride, row.act, row.se, dict(choice.params), hw,
                             self.version == "v1")
            yield spec
            c_in, hw = spec.c_out, spec.out_size

    def _expanded(self, row: Any, choice: BlockChoice, c_in: int) -> int:
        if self.version == "v1":
            return c_in
        if choice.expansion is not None:
            scaled = c_in * choice.expansion
            return int(round(scaled)) if self.version == "v2" else make_divisible(scaled)
        return int(round(c_in * row.expansion)) if self.version == "v2" else self.channels(row.expanded)

    def stem_size(self, input_size: Size) -> Size:
        s = self.stem_stride
        return conv_out(input_size[0], 3, s, 1), conv_out(input_size[1], 3, s, 1)

    def head_widths(self, c_last: int) -> tuple[int | None, int | None]:
        """(last 1x1 conv width or None, hidden linear width or None)."""
        t = self.table
        if self.version == "v2":
            return make_divisible(t.last_conv * max(1.0, self.width)), None
        if self.version.startswith("v3"):
            return t.last_conv * c_last, self.channels(t.classifier_hidden)
        return None, None

    def cost(self, input_size: Size) -> Cost:
        """Exact params and conv/linear multiply-adds, from the op registry's analytic costs."""
        total = conv_cost(self.in_channels, self.stem_width, (3, 3), self.stem_size(input_size))
        total += bn_cost(self.stem_width)
        c_last, hw = self.stem_width, self.stem_size(input_size)
        for spec in self.specs(input_size):
            total += spec.cost()
            c_last, hw = spec.c_out, spec.out_size
        last_conv, hidden = self.head_widths(c_last)
        if last_conv is not None:
            total += conv_cost(c_last, last_conv, (1, 1), hw) + bn_cost(last_conv)
            c_last = last_conv
        if hidden is not None:
            total += Cost(c_last * hidden + hidden, c_last * hidden)
            c_last = hidden
        return total + Cost(c_last * self.num_classes + self.num_classes, c_last * self.num_classes)


def plan_mobilenet(version: str, *, width: float = 1.0, stem: str = "imagenet", num_classes: int = 1000,
                   in_channels: int = 3, blocks: Sequence[BlockChoice] | None = None,
                   **shorthand: Any) -> MobileNetPlan:
    """Validate a MobileNet configuration: ``blocks`` (one ``BlockChoice`` per table row) or the
    ``block_choices`` shorthand (``ops``, ``kernels``, ``expansions``, ``op_params``)."""
    rows = table(version).rows
    if blocks is None:
        blocks = block_choices(version, **shorthand)
    elif shorthand:
        raise UserError(f"give `blocks` or {', '.join(f'`{k}`' for k in shorthand)}, not both.")
    blocks = tuple(blocks)
    if len(blocks) != len(rows) or not all(isinstance(b, BlockChoice) for b in blocks):
        raise UserError(f"`blocks` must be {len(rows)} BlockChoice values (one per {version} block), got {blocks!r}.")
    if version == "v1" and any(b.expansion is not None for b in blocks):
        raise UserError("`expansion` does not apply to MobileNetV1 blocks (no expansion layer).")
    plan = MobileNetPlan(version, check_width(width), stem, check_positive_int("num_classes", num_classes),
                         check_positive_int("in_channels", in_channels), blocks)
    plan.cost((32, 32))  # the registry validates every op's parameters against its shapes
    return plan
