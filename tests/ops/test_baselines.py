"""Baselines and DARTS ops against hand-computed counts (osep paper Table 1, DARTS code)."""
import pytest
import torch
import torch.nn.functional as F

from nas_sepconv.ops import Cost, create_op, op_cost

C, K, HW = 16, 3, 8


P = HW * HW  # output pixels at stride 1


@pytest.mark.parametrize("name, params, flops", [
    ("conv_3x3", C * C * K * K, C * C * K * K * P),
    ("group_conv_3x3", C * C * K * K // 2, C * C * K * K // 2 * P),
    ("dw_conv_3x3", C * K * K, C * K * K * P),
    ("conv_1x1", C * C, C * C * P),
    ("dsep_conv_3x3", C * K * K + C * C, (C * K * K + C * C) * P),
    ("spatial_conv_3x3", 2 * C * C * K, 2 * C * C * K * P),
    ("sep_conv_3x3", 2 * (C * K * K + C * C + 2 * C), 2 * (C * K * K + C * C) * P),
    ("dil_conv_3x3", C * K * K + C * C + 2 * C, (C * K * K + C * C) * P),
    ("conv_7x1_1x7", 2 * 7 * C * C + 2 * C, 2 * 7 * C * C * P),
    ("skip_connect", 0, 0),
    ("max_pool_3x3", 0, 0),
    ("none", 0, 0),
])
def test_table1_params_and_flops(name, params, flops):
    assert op_cost(name, C, C, 1, input_size=HW) == Cost(params, flops)


def test_factorized_reduce_cost_and_shape():
    assert op_cost("skip_connect", C, 2 * C, 2, input_size=HW) == Cost(C * 2 * C + 4 * C, C * 2 * C * 16)
    assert create_op("skip_connect", C, 2 * C, 2)(torch.randn(1, C, 7, 7)).shape == (1, 2 * C, 4, 4)


def test_dsep_equals_composed_dense_conv():
    op = create_op("dsep_conv_3x3", 4, 6, 2)
    dw, pw = op[0].weight, op[1].weight
    dense = pw[:, :, 0, 0, None, None] * dw[None, :, 0]          # (6, 4, 3, 3)
    x = torch.randn(2, 4, 9, 9)
    assert torch.allclose(op(x), F.conv2d(x, dense, stride=2, padding=1), atol=1e-5)
