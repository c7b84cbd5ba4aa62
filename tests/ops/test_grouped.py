"""Fast paths of osep (channels-last convs, 2-D gather shuffles with an inverse-gather backward,
grouped 1x1 convs with the shuffle as input permutation, run grouped or as one dense conv): the
same values and gradients as the plain NCHW chain computed group by group from the plan."""
import pytest
import torch
import torch.nn.functional as F

from nas_sepconv.ops import count_built
from nas_sepconv.ops.grouped import (
    ChannelShuffle,
    PointwiseGroupConv,
    UnevenGroupConv,
    permute_channels,
    select_channels,
    shuffle_order,
)
from nas_sepconv.ops.osep import OSepConv
from nas_sepconv.ops.osep_solver import group_sizes


@pytest.mark.parametrize("channels_last", [False, True])
def test_select_channels_equals_index_select_and_keeps_the_format(channels_last):
    x = torch.randn(2, 11, 3, 4)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    index = torch.tensor(shuffle_order(11, 4))
    y = select_channels(x, index)
    assert torch.equal(y, x.contiguous().index_select(1, index))
    assert y.is_contiguous(memory_format=torch.channels_last) == channels_last


@pytest.mark.parametrize("channels_last", [False, True])
def test_permute_channels_into_parts_and_its_inverse_gather_gradient(channels_last):
    x = torch.randn(2, 11, 3, 4, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    order = torch.tensor(shuffle_order(11, 4))
    parts = permute_channels(x, order, order.argsort(), [4, 7])
    assert torch.equal(torch.cat(parts, dim=1), x.contiguous().index_select(1, order))
    for splits in ([11], [4, 7], [3, 3, 5]):
        torch.autograd.gradcheck(lambda t: permute_channels(t, order, order.argsort(), splits), x.requires_grad_())


def group_weights(layer: torch.nn.Module) -> list[torch.Tensor]:
    """Per-group weights of a layer's run convs, in group order."""
    out = []
    for conv in layer.convs:
        per_group = conv.out_channels // conv.groups
        out += [conv.weight[j * per_group:(j + 1) * per_group] for j in range(conv.groups)]
    return out


def nchw_reference(op: OSepConv, x: torch.Tensor) -> torch.Tensor:
    """The plan evaluated conv by conv and group by group on NCHW tensors, with an
    ``index_select`` shuffle between grouped convs; only the weights come from ``op``."""
    convs = [layer for layer in op.body if not isinstance(layer, ChannelShuffle)]
    stages = op.plan.stages
    for i, (stage, layer) in enumerate(zip(stages, convs)):
        if i > 0 and stages[i - 1].groups > 1 and stage.groups > 1:
            x = x.contiguous().index_select(1, torch.tensor(shuffle_order(stage.c_in, stages[i - 1].groups)))
        parts = x.contiguous().split(group_sizes(stage.c_in, stage.groups), dim=1)
        padding = (stage.kernel[0] // 2, stage.kernel[1] // 2)
        x = torch.cat([F.conv2d(part, w, stride=stage.stride, padding=padding)
                       for part, w in zip(parts, group_weights(layer))], dim=1)
    return x


@pytest.mark.parametrize("c_in, c_out, cfg", [
    (64, 64, dict(kernel_size=3)), (128, 128, dict(kernel_size=3)), (58, 116, dict(kernel_size=5, N=3)),
    (58, 116, dict(kernel_size=5, N=3, placement="last")), (232, 58, dict(kernel_size=3, N=3, placement="middle")),
    (16, 24, dict(kernel_size=3, N=3, spatial=True)), (20, 30, dict(kernel_size=3, N=4, spatial=True)),
    (3, 20, dict(kernel_size=3, N=2, gamma=4.0)), (24, 40, dict(kernel_size=1, N=3, policy=24)),
    (64, 64, dict(kernel_size=3, N="auto")), (32, 48, dict(kernel_size=3, N=3, policy="inverted")),
    (58, 116, dict(kernel_size=5, N=2, policy="bottleneck")), (32, 48, dict(kernel_size=3, N=3, policy="linear"))])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dense", [False, True])
def test_fast_forward_and_backward_match_the_nchw_chain(c_in, c_out, cfg, stride, dense):
    torch.manual_seed(0)
    op = OSepConv(c_in, c_out, stride, **cfg).double()
    for layer in op.body:
        if isinstance(layer, PointwiseGroupConv):
            layer.grouping_pays, layer.dense_min_elements = not dense, 1 << 60
    x = torch.randn(2, c_in, 9, 8, dtype=torch.float64, requires_grad=True)
    out = op(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    grads = torch.autograd.grad(out.sum(), [x, *op.parameters()])
    ref = nchw_reference(op, x)
    ref_grads = torch.autograd.grad(ref.sum(), [x, *op.parameters()])
    assert ref.shape == out.shape and (out - ref).abs().max() <= 1e-12
    for g, r in zip(grads, ref_grads):
        assert g.shape == r.shape and (g - r).abs().max() <= 1e-10


@pytest.mark.parametrize("c_in, c_out, groups, before", [(10, 7, 3, None), (12, 12, 4, 3), (11, 13, 4, 4),
                                                          (22, 17, 5, 7), (64, 64, 3, 21)])
@pytest.mark.parametrize("stride", [1, 2])
def test_pointwise_paths_equal_shuffle_then_grouped_conv(c_in, c_out, groups, before, stride):
    torch.manual_seed(0)
    order = before and shuffle_order(c_in, before)
    conv = PointwiseGroupConv(c_in, c_out, groups, (stride, stride), order).double()
    grouped = UnevenGroupConv(c_in, c_out, groups, (1, 1), (stride, stride)).double()
    grouped.load_state_dict(conv.state_dict())
    x = torch.randn(2, c_in, 5, 3, dtype=torch.float64)
    expected = grouped(x if before is None else ChannelShuffle(c_in, before)(x))
    for grouped_path in (False, True):
        conv.grouping_pays = grouped_path
        assert (conv(x) - expected).abs().max() <= 1e-12
    assert sum(p.numel() for p in conv.parameters()) == sum(p.numel() for p in grouped.parameters())
    assert torch.count_nonzero(conv.dense_weight()) == sum(p.numel() for p in conv.parameters())
    for grouped_path in (False, True):
        conv.grouping_pays = grouped_path
        assert count_built(conv.float(), (5, 3), c_in) == count_built(grouped.float(), (5, 3), c_in)
