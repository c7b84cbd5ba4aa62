"""Channels-last fast path of osep: same values and gradients as the plain NCHW composition."""
import pytest
import torch

from nas_sepconv.ops.grouped import ChannelShuffle, select_channels, shuffle_order
from nas_sepconv.ops.osep import OSepConv


@pytest.mark.parametrize("channels_last", [False, True])
def test_select_channels_equals_index_select_and_keeps_the_format(channels_last):
    x = torch.randn(2, 11, 3, 4)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    index = torch.tensor(shuffle_order(11, 4))
    y = select_channels(x, index)
    assert torch.equal(y, x.contiguous().index_select(1, index))
    assert y.is_contiguous(memory_format=torch.channels_last) == channels_last


def nchw_reference(op: OSepConv, x: torch.Tensor) -> torch.Tensor:
    """The chain evaluated conv by conv on contiguous NCHW tensors with ``index_select``."""
    for layer in op.body:
        if isinstance(layer, ChannelShuffle):
            x = x.contiguous().index_select(1, layer.index)
        else:
            parts = x.contiguous().split(layer.splits, dim=1)
            x = torch.cat([conv(part.contiguous()) for conv, part in zip(layer.convs, parts)], dim=1)
    return x


@pytest.mark.parametrize("c_in, c_out, cfg", [
    (64, 64, dict(kernel_size=3)), (58, 116, dict(kernel_size=5, N=3)),
    (16, 24, dict(kernel_size=3, N=3, spatial=True)), (3, 20, dict(kernel_size=3, N=2, gamma=4.0))])
@pytest.mark.parametrize("stride", [1, 2])
def test_channels_last_forward_and_backward_match_the_nchw_chain(c_in, c_out, cfg, stride):
    torch.manual_seed(0)
    op = OSepConv(c_in, c_out, stride, **cfg).double()
    x = torch.randn(2, c_in, 9, 8, dtype=torch.float64, requires_grad=True)
    out = op(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    grads = torch.autograd.grad(out.sum(), [x, *op.parameters()])
    ref = nchw_reference(op, x)
    ref_grads = torch.autograd.grad(ref.sum(), [x, *op.parameters()])
    assert (out - ref).abs().max() <= 1e-12
    for g, r in zip(grads, ref_grads):
        assert (g - r).abs().max() <= 1e-10
