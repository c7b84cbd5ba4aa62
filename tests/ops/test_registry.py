"""Every registered op: analytic cost == built module, over awkward channels and strides."""
import itertools

import pytest
import torch

from nas_sepconv.ops import OPS, count_built, create_op, get_op, op_cost

CHANNELS = [(3, 3), (58, 58), (58, 116), (116, 232), (232, 116), (1000, 1000)]
SIZES = [(8, 8), (7, 9)]


def _outcome(fn):
    try:
        return fn()
    except ValueError as err:
        return f"ValueError: {err}"


@pytest.mark.parametrize("name", sorted(OPS))
def test_cost_equals_built_module(name):
    built = 0
    for (c_in, c_out), stride, hw in itertools.product(CHANNELS, (1, 2), SIZES):
        analytic = _outcome(lambda: op_cost(name, c_in, c_out, stride, input_size=hw))
        with torch.device("meta"):
            measured = _outcome(lambda: count_built(create_op(name, c_in, c_out, stride), hw, c_in))
        assert analytic == measured, (name, c_in, c_out, stride, hw)
        built += not isinstance(analytic, str)
    assert built >= len(SIZES) * 2, f"{name} built too few configurations"


@pytest.mark.parametrize("name", sorted(OPS))
def test_output_shape(name):
    c = 6
    for stride in (1, 2):
        y = create_op(name, c, c, stride)(torch.randn(2, c, 8, 8))
        assert y.shape == (2, c, 8 // stride, 8 // stride)


@pytest.mark.parametrize("name", sorted(OPS))
def test_space_choices_are_accepted(name):
    spec = get_op(name)
    for key, choices in spec.space.items():
        for choice in choices:
            op_cost(name, 16, 16, 1, input_size=8, **{key: choice})


@pytest.mark.parametrize("call, match", [
    (lambda: create_op("sep_conv_4x4", 8, 8), r"`name` must be one of .*'sep_conv_4x4'"),
    (lambda: create_op("conv_3x3", 0, 8), r"`c_in` must be an integer >= 1, got 0"),
    (lambda: create_op("conv_3x3", 8, 2.5), r"`c_out` must be an integer >= 1, got 2.5"),
    (lambda: create_op("conv_3x3", 8, 8, 3), r"`stride` must be one of 1, 2, got 3"),
    (lambda: create_op("conv_3x3", 8, 8, kernel_size=5), r"`kernel_size` is fixed to 3"),
    (lambda: create_op("conv_3x3", 8, 8, gamma=1), r"`gamma` is not a parameter of op 'conv_3x3'"),
    (lambda: create_op("group_conv_3x3", 8, 12, groups=8), r"`groups` must divide c_in=8 and c_out=12, got 8"),
    (lambda: create_op("dw_conv_3x3", 8, 12), r"`groups` must divide"),
    (lambda: create_op("max_pool_3x3", 8, 16), r"`c_out` must equal c_in=8"),
    (lambda: create_op("skip_connect", 8, 7, 2), r"`c_out` must be even"),
    (lambda: op_cost("conv_3x3", 8, 8, input_size=(0, 4)), r"`input_size\[0\]` must be an integer >= 1, got 0"),
    (lambda: op_cost("conv_3x3", 8, 8, input_size="big"), r"`input_size` must be"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
