"""The analytic activation count against forward hooks on built models of each kind: the hooks
sum the output elements of exactly the modules the count's docstring names."""
import pytest
import torch

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import MAX_ACTIVATION_BYTES
from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.named import DARTS_V2, PC_DARTS
from nas_sepconv.models.activations import (
    activation_bytes,
    check_activation_memory,
    mobilenet_activations,
    network_activations,
    resnet_activations,
)
from nas_sepconv.models.mobilenet import build_mobilenet
from nas_sepconv.models.mobilenet_plan import plan_mobilenet
from nas_sepconv.models.network import build_model
from nas_sepconv.models.resnet import build_resnet, plan_resnet


def measured(model, modules, batch, shape):
    """Output elements per image of ``modules`` in one forward pass of a batch of ``batch``."""
    seen = []
    handles = [m.register_forward_hook(lambda _m, _i, out: seen.append(out.numel())) for m in modules]
    try:
        with torch.no_grad():
            model.eval()(torch.randn(batch, *shape))
    finally:
        for h in handles:
            h.remove()
    assert sum(seen) % batch == 0
    return sum(seen) // batch


def cell_modules(model):
    yield model.stem0
    if model.stem1 is not None:
        yield model.stem1
    for cell in model.cells:
        yield from (cell.preprocess0, cell.preprocess1, *cell.ops, cell)
    yield model.classifier


@pytest.mark.parametrize("genotype, stem, in_channels, size, classes", [
    (DARTS_V2, "digits", 1, 8, 10), (replace_ops(PC_DARTS, {"sep_conv_3x3": "osep_3x3"}), "cifar", 3, 16, 7),
    (DARTS_V2, "imagenet", 3, 32, 5), (replace_ops(DARTS_V2, {"sep_conv_3x3": "xsep_3x3"}), "cifar", 3, 12, 10),
])
def test_cell_network_count_equals_hooked_outputs(genotype, stem, in_channels, size, classes):
    kwargs = dict(num_classes=classes, channels=8, layers=5, stem=stem, in_channels=in_channels)
    model = build_model(genotype, **kwargs)
    got = measured(model, list(cell_modules(model)), 3, (in_channels, size, size))
    assert network_activations(genotype, **kwargs, input_size=size) == got


@pytest.mark.parametrize("depth, conv, multiplier, shortcut", [(8, "conv", 1.0, "A"), (14, ["osep", "blk", "xsep"],
                                                                                    0.5, "B")])
def test_resnet_count_equals_hooked_outputs(depth, conv, multiplier, shortcut):
    model = build_resnet(depth, conv=conv, multiplier=multiplier, in_channels=1, shortcut=shortcut)
    modules = [model.stem, *(m for b in model.blocks for m in (b.conv1, b.conv2, b)), model.classifier]
    plan = plan_resnet(depth, conv, multiplier, 10, 1, None, shortcut=shortcut)
    assert resnet_activations(plan, 12) == measured(model, modules, 2, (1, 12, 12))


@pytest.mark.parametrize("version, ops, stem, size", [("v1", "osep", "digits", 8), ("v2", "dw", "cifar", 16),
                                                       ("v3-small", "xsep", "cifar", 32), ("v3-large", "blk", "digits", 8)])
def test_mobilenet_count_equals_hooked_outputs(version, ops, stem, size):
    kwargs = dict(width=0.5, stem=stem, num_classes=10, in_channels=3, ops=ops)
    model = build_mobilenet(version, **kwargs)
    modules = [model.stem]
    for block in model.blocks:
        modules += [m for m in (block.expand, block.segment) if m is not None] + ([block] if block.residual else [])
    modules += [m for m in (model.last_conv,) if m is not None] + [model.classifier]
    assert mobilenet_activations(plan_mobilenet(version, **kwargs), size) == measured(model, modules, 2, (3, size, size))


def test_bytes_and_the_limit():
    assert activation_bytes(1000, 8) == 32_000
    assert check_activation_memory(1000, 8) == 32_000
    elements = network_activations(DARTS_V2, channels=36, layers=20)   # DARTS's CIFAR network
    assert 96 * elements * 4 < 3 * 2**30 < MAX_ACTIVATION_BYTES          # its recipe's batch of 96: about 2.2 GiB
    with pytest.raises(UserError, match=r"for a batch of 1000000 take at least 22,?6\d\d\.\d GiB .* limit of 64 GiB; "
                                        r"lower `batch_size`"):
        check_activation_memory(elements, 1_000_000)
