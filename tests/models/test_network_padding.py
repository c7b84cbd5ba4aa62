"""XSepConv's improved symmetric padding (Section 3.2) in cell networks, the DARTS space and supernets."""
import torch
from torch import nn

from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import build_model
from nas_sepconv.ops.sym_padding import PAD_DIRECTIONS, EvenDepthwiseConv2d, plan_pad_directions
from search_spaces.darts_space import SepConvDartsSpace
from strategies.supernet import Supernet

NODES = (2, 3, 4, 5)


def _xsep_darts_v2(op: str = "x_sep_conv_3x3") -> Genotype:
    """DARTS_V2 with every sep_conv_3x3 replaced by ``op`` (the paper's failure case)."""
    def swap(edges):
        return [(op if e.op == "sep_conv_3x3" else e.op, e.input) for e in edges]
    return Genotype(swap(DARTS_V2.normal), NODES, swap(DARTS_V2.reduce), NODES)


def _called_order(model: nn.Module, x: torch.Tensor) -> list[EvenDepthwiseConv2d]:
    """Independent forward order: the 2x2 convs in the order a forward pass calls them."""
    calls = []
    hooks = [m.register_forward_pre_hook(lambda mod, _i: calls.append(mod))
             for m in model.modules() if isinstance(m, EvenDepthwiseConv2d)]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return calls


def test_cell_network_directions_cycle_in_forward_order():
    model = build_model(_xsep_darts_v2(), channels=4, layers=4, stem="digits")
    calls = _called_order(model, torch.zeros(1, 1, 8, 8))
    assert len(calls) == 2 * 5 * 2  # 2 normal cells, 5 x_sep_conv edges each, one 2x2 per XSepConv, 2 XSepConvs
    first = list(dict.fromkeys(calls))
    assert len(first) == len(calls)
    assert [m.pad_direction for m in first] == list(plan_pad_directions(len(first)))
    assert [m.pad_direction for m in first[:4]] == list(PAD_DIRECTIONS)  # RB, LT, LB, RT, then again


def _linearise(model: nn.Module) -> nn.Module:
    """Non-negative constant kernels and identity BNs: every ReLU passes, the net is linear and
    every odd kernel symmetric, so only the one-sided 2x2 padding can move a response."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0 / m.weight[0].numel())
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            if m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    return model.double().eval()


def _cell0_centroid(model: nn.Module, size: int = 33) -> tuple[float, float]:
    """Centroid (row, col) of the first cell's output for an impulse at the image centre, minus that centre."""
    out = {}
    handle = model.cells[0].register_forward_hook(lambda _m, _i, y: out.setdefault("y", y))
    x = torch.zeros(1, 1, size, size, dtype=torch.float64)
    x[0, 0, size // 2, size // 2] = 1.0
    with torch.no_grad():
        model(x)
    handle.remove()
    mass = out["y"].abs().sum(dim=(0, 1))
    idx = torch.arange(size, dtype=torch.float64)
    total = mass.sum()
    return (float((mass.sum(1) * idx).sum() / total) - size // 2,
            float((mass.sum(0) * idx).sum() / total) - size // 2)


def test_impulse_response_through_a_cell_network_is_not_shifted():
    """Independent expectation: each x_sep_conv edge holds two 2x2 convs that the plan pads in
    opposite directions (RB then LT, or LB then RT), so every path composes symmetric filters
    and the centroid stays on the impulse; padding every 2x2 right-bottom shifts it up-left."""
    model = _linearise(build_model(_xsep_darts_v2(), channels=4, layers=3, stem="digits"))
    row, col = _cell0_centroid(model)
    assert abs(row) < 1e-9 and abs(col) < 1e-9
    for m in model.modules():
        if isinstance(m, EvenDepthwiseConv2d):
            m.pad_direction = "right_bottom"
    row, col = _cell0_centroid(model)
    assert row < -0.5 and col < -0.5


def test_frozen_darts_space_sample_gets_the_plan():
    space = SepConvDartsSpace(op_candidates=["x_sep_conv_3x3", "skip_connect"], width=4, num_cells=3,
                              stem="digits", search_internals=False)
    sample = {**{k: "x_sep_conv_3x3" for k in _op_labels()}, **{k: [0] for k in _input_labels()}}
    frozen = space.freeze(sample)
    layers = [m for m in frozen.network.modules() if isinstance(m, EvenDepthwiseConv2d)]
    assert layers and [m.pad_direction for m in layers] == list(plan_pad_directions(len(layers)))


def _op_labels():
    return [f"{kind}/op_{n}_{j}" for kind in ("normal", "reduce") for n in NODES for j in (0, 1)]


def _input_labels():
    return [f"{kind}/input_{n}_{j}" for kind in ("normal", "reduce") for n in NODES for j in (0, 1)]


def test_supernet_path_gets_the_plan_that_extract_gives():
    supernet = Supernet(op_candidates=["x_sep_conv_3x3", "skip_connect"], channels=4, layers=3, stem="digits",
                        search_internals=False)
    genotype = _xsep_darts_v2()
    genotype = Genotype([(e.op if e.op in ("x_sep_conv_3x3", "skip_connect") else "skip_connect", e.input)
                         for e in genotype.normal], NODES,
                        [(e.op if e.op in ("x_sep_conv_3x3", "skip_connect") else "x_sep_conv_3x3", e.input)
                         for e in genotype.reduce], NODES)
    supernet.eval()
    with torch.no_grad():
        supernet(torch.zeros(1, 1, 8, 8), genotype)
    path = [m for part in supernet.path_modules(genotype) for m in part.modules() if isinstance(m, EvenDepthwiseConv2d)]
    extracted = supernet.extract(genotype)
    built = [m for m in extracted.modules() if isinstance(m, EvenDepthwiseConv2d)]
    assert len(path) == len(built) > 4
    assert [m.pad_direction for m in path] == [m.pad_direction for m in built] == list(plan_pad_directions(len(built)))
