"""Depth-wise decomposition of a trained network: sampling, replacements, exactness, errors, fine-tuning."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas_sepconv import build_resnet
from nas_sepconv.compress.decompose import _patches_at, decompose_model, fine_tune
from nas_sepconv.compress.dense import DenseConv
from nas_sepconv.compress.svd import channel_rank, layer_output
from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.evaluation.train import TrainConfig, TrainResult, train_model
from nas_sepconv.ops.baselines import DepthSeparableConv


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    """ResNet-8 (widths 8/16/32) trained for 2 epochs on digits."""
    torch.manual_seed(0)
    model = build_resnet(8, multiplier=0.5, in_channels=1)
    assert train_model(model, digits, TrainConfig(epochs=2, batch_size=32, lr=0.05, num_threads=1)).accuracy > 0.5
    return model.eval()


@pytest.mark.parametrize("stride,k", [(1, 3), (2, 3), (2, 5)])
def test_sampled_patches_are_unfold_columns_and_give_the_conv_output(stride, k):
    x, conv = torch.randn(3, 4, 7, 6), nn.Conv2d(4, 5, k, stride, k // 2, bias=False)
    u = torch.rand(3, 6)
    patches = _patches_at(x, DenseConv("c", 4, 5, k, stride, (7, 6)), u)
    cols = F.unfold(x, k, padding=k // 2, stride=stride)  # (B, c*k*k, L)
    pos = (u * cols.shape[2]).long()
    expected = torch.stack([cols[b, :, pos[b]] for b in range(3)], dim=1).reshape(4, k * k, 18)
    assert torch.equal(patches, expected)
    out = conv(x).detach().flatten(2)
    at = torch.stack([out[b, :, pos[b]] for b in range(3)], dim=1).reshape(5, 18)
    assert torch.allclose(layer_output(conv.weight.detach().flatten(2), patches), at, atol=1e-5)


def _separable_resnet() -> nn.Module:
    """A ResNet-8 whose every 3x3 conv weight is exactly depth-wise separable: W[j, i] = P[j, i] D_i."""
    torch.manual_seed(1)
    model = build_resnet(8, multiplier=0.5, in_channels=1).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                n, c = m.weight.shape[:2]
                m.weight.copy_(torch.randn(n, c, 1, 1) * torch.randn(1, c, 3, 3) / c ** 0.5)
    return model


@pytest.mark.parametrize("method,multi_layer", [("gsvd", True), ("gsvd", False), ("svd", True), ("svd", False)])
def test_exactly_separable_network_is_recovered(method, multi_layer):
    model, images = _separable_resnet(), torch.randn(60, 1, 8, 8)
    decomposed, reports = decompose_model(model, images, method=method, multi_layer=multi_layer)
    assert [r.layer for r in reports][0] == "stem.0" and len(reports) == 7
    assert max(r.rel_error for r in reports) < 1e-4
    x = torch.randn(8, 1, 8, 8)
    with torch.no_grad():
        ref, out = model(x), decomposed.eval()(x)
    assert (out - ref).abs().max() < 1e-4 * ref.abs().max()


def test_replacements_are_depthwise_separable_with_the_reported_cost(trained, digits):
    before = copy.deepcopy(trained.state_dict())
    decomposed, reports = decompose_model(trained, digits.train_images[:100], layers=["blocks"])
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())  # the input is untouched
    assert len(reports) == 6 and isinstance(decomposed.get_submodule("stem.0"), nn.Conv2d)
    for r in reports:
        module = decomposed.get_submodule(r.layer)
        assert isinstance(module, DepthSeparableConv)
        assert module[0].groups == r.c_in and module[0].stride == (r.stride, r.stride) and module[1].stride == (1, 1)
        assert sum(p.numel() for p in module.parameters()) == r.params_after == r.c_in * 9 + r.c_in * r.c_out
        assert r.params_before == r.c_in * r.c_out * 9 and r.speedup == r.params_before / r.params_after
    assert decomposed(digits.test_images[:4]).shape == (4, 10)


def _full_map_errors(model, decomposed, images, names):
    """Relative error of each layer's whole output map (every position), by forward hooks."""
    maps = {}
    for tag, net in (("a", model), ("b", decomposed)):
        hooks = [net.get_submodule(n).register_forward_hook(
            lambda _m, _i, out, key=(tag, n): maps.__setitem__(key, out)) for n in names]
        with torch.no_grad():
            net.eval()(images)
        for h in hooks:
            h.remove()
    return [float((maps["a", n] - maps["b", n]).norm() / maps["a", n].norm()) for n in names]


def test_errors_are_finite_compensated_and_agree_with_the_full_maps(trained, digits):
    images = digits.train_images[:100]
    runs = {(m, ml): decompose_model(trained, images, method=m, multi_layer=ml, layers=["blocks"])
            for m, ml in [("gsvd", True), ("svd", False), ("channel", False)]}
    for (method, _), (decomposed, reports) in runs.items():
        assert all(math.isfinite(r.rel_error) and 0 < r.rel_error < 2 for r in reports)
        assert reports[0].rel_error == pytest.approx(reports[0].rel_error_layer)  # nothing before it changed
        full = _full_map_errors(trained, decomposed, images, [r.layer for r in reports])
        for r, f in zip(reports, full):
            assert r.rel_error == pytest.approx(f, rel=0.05), (method, r.layer)  # sampled vs all positions
    gsvd, svd = runs["gsvd", True][1], runs["svd", False][1]
    assert all(g.rel_error <= s.rel_error + 1e-9 for g, s in zip(gsvd, svd))  # Sec. 3.5-3.6 compensation
    for r in runs["channel", False][1]:
        module = runs["channel", False][0].get_submodule(r.layer)
        assert r.rank == channel_rank(r.c_in, r.c_out, 3) == module[0].out_channels
        assert module[1].kernel_size == (1, 1) and r.params_after == sum(p.numel() for p in module.parameters())
        assert abs(r.params_after - (r.c_in * 9 + r.c_in * r.c_out)) <= (r.c_in * 9 + r.c_out) / 2  # same speed


def test_fine_tune_trains_the_decomposed_model(trained, digits):
    decomposed, _ = decompose_model(trained, digits.train_images[:100], layers=["blocks"])
    weight = decomposed.get_submodule("blocks.0.conv1.0")[0].weight.detach().clone()
    result = fine_tune(decomposed, digits, epochs=1, lr=1e-3, batch_size=64, num_threads=1)
    assert isinstance(result, TrainResult) and len(result.history) == 1 and 0 <= result.accuracy <= 1
    assert not torch.equal(weight, decomposed.get_submodule("blocks.0.conv1.0")[0].weight)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(method="tucker"), "`method`"), (dict(patches_per_image=0), "`patches_per_image`"),
    (dict(multi_layer=1), "`multi_layer`"), (dict(layers=["nope"]), "`layers`"), (dict(seed=-1), "`seed`"),
    (dict(images=torch.randn(1, 8, 8)), "`images`"),
])
def test_bad_arguments_are_refused(trained, kwargs, needle):
    kwargs = {"images": torch.randn(4, 1, 8, 8), **kwargs}
    with pytest.raises(ValueError, match=needle):
        decompose_model(trained, **kwargs)


def test_a_model_without_dense_convs_is_refused():
    with pytest.raises(ValueError, match="`model`"):
        decompose_model(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), torch.randn(4, 1, 8, 8))
