"""The osep module: exact cost, equivalence with a dense conv, volumetric RF, registry, errors."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from nas_sepconv.ops import OPS, count_built, create_op, op_cost
from nas_sepconv.ops.grouped import ChannelShuffle, UnevenGroupConv, shuffle_order
from nas_sepconv.ops.osep import OSEP_SPACE, OSepConv, OSepPlan, Stage, osep_body, osep_plan, volumetric_rf
from nas_sepconv.ops.osep_solver import channel_condition, full_reach, group_condition, group_sizes, position_reach

CONFIGS = [
    dict(kernel_size=3), dict(kernel_size=5, N=3), dict(kernel_size=3, N="auto"),
    dict(kernel_size=5, N=2, spatial=True), dict(kernel_size=3, N=3, spatial=True, placement="last"),
    dict(kernel_size=3, N=3, gamma=0.25, placement="middle"), dict(kernel_size=7, N=1),
    dict(kernel_size=3, N=2, policy="linear", gamma=4.0), dict(kernel_size=3, N=3, policy="inverted"),
    dict(kernel_size=5, N=2, policy="bottleneck"), dict(kernel_size=1, N=3, policy=24),
]
CHANNELS = [(3, 58), (58, 116), (116, 232), (232, 58), (16, 16)]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("c_in, c_out", CHANNELS)
@pytest.mark.parametrize("stride", [1, 2])
def test_cost_is_exact_and_conditions_hold(cfg, c_in, c_out, stride):
    op = OSepConv(c_in, c_out, stride, **cfg)
    cost = OSepConv.cost(c_in, c_out, stride, input_size=(9, 7), **cfg)
    assert cost.params == sum(p.numel() for p in op.parameters())
    assert cost == count_built(op, (9, 7), c_in)
    ch, g = op.plan.channels, op.plan.groups
    assert channel_condition(ch, g, op.plan.gamma) and group_condition(ch, g)
    assert op(torch.randn(2, c_in, 9, 7)).shape == (2, c_out, 5 if stride == 2 else 9, 4 if stride == 2 else 7)


def dense_kernel(op: OSepConv, c_in: int, c_out: int, cfg: dict) -> torch.Tensor:
    """Kernel of the composed linear map, from identity impulses through a stride-1 copy."""
    k = cfg["kernel_size"]
    ref = OSepConv(c_in, c_out, 1, **cfg).double()
    ref.load_state_dict(op.state_dict())
    size, centre = 2 * k - 1, k - 1
    impulses = torch.zeros(c_in, c_in, size, size, dtype=torch.float64)
    impulses[torch.arange(c_in), torch.arange(c_in), centre, centre] = 1
    with torch.no_grad():
        response = ref(impulses)  # (c_in, c_out, size, size)
    r = k // 2
    window = response[:, :, centre - r:centre + r + 1, centre - r:centre + r + 1]
    outside = response.clone()
    outside[:, :, centre - r:centre + r + 1, centre - r:centre + r + 1] = 0
    assert not outside.any()  # the composition never reaches beyond the KxK window
    return window.flip(2, 3).permute(1, 0, 2, 3)


@pytest.mark.parametrize("c_in, c_out", [(3, 58), (58, 116), (116, 232), (232, 58)])
@pytest.mark.parametrize("cfg", [dict(kernel_size=3, N=2), dict(kernel_size=5, N=3, placement="last"),
                                 dict(kernel_size=3, N=3, spatial=True), dict(kernel_size=3, N=3, gamma=0.25)])
@pytest.mark.parametrize("stride", [1, 2])
def test_equals_a_dense_conv_of_the_composed_kernel(c_in, c_out, cfg, stride):
    torch.manual_seed(0)
    op = OSepConv(c_in, c_out, stride, **cfg).double()
    weight = dense_kernel(op, c_in, c_out, cfg)
    x = torch.randn(2, c_in, 9, 8, dtype=torch.float64)
    with torch.no_grad():
        expected = F.conv2d(x, weight, stride=stride, padding=cfg["kernel_size"] // 2)
        assert (op(x) - expected).abs().max() <= 1e-5


def test_uneven_group_conv_is_block_diagonal_with_at_most_three_convs():
    conv = UnevenGroupConv(10, 7, 3, (1, 1), (1, 1))
    assert len(conv.convs) <= 3 and sum(p.numel() for p in conv.parameters()) == 4 * 3 + 3 * 2 + 3 * 2
    x = torch.eye(10).reshape(10, 10, 1, 1)
    dense = conv(x).reshape(10, 7).T != 0  # dense[o, c]: output o depends on input c
    ins, outs = [0, 4, 7, 10], [0, 3, 5, 7]
    for j in range(3):
        block = torch.zeros(7, 10, dtype=torch.bool)
        block[outs[j]:outs[j + 1], ins[j]:ins[j + 1]] = True
        assert torch.equal(dense & block, block)
    assert dense.sum() == 4 * 3 + 3 * 2 + 3 * 2


def test_shuffle_generalises_shufflenet_and_is_a_permutation():
    assert shuffle_order(12, 3) == torch.arange(12).reshape(3, 4).T.flatten().tolist()
    order = shuffle_order(11, 4)  # groups of 3, 3, 3, 2
    assert sorted(order) == list(range(11)) and order[:5] == [0, 3, 6, 9, 1]
    x = torch.arange(11.0).reshape(1, 11, 1, 1)
    assert ChannelShuffle(11, 4)(x).flatten().tolist() == order


def reachable_sets(rf, c_out):
    return [rf.channels(o) for o in range(c_out)]


@pytest.mark.parametrize("cfg", [dict(kernel_size=3), dict(kernel_size=5, N=3), dict(kernel_size=3, N="auto"),
                                 dict(kernel_size=5, spatial=True), dict(kernel_size=3, N=3, gamma=4.0)])
@pytest.mark.parametrize("c_in, c_out", [(64, 64), (58, 116), (116, 58)])
def test_gamma_at_least_one_keeps_the_volumetric_rf(cfg, c_in, c_out):
    k = cfg["kernel_size"]
    rf = volumetric_rf(OSepConv(c_in, c_out, 1, **cfg), c_in, 2 * k + 1)
    assert rf.is_full(k)
    assert all(rf.channels(o) == set(range(c_in)) for o in range(c_out))
    assert rf.extent(0) == (-(k // 2), k // 2, -(k // 2), k // 2)


@pytest.mark.parametrize("gamma", [1 / 4, 1 / 16])
@pytest.mark.parametrize("n", [2, 3])
def test_gamma_below_one_loses_channel_rf_but_keeps_the_window(gamma, n):
    rf = volumetric_rf(OSepConv(64, 64, 1, kernel_size=3, N=n, gamma=gamma), 64, 7)
    sizes = [len(rf.channels(o)) for o in range(64)]
    assert not rf.is_full(3) and max(sizes) < 64
    assert all(rf.extent(o) == (-1, 1, -1, 1) for o in range(64))


def test_stride_two_rf_is_centred_on_the_subsampled_pixel():
    rf = volumetric_rf(OSepConv(16, 16, 2, kernel_size=5, N=3, spatial=True), 16, 11)
    assert rf.centre == (6, 6) and rf.is_full(5)


def model_sets(channels, groups):
    """Input channels reaching each output channel according to ``position_reach``."""
    reach = position_reach(channels, groups)
    starts = [0] + list(itertools.accumulate(group_sizes(channels[0], groups[0])))
    out_group = [j for j, n in enumerate(group_sizes(channels[-1], groups[-1])) for _ in range(n)]
    sets = []
    for j in out_group:
        first = {p % groups[0] for p in torch.nonzero(torch.from_numpy(reach[j])).flatten().tolist()}
        sets.append(frozenset(c for g in first for c in range(starts[g], starts[g + 1])))
    return sets


@pytest.mark.parametrize("channels, groups", [([43, 32, 32, 166], (17, 10, 6)), ([12, 12, 12, 12], (5, 4, 3)),
                                              ([30, 20, 20, 20, 25], (7, 6, 3, 2)), ([9, 16, 16, 11], (3, 5, 4))])
def test_reach_model_matches_the_measured_channel_rf(channels, groups):
    stages = tuple(Stage(a, b, g, (1, 1), (1, 1)) for a, b, g in zip(channels, channels[1:], groups))
    rf = volumetric_rf(osep_body(OSepPlan(stages, 1.0, 0)), channels[0], 1)
    assert reachable_sets(rf, channels[-1]) == model_sets(channels, groups)
    assert full_reach(channels, groups) == rf.is_full(1)


def test_placements_kernels_and_strides():
    def layout(**kw):
        plan = osep_plan(32, 32, 2, kernel_size=5, **kw)
        return [s.kernel for s in plan.stages], [s.stride for s in plan.stages]

    assert layout(N=2) == ([(5, 5), (1, 1)], [(2, 2), (1, 1)])  # Algorithm 1: floor(N/2), 1-based
    assert layout(N=3)[0] == [(5, 5), (1, 1), (1, 1)]
    assert layout(N=4)[0][1] == (5, 5) and layout(N=5)[0][1] == (5, 5)
    assert layout(N=3, placement="middle")[0][1] == (5, 5) and layout(N=3, placement="last")[0][2] == (5, 5)
    assert layout(N=2, spatial=True) == ([(5, 1), (1, 5)], [(2, 1), (1, 2)])
    assert layout(N=4, spatial=True, placement="last") == ([(1, 1), (1, 1), (5, 1), (1, 5)],
                                                           [(1, 1), (1, 1), (2, 1), (1, 2)])
    assert osep_plan(8, 8, 2, kernel_size=1, N=2).stages[0].stride == (2, 2)


@pytest.mark.parametrize("policy, width", [("normal", 32), ("linear", 48), ("bottleneck", 16), ("inverted", 128),
                                           (20, 20)])
def test_policies_set_the_internal_width(policy, width):
    assert osep_plan(32, 64, 1, kernel_size=3, N=3, policy=policy).channels == (32, width, width, 64)


def test_auto_n_picks_the_cheaper_of_floor_and_ceil_of_eq28():
    plan = osep_plan(64, 64, 1, kernel_size=3, N="auto")
    x = math.log(64 * 9)
    options = [osep_plan(64, 64, 1, kernel_size=3, N=n).params for n in (math.floor(x), math.ceil(x))]
    assert len(plan.stages) in (6, 7) and plan.params == min(options)


def test_registry_entries_and_their_search_space():
    names = {"osep_3x3": (3, False), "osep_5x5": (5, False), "osep_7x7": (7, False),
             "so_sep_3x3": (3, True), "so_sep_5x5": (5, True)}
    for name, (k, spatial) in names.items():
        spec = OPS[name]
        assert spec.family == "osep" and spec.space == OSEP_SPACE
        assert spec.fixed == ({"kernel_size": k, "spatial": True} if spatial else {"kernel_size": k})
    for n, gamma, placement in itertools.product(*OSEP_SPACE.values()):
        for name in ("osep_3x3", "so_sep_3x3"):
            op = create_op(name, 24, 40, 2, N=n, gamma=gamma, placement=placement)
            assert op_cost(name, 24, 40, 2, input_size=8, N=n, gamma=gamma, placement=placement) == \
                count_built(op, (8, 8), 24)


@pytest.mark.parametrize("kwargs, name, value", [
    (dict(N=0), "N", "0"), (dict(N=1.5), "N", "1.5"), (dict(N="many"), "N", "'many'"),
    (dict(N=1, spatial=True), "N", "1"), (dict(gamma=0), "gamma", "0"), (dict(gamma=-1.0), "gamma", "-1.0"),
    (dict(gamma=float("nan")), "gamma", "nan"), (dict(kernel_size=4), "kernel_size", "4"),
    (dict(policy="wide"), "policy", "'wide'"), (dict(policy=0), "policy", "0"), (dict(policy=True), "policy", "True"),
    (dict(N=3, placement=3), "placement", "3"), (dict(N=3, spatial=True, placement=2), "placement", "2"),
    (dict(placement="centre"), "placement", "'centre'"), (dict(spatial="yes"), "spatial", "'yes'"),
])
def test_bad_arguments_raise_value_errors_naming_them(kwargs, name, value):
    full = dict(kernel_size=3, **kwargs) if "kernel_size" not in kwargs else kwargs
    for call in (lambda: OSepConv(16, 16, 1, **full), lambda: OSepConv.cost(16, 16, 1, input_size=8, **full)):
        with pytest.raises(ValueError, match=rf"`{name}`.*{value}"):
            call()


def test_bad_leading_arguments():
    with pytest.raises(ValueError, match=r"`stride`.*3"):
        OSepConv(16, 16, 3, kernel_size=3)
    with pytest.raises(ValueError, match=r"`c_in`.*0"):
        OSepConv(0, 16, 1, kernel_size=3)
    with pytest.raises(ValueError, match=r"`input_size\[0\]`.*0"):
        OSepConv.cost(16, 16, 1, input_size=(0, 3), kernel_size=3)


# -- dilation (dil_osep_KxK, o-DARTS's o_dil_conv_KxK) ---------------------------------------

@pytest.mark.parametrize("c_in, c_out", [(3, 58), (58, 116), (116, 58), (16, 16)])
@pytest.mark.parametrize("cfg", [dict(kernel_size=3, N=2), dict(kernel_size=5, N=3, placement="last"),
                                 dict(kernel_size=3, N=3, spatial=True), dict(kernel_size=5, N=2, gamma=4.0)])
@pytest.mark.parametrize("stride, dilation", [(1, 2), (2, 2), (1, 3)])
def test_dilated_osep_equals_a_dense_dilated_conv_of_the_same_kernel(c_in, c_out, cfg, stride, dilation):
    torch.manual_seed(0)
    op = OSepConv(c_in, c_out, stride, **cfg, dilation=dilation).double()
    undilated = OSepConv(c_in, c_out, stride, **cfg).double()
    undilated.load_state_dict(op.state_dict())  # same parameters, same shapes
    weight = dense_kernel(undilated, c_in, c_out, cfg)
    x = torch.randn(2, c_in, 11, 10, dtype=torch.float64)
    with torch.no_grad():
        expected = F.conv2d(x, weight, stride=stride, padding=dilation * (cfg["kernel_size"] // 2), dilation=dilation)
        assert (op(x) - expected).abs().max() <= 1e-5
    assert OSepConv.cost(c_in, c_out, stride, input_size=(11, 10), **cfg, dilation=dilation) == \
        OSepConv.cost(c_in, c_out, stride, input_size=(11, 10), **cfg) == count_built(op.float(), (11, 10), c_in)


def test_dilation_sits_on_the_kernel_convs_only():
    plan = osep_plan(32, 32, 2, kernel_size=3, N=3, spatial=True, placement=1, dilation=2)
    assert [(s.kernel, s.dilation, s.stride) for s in plan.stages] == [
        ((1, 1), (1, 1), (1, 1)), ((3, 1), (2, 1), (2, 1)), ((1, 3), (1, 2), (1, 2))]
    assert get_op_fixed("dil_osep_3x3") == {"kernel_size": 3, "dilation": 2}
    assert get_op_fixed("dil_osep_5x5") == {"kernel_size": 5, "dilation": 2}


def get_op_fixed(name):
    return OPS[name].fixed


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("stride", [1, 2])
def test_o_dil_conv_reaches_exactly_what_darts_dil_conv_reaches(k, stride):
    # Both are full channel mixing over the same dilated KxK window (volumetric RF, osep Sec. 3.2).
    ours = volumetric_rf(create_op(f"o_dil_conv_{k}x{k}", 24, 24, stride), 24, (13, 13))
    darts = volumetric_rf(create_op(f"dil_conv_{k}x{k}", 24, 24, stride), 24, (13, 13))
    assert torch.equal(ours.mask, darts.mask) and ours.centre == darts.centre
    assert ours.mask.sum() == 24 * 24 * k * k  # every output sees every channel at K^2 dilated taps


def test_o_dil_conv_is_relu_dilated_osep_bn():
    op = create_op("o_dil_conv_3x3", 16, 16, 2, N=2)
    relu, osep, bn = op
    assert isinstance(relu, torch.nn.ReLU) and isinstance(osep, OSepConv) and isinstance(bn, torch.nn.BatchNorm2d)
    assert osep.plan.stages[0].dilation == (2, 2) and osep.plan.stages[0].stride == (2, 2)
    bn_params = 2 * 16
    osep_cost = op_cost("osep_3x3", 16, 16, 2, input_size=8)
    assert op_cost("o_dil_conv_3x3", 16, 16, 2, input_size=8) == type(osep_cost)(osep_cost.params + bn_params,
                                                                                 osep_cost.flops)


def test_bad_dilation_names_it():
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="`dilation` must be an integer >= 1"):
            OSepConv(8, 8, 1, kernel_size=3, dilation=bad)


def test_n_beyond_what_the_channels_allow_is_refused_at_once():
    from nas_sepconv.ops.registry import op_cost

    with pytest.raises(ValueError, match=r"`N` must be at most 10 for c_in=8, c_out=8, kernel 3"):
        op_cost("osep_3x3", 8, 8, N=1000)
