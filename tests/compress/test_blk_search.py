"""BlkSConv PCA search (HSA): the paper's s1t1 special case, exact full-rank conversion, Eq. 5-7."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from nas_sepconv import build_resnet
from nas_sepconv.compress.hsa import (
    HSAConfig,
    blk_search,
    block_depths,
    explained_variance,
    search,
    select,
    total_ratio,
    write_candidate_table,
    write_layer_table,
)
from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.evaluation.train import TrainConfig, train_model
from nas_sepconv.ops import count_built
from nas_sepconv.ops.blk import BlkSConv

SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def trained():
    """ResNet-8 (widths 8/16/32) trained for 2 epochs on digits: real, non-random kernels."""
    torch.manual_seed(0)
    model = build_resnet(8, multiplier=0.5, in_channels=1)
    result = train_model(model, load_dataset("digits"), TrainConfig(epochs=2, batch_size=32, lr=0.05, num_threads=1))
    assert result.accuracy > 0.5
    return model.eval()


def _blk_modules(model):
    return {name: m for name, m in model.named_modules() if isinstance(m, BlkSConv)}


def test_paper_extreme_case_gives_blueprint_separable_everywhere(trained):
    # alpha_v = 0, beta = 0, gamma = 1: H = {(1, 1)}, so Eq. 6 and 7 agree on s1t1 (BSConv-U).
    for how in ("max", "min"):
        converted, results = blk_search(trained, SHAPE, HSAConfig(alpha_v=0, alpha_c=10, alpha_s=10, beta=0,
                                                                  q_max=1, select=how))
        assert len(results) == 7 and all(len(r.candidates) == 1 for r in results)
        assert all((r.choice.t, r.choice.q) == (1, 1) for r in results)
        blks = _blk_modules(converted)
        assert len(blks) == 7
        for name, op in blks.items():
            assert op.grouped.groups == op.plan.c_out and op.grouped.weight.shape[1] == 1  # depth-wise
            assert op.pointwise.weight.shape[2:] == (1, 1)
            # Independent: each filter's best rank-1 (C_in x k^2) approximation by numpy's SVD.
            w = trained.get_submodule(name).weight.detach().double().numpy()
            kernel = op.dense_kernel().detach().double().numpy()
            for j in range(w.shape[0]):
                u, s, vt = np.linalg.svd(w[j].reshape(w.shape[1], -1), full_matrices=False)
                rank1 = (s[0] * np.outer(u[:, 0], vt[0])).reshape(w.shape[1:])
                assert np.abs(kernel[j] - rank1).max() < 1e-5


def test_extreme_case_with_paper_constraints_leaves_the_one_channel_stem_dense(trained):
    # s1t1 on a 1-channel input costs C_out*(1 + k^2) > C_out*k^2: H is empty there only.
    results = search(trained, SHAPE, HSAConfig(alpha_v=0, alpha_c=1, alpha_s=1, beta=0, q_max=1))
    assert results[0].conv.name == "stem.0" and results[0].choice is None
    assert all((r.choice.t, r.choice.q) == (1, 1) for r in results[1:])


def test_full_rank_conversion_reproduces_the_dense_model(trained):
    config = HSAConfig(alpha_v=1.0, alpha_c=100, alpha_s=100, beta=2, q_max=1000, select="min")
    converted, results = blk_search(trained, SHAPE, config)
    assert all(r.choice is not None and r.choice.variance == 1.0 for r in results)
    assert len(_blk_modules(converted)) == len(results)
    x = torch.randn(16, *SHAPE)
    with torch.no_grad():
        ref, out = trained(x), converted.eval()(x)
    assert (out - ref).abs().max().item() < 1e-4 * ref.abs().max().item()


@pytest.mark.parametrize("t,q", [(1, 1), (1, 3), (2, 2), (4, 1), (4, 3)])
def test_variance_is_the_energy_kept_by_from_dense(trained, t, q):
    conv = trained.get_submodule("blocks.1.conv2.0")
    weight = conv.weight.detach().double()
    kept = BlkSConv.from_dense(conv, s=q, t=t).dense_kernel().double()
    expected = 1 - ((weight - kept).norm() / weight.norm()).item() ** 2
    assert explained_variance(weight, t, q)[q - 1] == pytest.approx(expected, abs=1e-6)


def test_a_kernel_block_separable_in_the_papers_convention_is_found_and_recovered():
    # Paper Sec. III-A: block b = contiguous channels b*t .. b*t+t-1; rank q per filter.
    torch.manual_seed(1)
    n, m, k, q, t = 6, 16, 3, 2, 4
    coeff, basis = torch.randn(n, m // t, q, dtype=torch.float64), torch.randn(n, q, t * k * k, dtype=torch.float64)
    weight = torch.einsum("jbi,jiz->jbz", coeff, basis).reshape(n, m, k, k)  # row b of filter j = block b
    values = explained_variance(weight, t, 4)
    assert values[q - 2] < 0.99 and values[q - 1] == pytest.approx(1.0, abs=1e-12)
    model = torch.nn.Sequential(torch.nn.Conv2d(m, n, k, 1, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(weight)
    weight = model[0].weight.detach().double()
    config = HSAConfig(alpha_v=0.999999, alpha_c=10.0, alpha_s=10.0, beta=2, q_max=4, select="min")
    converted, results = blk_search(model, (m, 5, 5), config)
    choice = results[0].choice
    assert choice is not None and choice.variance == pytest.approx(1.0, abs=1e-6)
    kernel = converted[0].dense_kernel().double()
    assert ((kernel - weight).norm() / weight.norm()).item() <= 1e-5
    assert (choice.t, choice.q) == (t, q)  # the only (t, q) that explains the whole kernel this cheaply


def test_depths_divide_c_in_and_q_is_capped_by_the_number_of_components(trained):
    assert block_depths(8, 3) == [1, 2, 4, 8] and block_depths(12, 3) == [1, 2, 4] and block_depths(1, 2) == [1]
    weight = trained.get_submodule("blocks.0.conv1.0").weight  # 8 -> 8, 3x3
    assert len(explained_variance(weight, 1, 100)) == 8  # 8 blocks of 9 values
    assert len(explained_variance(weight, 8, 100)) == 1  # 1 block of 72 values
    values = explained_variance(weight, 2, 100)
    assert len(values) == 4 and values == sorted(values) and values[-1] == 1.0
    with pytest.raises(ValueError, match="`t`"):
        explained_variance(weight, 3, 4)


@pytest.mark.parametrize("how", ["max", "min"])
@pytest.mark.parametrize("alphas", [(0.5, 0.5, 0.5), (0.75, 0.75, 0.75), (0.3, 0.9, 0.4)])
def test_constraints_hold_and_selection_follows_eq_6_and_7(trained, alphas, how):
    av, ac, a_s = alphas
    config = HSAConfig(alpha_v=av, alpha_c=ac, alpha_s=a_s, beta=2, q_max=8, select=how)
    converted, results = blk_search(trained, SHAPE, config)
    blks = _blk_modules(converted)
    for r in results:
        for c in r.candidates:
            ok = c.variance >= av and c.flops <= ac * r.dense.flops and c.params <= a_s * r.dense.params
            assert c.feasible == ok
        feasible = [c.params for c in r.candidates if c.feasible]
        if r.choice is None:
            assert not feasible and r.conv.name not in blks
            continue
        assert r.choice.params == (max(feasible) if how == "max" else min(feasible))
        # The built module costs exactly what the table says (independent hook count).
        built = count_built(blks[r.conv.name], r.conv.input_size, r.conv.c_in)
        assert (built.params, built.flops) == (r.choice.params, r.choice.flops)
    assert any(r.choice is not None for r in results)
    params, flops = total_ratio(results)
    assert params < 1 and flops < 1


def test_empty_feasible_sets_keep_every_layer_dense(trained):
    converted, results = blk_search(trained, SHAPE, HSAConfig(alpha_v=0.99, alpha_c=0.1, alpha_s=0.1))
    assert all(r.choice is None for r in results) and not _blk_modules(converted)
    assert total_ratio(results) == (1.0, 1.0)
    assert select([], "max") is None


def test_layers_filter_and_tables(trained, tmp_path):
    results = search(trained, SHAPE, HSAConfig(), layers=["blocks.2"])
    assert [r.conv.name for r in results] == ["blocks.2.conv1.0", "blocks.2.conv2.0"]
    write_layer_table(tmp_path / "layers.csv", results)
    write_candidate_table(tmp_path / "candidates.csv", results)
    rows = list(csv.DictReader((tmp_path / "layers.csv").open()))
    assert [r["layer"] for r in rows] == ["blocks.2.conv1.0", "blocks.2.conv2.0"]
    cands = list(csv.DictReader((tmp_path / "candidates.csv").open()))
    assert len(cands) == sum(len(r.candidates) for r in results)
    assert sum(c["selected"] == "True" for c in cands) == sum(r.choice is not None for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candidates.csv", "layers.csv"]  # no temp files


@pytest.mark.parametrize("kwargs,needle", [
    (dict(alpha_v=1.5), "`alpha_v`"), (dict(alpha_v=-0.1), "`alpha_v`"), (dict(alpha_c=0), "`alpha_c`"),
    (dict(alpha_s=float("inf")), "`alpha_s`"), (dict(beta=-1), "`beta`"), (dict(q_max=0), "`q_max`"),
    (dict(select="median"), "`select`"),
])
def test_bad_config_is_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        HSAConfig(**kwargs)


def test_bad_layers_and_shape_are_refused(trained):
    with pytest.raises(ValueError, match="`layers`"):
        search(trained, SHAPE, HSAConfig(), layers=["nope"])
    with pytest.raises(ValueError, match="`input_shape"):
        search(trained, (8, 8), HSAConfig())
    with pytest.raises(ValueError, match="`config`"):
        search(trained, SHAPE, {"alpha_v": 0.5})
