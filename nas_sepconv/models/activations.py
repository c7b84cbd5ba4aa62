"""Forward-activation memory of a network, counted from its configuration without building it.

``*_activations`` return elements per input image: the sum of the element counts of these
tensors of one forward pass (the block-level outputs a network keeps for its backward pass):

- cell network (``build_model``): the stem's output (``stem0``; also ``stem1`` for the
  ImageNet stem); per cell, the outputs of its two preprocessors, of every edge op
  (``cell.ops[i]``) and of the cell itself (the concatenation); the logits.
- ResNet (``build_resnet``): the stem's output; per block, the outputs of its two ops
  (``conv1``, ``conv2``) and of the block; the logits.
- MobileNet (``build_mobilenet``): the stem's output; per block, the expansion's output (when
  the block has one), the op segment's output and, for a residual block, the block's output
  (the sum); the last 1x1 conv's output (V2, V3); the logits.

Not counted: tensors inside an op (a DARTS sep conv holds five more of its output's size),
BN and ReLU results, a cell's node sums, the auxiliary head, pooled features and the input
batch. Training keeps several times this much, so the estimate errs low and a network it
refuses (``check_activation_memory``: more than ``MAX_ACTIVATION_BYTES`` for one batch) could
not train anyway. ``tests/models/test_activations.py`` measures the same tensors with forward
hooks on built models of each kind.
"""
from __future__ import annotations

from typing import Any

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import MAX_ACTIVATION_BYTES, check_input_size, check_positive_int
from nas_sepconv.models.mobilenet_plan import MobileNetPlan
from nas_sepconv.models.network import DEFAULT_INPUT, _stem_cost, cell_layout, plan_macro
from nas_sepconv.models.resnet import ResNetPlan, _strided
from nas_sepconv.ops.baselines import out_size

#: Bytes of one element: training runs in float32.
BYTES_PER_ELEMENT = 4


def _area(hw: tuple[int, int]) -> int:
    return hw[0] * hw[1]


def network_activations(genotype: Any, *, num_classes: int = 10, channels: int | None = None,
                        layers: int | None = None, stem: str = "cifar", in_channels: int | None = None,
                        input_size: Any = None) -> int:
    """Elements per image of the counted tensors of ``build_model(genotype, ...)`` (module docstring)."""
    plan = plan_macro(genotype, num_classes=num_classes, channels=channels, layers=layers, stem=stem,
                      in_channels=in_channels)
    hw = check_input_size("input_size", input_size if input_size is not None else DEFAULT_INPUT[stem])
    _, s0, size = _stem_cost(plan, hw)
    total = (plan.channels * (_area(s0) + _area(size)) if plan.stem == "imagenet"
             else 3 * plan.channels * _area(size))
    for kind, _, _, c, reduction, _ in cell_layout(plan, genotype):
        node = out_size(size, 2) if reduction else size
        edges, concat = getattr(genotype, kind), getattr(genotype, f"{kind}_concat")
        total += 2 * c * _area(size) + (len(edges) + len(concat)) * c * _area(node)
        size = node
    return total + plan.num_classes


def resnet_activations(plan: ResNetPlan, input_size: Any = 32) -> int:
    """Elements per image of the counted tensors of the ResNet of ``plan`` (module docstring)."""
    hw = check_input_size("input_size", input_size)
    total = plan.widths[0] * _area(_strided(hw, plan.stem_stride))
    for block in plan.blocks(hw):
        total += 3 * block.c_out * _area(block.out_size)
    return total + plan.num_classes


def mobilenet_activations(plan: MobileNetPlan, input_size: Any = None) -> int:
    """Elements per image of the counted tensors of the MobileNet of ``plan`` (module docstring)."""
    from nas_sepconv.models.mobilenet_table import DEFAULT_INPUT as MOBILENET_INPUT

    hw = check_input_size("input_size", MOBILENET_INPUT[plan.stem] if input_size is None else input_size)
    total = plan.stem_width * _area(plan.stem_size(hw))
    c_last, last = plan.stem_width, plan.stem_size(hw)
    for spec in plan.specs(hw):
        if spec.expanded != spec.c_in:
            total += spec.expanded * _area(spec.in_size)
        total += (2 if spec.residual else 1) * spec.c_out * _area(spec.out_size)
        c_last, last = spec.c_out, spec.out_size
    last_conv, _ = plan.head_widths(c_last)
    if last_conv is not None:
        total += last_conv * _area(last)
    return total + plan.num_classes


def activation_bytes(elements: int, batch_size: int) -> int:
    """Bytes of ``elements`` per image for a batch of ``batch_size`` float32 images."""
    return elements * check_positive_int("batch_size", batch_size) * BYTES_PER_ELEMENT


def check_activation_memory(elements: int, batch_size: int, lower: str = "`batch_size`, `channels` or `layers`",
                            what: str = "the network") -> int:
    """The bytes of ``activation_bytes``, refused above ``MAX_ACTIVATION_BYTES`` with one line
    that says what to ``lower``."""
    total = activation_bytes(elements, batch_size)
    if total > MAX_ACTIVATION_BYTES:
        raise UserError(f"the forward activations of {what} for a batch of {batch_size} take at least "
                        f"{total / 2**30:,.1f} GiB (float32, counted without building it), more than the limit of "
                        f"{MAX_ACTIVATION_BYTES / 2**30:g} GiB; lower {lower}.")
    return total
