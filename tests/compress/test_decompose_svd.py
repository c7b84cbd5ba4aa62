"""Depth-wise decomposition algebra: paper's Table 2 sanity check, exact recovery, closed-form optimality."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nas_sepconv.compress.svd import (
    channel_decomposition,
    channel_rank,
    depthwise_gsvd,
    depthwise_svd,
    layer_output,
    rank1_regression,
    relative_error,
)


def _random(n, c, k2, samples, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, k2, generator=g, dtype=torch.float64),
            torch.randn(c, k2, samples, generator=g, dtype=torch.float64))


def test_sanity_check_of_table_2_on_random_data():
    # The paper: weights 128 x 64 (3x3), 3000 random patches, ~9x acceleration.
    # It reports 0.887 (channel), 0.914 (depth-wise), 0.906 (with compensation).
    weight, x = _random(128, 64, 9, 3000, seed=0)
    y = layer_output(weight, x)
    rank = channel_rank(64, 128, 3)
    errors = {"svd": relative_error(y, depthwise_svd(weight, x).output(x)),
              "gsvd": relative_error(y, depthwise_gsvd(weight, x)[0].output(x)),
              "channel": relative_error(y, channel_decomposition(weight, x, rank).output(x))}
    assert all(math.isfinite(e) and 0 < e < 1 for e in errors.values())
    assert errors["gsvd"] <= errors["svd"]
    assert errors["svd"] == pytest.approx(0.914, abs=0.005)
    assert errors["gsvd"] == pytest.approx(0.906, abs=0.005)
    assert errors["channel"] == pytest.approx(0.90, abs=0.02)  # ours 0.900 at c' = 12; the paper prints 0.887


@pytest.mark.parametrize("seed", range(3))
def test_compensation_never_increases_the_error_on_small_random_layers(seed):
    weight, x = _random(12, 7, 9, 400, seed)
    y = layer_output(weight, x)
    plain = relative_error(y, depthwise_svd(weight, x).output(x))
    factors, residual = depthwise_gsvd(weight, x)
    assert relative_error(y, factors.output(x)) <= plain
    assert torch.allclose(residual, y - factors.output(x), atol=1e-10)  # E_c is the final residual


@pytest.mark.parametrize("n,c,k2", [(20, 6, 9), (4, 3, 25)])  # also fewer outputs than kernel taps
def test_exactly_depthwise_separable_kernel_is_recovered(n, c, k2):
    g = torch.Generator().manual_seed(1)
    p, d = torch.randn(n, c, generator=g, dtype=torch.float64), torch.randn(c, k2, generator=g, dtype=torch.float64)
    weight = p[:, :, None] * d[None]  # W[j, i] = P[j, i] D_i
    x = torch.randn(c, k2, 500, generator=g, dtype=torch.float64)
    y = layer_output(weight, x)
    for factors in (depthwise_svd(weight, x), depthwise_gsvd(weight, x)[0]):
        assert (factors.dense_weight() - weight).abs().max() < 1e-4 * weight.abs().max()
        assert relative_error(y, factors.output(x)) < 1e-4


def test_algorithm_1_matches_numpy_svd_per_channel():
    weight, x = _random(10, 4, 9, 200, seed=2)
    factors = depthwise_svd(weight, x)
    for i in range(4):
        yi = (weight[:, i] @ x[i]).numpy()
        u1 = np.linalg.svd(yi, full_matrices=False)[0][:, :1]
        expected = u1 @ u1.T @ weight[:, i].numpy()  # P_i D_i = U_1 U_1^T W_i
        assert np.abs(factors.dense_weight()[:, i].numpy() - expected).max() < 1e-10


def test_first_channel_of_algorithm_2_is_algorithm_1():
    weight, x = _random(10, 4, 9, 200, seed=3)
    a1, a2 = depthwise_svd(weight, x), depthwise_gsvd(weight, x)[0]
    assert torch.allclose(a1.dense_weight()[:, 0], a2.dense_weight()[:, 0], atol=1e-10)


def _als(target, predictor, steps=500):
    """Rank-1 fit of T ~ p v^T Z by alternating least squares (independent of the closed form)."""
    v = torch.randn(predictor.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        z = v @ predictor
        p = target @ z / (z @ z)
        v = torch.linalg.lstsq(predictor.T, (p @ target)[:, None] / (p @ p)).solution[:, 0]
    return float((target - torch.outer(p, v @ predictor)).norm())


def test_rank1_regression_is_optimal():
    g = torch.Generator().manual_seed(4)
    t = torch.randn(8, 300, generator=g, dtype=torch.float64)
    z = torch.randn(8, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 300, generator=g, dtype=torch.float64)
    p, v = rank1_regression(t @ z.T, z @ z.T)  # a rank-5 predictor: the Gram matrix is singular
    closed = float((t - torch.outer(p, v @ z)).norm())
    assert closed <= _als(t, z) + 1e-8
    for _ in range(20):  # and no nearby rank-1 map does better
        dp, dv = 1e-3 * torch.randn(2, 8, generator=g, dtype=torch.float64)
        assert closed <= float((t - torch.outer(p + dp, (v + dv) @ z)).norm())
    zero = torch.zeros(3, 3, dtype=torch.float64)
    assert rank1_regression(zero, zero)[0].abs().sum() == 0  # nothing to regress on: M = 0


def test_channel_decomposition_is_the_truncated_svd_of_the_output():
    weight, x = _random(10, 3, 9, 200, seed=5)
    y = layer_output(weight, x)
    s = np.linalg.svd(y.numpy(), compute_uv=False)
    for rank in (1, 4, 10):
        err = relative_error(y, channel_decomposition(weight, x, rank).output(x))
        assert err == pytest.approx(math.sqrt((s[rank:] ** 2).sum() / (s ** 2).sum()), abs=1e-9)


@pytest.mark.parametrize("c,n,k,expected", [(64, 128, 3, 12), (16, 16, 3, 3), (8, 8, 3, 2), (1, 16, 3, 1),
                                            (32, 64, 5, 3), (3, 1, 3, 1)])
def test_channel_rank_matches_the_depthwise_speed(c, n, k, expected):
    assert channel_rank(c, n, k) == expected
    dsep, per_channel = c * k * k + c * n, c * k * k + n
    assert abs(expected * per_channel - dsep) <= per_channel / 2 or expected == 1
