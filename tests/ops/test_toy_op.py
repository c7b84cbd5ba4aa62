"""Adding an op is one file and one registry line: a toy op registered here, and nowhere else,
appears in the cell space, the ResNet space, the costs table and the CLI's op sets."""
from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

from nas_sepconv.cli import main
from nas_sepconv.ops import OPS, Cost, conv_aliases, list_ops, new_families, op_cost, op_set, register_op
from nas_sepconv.ops.cost import conv_cost
from nas_sepconv.runs.config import SearchConfig


class ToyConv(nn.Module):
    """A plain k x k conv, defined only in this test, with one searchable internal (`dilation`)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, kernel_size: int = 3, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, dilation * (kernel_size // 2), dilation, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    @classmethod
    def cost(cls, c_in: int, c_out: int, stride: int, *, input_size, kernel_size: int = 3, dilation: int = 1) -> Cost:
        out = tuple((s - 1) // stride + 1 for s in input_size)
        return conv_cost(c_in, c_out, (kernel_size, kernel_size), out)


@pytest.fixture
def toy_op():
    register_op("toy_3x3", ToyConv, family="toy", space={"dilation": (1, 2)}, alias="toy", kernel_size=3)
    yield "toy_3x3"
    del OPS["toy_3x3"]
    from nni.nas.hub.pytorch import nasnet
    nasnet.OPS.pop("toy_3x3", None)


def test_the_registry_lists_it_in_its_family_and_the_new_op_sets(toy_op):
    assert list_ops("toy") == (toy_op,)
    assert "toy" in new_families()
    assert toy_op in op_set("new") and toy_op in op_set("all") and toy_op not in op_set("darts")
    assert conv_aliases()["toy"] == toy_op
    # 3x3 conv without bias at 8x8, counted by hand: 4*6*9 weights, 4*6*9*64 MACs.
    assert op_cost(toy_op, 4, 6, 1, input_size=8) == Cost(216, 216 * 64)


def test_the_cell_space_offers_it_with_its_internal(toy_op):
    from search_spaces import SepConvDartsSpace

    space = SepConvDartsSpace(op_candidates="new", width=4, num_cells=3, stem="digits")
    choices = space.simplify()
    assert toy_op in choices["normal/op_2_0"].values
    assert choices[f"normal/op_2_0/{toy_op}/dilation"].values == [1, 2]
    sample = {k: (v.values[0] if hasattr(v, "values") else v.default()) for k, v in choices.items()}
    sample.update({k: toy_op for k in sample if k.endswith("/op_2_0") or k.endswith("/op_2_1")})
    sample["normal/op_2_0/toy_3x3/dilation"] = 2
    model = space.freeze(sample)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert space.cost(sample).params == sum(p.numel() for p in model.parameters())


def test_the_resnet_space_offers_it_by_its_short_name(toy_op):
    from search_spaces import ResNetSpace

    space = ResNetSpace(8, in_channels=1, input_size=8)
    assert "toy" in space.candidates
    sample = {"resnet/conv": "toy"}
    assert space.cost(sample).params == sum(p.numel() for p in space.freeze(sample).parameters())


def test_the_costs_command_and_the_search_op_sets_include_it(toy_op, tmp_path, capsys):
    assert main(["costs", "--c-in", "8", "--c-out", "8", "--input-size", "8", "--out", str(tmp_path)]) == 0
    rows = {r["op"]: r for r in csv.DictReader(open(tmp_path / "costs.csv"))}
    assert rows[toy_op]["family"] == "toy" and int(rows[toy_op]["params"]) == 8 * 8 * 9
    assert toy_op in SearchConfig(ops="new").op_names()
    assert SearchConfig(space="resnet", ops=("toy", "conv")).ops == ("toy", "conv")
